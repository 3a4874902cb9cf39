//! Orchestration of a copro localnet: N real CometBFT validators, each with its
//! own `coprod`, on 127.0.0.1. Used by the `localnet` binary and by the
//! end-to-end tests in `integration/`.

pub mod bench;
pub mod coprocessor;
pub mod demo;
pub mod http;
pub mod layout;
pub mod ledger_bench;
pub mod net;
pub mod offchain_bench;
pub mod proc_scan;
pub mod process;
pub mod prover;
pub mod wallet;

pub use layout::{Layout, NodePorts};
pub use net::{
    AppKind, Localnet, NodeStatus, Proc, Restarted, RunState, StoppedProcess, UpOptions, rpc_client,
};
