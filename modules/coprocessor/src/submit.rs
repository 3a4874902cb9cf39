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
//!    is verified once per node (blst's pairing, see
//!    [`copro_circuits::verify`]);
//! 4. [`apply`] (writes): the proven effects become ledger-mirror writes,
//!    withdrawals and refunds are paid from escrow, the root and its
//!    history advance, the result is recorded.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bls12_381::Scalar as Fr;
use copro_bank::{BankWrite, Coin, Coins};
use copro_circuits::encoding::{PROOF_LEN, decode_proof, decode_vk};
use copro_circuits::poseidon::tags;
use copro_circuits::public_input::PublicInputs;
use copro_circuits::transfer::{
    self, EntryEffect, EntryKind, EntryStatus, MAX_BATCH, QueueEntry as CircuitEntry,
    TransferError, deltas_elements, expand_deltas,
};
use copro_circuits::transfer_v2::{
    self, ADDRESS_BYTES, BatchDeltas, LedgerWrite, MirrorView, OffchainEntry, Recipient,
    TransferV2Error, TransferV2Params,
};
use copro_circuits::verify::{CheckedVerifyingKey, verify};
use copro_module::{Address, Event, Stage};
use copro_store::{StateRead, StateWrite};
use sha2::{Digest, Sha256};

use crate::error::{CoproCode, CoproError, Result};
use crate::events::TypedEvent;
use crate::history;
use crate::memo::{Hashes, VerdictCache, verification_id};
use crate::record::{
    circuit_effect, circuit_entry, circuit_entry_v2, fr_bytes, fr_of, pb, tree_config,
};
use crate::registry::{ProgramKind, kind};
use crate::requests::escrow_address;
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
    /// Off-chain transfers after the queue section (`transfer` version 2;
    /// empty for version 1), in order.
    pub offchain: Vec<OffchainEntry>,
    /// The next free leaf index the proof claims it was made for (version
    /// 2; 0 for version 1). Only compared with the chain's own value, which
    /// is what the public input uses.
    pub alloc_start: u32,
}

/// The domain value of a submitted off-chain entry (stateless checks: a
/// recipient is present, a new one's address is 20 bytes, the amount is
/// positive).
fn offchain_entry(position: usize, e: &pb::OffchainEntry) -> Result<OffchainEntry> {
    use pb::offchain_entry::Recipient as R;
    let bad = |what: &str| {
        CoproError::new(
            CoproCode::InvalidRequest,
            format!("off-chain entry {position}: {what}"),
        )
    };
    if e.amount == 0 {
        // The circuit would allow it, but a zero-amount transfer to a new
        // address would make a leaf the mirror cannot tell from an unsettled
        // one (balance 0, nonce 0): the chain refuses what moves nothing.
        return Err(CoproError::new(
            CoproCode::InvalidAmount,
            format!("off-chain entry {position} moves 0: leave it out"),
        ));
    }
    let recipient = match &e.recipient {
        Some(R::ToIndex(i)) => Recipient::Existing(*i),
        Some(R::ToAddress(a)) => {
            Recipient::New(<[u8; ADDRESS_BYTES]>::try_from(a.as_slice()).map_err(|_| {
                bad(&format!(
                    "a new recipient's address is 20 bytes, got {}",
                    a.len()
                ))
            })?)
        }
        None => return Err(bad("no recipient (to_index or to_address)")),
    };
    Ok(OffchainEntry {
        from_index: e.from_index,
        recipient,
        amount: e.amount,
    })
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
        if msg.offchain.len() > MAX_BATCH {
            return Err(CoproError::new(
                CoproCode::TooManyEntries,
                format!(
                    "{} off-chain entries; no program takes more than {MAX_BATCH}",
                    msg.offchain.len()
                ),
            ));
        }
        // A version-2 batch may hold only off-chain transfers; otherwise a
        // proof settles at least one request.
        if msg.end_sequence < msg.start_sequence
            || (msg.end_sequence == msg.start_sequence && msg.offchain.is_empty())
        {
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
            offchain: offchain_entries(&msg.offchain)?,
            alloc_start: msg.alloc_start,
        })
    }

    /// SHA-256 of the proof bytes (the replay key).
    pub fn proof_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.proof).into()
    }
}

/// The submitted off-chain entries; two that create an account for one
/// address are refused here (32), so that the stateful check's "address
/// has an index" means exactly "bound before this batch" (31).
fn offchain_entries(submitted: &[pb::OffchainEntry]) -> Result<Vec<OffchainEntry>> {
    let entries = submitted
        .iter()
        .enumerate()
        .map(|(i, e)| offchain_entry(i, e))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        if let Recipient::New(address) = e.recipient
            && !seen.insert(address)
        {
            return Err(CoproError::new(
                CoproCode::DuplicateNewAddress,
                format!(
                    "off-chain entry {i} creates a second account for address {}: \
                     name the first one's index (alloc_start + j) instead",
                    hex::encode(address)
                ),
            ));
        }
    }
    Ok(entries)
}

/// What a version-2 submission changes, computed before the pairing check.
#[derive(Clone, Debug)]
pub struct CheckedV2 {
    /// The chain's next free leaf index at check time (`alloc_start`).
    pub alloc_start: u32,
    /// `transfer_v2::expand_batch` over the mirror: ordered writes,
    /// withdrawals, new accounts, the resolved off-chain entries.
    pub deltas: BatchDeltas,
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
    /// Version 2's batch (None for version 1).
    pub v2: Option<CheckedV2>,
}

/// The chain's mirror as `transfer_v2::expand_batch` reads it. A store
/// failure is kept (the trait cannot return it) and reported after.
struct StateMirror<'a, S: StateRead + ?Sized> {
    state: &'a S,
    error: RefCell<Option<CoproError>>,
}

impl<S: StateRead + ?Sized> StateMirror<'_, S> {
    fn keep<T>(&self, r: Result<Option<T>>) -> Option<T> {
        r.unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            None
        })
    }

    fn read(&self, index: u32) -> Result<Option<transfer::Account>> {
        let Some(owner) = self.state.ledger_owner(index)? else {
            return Ok(None);
        };
        let Some(a) = self.state.ledger_account(&owner)? else {
            return Err(CoproError::internal(format!(
                "owner {owner} of leaf {index} has no account"
            )));
        };
        // An address is bound to its index when first credited in the
        // queue, before the leaf exists; such an account (balance 0, nonce
        // 0, no key) has an empty leaf. A settled leaf never looks like
        // that: every credit moves at least 1, debits move the nonce, and
        // a key is set only on a leaf that exists.
        if a.balance == 0 && a.nonce == 0 && a.spending_key.is_empty() {
            return Ok(None);
        }
        Ok(Some(transfer::Account {
            key: fr_of(&a.key, "stored account key").map_err(|e| CoproError::internal(e.log))?,
            balance: a.balance,
            nonce: a.nonce,
        }))
    }
}

impl<S: StateRead + ?Sized> MirrorView for StateMirror<'_, S> {
    fn account(&self, index: u32) -> Option<transfer::Account> {
        self.keep(self.read(index))
    }

    fn has_index(&self, address: &[u8; ADDRESS_BYTES]) -> bool {
        let bound = Address::from_bytes(address)
            .map_err(CoproError::from)
            .and_then(|a| self.state.ledger_account(a.as_str()))
            .map(|a| a.map(|_| ()));
        self.keep(bound).is_some()
    }
}

/// The code of an inconsistency `expand_batch` found: the data does not fit
/// the chain's mirror, so no proof of it can be applied.
fn expand_error(e: TransferV2Error) -> CoproError {
    match e {
        TransferV2Error::Transfer(TransferError::TooManyEntries { got, max }) => CoproError::new(
            CoproCode::TooManyEntries,
            format!("{got} entries in a section of {max} slots"),
        ),
        TransferV2Error::BadOffchainEntry { position, reason } => {
            use transfer_v2::OffchainDataFault as F;
            let code = match reason {
                F::NoSender | F::NoRecipient => CoproCode::OffchainNoAccount,
                F::Overdraft | F::NonceExhausted => CoproCode::OffchainOverdraft,
                F::Overflow => CoproCode::OffchainOverflow,
                F::SelfTransfer => CoproCode::OffchainSelfTransfer,
                // Duplicates within the batch were refused when decoding.
                F::AddressBound => CoproCode::AddressAlreadyBound,
                F::NoFreeIndex => CoproCode::LedgerFull,
                // Neither can follow from submitted data: the mirror itself
                // would be inconsistent.
                F::IndexOccupied | F::ZeroAddressKey => {
                    return CoproError::internal(format!("off-chain entry {position}: {reason}"));
                }
            };
            CoproError::new(
                code,
                format!(
                    "off-chain entry {position} does not fit the settled ledger: {reason}; \
                     rebuild the batch from the chain's current state"
                ),
            )
        }
        other => CoproError::new(
            CoproCode::EffectsMismatch,
            format!("effects do not fit the entries: {other}"),
        ),
    }
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
    check_stateful_memo(state, msg, chain_id, height, &Hashes::none())
}

/// [`check_stateful`], with its Poseidon sponges remembered in `hashes`
/// (the node's [`Verifier::hashes`]): the stages after the first that check
/// the same submission pay SHA-256 lookups instead of permutations.
pub fn check_stateful_memo<S: StateRead + ?Sized>(
    state: &S,
    msg: SubmitProof,
    chain_id: &str,
    height: u64,
    hashes: &Hashes,
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
    let program_kind = kind(&program);
    if msg.offchain.len() > program.offchain_batch_size as usize {
        return Err(CoproError::new(
            CoproCode::TooManyEntries,
            format!(
                "{} off-chain entries; program '{}' version {} takes at most {}",
                msg.offchain.len(),
                msg.program_id,
                msg.version,
                program.offchain_batch_size
            ),
        ));
    }
    if program_kind == ProgramKind::TransferV1 && msg.alloc_start != 0 {
        return Err(CoproError::new(
            CoproCode::InvalidRequest,
            format!(
                "alloc_start is {}; program '{}' version {} creates no accounts, leave it 0",
                msg.alloc_start, msg.program_id, msg.version
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
    // Version 2: a batch that creates accounts is proven for the chain's
    // own next free index (the same read in CheckTx, ProcessProposal and
    // FinalizeBlock: the state before the tx); the claim only names a stale
    // proof before the pairing. A batch that creates none keeps its claim:
    // the circuit uses `alloc_start` only to place created accounts, and
    // binding the chain's value would stale every such proof whenever a new
    // depositor is queued while it is being proven.
    let creates = msg
        .offchain
        .iter()
        .any(|e| matches!(e.recipient, Recipient::New(_)));
    let alloc_start = match program_kind {
        ProgramKind::TransferV1 => 0,
        ProgramKind::TransferV2 if !creates => msg.alloc_start,
        ProgramKind::TransferV2 => {
            let next = u32::try_from(state.next_index()?)
                .map_err(|_| CoproError::internal("next leaf index above 2^32 - 1"))?;
            if msg.alloc_start != next {
                return Err(CoproError::new(
                    CoproCode::StaleAllocation,
                    format!(
                        "the proof was made for next free leaf index {}, the chain's is {next} \
                         (an account was created since): prove again with alloc_start {next}",
                        msg.alloc_start
                    ),
                ));
            }
            next
        }
    };
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
    let queue_before = fr_of(&queue.settled_hash, "stored queue hash")?;
    let queue_after = match entries.last() {
        Some(last) => fr_of(&last.chain_hash, "stored queue hash")?,
        None => queue_before,
    };
    let (deltas_commitment, public_input, v2) = match program_kind {
        ProgramKind::TransferV1 => {
            if let Some(e) = entries
                .iter()
                .find(|e| e.kind == pb::EntryKind::SetKey as i32)
            {
                return Err(CoproError::new(
                    CoproCode::UnsupportedByProgram,
                    format!(
                        "request {} changes a spending key, which program '{}' version {} \
                         cannot consume: the queue waits for a version-2 program",
                        e.sequence, msg.program_id, msg.version
                    ),
                ));
            }
            // The effects must fit the entries; the proof binds their values.
            expand_deltas(&circuit_entries(&entries)?, &msg.effects).map_err(|e| {
                CoproError::new(
                    CoproCode::EffectsMismatch,
                    format!("effects do not fit the entries: {e}"),
                )
            })?;
            let elements = deltas_elements(&msg.effects, batch).map_err(|e| {
                CoproError::new(
                    CoproCode::EffectsMismatch,
                    format!("effects are not canonical: {e}"),
                )
            })?;
            let deltas_commitment = hashes.sponge(tags::DELTAS, &elements);
            let public_input = hashes.public_input(&PublicInputs {
                chain_id: chain_id.as_bytes().to_vec(),
                program_id: msg.program_id.clone(),
                program_version: msg.version,
                old_root: msg.old_root,
                new_root: msg.new_root,
                queue_before,
                queue_after,
                deltas_commitment,
            });
            (deltas_commitment, public_input, None)
        }
        ProgramKind::TransferV2 => {
            let params = TransferV2Params {
                queue_slots: batch,
                offchain_slots: program.offchain_batch_size as usize,
                tree: tree_config(program.tree_arity, program.tree_depth)?,
            };
            let v2_entries = entries
                .iter()
                .map(circuit_entry_v2)
                .collect::<Result<Vec<_>>>()?;
            // Bounded: at most B_s entries, two reads each.
            let mirror = StateMirror {
                state,
                error: RefCell::new(None),
            };
            let expanded = transfer_v2::expand_batch(
                &params,
                &mirror,
                &v2_entries,
                &msg.effects,
                &msg.offchain,
                alloc_start,
            );
            if let Some(e) = mirror.error.into_inner() {
                return Err(e);
            }
            let deltas = expanded.map_err(expand_error)?;
            let canonical = |e: TransferError| {
                CoproError::new(
                    CoproCode::EffectsMismatch,
                    format!("effects are not canonical: {e}"),
                )
            };
            let elements =
                transfer_v2::deltas_elements(&params, &msg.effects, &deltas.resolved, alloc_start)
                    .map_err(canonical)?;
            let commitment = hashes.sponge(tags::DELTAS, &elements);
            let public_input = hashes.public_input(&transfer_v2::public_inputs(
                chain_id.as_bytes(),
                msg.old_root,
                msg.new_root,
                queue_before,
                queue_after,
                commitment,
            ));
            (
                commitment,
                public_input,
                Some(CheckedV2 {
                    alloc_start,
                    deltas,
                }),
            )
        }
    };
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
        v2,
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
/// prepared verifying keys by VK hash, a submission's Poseidon work by its
/// inputs ([`Verifier::hashes`]), and the proofs verified at each stage are
/// counted. Shared by CheckTx, PrepareProposal, ProcessProposal and
/// FinalizeBlock.
#[derive(Default)]
pub struct Verifier {
    verdicts: VerdictCache,
    hashes: Hashes,
    keys: Mutex<BTreeMap<[u8; 32], Arc<CheckedVerifyingKey>>>,
    verified: [AtomicU64; Stage::ALL.len()],
    observer: Option<Observer>,
    /// While a block runs with deferred checks: its stage and the
    /// submissions answered optimistically, to verify at the end.
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

    /// The node's memo of submissions' Poseidon work, for
    /// [`check_stateful_memo`] and [`apply_memo`].
    pub fn hashes(&self) -> &Hashes {
        &self.hashes
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
    /// whole block's proofs are verified together at its end. Other stages (a
    /// CheckTx between, a leftover after a panic) are never deferred.
    pub fn begin_deferred(&self, stage: Stage) {
        *self.deferred_slot() = Some((stage, Vec::new()));
    }

    /// Verifies what was deferred; the first failing submission's error,
    /// if any.
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

    /// Verifies several submissions, one verdict each, in order: those not
    /// known yet, grouped per verifying key, each checked on its own, so
    /// each verdict is exact and deterministic.
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
            let results: Vec<_> = decoded
                .iter()
                .map(|(i, proof)| verify(&key, proof, items[*i].public_input))
                .collect();
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
    apply_memo(state, checked, height, tx_hash, &Hashes::none())
}

/// [`apply`], with the root-history append remembered in `hashes` (the
/// node's [`Verifier::hashes`]), so the stages after the first that apply
/// the same submission over the same history do not hash it again.
pub fn apply_memo<S: StateWrite + ?Sized>(
    state: &mut S,
    checked: &CheckedSubmission,
    height: u64,
    tx_hash: [u8; 32],
    hashes: &Hashes,
) -> Result<(u64, Vec<Event>)> {
    let msg = &checked.msg;
    let id = state.result_count()?;
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
    let writes: Vec<LedgerWrite> = match &checked.v2 {
        None => {
            let entries = circuit_entries(&checked.entries)?;
            expand_deltas(&entries, &msg.effects)
                .map_err(|e| CoproError::internal(format!("checked effects no longer fit: {e}")))?
                .writes
                .into_iter()
                .map(LedgerWrite::Account)
                .collect()
        }
        Some(v2) => {
            // 0. New accounts of the off-chain section: bound to
            // `alloc_start + j` as a deposit binds, before the writes that
            // credit them.
            let mut next = u64::from(v2.alloc_start);
            for new in &v2.deltas.new_accounts {
                if u64::from(new.index) != next {
                    return Err(CoproError::internal(format!(
                        "new account at {} where {next} was expected",
                        new.index
                    )));
                }
                let address = Address::from_bytes(&new.address)?;
                state.put_ledger_account(&pb::LedgerAccount {
                    address: address.to_string(),
                    ledger_index: new.index,
                    key: fr_bytes(&new.key),
                    balance: 0,
                    nonce: 0,
                    spending_key: Vec::new(),
                });
                events.push(
                    pb::EventLedgerAccountCreated {
                        result_id: id,
                        address: address.to_string(),
                        ledger_index: new.index,
                    }
                    .event(),
                );
                next = next
                    .checked_add(1)
                    .ok_or_else(|| CoproError::internal("leaf index overflow"))?;
            }
            if !v2.deltas.new_accounts.is_empty() {
                state.put_next_index(next);
            }
            v2.deltas.writes.clone()
        }
    };
    // 1. The ledger mirror: the proven writes, in order.
    for write in &writes {
        let index = match write {
            LedgerWrite::Account(w) => w.index,
            LedgerWrite::SpendKey { index, .. } => *index,
        };
        let owner = state
            .ledger_owner(index)?
            .ok_or_else(|| CoproError::internal(format!("leaf {index} has no owner")))?;
        let mut account = state
            .ledger_account(&owner)?
            .ok_or_else(|| CoproError::internal(format!("{owner} has no ledger account")))?;
        match write {
            LedgerWrite::Account(w) => {
                account.balance = w.balance;
                if let Some(nonce) = w.nonce {
                    account.nonce = nonce;
                }
            }
            LedgerWrite::SpendKey { spend, .. } => {
                account.spending_key = spend.to_bytes().to_vec();
            }
        }
        state.put_ledger_account(&account);
    }
    // 2. Escrow payouts, pending debits, the queue.
    let denom = state.params()?.ledger_denom;
    let escrow = escrow_address();
    let mut withdrawals = Vec::new();
    let mut refunds = Vec::new();
    for (stored, effect) in checked.entries.iter().zip(&msg.effects) {
        let applied = effect.status == EntryStatus::Applied;
        // A set-key entry moves no coins and reserved no debit.
        if stored.kind == pb::EntryKind::SetKey as i32 {
            state.delete_queued(stored.sequence);
            continue;
        }
        let entry = circuit_entry(stored)?;
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
    let (history, history_index) = hashes
        .append(&state.root_history()?, history::leaf(height, msg.new_root))
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
        offchain_count: u32::try_from(msg.offchain.len()).map_err(CoproError::internal)?,
        alloc_start: checked.v2.as_ref().map_or(0, |v| v.alloc_start),
        created: checked.v2.as_ref().map_or(0, |v| v.deltas.created()),
    });
    state.put_proof_accepted(&msg.proof_hash(), id);
    Ok((id, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::smt::{Arity, TreeConfig};

    /// A mirror of two accounts: 0 (balance 10) and 1 (balance near 2^64).
    struct Two;

    impl MirrorView for Two {
        fn account(&self, index: u32) -> Option<transfer::Account> {
            let balance = match index {
                0 => 10,
                1 => u64::MAX - 1,
                _ => return None,
            };
            Some(transfer::Account {
                key: Fr::from(u64::from(index) + 1),
                balance,
                nonce: 0,
            })
        }

        fn has_index(&self, address: &[u8; ADDRESS_BYTES]) -> bool {
            address[0] == 1
        }
    }

    /// Each inconsistency `expand_batch` reports maps to its own code (this
    /// pins the chain's reading of the circuits crate's reasons).
    #[test]
    fn every_inconsistent_offchain_entry_has_its_code() {
        let tree = TreeConfig::new(Arity::Four, 2).expect("tree");
        let params = TransferV2Params {
            queue_slots: 1,
            offchain_slots: 2,
            tree,
        };
        let entry = |from_index, recipient, amount| OffchainEntry {
            from_index,
            recipient,
            amount,
        };
        let cases = [
            (
                vec![entry(5, Recipient::Existing(1), 1)],
                2,
                CoproCode::OffchainNoAccount,
            ),
            (
                vec![entry(0, Recipient::Existing(5), 1)],
                2,
                CoproCode::OffchainNoAccount,
            ),
            (
                vec![entry(0, Recipient::Existing(1), 11)],
                2,
                CoproCode::OffchainOverdraft,
            ),
            (
                vec![entry(0, Recipient::Existing(1), 2)],
                2,
                CoproCode::OffchainOverflow,
            ),
            (
                vec![entry(0, Recipient::Existing(0), 1)],
                2,
                CoproCode::OffchainSelfTransfer,
            ),
            (
                vec![entry(0, Recipient::New([1; ADDRESS_BYTES]), 1)],
                2,
                CoproCode::AddressAlreadyBound,
            ),
            (
                vec![entry(0, Recipient::New([2; ADDRESS_BYTES]), 1)],
                16,
                CoproCode::LedgerFull,
            ),
            (
                vec![entry(0, Recipient::Existing(1), 1); 3],
                2,
                CoproCode::TooManyEntries,
            ),
        ];
        for (offchain, alloc_start, expected) in cases {
            let e = transfer_v2::expand_batch(&params, &Two, &[], &[], &offchain, alloc_start)
                .expect_err("inconsistent");
            let mapped = expand_error(e.clone());
            assert!(mapped.is(expected), "{e} → {mapped}");
        }
        let ok = transfer_v2::expand_batch(
            &params,
            &Two,
            &[],
            &[],
            &[entry(0, Recipient::New([2; ADDRESS_BYTES]), 1)],
            2,
        )
        .expect("consistent");
        assert_eq!(ok.created(), 1);
    }

    #[test]
    fn offchain_entries_are_checked_when_decoded() {
        use pb::offchain_entry::Recipient as R;
        let e = |recipient, amount| pb::OffchainEntry {
            from_index: 0,
            amount,
            recipient,
        };
        let new = Some(R::ToAddress(vec![3; ADDRESS_BYTES]));
        for (entries, expected) in [
            (vec![e(None, 1)], CoproCode::InvalidRequest),
            (
                vec![e(Some(R::ToAddress(vec![3; 32])), 1)],
                CoproCode::InvalidRequest,
            ),
            (vec![e(Some(R::ToIndex(1)), 0)], CoproCode::InvalidAmount),
            (
                vec![e(new.clone(), 1), e(new.clone(), 2)],
                CoproCode::DuplicateNewAddress,
            ),
        ] {
            let err = offchain_entries(&entries).expect_err("refused");
            assert!(err.is(expected), "{err}");
        }
        assert_eq!(
            offchain_entries(&[e(new, 1), e(Some(R::ToIndex(0)), 1)])
                .expect("fine")
                .len(),
            2
        );
    }
}
