//! copro-auth: accounts (address → `cosmos.auth.v1beta1.BaseAccount` with
//! pubkey, account number and sequence), their genesis, `Query/Account` and
//! `coprod query account`, behind the [`Auth`] module.
//!
//! Auth has no messages of its own: `coprod`'s ante checks the signer's
//! account, public key, sequence and signature through this crate's reads
//! and writes before any message runs.
//!
//! State access goes through [`AuthRead`] / [`AuthWrite`], extension traits
//! over the store's [`StateRead`](copro_store::StateRead) /
//! [`StateWrite`](copro_store::StateWrite); every key lives in [`state_key`].
//!
//! Addresses, result codes, errors and events are the shared vocabulary of
//! every module and live in `copro-module`; they are re-exported here, since
//! accounts are keyed by those addresses.

#![warn(missing_docs)]

mod cli;
pub mod genesis;
mod module;
pub mod query;
pub mod state_key;
mod view;

pub use copro_module::{
    Address, BECH32_PREFIX, Code, Event, TxError, address_from_pubkey, module_address,
};
// The modules themselves too, so that paths from before the move
// (`copro_auth::error::CODESPACE`) keep working.
pub use copro_module::{address, error, event};
pub use module::Auth;
pub use view::{AuthRead, AuthWrite, SECP256K1_PUBKEY_TYPE_URL, decode_pubkey, encode_pubkey};

/// Type URL of `cosmos.auth.v1beta1.BaseAccount`, the account type in queries.
pub const BASE_ACCOUNT_TYPE_URL: &str = "/cosmos.auth.v1beta1.BaseAccount";
