//! Named reads and writes of the wasm module's state (keys in
//! [`crate::state_key`]).

use copro_module::{Address, TxError};
use copro_store::{StateRead, StateWrite};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{CodeInfo, ContractInfo};
use prost::Message;

use crate::{codes, state_key};

fn read_u64<S: StateRead + ?Sized>(state: &S, key: &[u8]) -> Result<u64, TxError> {
    match state.get_raw(key)? {
        None => Ok(0),
        Some(raw) => raw
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| TxError::internal("corrupt wasm counter")),
    }
}

fn decode<M: Message + Default>(raw: &[u8], what: &str) -> Result<M, TxError> {
    M::decode(raw).map_err(|e| TxError::internal(format!("corrupt {what}: {e}")))
}

/// Reads of the wasm module.
pub trait WasmRead: StateRead {
    /// The code info of `id`, if stored.
    fn code_info(&self, id: u64) -> Result<Option<CodeInfo>, TxError> {
        self.get_raw(&state_key::code(id))?
            .map(|raw| decode(&raw, "code info"))
            .transpose()
    }

    /// The code info of `id`; code `wasm/6` if there is none.
    fn require_code(&self, id: u64) -> Result<CodeInfo, TxError> {
        self.code_info(id)?.ok_or_else(|| {
            TxError::new(
                codes::NO_SUCH_CODE,
                format!("no code with id {id}: store it first (coprod tx wasm store)"),
            )
        })
    }

    /// The wasm of code `id` (uncompressed), if stored.
    fn code_bytes(&self, id: u64) -> Result<Option<Vec<u8>>, TxError> {
        Ok(self.get_raw(&state_key::code_bytes(id))?)
    }

    /// The contract info of `addr`, if it is a contract.
    fn contract_info(&self, addr: &Address) -> Result<Option<ContractInfo>, TxError> {
        self.get_raw(&state_key::contract(addr.as_str()))?
            .map(|raw| decode(&raw, "contract info"))
            .transpose()
    }

    /// The contract info of `addr`; code `wasm/22` if it is no contract.
    fn require_contract(&self, addr: &Address) -> Result<ContractInfo, TxError> {
        self.contract_info(addr)?
            .ok_or_else(|| TxError::new(codes::NOT_FOUND, format!("no contract at {addr}")))
    }

    /// The value the contract `addr` stores under its key `key`.
    fn contract_value(&self, addr: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
        Ok(self.get_raw(&state_key::data(addr.as_str(), key))?)
    }
}

impl<T: StateRead + ?Sized> WasmRead for T {}

/// Writes of the wasm module.
pub trait WasmWrite: StateWrite {
    /// Takes the next code id (1, 2, ...).
    fn take_code_id(&mut self) -> Result<u64, TxError> {
        take(self, state_key::next_code_id())
    }

    /// Takes the next instance id (1, 2, ...).
    fn take_instance_id(&mut self) -> Result<u64, TxError> {
        take(self, state_key::next_instance_id())
    }

    /// Stores code `id`: its info and its wasm.
    fn put_code(&mut self, id: u64, info: &CodeInfo, wasm: Vec<u8>) {
        self.put_raw(state_key::code(id), info.encode_to_vec());
        self.put_raw(state_key::code_bytes(id), wasm);
    }

    /// Stores the info of contract `addr`.
    fn put_contract(&mut self, addr: &Address, info: &ContractInfo) {
        self.put_raw(state_key::contract(addr.as_str()), info.encode_to_vec());
    }
}

fn take<S: StateWrite + ?Sized>(state: &mut S, key: Vec<u8>) -> Result<u64, TxError> {
    let id = read_u64(state, &key)?.max(1);
    let next = id
        .checked_add(1)
        .ok_or_else(|| TxError::internal("wasm id counter overflow"))?;
    state.put_raw(key, next.to_be_bytes().to_vec());
    Ok(id)
}

impl<T: StateWrite + ?Sized> WasmWrite for T {}
