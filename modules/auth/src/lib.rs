//! copro-auth: accounts (address → `cosmos.auth.v1beta1.BaseAccount` with
//! pubkey, account number and sequence), addresses (bech32 prefix
//! [`BECH32_PREFIX`]), and the error and event types every module's
//! transaction handling shares.
//!
//! State access goes through [`AuthRead`] / [`AuthWrite`], extension traits
//! over the store's [`StateRead`](copro_store::StateRead) /
//! [`StateWrite`](copro_store::StateWrite); every key lives in [`state_key`].

#![warn(missing_docs)]

pub mod address;
pub mod error;
pub mod event;
pub mod genesis;
pub mod query;
pub mod state_key;
mod view;

pub use address::{Address, BECH32_PREFIX, address_from_pubkey, module_address};
pub use error::{Code, TxError};
pub use event::Event;
pub use view::{AuthRead, AuthWrite, SECP256K1_PUBKEY_TYPE_URL, decode_pubkey, encode_pubkey};

/// Type URL of `cosmos.auth.v1beta1.BaseAccount`, the account type in queries.
pub const BASE_ACCOUNT_TYPE_URL: &str = "/cosmos.auth.v1beta1.BaseAccount";
