//! coprod: copro's ABCI 2.0 application (driven by CometBFT v0.38) and its
//! Cosmos-daemon-style CLI.
//!
//! - [`tx`]: the transaction pipeline (decode, stateless checks, ante,
//!   execution) shared by CheckTx and block execution;
//! - [`app`]: the ABCI handlers over the Merkle store;
//! - [`query`]: ABCI query routes (gRPC paths, `/store/key` with ICS-23 proofs);
//! - [`server`]: the ABCI socket server (framing, decoding that never
//!   fails, one app thread); [`service`]: what each request is answered;
//! - [`config`], [`keyring`], [`client`]: CLI support;
//! - [`metrics`]: Prometheus metrics.

#![warn(missing_docs)]

pub mod app;
pub mod client;
pub mod config;
pub mod keyring;
pub mod metrics;
pub mod query;
pub mod server;
pub mod service;
pub mod sigcache;
pub mod tx;

pub use app::{App, AppState};
