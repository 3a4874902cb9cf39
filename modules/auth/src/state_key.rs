//! Every store key of the auth module. Keys are UTF-8 paths.
//!
//! | key | value |
//! |---|---|
//! | `auth/account/{bech32 address}` | protobuf `cosmos.auth.v1beta1.BaseAccount` |
//! | `auth/next_account_number` | u64, 8 bytes big-endian |

/// Prefix of all account keys.
pub const ACCOUNT_PREFIX: &str = "auth/account/";

/// Key of the account of `address` (bech32 string).
pub fn account(address: &str) -> Vec<u8> {
    format!("{ACCOUNT_PREFIX}{address}").into_bytes()
}

/// Key of the next account number to assign.
pub fn next_account_number() -> Vec<u8> {
    b"auth/next_account_number".to_vec()
}
