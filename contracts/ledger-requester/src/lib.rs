//! ledger-requester: a contract that asks the coprocessor for work and is
//! called back with the verified outcome (the request-and-callback path).
//!
//! - instantiate with the `callback_gas_limit` its callbacks get;
//! - `deposit { amount }`: queues a ledger deposit of the contract's own
//!   coins (send them with the message) as a `copro` custom message; the
//!   reply gives the request's sequence, kept as pending;
//! - `withdraw { amount }`: queues a withdrawal from its ledger account;
//! - `sudo` (called by the chain when a proof settles a request): records
//!   the settlement (applied or not, result id, new root) and the ledger
//!   balance it implies; refuses on purpose while `fail_callbacks` is set,
//!   to show that a failing callback is undone and blocks nothing;
//! - `set_fail_callbacks { fail }`: the owner turns that on and off;
//! - queries `status {}` (pending and settled requests, the contract's
//!   settled ledger account read through the `copro` query) and
//!   `callback { sequence }` (the chain's record of a callback) and
//!   `verified_result { id }` (the chain's verified result, read through
//!   `copro`).

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;

pub use error::ContractError;
