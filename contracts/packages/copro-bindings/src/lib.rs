//! copro-bindings: what a CosmWasm contract on copro uses to read the
//! coprocessor's state, verified by Groth16 proofs in consensus.
//!
//! The chain answers [`CoproQuery`] (JSON, through cosmwasm-std's custom
//! query) at the state the contract runs on:
//!
//! ```ignore
//! use copro_bindings::{CoproQuerier, CoproQuery};
//! fn check(deps: cosmwasm_std::Deps<CoproQuery>) -> cosmwasm_std::StdResult<()> {
//!     let copro = CoproQuerier::new(&deps.querier);
//!     let root = copro.ledger_root()?;             // the current ledger root
//!     let result = copro.verified_result(7)?;      // Some(result 7) once proven
//!     let alice = copro.ledger_account("copro1...")?; // settled balance and nonce
//!     Ok(())
//! }
//! ```
//!
//! A contract asks for work with [`CoproMsg`] (a `CosmosMsg::Custom`): a
//! ledger deposit or withdrawal on its own behalf. When the proof that
//! settles it is accepted, the chain calls the contract's `sudo` with
//! [`CoproSudoMsg::CoproSettled`], under the `callback_gas_limit` it chose;
//! a failing callback is undone and recorded ([`CoproQuery::Callback`]),
//! and changes nothing else.
//!
//! A contract that uses it requires the chain capability `copro`
//! ([`requires_copro`] is exported for it), so it cannot be stored on a
//! chain that would not answer.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{CustomMsg, CustomQuery, QuerierWrapper, QueryRequest, StdResult, Uint64};

/// The `copro` custom query. Every field element (roots) is 32 bytes,
/// big-endian, hex-encoded.
#[cw_serde]
#[derive(QueryResponses)]
pub enum CoproQuery {
    /// The current ledger root and the height it was set at.
    #[returns(RootResponse)]
    LedgerRoot {},
    /// The ledger root after block `height`: the new root of the last
    /// verified result accepted at or before it (the genesis root before
    /// any).
    #[returns(RootResponse)]
    RootAt {
        /// A block height, at most the current one.
        height: u64,
    },
    /// A settled ledger account (`None` if the address has none).
    #[returns(Option<LedgerAccountResponse>)]
    LedgerAccount {
        /// Bech32 address of the account's owner.
        address: String,
    },
    /// A program of the registry (`None` if not registered).
    #[returns(Option<ProgramResponse>)]
    Program {
        /// Program id, e.g. `transfer`.
        id: String,
        /// Version.
        version: u32,
    },
    /// What an accepted proof established (`None` if no such result yet).
    #[returns(Option<VerifiedResultResponse>)]
    VerifiedResult {
        /// Result id, from 1 in acceptance order.
        id: u64,
    },
    /// How many results have been accepted (the latest id).
    #[returns(ResultCountResponse)]
    ResultCount {},
    /// The callback record of a request a contract made (`None` if the
    /// request had no callback).
    #[returns(Option<CallbackResponse>)]
    Callback {
        /// The request's queue sequence.
        sequence: u64,
    },
}

impl CustomQuery for CoproQuery {}

/// Highest `callback_gas_limit` the chain accepts (SDK gas).
pub const MAX_CALLBACK_GAS: u64 = 1_000_000;

/// The `copro` custom message: a request on the contract's own behalf.
/// The reply to it (as a `SubMsg`) carries `{"sequence": n}` as data
/// ([`RequestQueued`]). `callback_gas_limit` (1 to [`MAX_CALLBACK_GAS`]) is
/// charged to the tx that sends the request.
#[cw_serde]
pub enum CoproMsg {
    /// Deposit `amount` of the ledger denom from the contract's bank
    /// balance into its ledger account.
    Deposit {
        /// Amount, at least 1.
        amount: Uint64,
        /// Gas of the settlement callback.
        callback_gas_limit: u64,
    },
    /// Withdraw `amount` from the contract's ledger account to its bank
    /// balance.
    Withdraw {
        /// Amount, at least 1.
        amount: Uint64,
        /// Gas of the settlement callback.
        callback_gas_limit: u64,
    },
}

impl CustomMsg for CoproMsg {}

/// Data of the reply to a [`CoproMsg`].
#[cw_serde]
pub struct RequestQueued {
    /// The request's queue sequence (its id).
    pub sequence: u64,
}

/// What the chain sends to the `sudo` entry point.
#[cw_serde]
pub enum CoproSudoMsg {
    /// A request of this contract was settled by a verified proof.
    CoproSettled(Settlement),
}

/// The verified outcome of one request.
#[cw_serde]
pub struct Settlement {
    /// The request's queue sequence.
    pub sequence: u64,
    /// `deposit` or `withdraw`.
    pub kind: String,
    /// Amount asked for.
    pub amount: Uint64,
    /// Whether the ledger applied it (a rejected deposit is refunded to
    /// the contract's bank balance; a rejected withdrawal pays nothing).
    pub applied: bool,
    /// The verified result that settled it.
    pub result_id: u64,
    /// Program that proved it.
    pub program_id: String,
    /// Its version.
    pub program_version: u32,
    /// Ledger root after the batch, hex.
    pub new_root: String,
    /// Height of the block that accepted the proof.
    pub height: u64,
}

/// A callback record.
#[cw_serde]
pub struct CallbackResponse {
    /// The request's queue sequence.
    pub sequence: u64,
    /// The contract called back.
    pub contract: String,
    /// Gas limit of the call.
    pub gas_limit: u64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Result that settled the request (0 while pending).
    pub result_id: u64,
    /// Gas the call used.
    pub gas_used: u64,
    /// Why it failed (empty otherwise).
    pub error: String,
}

/// A ledger root.
#[cw_serde]
pub struct RootResponse {
    /// The root, hex.
    pub root: String,
    /// Height of the block that set it (0: genesis).
    pub height: u64,
}

/// A settled ledger account.
#[cw_serde]
pub struct LedgerAccountResponse {
    /// Owner.
    pub address: String,
    /// Leaf index in the ledger tree.
    pub ledger_index: u32,
    /// Settled balance, in base units of the ledger denom.
    pub balance: Uint64,
    /// Nonce of its last settled transfer.
    pub nonce: u64,
}

/// A registered program.
#[cw_serde]
pub struct ProgramResponse {
    /// Program id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// SHA-256 of the verifying key, hex.
    pub vk_hash: String,
    /// Whether proofs of this version are accepted now.
    pub active: bool,
    /// Entries per batch.
    pub batch_size: u32,
}

/// A payment made by a verified result.
#[cw_serde]
pub struct PayoutResponse {
    /// Queue sequence of the request that caused it.
    pub sequence: u64,
    /// Bank address paid.
    pub recipient: String,
    /// Amount.
    pub amount: Uint64,
}

/// What one accepted proof established.
#[cw_serde]
pub struct VerifiedResultResponse {
    /// Result id.
    pub id: u64,
    /// Program id and version.
    pub program_id: String,
    /// Version.
    pub program_version: u32,
    /// First queue sequence consumed.
    pub start_sequence: u64,
    /// One past the last.
    pub end_sequence: u64,
    /// Ledger root before, hex.
    pub old_root: String,
    /// Ledger root after, hex.
    pub new_root: String,
    /// Withdrawals paid.
    pub withdrawals: Vec<PayoutResponse>,
    /// Rejected deposits refunded.
    pub refunds: Vec<PayoutResponse>,
    /// Height of the block that accepted the proof.
    pub height: u64,
    /// Hash of the tx that carried the proof, hex.
    pub tx_hash: String,
}

/// The number of accepted results.
#[cw_serde]
pub struct ResultCountResponse {
    /// The latest result id (0: none yet).
    pub count: u64,
}

/// Typed access to [`CoproQuery`].
pub struct CoproQuerier<'a> {
    querier: &'a QuerierWrapper<'a, CoproQuery>,
}

impl<'a> CoproQuerier<'a> {
    /// Wraps a contract's querier.
    pub fn new(querier: &'a QuerierWrapper<'a, CoproQuery>) -> Self {
        Self { querier }
    }

    fn ask<T: serde::de::DeserializeOwned>(&self, q: CoproQuery) -> StdResult<T> {
        self.querier.query(&QueryRequest::Custom(q))
    }

    /// The current ledger root.
    pub fn ledger_root(&self) -> StdResult<RootResponse> {
        self.ask(CoproQuery::LedgerRoot {})
    }

    /// The ledger root after block `height`.
    pub fn root_at(&self, height: u64) -> StdResult<RootResponse> {
        self.ask(CoproQuery::RootAt { height })
    }

    /// A settled ledger account.
    pub fn ledger_account(
        &self,
        address: impl Into<String>,
    ) -> StdResult<Option<LedgerAccountResponse>> {
        self.ask(CoproQuery::LedgerAccount {
            address: address.into(),
        })
    }

    /// A registered program.
    pub fn program(
        &self,
        id: impl Into<String>,
        version: u32,
    ) -> StdResult<Option<ProgramResponse>> {
        self.ask(CoproQuery::Program {
            id: id.into(),
            version,
        })
    }

    /// A verified result.
    pub fn verified_result(&self, id: u64) -> StdResult<Option<VerifiedResultResponse>> {
        self.ask(CoproQuery::VerifiedResult { id })
    }

    /// The callback record of request `sequence`.
    pub fn callback(&self, sequence: u64) -> StdResult<Option<CallbackResponse>> {
        self.ask(CoproQuery::Callback { sequence })
    }

    /// The number of accepted results.
    pub fn result_count(&self) -> StdResult<u64> {
        self.ask::<ResultCountResponse>(CoproQuery::ResultCount {})
            .map(|r| r.count)
    }
}

/// Marks the contract as needing the chain capability `copro` (a chain
/// that does not answer [`CoproQuery`] refuses to store it).
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn requires_copro() {}

#[cfg(test)]
mod tests {
    use cosmwasm_std::CosmosMsg;

    use super::*;

    #[test]
    fn queries_are_the_json_the_chain_reads() {
        let j = |q: &CoproQuery| cosmwasm_std::to_json_string(q).unwrap();
        assert_eq!(j(&CoproQuery::LedgerRoot {}), r#"{"ledger_root":{}}"#);
        assert_eq!(
            j(&CoproQuery::RootAt { height: 5 }),
            r#"{"root_at":{"height":5}}"#
        );
        assert_eq!(
            j(&CoproQuery::VerifiedResult { id: 3 }),
            r#"{"verified_result":{"id":3}}"#
        );
        assert_eq!(
            j(&CoproQuery::LedgerAccount {
                address: "a".into()
            }),
            r#"{"ledger_account":{"address":"a"}}"#
        );
        let acc: LedgerAccountResponse =
            cosmwasm_std::from_json(r#"{"address":"a","ledger_index":2,"balance":"10","nonce":0}"#)
                .unwrap();
        assert_eq!(acc.balance, Uint64::new(10));
    }

    #[test]
    fn requests_and_callbacks_are_the_json_the_chain_reads_and_sends() {
        let msg = CoproMsg::Deposit {
            amount: Uint64::new(25),
            callback_gas_limit: 200_000,
        };
        assert_eq!(
            cosmwasm_std::to_json_string(&CosmosMsg::Custom(msg)).unwrap(),
            r#"{"custom":{"deposit":{"amount":"25","callback_gas_limit":200000}}}"#
        );
        // As the chain sends it (modules/coprocessor/src/callback.rs).
        let sudo: CoproSudoMsg = cosmwasm_std::from_json(
            r#"{"copro_settled":{"sequence":4,"kind":"deposit","amount":"25","applied":true,
                "result_id":2,"program_id":"transfer","program_version":1,"new_root":"ab","height":9}}"#,
        )
        .unwrap();
        let CoproSudoMsg::CoproSettled(s) = sudo;
        assert_eq!((s.sequence, s.amount.u64(), s.applied), (4, 25, true));
        assert_eq!(
            cosmwasm_std::to_json_string(&CoproQuery::Callback { sequence: 4 }).unwrap(),
            r#"{"callback":{"sequence":4}}"#
        );
    }
}
