//! Every key of the wasm module, in one place. All live under `wasm/`.
//!
//! | key | value |
//! |---|---|
//! | `wasm/next_code_id` | u64 BE: the id the next stored code gets (from 1) |
//! | `wasm/next_instance_id` | u64 BE: the sequence in contract addresses |
//! | `wasm/code/{id:020}` | `cosmwasm.wasm.v1.CodeInfo` (protobuf) |
//! | `wasm/code_bytes/{id:020}` | the wasm, uncompressed |
//! | `wasm/contract/{addr}` | `cosmwasm.wasm.v1.ContractInfo` (protobuf) |
//! | `wasm/data/{addr}/{key}` | the contract's own storage: `key` is the raw key the contract used |
//!
//! Ids are zero-padded so that keys sort by id; addresses are bech32
//! strings of 32-byte addresses, all the same length, so one contract's
//! storage prefix never is a prefix of another's.

/// Counter of code ids.
pub fn next_code_id() -> Vec<u8> {
    b"wasm/next_code_id".to_vec()
}

/// Counter of instances (part of contract addresses).
pub fn next_instance_id() -> Vec<u8> {
    b"wasm/next_instance_id".to_vec()
}

/// Prefix of every code info.
pub const CODE_PREFIX: &[u8] = b"wasm/code/";

/// The code info of `id`.
pub fn code(id: u64) -> Vec<u8> {
    format!("wasm/code/{id:020}").into_bytes()
}

/// The wasm bytes of code `id`.
pub fn code_bytes(id: u64) -> Vec<u8> {
    format!("wasm/code_bytes/{id:020}").into_bytes()
}

/// Prefix of every contract info.
pub const CONTRACT_PREFIX: &[u8] = b"wasm/contract/";

/// The contract info of `addr`.
pub fn contract(addr: &str) -> Vec<u8> {
    format!("wasm/contract/{addr}").into_bytes()
}

/// Prefix of the storage of contract `addr`.
pub fn data_prefix(addr: &str) -> Vec<u8> {
    format!("wasm/data/{addr}/").into_bytes()
}

/// The store key of the contract's key `key`.
pub fn data(addr: &str, key: &[u8]) -> Vec<u8> {
    let mut k = data_prefix(addr);
    k.extend_from_slice(key);
    k
}
