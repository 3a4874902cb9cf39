//! The auth [`Module`]: genesis accounts, `Query/Account` and
//! `coprod query account`.

use clap::{ArgMatches, Command};
use copro_module::{Code, Module, QueryPlan, TxError, parse_genesis};
use copro_store::{StateRead, StateWrite};
use serde_json::Value;

use crate::genesis::GenesisState;
use crate::{cli, query};

/// The auth module. Registered before every module whose genesis creates
/// accounts (bank), so that genesis accounts get the first account numbers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Auth;

impl Module for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn default_genesis(&self) -> Value {
        serde_json::to_value(GenesisState::default()).unwrap_or_default()
    }

    fn init_genesis(&self, state: &mut dyn StateWrite, genesis: &Value) -> Result<(), TxError> {
        parse_genesis::<GenesisState>(genesis)?.init(state)
    }

    fn export_genesis(&self, state: &dyn StateRead) -> anyhow::Result<Value> {
        let genesis = GenesisState::export(state).map_err(|e| anyhow::anyhow!(e.log))?;
        Ok(serde_json::to_value(genesis)?)
    }

    fn query_paths(&self) -> &'static [&'static str] {
        &[query::ACCOUNT_PATH, query::ACCOUNTS_PATH]
    }

    fn query(&self, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
        match path {
            query::ACCOUNT_PATH => query::account(state, data),
            query::ACCOUNTS_PATH => query::accounts(state, data),
            other => Err(TxError::new(
                Code::UnknownRequest,
                format!("module auth has no query path '{other}'"),
            )),
        }
    }

    fn query_command(&self) -> Option<Command> {
        Some(cli::query_command())
    }

    fn query_plan(&self, matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
        cli::query_plan(matches)
    }
}
