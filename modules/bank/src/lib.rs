//! copro-bank: balances ((address, denom) → u128) and supply, genesis
//! balances, `cosmos.bank.v1beta1.MsgSend`, and the bank gRPC queries.
//!
//! State access goes through [`BankRead`] / [`BankWrite`]; every key lives in
//! [`state_key`].

#![warn(missing_docs)]

pub mod coins;
pub mod genesis;
pub mod msg_send;
pub mod query;
pub mod state_key;
mod view;

pub use coins::{Coin, Coins};
pub use view::{BankRead, BankWrite};

/// Type URL of `MsgSend`.
pub const MSG_SEND_TYPE_URL: &str = "/cosmos.bank.v1beta1.MsgSend";

/// Most distinct denoms listed for one account in queries.
pub const MAX_DENOMS_LISTED: usize = 1000;
