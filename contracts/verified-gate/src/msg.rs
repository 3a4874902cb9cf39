//! Messages and answers.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Coin, Uint64};

/// Makes the escrow (send the funds with it).
#[cw_serde]
pub struct InstantiateMsg {
    /// Who gets the funds when the condition holds.
    pub beneficiary: String,
    /// The ledger account the condition is about.
    pub account: String,
    /// The settled balance `account` must reach.
    pub min_balance: Uint64,
    /// After this height the depositor may take the funds back.
    pub expires_at: u64,
}

/// Calls.
#[cw_serde]
pub enum ExecuteMsg {
    /// Pays the beneficiary if verified result `result_id` (accepted after
    /// the escrow was made) exists and the settled ledger meets the
    /// condition.
    Release {
        /// A verified result id.
        result_id: u64,
    },
    /// The depositor takes the funds back after `expires_at`.
    Refund {},
}

/// Queries.
#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    /// The escrow's terms.
    #[returns(ConfigResponse)]
    Config {},
    /// Whether it is open, released or refunded.
    #[returns(StatusResponse)]
    Status {},
}

/// The terms.
#[cw_serde]
pub struct ConfigResponse {
    /// Depositor.
    pub depositor: String,
    /// Beneficiary.
    pub beneficiary: String,
    /// Condition account.
    pub account: String,
    /// Threshold.
    pub min_balance: Uint64,
    /// Expiry height.
    pub expires_at: u64,
    /// Height the escrow was made at.
    pub created_at: u64,
    /// Funds locked.
    pub funds: Vec<Coin>,
}

/// The state.
#[cw_serde]
pub struct StatusResponse {
    /// `open`, `released` or `refunded`.
    pub status: String,
    /// The result that released it, if released.
    pub released_by: Option<u64>,
}
