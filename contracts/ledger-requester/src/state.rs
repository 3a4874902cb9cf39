//! Storage (plain `Storage` calls: no storage helper crate). Numbers in
//! keys are fixed-width hex, so key order is numeric order.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{from_json, to_json_vec, Addr, Order, StdError, StdResult, Storage};

use crate::msg::PendingRequest;

/// Set at instantiation (the flag changes later).
#[cw_serde]
pub struct Config {
    /// Who may set the flag.
    pub owner: Addr,
    /// Gas of each callback.
    pub callback_gas_limit: u64,
    /// Callbacks fail on purpose while set.
    pub fail_callbacks: bool,
}

const CONFIG: &[u8] = b"config";
const BALANCE: &[u8] = b"settled_balance";
const PENDING: &str = "pending/";
const SETTLED: &str = "settled/";
/// Most entries a listing returns (a query's work stays bounded).
pub const LIST_LIMIT: usize = 50;

fn key(prefix: &str, sequence: u64) -> Vec<u8> {
    format!("{prefix}{sequence:016x}").into_bytes()
}

/// The end of a prefix range: the prefix with its last byte incremented.
fn end_of(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

fn list<T: serde::de::DeserializeOwned>(s: &dyn Storage, prefix: &str) -> StdResult<Vec<T>> {
    s.range(
        Some(prefix.as_bytes()),
        Some(&end_of(prefix)),
        Order::Ascending,
    )
    .take(LIST_LIMIT)
    .map(|(_, v)| from_json(v))
    .collect()
}

/// Saves the configuration.
pub fn save_config(s: &mut dyn Storage, c: &Config) -> StdResult<()> {
    s.set(CONFIG, &to_json_vec(c)?);
    Ok(())
}

/// Loads the configuration.
pub fn config(s: &dyn Storage) -> StdResult<Config> {
    from_json(
        s.get(CONFIG)
            .ok_or_else(|| StdError::msg("config not found"))?,
    )
}

/// Remembers a queued request.
pub fn save_pending(s: &mut dyn Storage, p: &PendingRequest) -> StdResult<()> {
    s.set(&key(PENDING, p.sequence), &to_json_vec(p)?);
    Ok(())
}

/// Takes a pending request out (`None` if there is none with that
/// sequence).
pub fn take_pending(s: &mut dyn Storage, sequence: u64) -> StdResult<Option<PendingRequest>> {
    let k = key(PENDING, sequence);
    let found = s.get(&k).map(from_json).transpose()?;
    s.remove(&k);
    Ok(found)
}

/// Pending requests, oldest first.
pub fn pending(s: &dyn Storage) -> StdResult<Vec<PendingRequest>> {
    list(s, PENDING)
}

/// Records a settlement.
pub fn save_settled(s: &mut dyn Storage, st: &copro_bindings::Settlement) -> StdResult<()> {
    s.set(&key(SETTLED, st.sequence), &to_json_vec(st)?);
    Ok(())
}

/// Settlements, oldest first.
pub fn settled(s: &dyn Storage) -> StdResult<Vec<copro_bindings::Settlement>> {
    list(s, SETTLED)
}

/// The ledger balance the settlements imply.
pub fn balance(s: &dyn Storage) -> StdResult<u64> {
    Ok(s.get(BALANCE).map(from_json).transpose()?.unwrap_or(0))
}

/// Sets it.
pub fn save_balance(s: &mut dyn Storage, b: u64) -> StdResult<()> {
    s.set(BALANCE, &to_json_vec(&b)?);
    Ok(())
}
