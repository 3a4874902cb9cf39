//! ABCI Query: gRPC method paths with protobuf bodies (what cosmjs'
//! `StargateClient` and cosmrs send) and raw store reads with ICS-23 proofs.
//! The modules answer their own paths (routed by the
//! [`Registry`]); `Simulate` and `/store/key` are coprod's.
//!
//! Height semantics: `height = 0` reads the latest committed state; `H > 0`
//! reads the state after block `H`. The response's `height` is the height
//! actually read; the matching app hash is in the header of block
//! `height + 1`.
//!
//! | path | data | value |
//! |---|---|---|
//! | `/cosmos.auth.v1beta1.Query/Account` | `QueryAccountRequest` | `QueryAccountResponse` (Any `/cosmos.auth.v1beta1.BaseAccount`) |
//! | `/cosmos.bank.v1beta1.Query/Balance` | `QueryBalanceRequest` | `QueryBalanceResponse` |
//! | `/cosmos.bank.v1beta1.Query/AllBalances` | `QueryAllBalancesRequest` | `QueryAllBalancesResponse` (one page) |
//! | `/cosmos.bank.v1beta1.Query/TotalSupply` | `QueryTotalSupplyRequest` | `QueryTotalSupplyResponse` (one page) |
//! | `/cosmos.auth.v1beta1.Query/Accounts` | `QueryAccountsRequest` | `QueryAccountsResponse` (pages by `key` or `offset`, at most 100) |
//! | `/cosmos.auth.v1beta1.Query/Params` | `QueryParamsRequest` | `QueryParamsResponse`: the tx rules of [`crate::tx`] (memo limit, one signature, gas per byte and per secp256k1 verification) |
//! | `/cosmos.bank.v1beta1.Query/SpendableBalances`, `SupplyOf`, `Params`, `DenomMetadata` | the SDK's requests | the SDK's responses (no denom metadata: NotFound) |
//! | `/cosmos.tx.v1beta1.Service/Simulate` | `SimulateRequest{tx_bytes}` | `SimulateResponse` (gas used, events); the signature is not checked, nor the sequence or the minimum fee |
//! | `/store/key` | raw key bytes | raw value (empty if absent); with `prove`, `proof_ops` = one `ProofOp { type: "ics23:jmt", key, data: CommitmentProof }` (existence or non-existence) |

use copro_module::{Code, Registry, StatelessContext, TxError};
use copro_store::{Snapshot, StateDelta, StateRead, Storage};
use cosmrs::proto::cosmos::base::abci::v1beta1::{GasInfo, Result as AbciResult};
use cosmrs::proto::cosmos::tx::v1beta1::{SimulateRequest, SimulateResponse};
use prost::Message;
use tendermint::abci::Code as AbciCode;
use tendermint::block::Height;
use tendermint::merkle::proof::{ProofOp, ProofOps};
use tendermint::v0_38::abci::{request, response};
use tendermint_proto::abci::{Event as ProtoEvent, EventAttribute as ProtoEventAttribute};

use crate::tx::{CheckedTx, Context, Mode, execute};

/// Simulation path (cosmjs uses it for `fee: "auto"`).
pub const SIMULATE_PATH: &str = "/cosmos.tx.v1beta1.Service/Simulate";
/// Auth parameters path: coprod's, since the rules it reports are those of
/// coprod's tx pipeline.
pub const AUTH_PARAMS_PATH: &str = "/cosmos.auth.v1beta1.Query/Params";
/// Raw store read path.
pub const STORE_KEY_PATH: &str = "/store/key";
/// `ProofOp.type` of our ICS-23 proofs over the jmt (spec: `jmt::ics23_spec`).
pub const PROOF_OP_TYPE: &str = "ics23:jmt";

/// Answers a query; failures become response codes (codespace `sdk`).
pub fn handle(storage: &Storage, registry: &Registry, req: request::Query) -> response::Query {
    match answer(storage, registry, &req) {
        Ok(resp) => resp,
        Err(e) => response::Query {
            height: req.height,
            ..error_response(e)
        },
    }
}

/// The answer to a query that failed: its code, codespace and log.
pub fn error_response(e: TxError) -> response::Query {
    response::Query {
        code: AbciCode::from(e.code.value()),
        codespace: e.codespace().to_string(),
        log: e.log,
        ..Default::default()
    }
}

fn snapshot_at(storage: &Storage, height: u64) -> Result<Snapshot, TxError> {
    let snapshot = if height == 0 {
        storage.latest_snapshot()?
    } else {
        storage.snapshot(height).map_err(|e| match e {
            copro_store::StoreError::MissingVersion(h, latest) => TxError::new(
                Code::InvalidHeight,
                format!(
                    "state at height {h} is not available (latest committed height: {})",
                    latest.map_or("none".to_string(), |l| l.to_string())
                ),
            ),
            other => TxError::internal(other),
        })?
    };
    if snapshot.version().is_none() {
        return Err(TxError::new(
            Code::InvalidHeight,
            "the chain has no committed state yet; wait for genesis",
        ));
    }
    Ok(snapshot)
}

fn answer(
    storage: &Storage,
    registry: &Registry,
    req: &request::Query,
) -> Result<response::Query, TxError> {
    let snapshot = snapshot_at(storage, req.height.value())?;
    let version = snapshot.version().unwrap_or_default();
    let height = Height::try_from(version).map_err(TxError::internal)?;
    let data = req.data.as_ref();
    let value = match req.path.as_str() {
        SIMULATE_PATH => simulate(registry, &snapshot, data)?,
        AUTH_PARAMS_PATH => auth_params(data)?,
        STORE_KEY_PATH => {
            if req.prove {
                let (value, proof) = snapshot.get_with_proof(data)?;
                return Ok(response::Query {
                    key: req.data.clone(),
                    value: value.unwrap_or_default().into(),
                    proof: Some(ProofOps {
                        ops: vec![ProofOp {
                            field_type: PROOF_OP_TYPE.to_string(),
                            key: data.to_vec(),
                            data: proof.encode_to_vec(),
                        }],
                    }),
                    height,
                    ..Default::default()
                });
            }
            snapshot.get_raw(data)?.unwrap_or_default()
        }
        path => match registry.query(path, &snapshot, data) {
            Some(answer) => answer?,
            None => {
                let supported = registry
                    .query_paths()
                    .chain([SIMULATE_PATH, AUTH_PARAMS_PATH, STORE_KEY_PATH])
                    .collect::<Vec<_>>();
                return Err(TxError::new(
                    Code::UnknownRequest,
                    format!(
                        "unknown query path '{path}'; supported: {}",
                        supported.join(", ")
                    ),
                ));
            }
        },
    };
    Ok(response::Query {
        key: req.data.clone(),
        value: value.into(),
        height,
        ..Default::default()
    })
}

/// The auth parameters the SDK reports, as coprod enforces them.
fn auth_params(data: &[u8]) -> Result<Vec<u8>, TxError> {
    use cosmrs::proto::cosmos::auth::v1beta1::{Params, QueryParamsRequest, QueryParamsResponse};
    QueryParamsRequest::decode(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("malformed QueryParamsRequest: {e}"),
        )
    })?;
    Ok(QueryParamsResponse {
        params: Some(Params {
            max_memo_characters: crate::tx::MAX_MEMO_BYTES as u64,
            tx_sig_limit: 1,
            tx_size_cost_per_byte: crate::tx::gas::PER_BYTE,
            // Ed25519 account keys are not accepted at all.
            sig_verify_cost_ed25519: 0,
            sig_verify_cost_secp256k1: crate::tx::gas::SIG_VERIFY,
        }),
    }
    .encode_to_vec())
}

/// Runs a tx on a scratch copy of the state and reports its gas and events.
fn simulate(registry: &Registry, snapshot: &Snapshot, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = SimulateRequest::decode(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("malformed SimulateRequest: {e}"),
        )
    })?;
    if req.tx_bytes.is_empty() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "SimulateRequest.tx_bytes is empty: send the encoded TxRaw in tx_bytes",
        ));
    }
    let chain_id = crate::App::chain_id(snapshot)?;
    let tx = CheckedTx::decode_for_simulation(
        registry,
        &StatelessContext {
            chain_id: &chain_id,
        },
        &req.tx_bytes,
    )?;
    let height = snapshot.version().map_or(0, |v| v + 1);
    let ctx = Context {
        chain_id: &chain_id,
        height,
        mode: Mode::Simulate,
        sig_cache: None,
        // A simulation runs on the committed state, outside any block.
        block_time_nanos: 0,
    };
    let mut delta = StateDelta::new(snapshot);
    let outcome = execute(&mut delta, &tx, &ctx).map_err(|e| e.error().clone())?;
    let events = outcome
        .events
        .into_iter()
        .map(|e| ProtoEvent {
            r#type: e.kind,
            attributes: e
                .attributes
                .into_iter()
                .map(|(key, value)| ProtoEventAttribute {
                    key,
                    value,
                    index: true,
                })
                .collect(),
        })
        .collect();
    Ok(SimulateResponse {
        gas_info: Some(GasInfo {
            gas_wanted: tx.gas_limit,
            gas_used: outcome.gas_used,
        }),
        result: Some(AbciResult {
            events,
            msg_responses: outcome.msg_responses,
            ..Default::default()
        }),
    }
    .encode_to_vec())
}
