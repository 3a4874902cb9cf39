//! How one module calls contracts run by another, without depending on it:
//! the coprocessor calls back the contracts whose requests a proof settled,
//! and only `coprod`, which registers both modules, knows that the wasm
//! module is what runs them.

use std::fmt;

use copro_store::StateWrite;

use crate::address::Address;
use crate::error::TxError;
use crate::event::Event;
use crate::module::ExecContext;

/// Privileged calls into contracts (CosmWasm's `sudo` entry point: no
/// sender, no funds; only the chain may make them).
///
/// An implementation runs the whole call on `state` (the contract's own
/// writes and those of the messages it emits) and charges every unit of
/// work to `ctx.gas`. On error its writes may be half done: the caller
/// gives it an overlay and drops it.
pub trait ContractCalls: Send + Sync + fmt::Debug {
    /// Calls `contract`'s `sudo` with the JSON `msg`; its events on success.
    fn sudo(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
        contract: &Address,
        msg: &[u8],
    ) -> Result<Vec<Event>, TxError>;
}
