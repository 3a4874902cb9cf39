//! Library half of `copro-prover`: what the prover daemon (`copro-prover
//! run`, to come) builds on.
//!
//! - [`chain`]: chain data the prover may act on, verified with a light
//!   client and ICS-23 proofs;
//! - [`replica`]: the persistent ledger replica, checked against the chain's
//!   root after every settled batch.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod replica;
