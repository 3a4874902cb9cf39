//! Why a call fails.

use cosmwasm_std::StdError;
use thiserror::Error;

/// Errors of the gate.
#[derive(Error, Debug)]
pub enum ContractError {
    /// A standard error (storage, serialization, a failed query).
    #[error("{0}")]
    Std(#[from] StdError),
    /// Instantiated without funds.
    #[error("send the funds to lock with the instantiate message")]
    NoFunds,
    /// The escrow is settled already.
    #[error("the escrow is {0} already")]
    Settled(String),
    /// The named result does not exist.
    #[error("no verified result {0} yet")]
    NoSuchResult(u64),
    /// The named result is older than the escrow.
    #[error("verified result {id} was accepted at height {height}, before the escrow (height {created})")]
    StaleResult {
        /// Result id.
        id: u64,
        /// Its height.
        height: u64,
        /// The escrow's height.
        created: u64,
    },
    /// The settled ledger does not meet the condition.
    #[error("condition not met: {account} holds {balance} in the settled ledger, needs {min}")]
    NotMet {
        /// The account.
        account: String,
        /// Its settled balance.
        balance: u64,
        /// The threshold.
        min: u64,
    },
    /// Refund asked by someone else or too early.
    #[error("only the depositor may take the funds back, after height {0}")]
    NoRefund(u64),
}
