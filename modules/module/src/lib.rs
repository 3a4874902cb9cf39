//! copro-module: what a copro module is, and what every module shares.
//!
//! A module (auth, bank, and next the coprocessor and CosmWasm) is one crate
//! implementing [`Module`]. It owns
//!
//! - its **messages**: the type URLs it accepts and how to [decode](Module::decode)
//!   each into a domain type that cannot hold an invalid value; every decoded
//!   message is a [`Msg`] that goes through three stages, in the spirit of
//!   Penumbra's `check_stateless` / `check_historical` / `check_and_execute`:
//!   1. [`Msg::check_stateless`]: pure, no state and no height (proof
//!      verification lives here), so its verdict holds wherever the tx runs
//!      and may be cached by tx hash;
//!   2. [`Msg::check_stateful`]: read-only checks against the state the
//!      message will execute on;
//!   3. [`Msg::execute`]: the writes, returning the message response and
//!      events;
//! - its **state keys** (a `state_key` module) and named reads and writes
//!   (extension traits over [`copro_store::StateRead`] /
//!   [`copro_store::StateWrite`]);
//! - its **genesis** section (`app_state.<name>` in genesis.json);
//! - its **queries** (gRPC method paths served over ABCI query);
//! - its **CLI** subcommands (`coprod tx <cmd> ...`, `coprod query <cmd> ...`),
//!   which only parse arguments into a [`TxPlan`] or [`QueryPlan`]: signing,
//!   RPC and printing stay in `coprod`, so module crates do no I/O.
//!
//! `coprod` lists its modules once, in a [`Registry`], which refuses two
//! modules claiming the same name, message type, query path or command, and
//! routes by type URL, query path, genesis section and command name.
//!
//! The shared vocabulary lives here too, so that modules need not depend on
//! one another for it: [`Address`], result [`Code`]s and [`TxError`], and
//! [`Event`].

#![warn(missing_docs)]

pub mod address;
pub mod cli;
pub mod contracts;
pub mod error;
pub mod event;
pub mod gas;
mod module;
mod registry;

pub use address::{Address, BECH32_PREFIX, address_from_pubkey, module_address};
pub use cli::{Keys, ProvenValue, QueryPlan, Rendered, TxPlan};
pub use contracts::ContractCalls;
pub use error::{CODESPACE, Code, ResultCode, TxError};
pub use event::Event;
pub use gas::GasMeter;
pub use module::{ExecContext, Executed, Module, Msg, Stage, StatelessContext, parse_genesis};
pub use registry::{DecodedMsg, Registry, RegistryError};
