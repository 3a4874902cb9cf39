//! coprod: copro's ABCI 2.0 application (driven by CometBFT v0.38) and its
//! Cosmos-daemon-style CLI.
//!
//! - [`modules`]: the chain's modules (auth, bank), registered once; message
//!   types, genesis sections, query paths and CLI commands route through
//!   that registry (see `copro-module`);
//! - [`tx`]: the transaction pipeline (decode, stateless checks, ante,
//!   stateful checks and execution of each message) shared by CheckTx and
//!   block execution;
//! - [`app`]: the ABCI handlers over the Merkle store;
//! - [`query`]: ABCI query routes (the modules' gRPC paths, `Simulate`,
//!   `/store/key` with ICS-23 proofs);
//! - [`server`]: the ABCI socket server (framing, decoding that never
//!   fails, one app thread); [`service`]: what each request is answered;
//! - [`config`], [`client_config`], [`keyring`], [`client`], [`txjson`]:
//!   CLI support;
//! - [`export`]: the state at a height as a genesis (`coprod export`);
//! - [`metrics`]: Prometheus metrics;
//! - [`grpc`]: the gRPC server (the same queries as [`query`], and the
//!   tx and CometBFT services over the node's RPC).

#![warn(missing_docs)]

pub mod app;
pub mod client;
pub mod client_config;
pub mod config;
pub mod export;
pub mod grpc;
pub mod keyring;
pub mod ledger_cli;
pub mod metrics;
pub mod modules;
pub mod query;
pub mod report;
pub mod rest;
pub mod server;
pub mod service;
pub mod sigcache;
pub mod tx;
pub mod txjson;

pub use app::App;
