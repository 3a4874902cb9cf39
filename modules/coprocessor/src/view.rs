//! Extension traits: the module's named reads and writes over the store.

use bls12_381::Scalar as Fr;
use copro_store::{StateRead, StateWrite};
use prost::Message;

use crate::error::{CoproError, Result};
use crate::history::RootHistory;
use crate::record::{PendingDebits, decode, fr_of, genesis_queue, pb};
use crate::state_key;

fn get<S: StateRead + ?Sized, T: Message + Default>(
    state: &S,
    key: &[u8],
    what: &str,
) -> Result<Option<T>> {
    state
        .get_raw(key)?
        .map(|raw| decode(&raw, what))
        .transpose()
}

fn get_u64<S: StateRead + ?Sized>(state: &S, key: &[u8], what: &str) -> Result<Option<u64>> {
    state
        .get_raw(key)?
        .map(|raw| {
            <[u8; 8]>::try_from(raw.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| CoproError::internal(format!("corrupt {what}")))
        })
        .transpose()
}

/// A stored address, or "" when none is set.
fn get_address<S: StateRead + ?Sized>(state: &S, key: &[u8], what: &str) -> Result<String> {
    match state.get_raw(key)? {
        Some(raw) => {
            String::from_utf8(raw).map_err(|_| CoproError::internal(format!("corrupt {what}")))
        }
        None => Ok(String::new()),
    }
}

/// Reads of the coprocessor module.
pub trait CoproRead: StateRead {
    /// Module parameters.
    fn params(&self) -> Result<pb::Params> {
        get(self, &state_key::params(), "params")?.ok_or_else(|| {
            CoproError::internal("no coprocessor params in state (genesis missing?)")
        })
    }

    /// The authority's address ("" if genesis set none: nobody may change
    /// programs or the prover).
    fn authority(&self) -> Result<String> {
        get_address(self, &state_key::authority(), "authority")
    }

    /// The registered prover's address ("" if none: no proof is accepted).
    fn prover(&self) -> Result<String> {
        get_address(self, &state_key::prover(), "prover")
    }

    /// A program version.
    fn program(&self, id: &str, version: u32) -> Result<Option<pb::Program>> {
        get(self, &state_key::program(id, version), "program")
    }

    /// Every version of program `id`, oldest first (at most `limit`).
    fn program_versions(&self, id: &str, limit: usize) -> Result<Vec<pb::Program>> {
        self.prefix_raw(&state_key::program_versions(id), limit)?
            .into_iter()
            .map(|(_, v)| decode(&v, "program"))
            .collect()
    }

    /// The current root record.
    fn root_record(&self) -> Result<pb::RootRecord> {
        get(self, &state_key::ledger_root(), "root record")?
            .ok_or_else(|| CoproError::internal("no ledger root in state (genesis missing?)"))
    }

    /// The current ledger root.
    fn ledger_root(&self) -> Result<Fr> {
        fr_of(&self.root_record()?.root, "stored ledger root")
            .map_err(|e| CoproError::internal(e.log))
    }

    /// The root-history accumulator.
    fn root_history(&self) -> Result<RootHistory> {
        match self.get_raw(&state_key::root_history())? {
            Some(raw) => RootHistory::from_bytes(&raw).map_err(CoproError::internal),
            None => Ok(RootHistory::new()),
        }
    }

    /// The ledger account of `address`, if it has one.
    fn ledger_account(&self, address: &str) -> Result<Option<pb::LedgerAccount>> {
        get(self, &state_key::ledger_account(address), "ledger account")
    }

    /// The address owning leaf `index`, if any.
    fn ledger_owner(&self, index: u32) -> Result<Option<String>> {
        self.get_raw(&state_key::ledger_owner(index))?
            .map(|raw| String::from_utf8(raw).map_err(|_| CoproError::internal("corrupt owner")))
            .transpose()
    }

    /// Queued, unsettled debits of `index`.
    fn pending_debits(&self, index: u32) -> Result<PendingDebits> {
        self.get_raw(&state_key::pending_debits(index))?
            .map_or(Ok(PendingDebits::default()), |raw| {
                PendingDebits::from_bytes(&raw)
            })
    }

    /// The next free leaf index.
    fn next_index(&self) -> Result<u64> {
        Ok(get_u64(self, &state_key::next_index(), "next index")?.unwrap_or(0))
    }

    /// Queue counters.
    fn queue_state(&self) -> Result<pb::QueueState> {
        Ok(get(self, &state_key::queue_state(), "queue state")?.unwrap_or_else(genesis_queue))
    }

    /// Queued request `seq`, if it is still pending.
    fn queued(&self, seq: u64) -> Result<Option<pb::QueueEntry>> {
        get(self, &state_key::queue_entry(seq), "queue entry")
    }

    /// Pending requests from the oldest (at most `limit`).
    fn pending_requests(&self, limit: usize) -> Result<Vec<pb::QueueEntry>> {
        self.prefix_raw(&state_key::queue_entries(), limit)?
            .into_iter()
            .map(|(_, v)| decode(&v, "queue entry"))
            .collect()
    }

    /// The callback a contract asked for with request `seq`, if any.
    fn callback(&self, seq: u64) -> Result<Option<pb::CallbackRecord>> {
        get(self, &state_key::callback(seq), "callback record")
    }

    /// Verified result `id`.
    fn result(&self, id: u64) -> Result<Option<pb::VerifiedResult>> {
        get(self, &state_key::result(id), "verified result")
    }

    /// Number of verified results (the next id).
    fn result_count(&self) -> Result<u64> {
        Ok(get_u64(self, &state_key::result_count(), "result count")?.unwrap_or(0))
    }

    /// Whether the proof with this SHA-256 was accepted before.
    fn proof_accepted(&self, proof_hash: &[u8; 32]) -> Result<bool> {
        Ok(self
            .get_raw(&state_key::accepted_proof(proof_hash))?
            .is_some())
    }
}

impl<T: StateRead + ?Sized> CoproRead for T {}

/// Writes of the coprocessor module.
pub trait CoproWrite: StateWrite {
    /// Sets the parameters.
    fn put_params(&mut self, params: &pb::Params) {
        self.put_raw(state_key::params(), params.encode_to_vec());
    }

    /// Sets the authority.
    fn put_authority(&mut self, address: &str) {
        self.put_raw(state_key::authority(), address.as_bytes().to_vec());
    }

    /// Sets the prover.
    fn put_prover(&mut self, address: &str) {
        self.put_raw(state_key::prover(), address.as_bytes().to_vec());
    }

    /// Stores a program version.
    fn put_program(&mut self, program: &pb::Program) {
        self.put_raw(
            state_key::program(&program.id, program.version),
            program.encode_to_vec(),
        );
    }

    /// Sets the root record.
    fn put_root_record(&mut self, record: &pb::RootRecord) {
        self.put_raw(state_key::ledger_root(), record.encode_to_vec());
    }

    /// Stores the accumulator.
    fn put_root_history(&mut self, history: &RootHistory) {
        self.put_raw(state_key::root_history(), history.to_bytes());
    }

    /// Stores a ledger account (and its leaf's owner).
    fn put_ledger_account(&mut self, account: &pb::LedgerAccount) {
        self.put_raw(
            state_key::ledger_owner(account.ledger_index),
            account.address.as_bytes().to_vec(),
        );
        self.put_raw(
            state_key::ledger_account(&account.address),
            account.encode_to_vec(),
        );
    }

    /// Sets the pending debits of `index` (deleted when none).
    fn put_pending_debits(&mut self, index: u32, pending: PendingDebits) {
        if pending == PendingDebits::default() {
            self.delete_raw(state_key::pending_debits(index));
        } else {
            self.put_raw(state_key::pending_debits(index), pending.to_bytes());
        }
    }

    /// Sets the next free leaf index.
    fn put_next_index(&mut self, index: u64) {
        self.put_raw(state_key::next_index(), index.to_be_bytes().to_vec());
    }

    /// Sets the queue counters.
    fn put_queue_state(&mut self, queue: &pb::QueueState) {
        self.put_raw(state_key::queue_state(), queue.encode_to_vec());
    }

    /// Stores a queued request.
    fn put_queued(&mut self, entry: &pb::QueueEntry) {
        self.put_raw(
            state_key::queue_entry(entry.sequence),
            entry.encode_to_vec(),
        );
    }

    /// Removes a settled request.
    fn delete_queued(&mut self, seq: u64) {
        self.delete_raw(state_key::queue_entry(seq));
    }

    /// Stores a callback record (keyed by its request's sequence).
    fn put_callback(&mut self, record: &pb::CallbackRecord) {
        self.put_raw(state_key::callback(record.sequence), record.encode_to_vec());
    }

    /// Stores a verified result and counts it.
    fn put_result(&mut self, result: &pb::VerifiedResult) {
        self.put_raw(state_key::result(result.id), result.encode_to_vec());
        self.put_raw(
            state_key::result_count(),
            (result.id + 1).to_be_bytes().to_vec(),
        );
    }

    /// Marks a proof as accepted by result `result_id`.
    fn put_proof_accepted(&mut self, proof_hash: &[u8; 32], result_id: u64) {
        self.put_raw(
            state_key::accepted_proof(proof_hash),
            result_id.to_be_bytes().to_vec(),
        );
    }
}

impl<T: StateWrite + ?Sized> CoproWrite for T {}
