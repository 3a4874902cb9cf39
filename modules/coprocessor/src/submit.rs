//! `MsgSubmitProof`: a proof that a program moved the ledger from the
//! current root to a new one by consuming the next requests of the queue
//! with the submitted effects. Validators check it in stages, cheapest
//! first, and never run the program or compute a Merkle path:
//!
//! 1. [`SubmitProof::from_msg`] (stateless): addresses, sizes, canonical
//!    field elements, canonical effects;
//! 2. [`check_stateful`] (reads only): the signer is the prover, the proof
//!    was not accepted before, the program version is registered and
//!    active, the batch fits it, `old_root` is the current root, the range
//!    starts at the first unsettled request and stays within the queue, the
//!    effects fit the entries; then the public input, computed from chain
//!    state and the effects;
//! 3. [`Verifier`] (the pairing check), remembered by verdict so each proof
//!    is verified once per node, and batch-verified when a block brings
//!    several;
//! 4. [`apply`] (writes): the proven effects become ledger-mirror writes,
//!    withdrawals and refunds are paid from escrow, the root and its
//!    history advance, the result is recorded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bls12_381::Scalar as Fr;
use copro_bank::{BankWrite, Coin, Coins};
use copro_circuits::encoding::{PROOF_LEN, decode_proof, decode_vk};
use copro_circuits::public_input::PublicInputs;
use copro_circuits::transfer::{
    EntryEffect, EntryKind, EntryStatus, MAX_BATCH, QueueEntry as CircuitEntry, deltas_commitment,
    expand_deltas,
};
use copro_circuits::verify::{CheckedVerifyingKey, verify, verify_batch};
use copro_module::{Address, Event, Stage};
use copro_store::{StateRead, StateWrite};
use sha2::{Digest, Sha256};

use crate::error::{CoproCode, CoproError, Result};
use crate::events::TypedEvent;
use crate::history;
use crate::record::{circuit_effect, circuit_entry, fr_bytes, fr_of, pb};
use crate::requests::escrow_address;
use crate::verdict::{VerdictCache, verification_id};
use crate::view::{CoproRead, CoproWrite};

/// Longest program id.
pub const MAX_PROGRAM_ID_LEN: usize = 64;

/// A decoded `MsgSubmitProof` that passed the stateless checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitProof {
    /// Submitter.
    pub signer: Address,
    /// Program id.
    pub program_id: String,
    /// Program version.
    pub version: u32,
    /// Claimed current root.
    pub old_root: Fr,
    /// Root after the batch.
    pub new_root: Fr,
    /// First consumed sequence.
    pub start: u64,
    /// One past the last consumed sequence.
    pub end: u64,
    /// One effect per consumed entry.
    pub effects: Vec<EntryEffect>,
    /// The proof bytes (exactly [`PROOF_LEN`]).
    pub proof: Vec<u8>,
}

impl SubmitProof {
    /// Decodes and checks what needs no state.
    pub fn from_msg(msg: &pb::MsgSubmitProof) -> Result<Self> {
        if msg.proof.len() != PROOF_LEN {
            return Err(CoproError::new(
                CoproCode::MalformedProof,
                format!(
                    "a proof is exactly {PROOF_LEN} bytes (compressed A, B, C); got {}",
                    msg.proof.len()
                ),
            ));
        }
        if msg.effects.len() > MAX_BATCH {
            return Err(CoproError::new(
                CoproCode::TooManyEntries,
                format!(
                    "{} effects; no program takes more than {MAX_BATCH}",
                    msg.effects.len()
                ),
            ));
        }
        if msg.program_id.is_empty() || msg.program_id.len() > MAX_PROGRAM_ID_LEN {
            return Err(CoproError::new(
                CoproCode::InvalidRequest,
                format!("program id must be 1 to {MAX_PROGRAM_ID_LEN} bytes"),
            ));
        }
        let signer = Address::parse(&msg.signer)?;
        if msg.end_sequence <= msg.start_sequence {
            return Err(CoproError::new(
                CoproCode::QueueRange,
                format!(
                    "empty queue range [{}, {}): a proof settles at least one request",
                    msg.start_sequence, msg.end_sequence
                ),
            ));
        }
        let count = msg.end_sequence - msg.start_sequence;
        if count != msg.effects.len() as u64 {
            return Err(CoproError::new(
                CoproCode::EffectsMismatch,
                format!(
                    "the range [{}, {}) has {count} requests but {} effects were sent: one effect per request",
                    msg.start_sequence,
                    msg.end_sequence,
                    msg.effects.len()
                ),
            ));
        }
        let effects = msg
            .effects
            .iter()
            .map(circuit_effect)
            .collect::<Result<Vec<_>>>()?;
        if let Some(i) = effects.iter().position(|e| {
            e.status == EntryStatus::Rejected
                && (e.from_balance, e.from_nonce, e.to_balance) != (0, 0, 0)
        }) {
            return Err(CoproError::new(
                CoproCode::EffectsMismatch,
                format!(
                    "effect {i} is rejected but carries values: a rejected entry's effect is all zero"
                ),
            ));
        }
        Ok(Self {
            signer,
            program_id: msg.program_id.clone(),
            version: msg.program_version,
            old_root: fr_of(&msg.old_root, "old_root")?,
            new_root: fr_of(&msg.new_root, "new_root")?,
            start: msg.start_sequence,
            end: msg.end_sequence,
            effects,
            proof: msg.proof.clone(),
        })
    }

    /// SHA-256 of the proof bytes (the replay key).
    pub fn proof_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.proof).into()
    }
}

/// A submission that passed every check but the pairing: what the chain
/// computed from its state, ready to verify and to apply.
#[derive(Clone, Debug)]
pub struct CheckedSubmission {
    /// The message.
    pub msg: SubmitProof,
    /// The program version it is for.
    pub program: pb::Program,
    /// The consumed requests, in order.
    pub entries: Vec<pb::QueueEntry>,
    /// The queue hash before the first consumed request.
    pub queue_before: Fr,
    /// The queue hash after the last one.
    pub queue_after: Fr,
    /// The deltas commitment of the effects.
    pub deltas_commitment: Fr,
    /// The public input the proof must verify for.
    pub public_input: Fr,
    /// Identity of the verification (key, proof, input).
    pub verification_id: [u8; 32],
}

fn circuit_entries(entries: &[pb::QueueEntry]) -> Result<Vec<CircuitEntry>> {
    entries.iter().map(circuit_entry).collect()
}

/// The stateful checks, cheapest first, and the public input.
pub fn check_stateful<S: StateRead + ?Sized>(
    state: &S,
    msg: SubmitProof,
    chain_id: &str,
    height: u64,
) -> Result<CheckedSubmission> {
    let prover = state.prover()?;
    if msg.signer.as_str() != prover {
        return Err(CoproError::new(
            CoproCode::NotProver,
            format!(
                "{} is not the registered prover ({prover}); only it may submit proofs",
                msg.signer
            ),
        ));
    }
    if state.proof_accepted(&msg.proof_hash())? {
        return Err(CoproError::new(
            CoproCode::Replay,
            "this proof was accepted already; it settles nothing again",
        ));
    }
    let program = state
        .program(&msg.program_id, msg.version)?
        .ok_or_else(|| {
            CoproError::new(
                CoproCode::UnknownProgram,
                format!(
                    "no program '{}' version {} is registered",
                    msg.program_id, msg.version
                ),
            )
        })?;
    if program.status != pb::ProgramStatus::Active as i32 {
        return Err(CoproError::new(
            CoproCode::FrozenProgram,
            format!(
                "program '{}' version {} is frozen: prove with the active version",
                msg.program_id, msg.version
            ),
        ));
    }
    let batch = program.batch_size as usize;
    if msg.effects.len() > batch {
        return Err(CoproError::new(
            CoproCode::TooManyEntries,
            format!(
                "{} entries; program '{}' version {} takes at most {batch}",
                msg.effects.len(),
                msg.program_id,
                msg.version
            ),
        ));
    }
    let current = state.ledger_root()?;
    if msg.old_root != current {
        return Err(CoproError::new(
            CoproCode::StaleRoot,
            format!(
                "old_root is not the current ledger root 0x{}: prove from the current root",
                hex_of(&current)
            ),
        ));
    }
    let queue = state.queue_state()?;
    if msg.start != queue.settled_up_to {
        let what = if msg.start < queue.settled_up_to {
            "overlaps requests settled already"
        } else {
            "leaves a gap"
        };
        return Err(CoproError::new(
            CoproCode::QueueGap,
            format!(
                "the range starts at {} and {what}: the next proof starts at {}",
                msg.start, queue.settled_up_to
            ),
        ));
    }
    if msg.end > queue.next_sequence {
        return Err(CoproError::new(
            CoproCode::QueueRange,
            format!(
                "the range ends at {} but only {} requests were queued",
                msg.end, queue.next_sequence
            ),
        ));
    }
    check_inclusion(state, &msg, batch, queue.next_sequence, height)?;
    let mut entries = Vec::with_capacity(msg.effects.len());
    for seq in msg.start..msg.end {
        entries.push(
            state
                .queued(seq)?
                .ok_or_else(|| CoproError::internal(format!("pending request {seq} is missing")))?,
        );
    }
    // The effects must fit the entries; the proof binds their values.
    expand_deltas(&circuit_entries(&entries)?, &msg.effects).map_err(|e| {
        CoproError::new(
            CoproCode::EffectsMismatch,
            format!("effects do not fit the entries: {e}"),
        )
    })?;
    let deltas_commitment = deltas_commitment(&msg.effects, batch).map_err(|e| {
        CoproError::new(
            CoproCode::EffectsMismatch,
            format!("effects are not canonical: {e}"),
        )
    })?;
    let queue_before = fr_of(&queue.settled_hash, "stored queue hash")?;
    let queue_after = match entries.last() {
        Some(last) => fr_of(&last.chain_hash, "stored queue hash")?,
        None => queue_before,
    };
    let public_input = PublicInputs {
        chain_id: chain_id.as_bytes().to_vec(),
        program_id: msg.program_id.clone(),
        program_version: msg.version,
        old_root: msg.old_root,
        new_root: msg.new_root,
        queue_before,
        queue_after,
        deltas_commitment,
    }
    .commitment();
    let vk_hash: [u8; 32] = program
        .vk_hash
        .as_slice()
        .try_into()
        .map_err(|_| CoproError::internal("corrupt stored vk hash"))?;
    let verification_id = verification_id(&vk_hash, &msg.proof, &public_input);
    Ok(CheckedSubmission {
        msg,
        program,
        entries,
        queue_before,
        queue_after,
        deltas_commitment,
        public_input,
        verification_id,
    })
}

/// The inclusion rule: at `height`, a proof must settle every pending
/// request queued at least K = `inclusion_delay_blocks` blocks ago, as far
/// as its batch of `batch` entries has room (K = 0: no rule). Requests are
/// queued in height order, so the first one the proof leaves pending decides:
/// if it is not due, none after it is. One read.
fn check_inclusion<S: StateRead + ?Sized>(
    state: &S,
    msg: &SubmitProof,
    batch: usize,
    next_sequence: u64,
    height: u64,
) -> Result<()> {
    let k = state.params()?.inclusion_delay_blocks;
    let room = msg.start.saturating_add(batch as u64).min(next_sequence);
    if k == 0 || msg.end >= room {
        return Ok(());
    }
    let first_left = state
        .queued(msg.end)?
        .ok_or_else(|| CoproError::internal(format!("pending request {} is missing", msg.end)))?;
    let due_at = first_left.enqueue_height.saturating_add(k);
    if due_at <= height {
        return Err(CoproError::new(
            CoproCode::OverdueRequest,
            format!(
                "request {} was queued at height {}, {} or more blocks ago (K = {k}), and the \
                 batch has room for it: settle every request up to {room}",
                msg.end,
                first_left.enqueue_height,
                height - first_left.enqueue_height,
            ),
        ));
    }
    Ok(())
}

fn hex_of(x: &Fr) -> String {
    fr_bytes(x).iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies submissions once: verdicts are remembered by verification id,
/// prepared verifying keys by VK hash, and the proofs verified at each
/// stage are counted. Shared by CheckTx, ProcessProposal and FinalizeBlock.
#[derive(Default)]
pub struct Verifier {
    verdicts: VerdictCache,
    keys: Mutex<BTreeMap<[u8; 32], Arc<CheckedVerifyingKey>>>,
    verified: [AtomicU64; Stage::ALL.len()],
    observer: Option<Observer>,
    /// While a block runs with deferred checks: its stage and the
    /// submissions answered optimistically, to batch-verify at the end.
    deferred: Mutex<Option<(Stage, Vec<CheckedSubmission>)>>,
}

/// Told how many proofs were verified at a stage (e.g. a metrics counter).
pub type Observer = Box<dyn Fn(Stage, u64) + Send + Sync>;

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("verdicts", &self.verdicts.len())
            .finish_non_exhaustive()
    }
}

/// Prepared keys kept (programs are few; a key is a few KB prepared).
const MAX_PREPARED_KEYS: usize = 64;

impl Verifier {
    /// A verifier remembering at most `capacity` verdicts.
    pub fn new(capacity: usize) -> Self {
        Self {
            verdicts: VerdictCache::new(capacity),
            ..Self::default()
        }
    }

    /// This verifier, telling `observer` about every verification it runs.
    pub fn observed(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Proofs whose pairing check ran at `stage` (cache hits not counted).
    pub fn verifications(&self, stage: Stage) -> u64 {
        self.verified[stage_index(stage)].load(Ordering::Relaxed)
    }

    fn count(&self, stage: Stage, n: usize) {
        self.verified[stage_index(stage)].fetch_add(n as u64, Ordering::Relaxed);
        if let Some(observe) = &self.observer {
            observe(stage, n as u64);
        }
    }

    fn key(&self, program: &pb::Program) -> Result<Arc<CheckedVerifyingKey>> {
        let hash: [u8; 32] = program
            .vk_hash
            .as_slice()
            .try_into()
            .map_err(|_| CoproError::internal("corrupt stored vk hash"))?;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(&hash) {
            return Ok(Arc::clone(key));
        }
        // Registration checked the key; failing here means corrupt state.
        let vk = decode_vk(&program.verifying_key).map_err(CoproError::internal)?;
        let key = Arc::new(CheckedVerifyingKey::new(vk).map_err(CoproError::internal)?);
        if keys.len() >= MAX_PREPARED_KEYS {
            keys.clear();
        }
        keys.insert(hash, Arc::clone(&key));
        Ok(key)
    }

    /// Starts deferring: until [`Self::end_deferred`], a submission checked
    /// at `stage` whose verdict is not known is answered `Ok` and kept, so a
    /// whole block's proofs are verified in one batch. Other stages (a
    /// CheckTx between, a leftover after a panic) are never deferred.
    pub fn begin_deferred(&self, stage: Stage) {
        *self.deferred_slot() = Some((stage, Vec::new()));
    }

    /// Batch-verifies what was deferred (per key, with exact single-check
    /// fallback); the first failing submission's error, if any.
    pub fn end_deferred(&self) -> Result<()> {
        let Some((stage, items)) = self.deferred_slot().take() else {
            return Ok(());
        };
        self.verify_all(&items, stage).into_iter().collect()
    }

    fn deferred_slot(&self) -> std::sync::MutexGuard<'_, Option<(Stage, Vec<CheckedSubmission>)>> {
        self.deferred.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies one submission (answered from memory when known; deferred
    /// when a block run at this stage deferred its checks).
    pub fn verify(&self, checked: &CheckedSubmission, stage: Stage) -> Result<()> {
        if self.verdicts.get(&checked.verification_id).is_none() {
            let mut slot = self.deferred_slot();
            if let Some((deferring, items)) = slot.as_mut()
                && *deferring == stage
            {
                items.push(checked.clone());
                return Ok(());
            }
        }
        self.verify_all(std::slice::from_ref(checked), stage)
            .pop()
            .unwrap_or_else(|| Err(CoproError::internal("no verdict")))
    }

    /// Verifies several submissions, one verdict each, in order. Those not
    /// known yet are verified together per verifying key with batch
    /// verification, which falls back to single checks when the batch
    /// fails, so each verdict is exact and deterministic.
    pub fn verify_all(&self, items: &[CheckedSubmission], stage: Stage) -> Vec<Result<()>> {
        let mut verdicts: Vec<Option<Result<()>>> = items
            .iter()
            .map(|c| self.verdicts.get(&c.verification_id).map(verdict))
            .collect();
        // Unknown ones, grouped by key (BTreeMap: deterministic order).
        let mut groups: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for (i, c) in items.iter().enumerate() {
            if verdicts[i].is_none() {
                groups.entry(c.program.vk_hash.clone()).or_default().push(i);
            }
        }
        for indices in groups.into_values() {
            let key = match self.key(&items[indices[0]].program) {
                Ok(key) => key,
                Err(e) => {
                    for i in indices {
                        verdicts[i] = Some(Err(e.clone()));
                    }
                    continue;
                }
            };
            let mut decoded = Vec::with_capacity(indices.len());
            for i in indices {
                match decode_proof(&items[i].msg.proof) {
                    Ok(proof) => decoded.push((i, proof)),
                    Err(e) => {
                        // Not remembered: decoding is cheap, and the answer
                        // keeps its own code.
                        verdicts[i] = Some(Err(CoproError::new(
                            CoproCode::MalformedProof,
                            format!("the proof is not a canonical encoding: {e}"),
                        )));
                    }
                }
            }
            let results = match decoded.len() {
                0 => vec![],
                1 => vec![verify(
                    &key,
                    &decoded[0].1,
                    items[decoded[0].0].public_input,
                )],
                _ => {
                    let batch: Vec<_> = decoded
                        .iter()
                        .map(|(i, p)| (p.clone(), items[*i].public_input))
                        .collect();
                    verify_batch(&key, &batch)
                }
            };
            self.count(stage, results.len());
            for ((i, _), result) in decoded.iter().zip(results) {
                let ok = result.is_ok();
                self.verdicts.insert(items[*i].verification_id, ok);
                verdicts[*i] = Some(verdict(ok));
            }
        }
        verdicts
            .into_iter()
            .map(|v| v.unwrap_or_else(|| Err(CoproError::internal("no verdict"))))
            .collect()
    }
}

fn stage_index(stage: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

fn verdict(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CoproError::new(
            CoproCode::InvalidProof,
            "the proof does not verify for the public input the chain computed \
             (chain-id, program, version, roots, queue range, effects): \
             rebuild it from the chain's current state",
        ))
    }
}

/// Applies a verified submission at `height`, carried by the tx `tx_hash`.
/// Returns the id of the recorded result and its events.
pub fn apply<S: StateWrite + ?Sized>(
    state: &mut S,
    checked: &CheckedSubmission,
    height: u64,
    tx_hash: [u8; 32],
) -> Result<(u64, Vec<Event>)> {
    let msg = &checked.msg;
    let entries = circuit_entries(&checked.entries)?;
    let deltas = expand_deltas(&entries, &msg.effects)
        .map_err(|e| CoproError::internal(format!("checked effects no longer fit: {e}")))?;
    // 1. The ledger mirror: the proven writes, in order.
    for write in &deltas.writes {
        let owner = state
            .ledger_owner(write.index)?
            .ok_or_else(|| CoproError::internal(format!("leaf {} has no owner", write.index)))?;
        let mut account = state
            .ledger_account(&owner)?
            .ok_or_else(|| CoproError::internal(format!("{owner} has no ledger account")))?;
        account.balance = write.balance;
        if let Some(nonce) = write.nonce {
            account.nonce = nonce;
        }
        state.put_ledger_account(&account);
    }
    // 2. Escrow payouts, pending debits, the queue.
    let id = state.result_count()?;
    let denom = state.params()?.ledger_denom;
    let escrow = escrow_address();
    let mut withdrawals = Vec::new();
    let mut refunds = Vec::new();
    let mut events = vec![
        pb::EventProofAccepted {
            result_id: id,
            program_id: msg.program_id.clone(),
            program_version: msg.version,
            start_sequence: msg.start,
            end_sequence: msg.end,
            old_root: fr_bytes(&msg.old_root),
            new_root: fr_bytes(&msg.new_root),
        }
        .event(),
    ];
    for ((stored, entry), effect) in checked.entries.iter().zip(&entries).zip(&msg.effects) {
        let applied = effect.status == EntryStatus::Applied;
        let payout = match (entry.kind, applied) {
            (EntryKind::Withdraw, true) => Some((&stored.from_address, entry.from_index)),
            (EntryKind::Deposit, false) => Some((&stored.to_address, entry.to_index)),
            _ => None,
        };
        if let Some((address, index)) = payout {
            let to = Address::parse(address)?;
            let coins = Coins::new(vec![Coin::new(denom.clone(), u128::from(entry.amount))?])?;
            state.transfer(&escrow, &to, &coins)?;
            let record = pb::Payout {
                sequence: stored.sequence,
                recipient: address.clone(),
                ledger_index: index,
                amount: entry.amount,
            };
            if entry.kind == EntryKind::Withdraw {
                events.push(
                    pb::EventWithdrawalPaid {
                        result_id: id,
                        sequence: record.sequence,
                        recipient: record.recipient.clone(),
                        ledger_index: index,
                        amount: entry.amount,
                    }
                    .event(),
                );
                withdrawals.push(record);
            } else {
                events.push(
                    pb::EventDepositRefunded {
                        result_id: id,
                        sequence: record.sequence,
                        recipient: record.recipient.clone(),
                        ledger_index: index,
                        amount: entry.amount,
                    }
                    .event(),
                );
                refunds.push(record);
            }
        }
        if matches!(entry.kind, EntryKind::Transfer | EntryKind::Withdraw) {
            let mut pending = state.pending_debits(entry.from_index)?;
            pending.count = pending
                .count
                .checked_sub(1)
                .ok_or_else(|| CoproError::internal("pending debit count underflow"))?;
            pending.amount = pending
                .amount
                .checked_sub(entry.amount)
                .ok_or_else(|| CoproError::internal("pending debit amount underflow"))?;
            state.put_pending_debits(entry.from_index, pending);
        }
        state.delete_queued(stored.sequence);
    }
    let mut queue = state.queue_state()?;
    queue.settled_up_to = msg.end;
    queue.settled_hash = fr_bytes(&checked.queue_after);
    state.put_queue_state(&queue);
    // 3. The root and its history.
    let mut history = state.root_history()?;
    let history_index = history
        .append(history::leaf(height, msg.new_root))
        .map_err(CoproError::internal)?;
    state.put_root_history(&history);
    state.put_root_record(&pb::RootRecord {
        set_height: height,
        root: fr_bytes(&msg.new_root),
        history_index,
        history_root: fr_bytes(&history.root()),
    });
    // 4. The result.
    state.put_result(&pb::VerifiedResult {
        id,
        program_id: msg.program_id.clone(),
        program_version: msg.version,
        start_sequence: msg.start,
        end_sequence: msg.end,
        old_root: fr_bytes(&msg.old_root),
        new_root: fr_bytes(&msg.new_root),
        queue_before: fr_bytes(&checked.queue_before),
        queue_after: fr_bytes(&checked.queue_after),
        deltas_commitment: fr_bytes(&checked.deltas_commitment),
        withdrawals,
        refunds,
        height,
        tx_hash: tx_hash.to_vec(),
    });
    state.put_proof_accepted(&msg.proof_hash(), id);
    Ok((id, events))
}
