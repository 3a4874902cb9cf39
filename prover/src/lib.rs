//! Library half of `copro-prover`: the prover daemon and what it builds on.
//!
//! - [`chain`]: chain data the prover may act on, verified with a light
//!   client and ICS-23 proofs;
//! - [`replica`]: the persistent ledger replica, checked against the chain's
//!   root after every settled batch;
//! - [`daemon`]: `copro-prover run`, its job queue, submission, HTTP API
//!   and metrics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod daemon;
pub mod replica;
