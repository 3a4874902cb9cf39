//! Storage (two items, plain `Storage` calls: no storage helper crate).

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{from_json, to_json_vec, Addr, Coin, StdError, StdResult, Storage, Uint64};

/// The terms, set at instantiation.
#[cw_serde]
pub struct Config {
    /// Who locked the funds.
    pub depositor: Addr,
    /// Who gets them.
    pub beneficiary: Addr,
    /// The ledger account of the condition.
    pub account: Addr,
    /// Its threshold.
    pub min_balance: Uint64,
    /// Refund allowed after this height.
    pub expires_at: u64,
    /// Height of instantiation.
    pub created_at: u64,
    /// What was locked.
    pub funds: Vec<Coin>,
}

/// Where the escrow stands.
#[cw_serde]
pub enum Status {
    /// Funds locked.
    Open,
    /// Paid to the beneficiary by this result.
    Released {
        /// The verified result.
        result_id: u64,
    },
    /// Returned to the depositor.
    Refunded,
}

const CONFIG: &[u8] = b"config";
const STATUS: &[u8] = b"status";

fn load<T: serde::de::DeserializeOwned>(s: &dyn Storage, key: &[u8]) -> StdResult<T> {
    let raw = s
        .get(key)
        .ok_or_else(|| StdError::msg(format!("{} not found", String::from_utf8_lossy(key))))?;
    from_json(raw)
}

/// Saves the terms.
pub fn save_config(s: &mut dyn Storage, c: &Config) -> StdResult<()> {
    s.set(CONFIG, &to_json_vec(c)?);
    Ok(())
}

/// Loads the terms.
pub fn config(s: &dyn Storage) -> StdResult<Config> {
    load(s, CONFIG)
}

/// Saves the status.
pub fn save_status(s: &mut dyn Storage, st: &Status) -> StdResult<()> {
    s.set(STATUS, &to_json_vec(st)?);
    Ok(())
}

/// Loads the status.
pub fn status(s: &dyn Storage) -> StdResult<Status> {
    load(s, STATUS)
}
