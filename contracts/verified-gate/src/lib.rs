//! verified-gate: an escrow whose funds go to a beneficiary only once the
//! coprocessor's ledger, as settled by verified Groth16 proofs, shows that
//! an account holds at least a threshold: a fact no validator executed,
//! only verified.
//!
//! - instantiate with the funds to lock and the condition (`account`,
//!   `min_balance`), the `beneficiary`, and an `expires_at` height after
//!   which the depositor may take the funds back;
//! - `release { result_id }`: anyone may call it, naming a verified result
//!   accepted after the escrow was made; the contract reads that result and
//!   the account's settled balance through the chain's `copro` query and
//!   pays the beneficiary if the balance meets the threshold;
//! - `refund {}`: the depositor, after `expires_at`;
//! - queries `config {}` and `status {}`.

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;

pub use error::ContractError;
