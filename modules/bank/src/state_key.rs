//! Every store key of the bank module. Keys are UTF-8 paths; amounts are
//! u128, 16 bytes big-endian.
//!
//! | key | value |
//! |---|---|
//! | `bank/balance/{bech32 address}/{denom}` | balance (u128 BE); absent = 0 |
//! | `bank/supply/{denom}` | total supply (u128 BE); absent = 0 |
//!
//! Zero balances are deleted, so listing `bank/balance/{address}/` gives
//! exactly the non-zero balances, ordered by denom.

/// Prefix of every balance key.
pub const BALANCE_PREFIX: &str = "bank/balance/";
/// Prefix of every supply key.
pub const SUPPLY_PREFIX: &str = "bank/supply/";

/// Prefix of the balances of `address`.
pub fn balances_of(address: &str) -> Vec<u8> {
    format!("{BALANCE_PREFIX}{address}/").into_bytes()
}

/// Key of the balance of `denom` at `address`.
pub fn balance(address: &str, denom: &str) -> Vec<u8> {
    format!("{BALANCE_PREFIX}{address}/{denom}").into_bytes()
}

/// Key of the supply of `denom`.
pub fn supply(denom: &str) -> Vec<u8> {
    format!("{SUPPLY_PREFIX}{denom}").into_bytes()
}
