//! The wasm [`Module`]: routing of the `cosmwasm.wasm.v1` messages and
//! queries, genesis, and `coprod tx wasm` / `coprod query wasm`.

use clap::{ArgMatches, Command};
use copro_module::{
    Address, Code, ContractCalls, Event, ExecContext, Keys, Module, Msg, QueryPlan, TxError,
    TxPlan, parse_genesis,
};
use copro_store::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keeper::Keeper;
use crate::msgs::{Execute, Instantiate, Migrate, StoreCode, block_env};
use crate::vm::Vm;
use crate::{MSG_EXECUTE, MSG_INSTANTIATE, MSG_MIGRATE, MSG_STORE_CODE, TYPE_URLS, cli, query};

/// The wasm module, holding the node's [`Vm`] (one per node: clone the
/// module, not the directory).
#[derive(Clone, Debug)]
pub struct Wasm {
    vm: Vm,
}

impl Wasm {
    /// The module running contracts in `vm`.
    pub fn new(vm: Vm) -> Self {
        Self { vm }
    }

    /// The VM.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }
}

impl Default for Wasm {
    /// A module with a VM in a temporary directory (CLI and tests; a node
    /// caches under its home).
    fn default() -> Self {
        Self::new(Vm::temporary())
    }
}

/// The coprocessor calls contracts back through this (wired by `coprod`).
impl ContractCalls for Wasm {
    fn sudo(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
        contract: &Address,
        msg: &[u8],
    ) -> Result<Vec<Event>, TxError> {
        // No tx runs a callback: `env.transaction` stays empty.
        let mut env = block_env(ctx);
        env.tx_hash = None;
        Keeper::new(&self.vm, env)
            .sudo(state, ctx.gas, contract, msg)
            .map(|out| out.events)
    }
}

/// The wasm genesis section: the module's whole state as raw store
/// entries (hex), so `coprod export` and a chain started from it carry
/// codes, contracts and contract storage. Compiled modules are not state:
/// a node compiles a code the first time it runs it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    /// `[key, value]`, both hex, keys under `wasm/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<[String; 2]>,
}

impl Module for Wasm {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn type_urls(&self) -> &'static [&'static str] {
        TYPE_URLS
    }

    fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<Box<dyn Msg>, TxError> {
        Ok(match type_url {
            MSG_STORE_CODE => Box::new(StoreCode::decode(&self.vm, bytes)?),
            MSG_INSTANTIATE => Box::new(Instantiate::decode(&self.vm, bytes)?),
            MSG_EXECUTE => Box::new(Execute::decode(&self.vm, bytes)?),
            MSG_MIGRATE => Box::new(Migrate::decode(&self.vm, bytes)?),
            other => {
                return Err(TxError::new(
                    Code::UnknownRequest,
                    format!("module wasm has no message type '{other}'"),
                ));
            }
        })
    }

    fn default_genesis(&self) -> Value {
        serde_json::to_value(GenesisState::default()).unwrap_or_default()
    }

    fn init_genesis(&self, state: &mut dyn StateWrite, genesis: &Value) -> Result<(), TxError> {
        let g: GenesisState = parse_genesis(genesis)?;
        for [k, v] in g.entries {
            let bad = |what: &str| {
                TxError::new(
                    Code::InvalidRequest,
                    format!("wasm genesis: {what} is not hex"),
                )
            };
            let key = hex::decode(&k).map_err(|_| bad("a key"))?;
            let value = hex::decode(&v).map_err(|_| bad("a value"))?;
            if !key.starts_with(b"wasm/") {
                return Err(TxError::new(
                    Code::InvalidRequest,
                    format!("wasm genesis: key {k} is not under wasm/"),
                ));
            }
            state.put_raw(key, value);
        }
        Ok(())
    }

    fn export_genesis(&self, state: &dyn StateRead) -> anyhow::Result<Value> {
        let entries = state
            .prefix_raw(b"wasm/", usize::MAX)?
            .into_iter()
            .map(|(k, v)| [hex::encode(k), hex::encode(v)])
            .collect();
        Ok(serde_json::to_value(GenesisState { entries })?)
    }

    fn query_paths(&self) -> &'static [&'static str] {
        query::PATHS
    }

    fn query(&self, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
        query::handle(&self.vm, path, state, data)
    }

    fn tx_command(&self) -> Option<Command> {
        Some(cli::tx_command())
    }

    fn tx(&self, matches: &ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
        cli::tx(matches, keys)
    }

    fn query_command(&self) -> Option<Command> {
        Some(cli::query_command())
    }

    fn query_plan(&self, matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
        cli::query_plan(matches)
    }
}
