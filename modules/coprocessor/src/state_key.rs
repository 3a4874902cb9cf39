//! Every store key of the coprocessor module, in one place. Keys are UTF-8
//! paths under `coprocessor/`; numbers are fixed width so that
//! lexicographic order is numeric order (prefix listings come out sorted).
//! Values are the `copro.coprocessor.v1` protobuf messages named on each
//! key, so a value proven with ICS-23 decodes with the published protos.
//! Three keys are part of the protocol (`docs/protocol.md`): the ledger
//! root, a ledger account and a verified result.

/// The chain's authority (bech32), which alone may change programs and the prover.
pub fn authority() -> Vec<u8> {
    b"coprocessor/authority".to_vec()
}

/// The registered prover (bech32).
pub fn prover() -> Vec<u8> {
    b"coprocessor/prover".to_vec()
}

/// `Params`: ledger denom, tree shape, inclusion delay.
pub fn params() -> Vec<u8> {
    b"coprocessor/params".to_vec()
}

/// `Program`: one version's record.
pub fn program(id: &str, version: u32) -> Vec<u8> {
    format!("coprocessor/program/{id}/{version:08x}").into_bytes()
}

/// Prefix of every program version.
pub fn programs() -> Vec<u8> {
    b"coprocessor/program/".to_vec()
}

/// Prefix of every version of program `id`.
pub fn program_versions(id: &str) -> Vec<u8> {
    format!("coprocessor/program/{id}/").into_bytes()
}

/// `RootRecord`: the current ledger root, the height it was set at, and the
/// root-history accumulator's index and root after it.
pub fn ledger_root() -> Vec<u8> {
    b"coprocessor/ledger/root".to_vec()
}

/// The root-history accumulator's frontier (`history::RootHistory` bytes).
pub fn root_history() -> Vec<u8> {
    b"coprocessor/ledger/root_history".to_vec()
}

/// `LedgerAccount` of `address`: its leaf index (bound for ever on first
/// use) and the mirror of its leaf.
pub fn ledger_account(address: &str) -> Vec<u8> {
    format!("coprocessor/ledger/account/{address}").into_bytes()
}

/// The address that owns leaf `index` (UTF-8 bech32).
pub fn ledger_owner(index: u32) -> Vec<u8> {
    format!("coprocessor/ledger/owner/{index:08x}").into_bytes()
}

/// Debits of ledger account `index` that are queued but not settled
/// (count and amount, two big-endian u64).
pub fn pending_debits(index: u32) -> Vec<u8> {
    format!("coprocessor/ledger/pending/{index:08x}").into_bytes()
}

/// Next free leaf index.
pub fn next_index() -> Vec<u8> {
    b"coprocessor/ledger/next_index".to_vec()
}

/// `QueueState`: counters and hash-chain values.
pub fn queue_state() -> Vec<u8> {
    b"coprocessor/queue/state".to_vec()
}

/// `QueueEntry` number `seq` (deleted when settled).
pub fn queue_entry(seq: u64) -> Vec<u8> {
    format!("coprocessor/queue/entry/{seq:016x}").into_bytes()
}

/// Prefix of every queued request.
pub fn queue_entries() -> Vec<u8> {
    b"coprocessor/queue/entry/".to_vec()
}

/// `CallbackRecord` of the contract request queued as `seq`: kept after
/// the callback ran, with its outcome (contracts and clients read it).
pub fn callback(seq: u64) -> Vec<u8> {
    format!("coprocessor/callback/{seq:016x}").into_bytes()
}

/// `VerifiedResult` number `id`.
pub fn result(id: u64) -> Vec<u8> {
    format!("coprocessor/result/{id:020}").into_bytes()
}

/// Prefix of every verified result.
pub fn results() -> Vec<u8> {
    b"coprocessor/result/".to_vec()
}

/// Number of verified results so far (the next result id).
pub fn result_count() -> Vec<u8> {
    b"coprocessor/result_count".to_vec()
}

/// Marks a proof (SHA-256 of its bytes) as accepted, so a replay is told
/// apart from a stale root.
pub fn accepted_proof(proof_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = b"coprocessor/accepted/".to_vec();
    key.extend_from_slice(proof_hash);
    key
}
