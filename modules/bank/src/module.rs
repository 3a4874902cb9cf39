//! The bank [`Module`]: `MsgSend`, genesis balances, the bank queries and
//! `coprod tx bank` / `coprod query bank`.

use clap::{ArgMatches, Command};
use copro_module::{Code, Keys, Module, Msg, QueryPlan, TxError, TxPlan, parse_genesis};
use copro_store::{StateRead, StateWrite};
use serde_json::Value;

use crate::genesis::GenesisState;
use crate::msg_send::MsgSend;
use crate::{MSG_SEND_TYPE_URL, cli, query};

/// The bank module. Its genesis creates an account for every funded address
/// that auth's genesis does not list, so it is registered after auth.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bank;

impl Module for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn type_urls(&self) -> &'static [&'static str] {
        &[MSG_SEND_TYPE_URL]
    }

    fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<Box<dyn Msg>, TxError> {
        match type_url {
            MSG_SEND_TYPE_URL => Ok(Box::new(MsgSend::decode(bytes)?)),
            other => Err(TxError::new(
                Code::UnknownRequest,
                format!("module bank has no message type '{other}'"),
            )),
        }
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
        &[
            query::BALANCE_PATH,
            query::ALL_BALANCES_PATH,
            query::TOTAL_SUPPLY_PATH,
            query::SPENDABLE_BALANCES_PATH,
            query::SUPPLY_OF_PATH,
            query::PARAMS_PATH,
            query::DENOM_METADATA_PATH,
        ]
    }

    fn query(&self, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
        match path {
            query::BALANCE_PATH => query::balance(state, data),
            query::ALL_BALANCES_PATH => query::all_balances(state, data),
            query::TOTAL_SUPPLY_PATH => query::total_supply(state, data),
            query::SPENDABLE_BALANCES_PATH => query::spendable_balances(state, data),
            query::SUPPLY_OF_PATH => query::supply_of(state, data),
            query::PARAMS_PATH => query::params(state, data),
            query::DENOM_METADATA_PATH => query::denom_metadata(state, data),
            other => Err(TxError::new(
                Code::UnknownRequest,
                format!("module bank has no query path '{other}'"),
            )),
        }
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
