//! copro-bank: balances ((address, denom) → u128) and supply, genesis
//! balances, `cosmos.bank.v1beta1.MsgSend`, the bank gRPC queries and the
//! `coprod tx bank` / `coprod query bank` commands, behind the [`Bank`]
//! module (see `copro-module` for the trait and the stages of a message).
//!
//! State access goes through [`BankRead`] / [`BankWrite`]; every key lives in
//! [`state_key`].

#![warn(missing_docs)]

mod cli;
pub mod coins;
pub mod genesis;
mod module;
pub mod msg_send;
pub mod query;
pub mod state_key;
mod view;

pub use coins::{Coin, Coins};
pub use module::Bank;
pub use view::{BankRead, BankWrite};

/// Type URL of `MsgSend`.
pub const MSG_SEND_TYPE_URL: &str = "/cosmos.bank.v1beta1.MsgSend";
/// Type URL of the (empty) response to a `MsgSend`.
pub const MSG_SEND_RESPONSE_TYPE_URL: &str = "/cosmos.bank.v1beta1.MsgSendResponse";

/// The chain's native denom: fees, staking, and the default denom of
/// `coprod query bank balance`.
pub const NATIVE_DENOM: &str = "ucopro";

/// Most distinct denoms listed for one account in queries.
pub const MAX_DENOMS_LISTED: usize = 1000;
