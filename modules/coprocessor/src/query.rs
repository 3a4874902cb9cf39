//! Queries of the coprocessor module, on the gRPC method paths of the
//! `copro.coprocessor.v1.Query` service (served over ABCI `abci_query` and
//! later over gRPC and REST by the same functions).
//!
//! A query reads the state at the height the caller chose (the ABCI query
//! height; 0 = latest); the response's `height` is the height read. With
//! `prove`, the root, a ledger account and a result come with an
//! `ibc.core.commitment.v1.MerkleProof` holding one ICS-23 proof of the
//! value's store key (`state_key`), which verifies against the app hash in
//! the header of block `height + 1` with `copro_store::proof_spec()`: an
//! existence proof of the encoded value, or, for an account or result that
//! does not exist, a non-existence proof (the response then has no object).

use copro_store::StateRead;
use ibc_proto::ibc::core::commitment::v1::MerkleProof;
use prost::Message;

use crate::error::{CoproError, Result};
use crate::msgs::decode_strict;
use crate::record::pb;
use crate::state_key;
use crate::view::CoproRead;

/// Path prefix of every query of the module.
pub const PREFIX: &str = "/copro.coprocessor.v1.Query/";

/// Page sizes: (default, most) for the queue and for results.
const QUEUE_PAGE: (u64, u64) = (100, 1000);
const RESULTS_PAGE: (u64, u64) = (20, 100);

/// A malformed query request: the SDK's invalid request (`sdk` 18), as for
/// the bank and auth queries.
fn bad_request(log: impl Into<String>) -> CoproError {
    CoproError {
        codespace: "sdk",
        code: 18,
        log: log.into(),
    }
}

/// Decodes a request; malformed bytes are a bad request.
fn request<M: Message + Default + prost::Name>(data: &[u8]) -> Result<M> {
    decode_strict::<M>(data).map_err(|e| bad_request(e.log))
}

fn not_found(log: impl Into<String>) -> CoproError {
    // The SDK's NotFound (`sdk` 22), which clients map to "absent".
    CoproError {
        codespace: "sdk",
        code: 22,
        log: log.into(),
    }
}

/// Answers a query at `path` if it is one of the module's; `None` otherwise.
pub fn handle(snapshot: &dyn StateRead, path: &str, data: &[u8]) -> Option<Result<Vec<u8>>> {
    let method = path.strip_prefix(PREFIX)?;
    let height = snapshot.committed_version().unwrap_or(0);
    Some(match method {
        "Params" => params(snapshot, data),
        "Root" => root(snapshot, data, height),
        "LedgerAccount" => ledger_account(snapshot, data, height),
        "Queue" => queue(snapshot, data),
        "Program" => program(snapshot, data),
        "Result" => result(snapshot, data, height),
        "Results" => results(snapshot, data),
        "Callback" => callback(snapshot, data, height),
        other => Err(CoproError {
            codespace: "sdk",
            code: 6,
            log: format!(
                "unknown query {PREFIX}{other}; the service has Params, Root, LedgerAccount, Queue, Program, Result, Results, Callback"
            ),
        }),
    })
}

/// The proof of `key` as an encoded `MerkleProof`, or empty if not asked.
fn proof(snapshot: &dyn StateRead, key: &[u8], prove: bool) -> Result<Vec<u8>> {
    if !prove {
        return Ok(Vec::new());
    }
    let (_, commitment) = snapshot.get_with_proof(key)?;
    Ok(MerkleProof {
        proofs: vec![commitment],
    }
    .encode_to_vec())
}

fn params(snapshot: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>> {
    request::<pb::QueryParamsRequest>(data)?;
    Ok(pb::QueryParamsResponse {
        params: Some(snapshot.params()?),
        authority: snapshot.authority()?,
        prover: snapshot.prover()?,
    }
    .encode_to_vec())
}

fn root(snapshot: &dyn StateRead, data: &[u8], height: u64) -> Result<Vec<u8>> {
    let req = request::<pb::QueryRootRequest>(data)?;
    if req.height != 0 && req.height != height {
        return Err(bad_request(format!(
            "QueryRootRequest.height {} differs from the query height {height}: \
             leave it 0 and set the query height (abci_query height, or --height)",
            req.height
        )));
    }
    Ok(pb::QueryRootResponse {
        height,
        root: Some(snapshot.root_record()?),
        proof: proof(snapshot, &state_key::ledger_root(), req.prove)?,
    }
    .encode_to_vec())
}

fn ledger_account(snapshot: &dyn StateRead, data: &[u8], height: u64) -> Result<Vec<u8>> {
    let req = request::<pb::QueryLedgerAccountRequest>(data)?;
    let address = copro_module::Address::parse(&req.address)?;
    let account = snapshot.ledger_account(address.as_str())?;
    if account.is_none() && !req.prove {
        return Err(not_found(format!(
            "{address} has no ledger account: it gets one on its first deposit or incoming transfer"
        )));
    }
    Ok(pb::QueryLedgerAccountResponse {
        height,
        account,
        proof: proof(
            snapshot,
            &state_key::ledger_account(address.as_str()),
            req.prove,
        )?,
    }
    .encode_to_vec())
}

fn page_limit(page: Option<&pb::PageRequest>, (default, most): (u64, u64)) -> Result<u64> {
    match page.map(|p| p.limit) {
        None | Some(0) => Ok(default),
        Some(l) if l <= most => Ok(l),
        Some(l) => Err(bad_request(format!(
            "page limit {l} is above {most}: ask for at most {most} and follow next_key"
        ))),
    }
}

fn page_start(page: Option<&pb::PageRequest>, what: &str) -> Result<u64> {
    match page.map(|p| p.key.as_slice()) {
        None | Some([]) => Ok(0),
        Some(key) => <[u8; 8]>::try_from(key)
            .map(u64::from_be_bytes)
            .map_err(|_| {
                bad_request(format!(
                    "pagination key of {what} is 8 bytes: pass back next_key"
                ))
            }),
    }
}

fn queue(snapshot: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>> {
    let req = request::<pb::QueryQueueRequest>(data)?;
    let state = snapshot.queue_state()?;
    let limit = page_limit(req.pagination.as_ref(), QUEUE_PAGE)?;
    let from = page_start(req.pagination.as_ref(), "the queue")?.max(state.settled_up_to);
    let end = state.next_sequence.min(from.saturating_add(limit));
    let mut entries = Vec::new();
    for seq in from..end {
        if let Some(e) = snapshot.queued(seq)? {
            entries.push(e);
        }
    }
    let next_key = if end < state.next_sequence {
        end.to_be_bytes().to_vec()
    } else {
        Vec::new()
    };
    Ok(pb::QueryQueueResponse {
        state: Some(state),
        entries,
        pagination: Some(pb::PageResponse { next_key }),
    }
    .encode_to_vec())
}

fn program(snapshot: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>> {
    let req = request::<pb::QueryProgramRequest>(data)?;
    let found = if req.version == 0 {
        // The active version, or the highest if none is active.
        let versions = snapshot.program_versions(&req.program_id, 1024)?;
        versions
            .iter()
            .find(|p| p.status == pb::ProgramStatus::Active as i32)
            .or(versions.last())
            .cloned()
    } else {
        snapshot.program(&req.program_id, req.version)?
    };
    let program = found.ok_or_else(|| {
        not_found(format!(
            "no program '{}' {} is registered",
            req.program_id,
            if req.version == 0 {
                "active version".to_string()
            } else {
                format!("version {}", req.version)
            }
        ))
    })?;
    Ok(pb::QueryProgramResponse {
        program: Some(program),
    }
    .encode_to_vec())
}

fn result(snapshot: &dyn StateRead, data: &[u8], height: u64) -> Result<Vec<u8>> {
    let req = request::<pb::QueryResultRequest>(data)?;
    let found = snapshot.result(req.id)?;
    if found.is_none() && !req.prove {
        return Err(not_found(format!(
            "no verified result {} yet ({} so far)",
            req.id,
            snapshot.result_count()?
        )));
    }
    Ok(pb::QueryResultResponse {
        height,
        result: found,
        proof: proof(snapshot, &state_key::result(req.id), req.prove)?,
    }
    .encode_to_vec())
}

fn callback(snapshot: &dyn StateRead, data: &[u8], height: u64) -> Result<Vec<u8>> {
    let req = request::<pb::QueryCallbackRequest>(data)?;
    let found = snapshot.callback(req.sequence)?;
    if found.is_none() && !req.prove {
        return Err(not_found(format!(
            "no callback for request {}: only a contract's request has one",
            req.sequence
        )));
    }
    Ok(pb::QueryCallbackResponse {
        height,
        callback: found,
        proof: proof(snapshot, &state_key::callback(req.sequence), req.prove)?,
    }
    .encode_to_vec())
}

/// The first result id accepted at `height` or later: results are recorded
/// in height order, so a binary search over ids.
fn first_result_at<S: StateRead + ?Sized>(state: &S, height: u64) -> Result<u64> {
    let (mut lo, mut hi) = (0, state.result_count()?);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at = state
            .result(mid)?
            .ok_or_else(|| CoproError::internal(format!("result {mid} is missing")))?
            .height;
        if at < height {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

fn results(snapshot: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>> {
    let req = request::<pb::QueryResultsRequest>(data)?;
    let limit = page_limit(req.pagination.as_ref(), RESULTS_PAGE)?;
    let from = page_start(req.pagination.as_ref(), "results")?
        .max(first_result_at(snapshot, req.from_height)?);
    let count = snapshot.result_count()?;
    let end = count.min(from.saturating_add(limit));
    let mut results = Vec::new();
    for id in from..end {
        results.push(
            snapshot
                .result(id)?
                .ok_or_else(|| CoproError::internal(format!("result {id} is missing")))?,
        );
    }
    let next_key = if end < count {
        end.to_be_bytes().to_vec()
    } else {
        Vec::new()
    };
    Ok(pb::QueryResultsResponse {
        results,
        pagination: Some(pb::PageResponse { next_key }),
    }
    .encode_to_vec())
}
