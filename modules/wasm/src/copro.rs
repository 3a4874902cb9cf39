//! The `copro` custom query: contracts read the coprocessor's state, as
//! settled by verified proofs (JSON in, JSON out; the types contract
//! authors use are in `contracts/packages/copro-bindings`).
//!
//! | query | answer |
//! |---|---|
//! | `{"ledger_root":{}}` | `{"root": hex, "height": n}` |
//! | `{"root_at":{"height":h}}` | `{"root": hex, "height": n}`: the new root of the last result accepted at or before `h` |
//! | `{"ledger_account":{"address":a}}` | `{"address", "ledger_index", "balance": "n", "nonce"}` or `null` |
//! | `{"program":{"id":s,"version":v}}` | `{"id", "version", "vk_hash": hex, "active", "batch_size"}` or `null` |
//! | `{"verified_result":{"id":n}}` | the result (roots hex, payouts) or `null` |
//! | `{"result_count":{}}` | `{"count": n}` |
//! | `{"callback":{"sequence":n}}` | `{"sequence", "contract", "gas_limit", "status": "pending"\|"succeeded"\|"failed", "result_id", "gas_used", "error"}` or `null` |
//!
//! And the `copro` custom message ([`CoproMsg`]), a request on the
//! contract's own behalf with the callback it wants:
//!
//! | message | does |
//! |---|---|
//! | `{"deposit":{"amount":"n","callback_gas_limit":g}}` | queues a ledger deposit of the contract's coins |
//! | `{"withdraw":{"amount":"n","callback_gas_limit":g}}` | queues a withdrawal to the contract's bank balance |

use copro_coprocessor::callback::ContractRequest;
use copro_coprocessor::view::CoproRead;
use copro_store::StateRead;
use cosmwasm_std::Uint64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::gas;

/// The query, as contracts send it (snake_case, one key).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CoproQuery {
    /// The current ledger root.
    LedgerRoot {},
    /// The root after block `height`.
    RootAt {
        /// Block height.
        height: u64,
    },
    /// A settled ledger account.
    LedgerAccount {
        /// Owner address.
        address: String,
    },
    /// A program.
    Program {
        /// Program id.
        id: String,
        /// Version.
        version: u32,
    },
    /// A verified result.
    VerifiedResult {
        /// Result id.
        id: u64,
    },
    /// The number of results.
    ResultCount {},
    /// The callback record of a contract's request.
    Callback {
        /// The request's queue sequence.
        sequence: u64,
    },
}

/// The `copro` custom message: what a contract may ask the coprocessor,
/// on its own behalf. `callback_gas_limit` (SDK gas, at most
/// `copro_coprocessor::callback::MAX_CALLBACK_GAS`) is what its `sudo`
/// gets when the proof that settles the request is accepted; it is charged
/// to the tx that makes the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CoproMsg {
    /// Deposit `amount` of the ledger denom from the contract's balance.
    Deposit {
        /// Amount, at least 1.
        amount: Uint64,
        /// Gas of the settlement callback.
        callback_gas_limit: u64,
    },
    /// Withdraw `amount` from the contract's ledger account.
    Withdraw {
        /// Amount, at least 1.
        amount: Uint64,
        /// Gas of the settlement callback.
        callback_gas_limit: u64,
    },
}

impl cosmwasm_std::CustomMsg for CoproMsg {}

impl CoproMsg {
    /// The coprocessor's request and the callback gas limit.
    pub fn into_request(self) -> (ContractRequest, u64) {
        match self {
            CoproMsg::Deposit {
                amount,
                callback_gas_limit,
            } => (
                ContractRequest::Deposit {
                    amount: amount.u64(),
                },
                callback_gas_limit,
            ),
            CoproMsg::Withdraw {
                amount,
                callback_gas_limit,
            } => (
                ContractRequest::Withdraw {
                    amount: amount.u64(),
                },
                callback_gas_limit,
            ),
        }
    }
}

/// Answers `query` at `state`; returns the JSON answer (or an error text)
/// and the SDK gas of the reads it made.
pub fn answer(state: &dyn StateRead, query: CoproQuery) -> (Result<Value, String>, u64) {
    let mut reads: u64 = 1;
    let r = run(state, query, &mut reads);
    (
        r,
        gas::kv::READ_FLAT
            .saturating_mul(reads)
            .saturating_add(gas::per_byte(256, gas::kv::READ_PER_BYTE)),
    )
}

fn run(state: &dyn StateRead, query: CoproQuery, reads: &mut u64) -> Result<Value, String> {
    let e = |e: copro_coprocessor::CoproError| e.to_string();
    Ok(match query {
        CoproQuery::LedgerRoot {} => {
            let r = state.root_record().map_err(e)?;
            json!({"root": hex::encode(&r.root), "height": r.set_height})
        }
        CoproQuery::RootAt { height } => {
            let count = state.result_count().map_err(e)?;
            // Result ids run 0..count in height order: the last one at or
            // before `height`, by binary search. Ids below `lo` are at or
            // before it, ids from `hi` on after it.
            let (mut lo, mut hi) = (0u64, count);
            let mut found = None;
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                *reads = reads.saturating_add(1);
                let r = state
                    .result(mid)
                    .map_err(e)?
                    .ok_or_else(|| format!("verified result {mid} missing"))?;
                if r.height <= height {
                    lo = mid + 1;
                    found = Some(r);
                } else {
                    hi = mid;
                }
            }
            match found {
                Some(r) => json!({"root": hex::encode(&r.new_root), "height": r.height}),
                None => {
                    // Before any result: the genesis root, which the first
                    // result started from (or the current one if none yet).
                    *reads = reads.saturating_add(1);
                    match state.result(0).map_err(e)? {
                        Some(first) => json!({"root": hex::encode(&first.old_root), "height": 0}),
                        None => {
                            let r = state.root_record().map_err(e)?;
                            json!({"root": hex::encode(&r.root), "height": r.set_height})
                        }
                    }
                }
            }
        }
        CoproQuery::LedgerAccount { address } => match state.ledger_account(&address).map_err(e)? {
            Some(a) => json!({
                "address": a.address,
                "ledger_index": a.ledger_index,
                "balance": a.balance.to_string(),
                "nonce": a.nonce,
            }),
            None => Value::Null,
        },
        CoproQuery::Program { id, version } => match state.program(&id, version).map_err(e)? {
            Some(p) => json!({
                "id": p.id,
                "version": p.version,
                "vk_hash": hex::encode(&p.vk_hash),
                "active": p.status == 1,
                "batch_size": p.batch_size,
            }),
            None => Value::Null,
        },
        CoproQuery::VerifiedResult { id } => match state.result(id).map_err(e)? {
            Some(r) => {
                let payouts = |list: &[copro_coprocessor::record::pb::Payout]| -> Vec<Value> {
                    list.iter()
                        .map(|p| json!({"sequence": p.sequence, "recipient": p.recipient, "amount": p.amount.to_string()}))
                        .collect()
                };
                json!({
                    "id": r.id,
                    "program_id": r.program_id,
                    "program_version": r.program_version,
                    "start_sequence": r.start_sequence,
                    "end_sequence": r.end_sequence,
                    "old_root": hex::encode(&r.old_root),
                    "new_root": hex::encode(&r.new_root),
                    "withdrawals": payouts(&r.withdrawals),
                    "refunds": payouts(&r.refunds),
                    "height": r.height,
                    "tx_hash": hex::encode(&r.tx_hash),
                })
            }
            None => Value::Null,
        },
        CoproQuery::ResultCount {} => json!({"count": state.result_count().map_err(e)?}),
        CoproQuery::Callback { sequence } => match state.callback(sequence).map_err(e)? {
            Some(c) => {
                let status = copro_coprocessor::callback::status_name(c.status);
                json!({
                    "sequence": c.sequence,
                    "contract": c.contract,
                    "gas_limit": c.gas_limit,
                    "status": status,
                    "result_id": c.result_id,
                    "gas_used": c.gas_used,
                    "error": c.error,
                })
            }
            None => Value::Null,
        },
    })
}

#[cfg(test)]
mod tests {
    use copro_coprocessor::record::pb;
    use copro_coprocessor::view::CoproWrite;
    use copro_store::{EmptyState, StateDelta};

    use super::*;

    #[test]
    fn root_at_finds_the_last_result_at_or_before_a_height() {
        let mut state = StateDelta::new(EmptyState);
        // Results 0, 1, 2 accepted at heights 10, 20, 30, each from the
        // previous root.
        for (id, h) in [(0u64, 10u64), (1, 20), (2, 30)] {
            state.put_result(&pb::VerifiedResult {
                id,
                height: h,
                old_root: vec![id as u8; 32],
                new_root: vec![id as u8 + 1; 32],
                ..Default::default()
            });
        }
        let root_at = |height| answer(&state, CoproQuery::RootAt { height }).0.unwrap();
        let root = |b: u8| hex::encode([b; 32]);
        assert_eq!(root_at(5), json!({"root": root(0), "height": 0}), "genesis");
        assert_eq!(root_at(10), json!({"root": root(1), "height": 10}));
        assert_eq!(root_at(29), json!({"root": root(2), "height": 20}));
        assert_eq!(root_at(30), json!({"root": root(3), "height": 30}));
        assert_eq!(root_at(u64::MAX), json!({"root": root(3), "height": 30}));
    }
}
