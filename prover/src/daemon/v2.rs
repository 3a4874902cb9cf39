//! The daemon's `transfer` version-2 rounds: batches of queue entries
//! followed by signed off-chain transfers from the pool.
//!
//! Version 2 keeps one batch in flight. A batch is planned over the
//! replica (which agrees with the chain), so nothing speculative has to be
//! replayed when a batch fails: its transfers go back to the pool and the
//! next round plans again from the chain's state. A job is committed when
//! the chain records its proof as accepted (a light-client verified read of
//! `accepted_proof(sha256(proof))`), which works for a batch of off-chain
//! transfers only, where the queue does not move. The replica then applies
//! the batch the way the chain did: `transfer_v2::expand_batch` over the
//! submitted data, no signature needed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use copro_circuits::field::{Fr, fr_to_hex};
use copro_circuits::spend_auth::PublicKey;
use copro_circuits::transfer;
use copro_circuits::transfer_v2::{
    self, ADDRESS_BYTES, MirrorView, OffchainReject, OffchainTransfer, Recipient, TransferV2Error,
};
use copro_coprocessor::record::{circuit_entry_v2, fr_bytes, fr_of, pb};
use copro_coprocessor::settle::{self, ExecuteV2Error};
use copro_coprocessor::state_key;
use sha2::{Digest, Sha256};

use super::jobs::{Job, JobState};
use super::pool::{PooledTransfer, TransferRequest, TransferState};
use super::submit::Inclusion;
use super::{ChainView, Daemon, root_hex, unix_now, write};
use crate::daemon::metrics::reason;

/// What `POST /transfers` checks a signed transfer against: the senders'
/// keys and nonces as the replica last agreed with the chain.
#[derive(Debug, Default, Clone)]
pub struct IntakeView {
    /// Whether the daemon proves `transfer` version 2 (else the endpoint
    /// answers 501).
    pub enabled: bool,
    /// Chain id the signatures must bind.
    pub chain_id: String,
    /// Sender index → (spending key, nonce) of every keyed account.
    pub senders: BTreeMap<u32, (PublicKey, u64)>,
    /// Most transfers the pool holds.
    pub max_pool: usize,
    /// Most open transfers of one sender.
    pub max_per_sender: usize,
}

/// Why `POST /transfers` refused a transfer, with the HTTP status it maps to.
#[derive(Debug, PartialEq, Eq)]
pub enum IntakeError {
    /// 400: malformed or not signed by the sender's key.
    Invalid(String),
    /// 409: the nonce is not the next one, which is `expected`.
    Nonce(String, u64),
    /// 429: this sender has too many transfers waiting.
    SenderBusy(String),
    /// 503: the pool is full.
    PoolFull(String),
    /// 501: the daemon proves `transfer` version 1.
    Disabled,
    /// 500: the store failed.
    Store(String),
}

/// Checks `req` natively (signature against the sender's key, nonce against
/// the replica plus the sender's transfers already in the pool, caps) and
/// persists it. The caller serialises calls, so two requests of one sender
/// cannot both take the same nonce.
pub fn accept_transfer(
    view: &IntakeView,
    store: &super::jobs::JobStore,
    req: &TransferRequest,
) -> Result<PooledTransfer, IntakeError> {
    let (signed, _) = req.decode().map_err(IntakeError::Invalid)?;
    if !view.enabled {
        return Err(IntakeError::Disabled);
    }
    let m = signed.message;
    let Some((key, nonce)) = view.senders.get(&m.from_index) else {
        return Err(IntakeError::Invalid(format!(
            "ledger account {} has no spending key (or no account): bind one with `coprod tx copro set-ledger-key` and wait for it to settle",
            m.from_index
        )));
    };
    signed.verify(key, view.chain_id.as_bytes()).map_err(|e| {
        IntakeError::Invalid(format!(
            "the signature does not verify against account {}'s spending key for chain {}: {e}",
            m.from_index, view.chain_id
        ))
    })?;
    let open = store
        .open_transfers()
        .map_err(|e| IntakeError::Store(e.to_string()))?;
    if open.len() >= view.max_pool {
        return Err(IntakeError::PoolFull(format!(
            "the pool holds {} transfers, its limit: try again after the next batch settles",
            open.len()
        )));
    }
    let mine = open.iter().filter(|t| t.from_index == m.from_index).count();
    if mine >= view.max_per_sender {
        return Err(IntakeError::SenderBusy(format!(
            "account {} has {mine} transfers waiting, the limit per sender: wait for them to settle",
            m.from_index
        )));
    }
    let expected = nonce.saturating_add(mine as u64);
    if m.nonce != expected {
        return Err(IntakeError::Nonce(
            format!(
                "nonce {} is not account {}'s next nonce {expected} (settled nonce {nonce}, {mine} transfers waiting): sign again with nonce {expected}",
                m.nonce, m.from_index
            ),
            expected,
        ));
    }
    store
        .add_transfer(|id| PooledTransfer::accepted(id, &signed, &req.to_address, unix_now()))
        .map_err(|e| IntakeError::Store(e.to_string()))
}

/// The replica as `expand_batch` reads it: the chain already refused bad
/// data, so an address is never "bound" here.
struct ReplicaMirror<'a>(&'a crate::replica::Replica);

impl MirrorView for ReplicaMirror<'_> {
    fn account(&self, index: u32) -> Option<transfer::Account> {
        self.0.account(index).ok().flatten()
    }

    fn has_index(&self, _address: &[u8; ADDRESS_BYTES]) -> bool {
        false
    }
}

/// Whether a rejected transfer may apply later (kept pending) or never
/// will (dropped).
fn may_apply_later(reason: &OffchainReject) -> bool {
    matches!(reason, OffchainReject::WrongNonce { signed, current } if signed > current)
}

impl Daemon {
    /// Jobs against the chain: a proof the chain accepted is committed; a
    /// batch refused in its block or overtaken is given up; a lost tx is
    /// broadcast again; a failed one is retried.
    pub(super) async fn reconcile_v2(&mut self, view: &ChainView) -> anyhow::Result<()> {
        let now = unix_now();
        for mut job in self.jobs.open_jobs()? {
            if job.state.is_final(job.retry_at) {
                continue;
            }
            if let Some(msg) = job.submit_msg() {
                let hash: [u8; 32] = Sha256::digest(&msg.proof).into();
                let accepted = self
                    .chain
                    .store_value(&state_key::accepted_proof(&hash), view.height)
                    .await?
                    .value
                    .is_some();
                if accepted {
                    self.commit_v2(&mut job, view)?;
                    continue;
                }
                if job.old_root != root_hex(&view.root) {
                    self.give_up(&mut job, "the chain's ledger root moved past its old root")?;
                    continue;
                }
            }
            match job.state {
                JobState::Submitted => match self.submitter.inclusion(&job.tx_hash).await {
                    Ok(Inclusion::Included { code, log, height }) if code != 0 => {
                        self.metrics.fail(reason::REJECTED);
                        let why = format!(
                            "tx {} failed in block {height} with code {code}: {log}",
                            job.tx_hash
                        );
                        self.give_up(&mut job, &why)?;
                    }
                    Ok(Inclusion::NotFound)
                        if view.height
                            > job
                                .submitted_height
                                .saturating_add(self.config.tx.rebroadcast_after_blocks) =>
                    {
                        self.metrics.fail(reason::NOT_INCLUDED);
                        job.reason = "not in a block after broadcast; broadcasting again".into();
                        self.transition(&mut job, JobState::Proved)?;
                    }
                    _ => {}
                },
                JobState::Failed => self.retry_if_due(&mut job, now, JobState::Proved)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// A job whose proof the chain accepted: committed, its transfers
    /// settled, and the replica advanced over it (checked against the
    /// proof's new root, which the chain verified).
    fn commit_v2(&mut self, job: &mut Job, view: &ChainView) -> anyhow::Result<()> {
        let msg = job
            .submit_msg()
            .context("a committed job without its proof")?;
        let synced = self
            .replica
            .synced()
            .context("the ledger replica was never synced")?;
        if fr_bytes(&synced.root) == msg.old_root {
            self.apply_to_replica(job, &msg, view.height)?;
            // New keys and nonces count for intake at once.
            self.refresh_intake()?;
        }
        let n = job.transfers.len() as u64;
        let tx_hash = job.tx_hash.clone();
        self.committed(job, view.height)?;
        let mut settled = Vec::new();
        for id in &job.transfers {
            if let Some(mut t) = self.jobs.transfer(*id)? {
                t.state = TransferState::Committed;
                t.height = view.height;
                t.tx_hash.clone_from(&tx_hash);
                t.updated_at = unix_now();
                settled.push(t);
            }
        }
        self.jobs.put_transfers(&settled)?;
        self.metrics.settled_entries.inc_by(n);
        write(&self.status).settled_entries += n;
        Ok(())
    }

    /// Replays a settled batch over the replica from its submitted data,
    /// as the chain's mirror did, and commits it against its new root.
    fn apply_to_replica(
        &mut self,
        job: &Job,
        msg: &pb::MsgSubmitProof,
        height: u64,
    ) -> anyhow::Result<()> {
        let params = self
            .v2
            .context("version-2 round without version-2 params")?;
        let entries = self
            .jobs
            .entries(msg.start_sequence, msg.end_sequence)?
            .with_context(|| format!("job {}: its requests are not in the job store", job.id))?;
        let entries = entries
            .iter()
            .map(circuit_entry_v2)
            .collect::<Result<Vec<_>, _>>()?;
        let effects = msg
            .effects
            .iter()
            .map(copro_coprocessor::record::circuit_effect)
            .collect::<Result<Vec<_>, _>>()?;
        let offchain = msg
            .offchain
            .iter()
            .map(|e| {
                use pb::offchain_entry::Recipient as R;
                let recipient = match &e.recipient {
                    Some(R::ToIndex(i)) => Recipient::Existing(*i),
                    Some(R::ToAddress(a)) => Recipient::New(
                        a.as_slice()
                            .try_into()
                            .context("a new recipient's address is not 20 bytes")?,
                    ),
                    None => anyhow::bail!("an off-chain entry without a recipient"),
                };
                Ok(transfer_v2::OffchainEntry {
                    from_index: e.from_index,
                    recipient,
                    amount: e.amount,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let deltas = transfer_v2::expand_batch(
            &params,
            &ReplicaMirror(&self.replica),
            &entries,
            &effects,
            &offchain,
            msg.alloc_start,
        )
        .map_err(|e| anyhow::anyhow!("replaying job {} over the replica: {e}", job.id))?;
        self.replica.apply_writes(&deltas.writes)?;
        let new_root = fr_of(&msg.new_root, "new root")?;
        self.replica
            .commit_checked(height, new_root, msg.end_sequence)?;
        self.jobs.prune_entries(msg.end_sequence)?;
        tracing::info!(job = job.id, root = %fr_to_hex(&new_root), "ledger replica advanced over a settled batch");
        Ok(())
    }

    /// The replica against the chain: equal roots, or the batch that moved
    /// the chain from the replica's root is one of ours (applied), or the
    /// replica disagrees (halt, as version 1 does).
    pub(super) fn catch_up_v2(&mut self, view: &ChainView) -> anyhow::Result<()> {
        for _ in 0..64 {
            let synced = self
                .replica
                .synced()
                .context("the ledger replica was never synced")?;
            if fr_bytes(&synced.root) == view.root {
                if synced.settled_up_to != view.queue.settled_up_to {
                    anyhow::bail!(
                        "LEDGER REPLICA DISAGREES WITH THE CHAIN: same root, queue settled up to {} on the chain and {} in the replica",
                        view.queue.settled_up_to,
                        synced.settled_up_to
                    );
                }
                self.refresh_intake()?;
                return Ok(());
            }
            let from = root_hex(&fr_bytes(&synced.root));
            let next = self
                .jobs
                .recent(64, Some(JobState::Committed.as_str()))?
                .into_iter()
                .find(|j| j.old_root == from);
            let Some(job) = next else {
                anyhow::bail!(
                    "LEDGER REPLICA DISAGREES WITH THE CHAIN at height {}: the chain's root {} does not follow from the replica's {} by any batch of this prover (another prover, or a lost job store): stop the prover, move {} aside and start again to rebuild it from the chain",
                    view.height,
                    root_hex(&view.root),
                    from,
                    self.config.replica_path().display()
                );
            };
            let msg = job
                .submit_msg()
                .context("a committed job without its proof")?;
            self.apply_to_replica(&job, &msg, view.height)?;
        }
        anyhow::bail!("the replica is more than 64 batches behind; it catches up next round")
    }

    /// Publishes the senders' keys and nonces for `POST /transfers`, when
    /// the replica moved since they were last published.
    fn refresh_intake(&mut self) -> anyhow::Result<()> {
        let synced = self.replica.synced();
        if synced.is_some() && synced == self.intake_at {
            return Ok(());
        }
        self.intake_at = synced;
        let senders = self
            .replica
            .committed_accounts_v2()?
            .into_iter()
            .filter_map(|(i, a)| a.spend.map(|k| (i, (k, a.nonce))))
            .collect();
        let mut view = self.intake.write().unwrap_or_else(|p| p.into_inner());
        view.enabled = true;
        view.chain_id.clone_from(&self.config.chain_id);
        view.senders = senders;
        view.max_pool = self.config.pool.max_transfers;
        view.max_per_sender = self.config.pool.max_per_sender;
        Ok(())
    }

    /// Puts the transfers of a given-up job back in the pool.
    pub(super) fn release_transfers(&mut self, job: &Job, why: &str) -> anyhow::Result<()> {
        let mut back = Vec::new();
        for id in &job.transfers {
            if let Some(mut t) = self.jobs.transfer(*id)?
                && t.state == TransferState::Batched
                && t.job == Some(job.id)
            {
                t.state = TransferState::Pending;
                t.reason = format!("batch {} given up: {why}", job.id);
                t.updated_at = unix_now();
                back.push(t);
            }
        }
        self.jobs.put_transfers(&back)?;
        Ok(())
    }

    /// Batched transfers whose job is not open (given up while the process
    /// stopped) go back to pending.
    pub(super) fn release_orphan_transfers(&mut self) -> anyhow::Result<()> {
        let open: Vec<u64> = self
            .jobs
            .open_jobs()?
            .into_iter()
            .filter(|j| !j.state.is_final(j.retry_at))
            .map(|j| j.id)
            .collect();
        let mut back = Vec::new();
        for mut t in self.jobs.open_transfers()? {
            if t.state == TransferState::Batched && !t.job.is_some_and(|j| open.contains(&j)) {
                t.state = TransferState::Pending;
                t.updated_at = unix_now();
                back.push(t);
            }
        }
        self.jobs.put_transfers(&back)?;
        Ok(())
    }

    /// Plans the next batch when none is open: up to `B_q` queue entries,
    /// then up to `B_s` pooled transfers that apply, executed over the
    /// replica; transfers that can never apply are dropped with the reason.
    pub(super) async fn plan_v2(&mut self, view: &ChainView) -> anyhow::Result<()> {
        let params = self
            .v2
            .context("version-2 round without version-2 params")?;
        if self
            .jobs
            .open_jobs()?
            .iter()
            .any(|j| !j.state.is_final(j.retry_at))
        {
            return Ok(());
        }
        let entries: Vec<pb::QueueEntry> = view
            .entries
            .iter()
            .filter(|e| e.sequence >= view.queue.settled_up_to)
            .take(self.max_entries)
            .cloned()
            .collect();
        let mut pool: Vec<PooledTransfer> = self
            .jobs
            .open_transfers()?
            .into_iter()
            .filter(|t| t.state == TransferState::Pending)
            .collect();
        if entries.is_empty() && pool.is_empty() {
            return Ok(());
        }
        let flush = Duration::from_millis(self.config.batch.flush_after_ms);
        let queue_waited = entries
            .first()
            .and_then(|e| self.first_seen.get(&e.sequence))
            .map_or(Duration::ZERO, Instant::elapsed);
        let pool_waited = pool.first().map_or(Duration::ZERO, |t| {
            Duration::from_secs(unix_now().saturating_sub(t.received_at))
        });
        if entries.len() < self.max_entries
            && pool.len() < params.offchain_slots
            && queue_waited.max(pool_waited) < flush
        {
            return Ok(());
        }
        let alloc_start = match self
            .chain
            .store_value(&state_key::next_index(), view.height)
            .await?
            .value
        {
            None => 0,
            Some(b) => u32::try_from(u64::from_be_bytes(
                <[u8; 8]>::try_from(b.as_slice()).context("next ledger index is not 8 bytes")?,
            ))
            .context("next ledger index above 2^32")?,
        };
        // Recipients: an account key the replica or this batch's queue
        // section holds is an existing account; an address the chain has
        // bound but not settled waits; any other is created.
        let mut by_key: BTreeMap<[u8; 32], u32> = self
            .replica
            .committed_accounts_v2()?
            .into_iter()
            .map(|(i, a)| (copro_circuits::field::fr_to_be_bytes(&a.key), i))
            .collect();
        for e in &entries {
            if !e.to_key.is_empty()
                && let Ok(k) = <[u8; 32]>::try_from(e.to_key.as_slice())
            {
                by_key.entry(k).or_insert(e.to_index);
            }
        }
        let mut bound_unsettled = BTreeMap::new();
        for t in &pool {
            let key = self.key_bytes(t)?;
            if !by_key.contains_key(&key) && !bound_unsettled.contains_key(&t.to_address) {
                let bound = self
                    .chain
                    .ledger_account(&t.to_address, view.height)
                    .await?
                    .value
                    .is_some();
                bound_unsettled.insert(t.to_address.clone(), bound);
            }
        }
        pool.retain(|t| !bound_unsettled.get(&t.to_address).copied().unwrap_or(false));
        pool.truncate(params.offchain_slots);
        let mut dropped = Vec::new();
        let queue = pb::QueueState {
            settled_up_to: view.queue.settled_up_to,
            settled_hash: view.queue.settled_hash.clone(),
            ..Default::default()
        };
        let started = Instant::now();
        let executed = loop {
            let mut created: BTreeMap<[u8; 32], u32> = BTreeMap::new();
            let mut transfers = Vec::with_capacity(pool.len());
            for t in &pool {
                let key = self.key_bytes(t)?;
                let recipient = match by_key.get(&key).or_else(|| created.get(&key)) {
                    Some(i) => Recipient::Existing(*i),
                    None => {
                        let raw = copro_module::Address::parse(&t.to_address)?.to_bytes();
                        let index = alloc_start.saturating_add(created.len() as u32);
                        created.insert(key, index);
                        Recipient::New(raw.as_slice().try_into()?)
                    }
                };
                transfers.push(OffchainTransfer {
                    signed: t
                        .signed()
                        .map_err(|e| anyhow::anyhow!("transfer {}: {e}", t.id))?,
                    recipient,
                });
            }
            let mut ledger = self.replica.speculative_v2()?;
            match settle::execute_v2(
                &params,
                &self.config.chain_id,
                self.submitter.address(),
                &mut ledger,
                &queue,
                &entries,
                &transfers,
                alloc_start,
            ) {
                Ok(x) => break x,
                Err(ExecuteV2Error::Program(TransferV2Error::OffchainRejected {
                    position,
                    reason,
                })) if position < pool.len() => {
                    let mut t = pool.remove(position);
                    if !may_apply_later(&reason) {
                        t.state = TransferState::Dropped;
                        t.reason = format!("cannot apply: {reason}; sign a new transfer");
                        t.updated_at = unix_now();
                        tracing::info!(transfer = t.id, %reason, "off-chain transfer dropped");
                        dropped.push(t);
                    }
                }
                Err(e) => {
                    self.metrics.fail(reason::WITNESS);
                    anyhow::bail!("native execution of a version-2 batch failed: {e}");
                }
            }
        };
        self.jobs.put_transfers(&dropped)?;
        if entries.is_empty() && pool.is_empty() {
            return Ok(());
        }
        let start = view.queue.settled_up_to;
        let mut job = Job::new(
            self.jobs.next_id()?,
            start,
            start + entries.len() as u64,
            unix_now(),
        );
        job.transfers = pool.iter().map(|t| t.id).collect();
        job.alloc_start = alloc_start;
        job.old_root = root_hex(&executed.msg.old_root);
        job.new_root = root_hex(&executed.msg.new_root);
        job.witness_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        job.attempts = 1;
        job.state = JobState::Proving;
        self.jobs.put(&job)?;
        let batched: Vec<PooledTransfer> = pool
            .into_iter()
            .map(|mut t| {
                t.state = TransferState::Batched;
                t.job = Some(job.id);
                t.updated_at = unix_now();
                t
            })
            .collect();
        self.jobs.put_transfers(&batched)?;
        tracing::info!(
            job = job.id,
            start = job.start,
            end = job.end,
            offchain = job.transfers.len(),
            "version-2 batch planned"
        );
        let key = Arc::clone(&self.key);
        self.spawn_proof(job.id, move || {
            settle::prove_v2(&params, executed, &key, &mut rand::rngs::OsRng)
                .map_err(|e| e.to_string())
        });
        Ok(())
    }

    fn key_bytes(&self, t: &PooledTransfer) -> anyhow::Result<[u8; 32]> {
        let k: Fr = copro_circuits::field::fr_from_hex(&t.to_key)
            .map_err(|e| anyhow::anyhow!("transfer {}: stored key: {e}", t.id))?;
        Ok(copro_circuits::field::fr_to_be_bytes(&k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::jobs::JobStore;
    use copro_circuits::spend_auth::{SignedTransfer, SpendingKey, TransferMessage};
    use copro_circuits::transfer::account_key;
    use copro_module::Address;

    const CHAIN: &str = "copro-test";

    fn request(key: &SpendingKey, chain: &str, nonce: u64, amount: u64) -> TransferRequest {
        let to = Address::from_bytes(&[9; 20]).unwrap();
        let message = TransferMessage {
            from_index: 3,
            to_index: transfer_v2::BY_KEY_INDEX,
            to_key: account_key(&to.to_bytes()).unwrap(),
            amount,
            nonce,
        };
        let signed = SignedTransfer::sign(key, chain.as_bytes(), message);
        TransferRequest {
            from_index: 3,
            to_index: message.to_index,
            to_address: to.to_string(),
            amount,
            nonce,
            signature: hex::encode(signed.signature.to_bytes()),
        }
    }

    /// Intake checks the signature against the sender's key for this chain,
    /// the nonce against the replica plus the sender's waiting transfers,
    /// and both caps, before anything is stored.
    #[test]
    fn intake_takes_only_correctly_signed_next_nonce_transfers_within_the_caps() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::open(dir.path().join("jobs.redb")).unwrap();
        let key = SpendingKey::from_seed(&[1; 32]).unwrap();
        let other = SpendingKey::from_seed(&[2; 32]).unwrap();
        let mut view = IntakeView {
            enabled: true,
            chain_id: CHAIN.into(),
            senders: BTreeMap::from([(3, (key.public_key(), 7))]),
            max_pool: 3,
            max_per_sender: 2,
        };
        let refused = |view: &IntakeView, r: TransferRequest| {
            accept_transfer(view, &store, &r).expect_err("refused")
        };
        assert!(
            matches!(refused(&view, request(&other, CHAIN, 7, 5)), IntakeError::Invalid(m) if m.contains("does not verify"))
        );
        assert!(matches!(
            refused(&view, request(&key, "another-chain", 7, 5)),
            IntakeError::Invalid(_)
        ));
        let mut changed = request(&key, CHAIN, 7, 5);
        changed.amount = 6;
        assert!(
            matches!(refused(&view, changed), IntakeError::Invalid(_)),
            "amount changed after signing"
        );
        let mut redirected = request(&key, CHAIN, 7, 5);
        redirected.to_address = Address::from_bytes(&[8; 20]).unwrap().to_string();
        assert!(
            matches!(refused(&view, redirected), IntakeError::Invalid(_)),
            "recipient changed after signing"
        );
        assert!(
            matches!(refused(&view, request(&key, CHAIN, 6, 5)), IntakeError::Nonce(m, 7) if m.contains("next nonce 7"))
        );
        let mut no_key = request(&key, CHAIN, 7, 5);
        no_key.from_index = 4;
        assert!(
            matches!(refused(&view, no_key), IntakeError::Invalid(m) if m.contains("no spending key"))
        );
        assert!(
            store.open_transfers().unwrap().is_empty(),
            "nothing refused is stored"
        );

        let first = accept_transfer(&view, &store, &request(&key, CHAIN, 7, 5)).unwrap();
        assert_eq!((first.id, first.state), (1, TransferState::Pending));
        // The same transfer again is a replay: its nonce is taken.
        assert!(matches!(
            refused(&view, request(&key, CHAIN, 7, 5)),
            IntakeError::Nonce(_, 8)
        ));
        accept_transfer(&view, &store, &request(&key, CHAIN, 8, 5)).unwrap();
        assert!(matches!(
            refused(&view, request(&key, CHAIN, 9, 5)),
            IntakeError::SenderBusy(_)
        ));
        view.max_per_sender = 10;
        view.max_pool = 2;
        assert!(matches!(
            refused(&view, request(&key, CHAIN, 9, 5)),
            IntakeError::PoolFull(_)
        ));
        assert_eq!(
            store.open_transfers().unwrap().len(),
            2,
            "a full pool keeps what it accepted"
        );
        view.enabled = false;
        assert_eq!(
            refused(&view, request(&key, CHAIN, 9, 5)),
            IntakeError::Disabled
        );
    }

    #[test]
    fn only_a_nonce_signed_ahead_may_apply_later() {
        assert!(may_apply_later(&OffchainReject::WrongNonce {
            signed: 5,
            current: 4
        }));
        assert!(!may_apply_later(&OffchainReject::WrongNonce {
            signed: 3,
            current: 4
        }));
        assert!(!may_apply_later(&OffchainReject::InsufficientFunds));
        assert!(!may_apply_later(&OffchainReject::NoSpendingKey));
    }
}
