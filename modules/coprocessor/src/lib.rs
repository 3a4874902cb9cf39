//! copro's coprocessor module: the chain side of proven computation.
//!
//! - a **ledger** of accounts committed by a Poseidon sparse Merkle tree;
//!   the chain keeps the current root, a root-history accumulator
//!   ([`history`]) and a mirror of the leaves (balances readable and
//!   provable), but never computes a Merkle path;
//! - a **request queue** ([`requests`]): deposits (bank → escrow),
//!   transfers and withdrawals are validated and queued with one Poseidon
//!   hash each, never executed by validators;
//! - a **program registry** and the single **prover** ([`registry`]),
//!   changed only by the authority;
//! - **contract requests with callbacks** ([`callback`]): a contract's
//!   deposit or withdrawal is queued like any other; the proof that settles
//!   it calls the contract back, each call in its own gas limit and overlay;
//! - **`MsgSubmitProof`** ([`submit`]): a Groth16 proof that settles the
//!   next requests, checked cheapest first, verified once per node
//!   ([`submit::Verifier`]), applied as proven balance deltas.
//!
//! State keys are in [`state_key`]; values are the `copro.coprocessor.v1`
//! protobuf messages (`copro-proto`). Rejections have their own codes
//! ([`error::CoproCode`], codespace `copro`).

#![warn(missing_docs)]

pub mod callback;
pub mod cli;
pub mod error;
pub mod events;
pub mod genesis;
pub mod history;
pub mod memo;
pub mod module;
pub mod msgs;
pub mod query;
pub mod record;
pub mod registry;
pub mod requests;
pub mod settle;
pub mod state_key;
pub mod submit;
pub mod view;
pub mod wallet;

pub use error::{CODESPACE, CoproCode, CoproError};
pub use module::Coprocessor;
pub use view::{CoproRead, CoproWrite};
