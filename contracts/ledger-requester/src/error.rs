//! Why a call fails.

use cosmwasm_std::StdError;
use thiserror::Error;

/// Errors of the requester.
#[derive(Error, Debug)]
pub enum ContractError {
    /// A standard error (storage, serialization, a failed query).
    #[error("{0}")]
    Std(#[from] StdError),
    /// A sender other than the owner tried an owner's message.
    #[error("only the owner may do this")]
    NotOwner,
    /// A zero amount.
    #[error("the amount must be positive")]
    ZeroAmount,
    /// The callback gas limit is outside what the chain accepts.
    #[error("callback_gas_limit must be between 1 and {0}")]
    BadGasLimit(u64),
    /// The chain's reply to a request did not carry its sequence.
    #[error("the chain's reply carries no request sequence")]
    NoSequence,
    /// A callback for a request this contract did not make (or settled
    /// already).
    #[error("no pending request {0}")]
    UnknownRequest(u64),
    /// `fail_callbacks` is set: the callback fails on purpose.
    #[error("callbacks are set to fail (request {0})")]
    FailingOnPurpose(u64),
    /// Settled withdrawals exceed settled deposits (cannot happen if the
    /// chain is right: the ledger refuses an overdraft).
    #[error("settled balance would go below zero")]
    Underflow,
}
