//! copro-circuits: the Poseidon hash, the Poseidon sparse Merkle tree, the
//! public-input commitment, the `transfer` program (native executor and
//! bellman circuit), spend-authorization signatures over Jubjub (native and
//! in-circuit) and strict Groth16 encodings and verification.
//!
//! This crate is consensus code: no hash-map iteration, no floats, no clock,
//! checked integer arithmetic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod count;
pub mod encoding;
pub mod field;
pub mod gadgets;
pub mod poseidon;
pub mod program;
pub mod public_input;
pub mod smt;
pub mod spend_auth;
pub mod transfer;
pub mod transfer_v2;
pub mod verify;
