//! copro-wasm: CosmWasm contracts inside `coprod`, run by cosmwasm-vm.
//!
//! The module speaks the standard `cosmwasm.wasm.v1` protocol, so clients
//! built for wasmd (cosmjs's `SigningCosmWasmClient`) work unchanged:
//!
//! - messages `MsgStoreCode`, `MsgInstantiateContract`,
//!   `MsgExecuteContract`, `MsgMigrateContract` ([`msgs`]);
//! - queries `SmartContractState`, `RawContractState`, `Code`, `CodeInfo`,
//!   `ContractInfo` on their gRPC paths ([`query`]);
//! - `coprod tx wasm store|instantiate|execute|migrate` and
//!   `coprod query wasm smart|raw|code|contract` (`cli`).
//!
//! Everything a contract owns lives in the app's Merkle store under `wasm/`
//! ([`state_key`]), so it is provable and rolled back with the transaction
//! that wrote it. Gas used by the VM is charged to the transaction's gas
//! meter ([`gas`]). Compiled modules are kept by cosmwasm-vm's cache, in
//! memory and on disk under the node's home ([`vm::Vm`]); the wasm bytes stay
//! in state, so a node whose cache is gone compiles them again.

#![warn(missing_docs)]

pub mod backend;
mod cli;
pub mod copro;
pub mod gas;
pub mod keeper;
mod module;
pub mod msgs;
pub mod query;
pub mod state_key;
pub mod validate;
pub mod view;
pub mod vm;

pub use module::Wasm;
pub use vm::Vm;

/// Codespace of the wasm module's own result codes (numbered as wasmd's).
pub const CODESPACE: &str = "wasm";

/// The wasm module's result codes (codespace [`CODESPACE`]), numbered as in
/// wasmd's `x/wasm/types/errors.go` so explorers read them alike.
pub mod codes {
    use copro_module::ResultCode;

    use crate::CODESPACE;

    /// The wasm bytes are not valid CosmWasm code (does not parse, an
    /// unknown import, SIMD or threads, a missing export, too many functions...).
    pub const CREATE_FAILED: ResultCode = ResultCode::new(CODESPACE, 2);
    /// The contract's instantiate returned an error, trapped or panicked.
    pub const INSTANTIATE_FAILED: ResultCode = ResultCode::new(CODESPACE, 4);
    /// The contract's execute (or a reply to it) returned an error,
    /// trapped or panicked.
    pub const EXECUTE_FAILED: ResultCode = ResultCode::new(CODESPACE, 5);
    /// No code with that id.
    pub const NO_SUCH_CODE: ResultCode = ResultCode::new(CODESPACE, 6);
    /// The contract's migrate failed.
    pub const MIGRATE_FAILED: ResultCode = ResultCode::new(CODESPACE, 11);
    /// Empty wasm, message or label.
    pub const EMPTY: ResultCode = ResultCode::new(CODESPACE, 12);
    /// Wasm, message or label too large (also a gzip bomb).
    pub const LIMIT: ResultCode = ResultCode::new(CODESPACE, 13);
    /// The message is not valid JSON.
    pub const INVALID: ResultCode = ResultCode::new(CODESPACE, 14);
    /// A smart query failed in the contract.
    pub const QUERY_FAILED: ResultCode = ResultCode::new(CODESPACE, 16);
    /// The sender may not do this (migrate without being the admin).
    pub const UNAUTHORIZED: ResultCode = ResultCode::new(CODESPACE, 19);
    /// No contract at that address.
    pub const NOT_FOUND: ResultCode = ResultCode::new(CODESPACE, 22);
    /// The VM failed for a reason of its own (cache, instantiation).
    pub const VM_ERROR: ResultCode = ResultCode::new(CODESPACE, 29);
    /// Sub-messages nested too deep, or queries recursing too deep.
    pub const MAX_CALL_DEPTH: ResultCode = ResultCode::new(CODESPACE, 30);
}

/// Bounds on untrusted input, checked before any work they would cost.
pub mod limits {
    /// Largest uploaded wasm (bytes after gunzip), as wasmd's default
    /// `MaxWasmSize`.
    pub const MAX_WASM_BYTES: usize = 800 * 1024;
    /// Longest label.
    pub const MAX_LABEL_BYTES: usize = 128;
    /// Largest JSON message to a contract (also bounded by the tx size).
    pub const MAX_MSG_BYTES: usize = 64 * 1024;
    /// Deepest nesting of sub-messages (a contract calling a contract...).
    pub const MAX_CALL_DEPTH: u32 = 8;
    /// Deepest nesting of contract-to-contract smart queries (wasmd's
    /// `maxQueryStackSize` is 10).
    pub const MAX_QUERY_DEPTH: u32 = 10;
    /// VM gas given to a smart query over ABCI/gRPC (no tx pays for it):
    /// 3M SDK gas, as wasmd's default `SmartQueryGasLimit`.
    pub const QUERY_GAS_LIMIT_SDK: u64 = 3_000_000;
    /// Most entries of a contract's storage one iterator can walk (the
    /// store lists them in one read; see `backend`).
    pub const MAX_ITER_ENTRIES: usize = 10_000;
    /// Memory of one contract instance (MiB), as wasmd's default.
    pub const INSTANCE_MEMORY_MIB: u32 = 32;
    /// Memory for compiled modules kept in memory (MiB).
    pub const MEMORY_CACHE_MIB: u32 = 100;
}

/// Type URL of `MsgStoreCode`.
pub const MSG_STORE_CODE: &str = "/cosmwasm.wasm.v1.MsgStoreCode";
/// Type URL of `MsgInstantiateContract`.
pub const MSG_INSTANTIATE: &str = "/cosmwasm.wasm.v1.MsgInstantiateContract";
/// Type URL of `MsgExecuteContract`.
pub const MSG_EXECUTE: &str = "/cosmwasm.wasm.v1.MsgExecuteContract";
/// Type URL of `MsgMigrateContract`.
pub const MSG_MIGRATE: &str = "/cosmwasm.wasm.v1.MsgMigrateContract";

/// Every message type this module accepts.
pub const TYPE_URLS: &[&str] = &[MSG_STORE_CODE, MSG_INSTANTIATE, MSG_EXECUTE, MSG_MIGRATE];
