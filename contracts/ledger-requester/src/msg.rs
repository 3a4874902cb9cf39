//! Messages and answers (JSON).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::Uint64;

/// Instantiation.
#[cw_serde]
pub struct InstantiateMsg {
    /// Gas each settlement callback gets (paid by each request's tx).
    pub callback_gas_limit: u64,
}

/// Execution.
#[cw_serde]
pub enum ExecuteMsg {
    /// Queue a ledger deposit of `amount` of the contract's coins.
    Deposit {
        /// Amount of the ledger denom.
        amount: Uint64,
    },
    /// Queue a withdrawal of `amount` from the contract's ledger account.
    Withdraw {
        /// Amount.
        amount: Uint64,
    },
    /// Owner only: make the following callbacks fail (or not).
    SetFailCallbacks {
        /// Whether they fail.
        fail: bool,
    },
}

/// Queries.
#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    /// What the contract asked for and what was settled.
    #[returns(StatusResponse)]
    Status {},
    /// The chain's record of the callback of request `sequence`.
    #[returns(Option<copro_bindings::CallbackResponse>)]
    Callback {
        /// The request's sequence.
        sequence: u64,
    },
    /// A verified result, as the chain's `copro` query gives it (what a
    /// callback's `result_id` points to).
    #[returns(Option<copro_bindings::VerifiedResultResponse>)]
    VerifiedResult {
        /// Result id.
        id: u64,
    },
}

/// A request waiting for its proof.
#[cw_serde]
pub struct PendingRequest {
    /// Queue sequence.
    pub sequence: u64,
    /// `deposit` or `withdraw`.
    pub kind: String,
    /// Amount.
    pub amount: Uint64,
}

/// Answer to `status {}`.
#[cw_serde]
pub struct StatusResponse {
    /// The owner.
    pub owner: String,
    /// Gas of each callback.
    pub callback_gas_limit: u64,
    /// Whether callbacks fail on purpose.
    pub fail_callbacks: bool,
    /// Requests not settled yet (at most 50, oldest first).
    pub pending: Vec<PendingRequest>,
    /// Settlements received (at most 50, oldest first).
    pub settled: Vec<copro_bindings::Settlement>,
    /// Ledger balance implied by the settlements received.
    pub settled_balance: Uint64,
    /// The contract's ledger account as the chain settled it (`None`
    /// before its first deposit is queued).
    pub ledger_account: Option<copro_bindings::LedgerAccountResponse>,
}
