//! The coprocessor as a `copro-module` [`Module`]: its messages through the
//! three stages, its genesis section, its queries. Registered in `coprod`
//! with one line.
//!
//! `MsgSubmitProof` runs its stateful checks, and only then the pairing
//! check, in `check_stateful`: the verdict depends on the chain state (the
//! public input binds the current root and the queue hashes), so it cannot
//! be a stateless check. The shared [`Verifier`] remembers verdicts, so a
//! proof checked in CheckTx is not verified again in PrepareProposal,
//! ProcessProposal or FinalizeBlock on the same node.

use std::sync::{Arc, Mutex};

use copro_module::{
    Address, Code, ContractCalls, ExecContext, Executed, Keys, Module, Msg, QueryPlan, Rendered,
    TxError, TxPlan, parse_genesis,
};
use copro_store::{StateRead, StateWrite};
use cosmrs::Any;
use prost::{Message, Name};
use serde_json::Value;

use crate::error::CoproError;
use crate::genesis::GenesisState;
use crate::msgs::CoproMsg;
use crate::record::pb;
use crate::submit::{self, CheckedSubmission, Verifier};
use crate::view::CoproRead;
use crate::{callback, cli, query, registry, requests};

/// Type URLs of the module's messages (pinned against the protos in a test).
pub const TYPE_URLS: &[&str] = &[
    "/copro.coprocessor.v1.MsgDeposit",
    "/copro.coprocessor.v1.MsgTransfer",
    "/copro.coprocessor.v1.MsgWithdraw",
    "/copro.coprocessor.v1.MsgSubmitProof",
    "/copro.coprocessor.v1.MsgRegisterProgram",
    "/copro.coprocessor.v1.MsgUpdateProgram",
    "/copro.coprocessor.v1.MsgSetProver",
    "/copro.coprocessor.v1.MsgSetLedgerKey",
];

/// Query paths of the module.
pub const QUERY_PATHS: &[&str] = &[
    "/copro.coprocessor.v1.Query/Params",
    "/copro.coprocessor.v1.Query/Root",
    "/copro.coprocessor.v1.Query/LedgerAccount",
    "/copro.coprocessor.v1.Query/Queue",
    "/copro.coprocessor.v1.Query/Program",
    "/copro.coprocessor.v1.Query/Result",
    "/copro.coprocessor.v1.Query/Results",
    "/copro.coprocessor.v1.Query/Callback",
];

/// The coprocessor module. Holds the node's [`Verifier`], shared by every
/// message it decodes, and what calls contracts back when their requests
/// settle (none: no contract can ask, so no callback is ever due).
#[derive(Debug, Default)]
pub struct Coprocessor {
    verifier: Arc<Verifier>,
    calls: Option<Arc<dyn ContractCalls>>,
}

impl Coprocessor {
    /// A module with a fresh verifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// A module using `verifier` (the node keeps a handle for its metrics).
    pub fn with_verifier(verifier: Arc<Verifier>) -> Self {
        Self {
            verifier,
            calls: None,
        }
    }

    /// This module, calling settled contract requests back through `calls`
    /// (`coprod` passes the wasm module).
    pub fn with_contract_calls(mut self, calls: Arc<dyn ContractCalls>) -> Self {
        self.calls = Some(calls);
        self
    }

    /// The node's verifier (its verdict memo and verification counters).
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }
}

/// One decoded message of the module.
#[derive(Debug)]
struct CoproTx {
    msg: CoproMsg,
    signers: [Address; 1],
    verifier: Arc<Verifier>,
    calls: Option<Arc<dyn ContractCalls>>,
    /// What `check_stateful` established for a proof, reused by `execute`.
    checked: Mutex<Option<CheckedSubmission>>,
}

pub(crate) fn any<M: Message + Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

impl CoproTx {
    /// The full check of a submission: state, then the pairing (memoized).
    fn check_submission(
        &self,
        msg: &submit::SubmitProof,
        state: &dyn StateRead,
        ctx: &ExecContext<'_>,
    ) -> Result<CheckedSubmission, CoproError> {
        let checked = submit::check_stateful_memo(
            state,
            msg.clone(),
            ctx.chain_id,
            ctx.height,
            self.verifier.hashes(),
        )?;
        self.verifier.verify(&checked, ctx.stage)?;
        Ok(checked)
    }
}

impl Msg for CoproTx {
    fn signers(&self) -> &[Address] {
        &self.signers
    }

    /// A block carrying a proof that fails any check is rejected: the
    /// registered prover must only submit proofs of the current state.
    fn fails_block(&self) -> bool {
        matches!(self.msg, CoproMsg::SubmitProof(_))
    }

    // No `check_stateless`: decoding ran every stateless check
    // (`CoproMsg::decode`).

    fn check_stateful(&self, state: &dyn StateRead, ctx: &ExecContext<'_>) -> Result<(), TxError> {
        if let CoproMsg::SubmitProof(msg) = &self.msg {
            let checked = self.check_submission(msg, state, ctx)?;
            *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some(checked);
        }
        Ok(())
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        let (response, events) = match &self.msg {
            CoproMsg::Deposit(m) => {
                let (sequence, events) = requests::deposit(state, m, ctx.height)?;
                let ledger_index = state
                    .ledger_account(m.signer.as_str())?
                    .map_or(0, |a| a.ledger_index);
                (
                    any(&pb::MsgDepositResponse {
                        sequence,
                        ledger_index,
                    }),
                    events,
                )
            }
            CoproMsg::Transfer(m) => {
                let (sequence, events) = requests::transfer(state, m, ctx.height)?;
                (any(&pb::MsgTransferResponse { sequence }), events)
            }
            CoproMsg::Withdraw(m) => {
                let (sequence, events) = requests::withdraw(state, m, ctx.height)?;
                (any(&pb::MsgWithdrawResponse { sequence }), events)
            }
            CoproMsg::SetLedgerKey(m) => {
                let (sequence, events) = requests::set_ledger_key(state, m, ctx.height)?;
                (any(&pb::MsgSetLedgerKeyResponse { sequence }), events)
            }
            CoproMsg::SubmitProof(m) => {
                let remembered = self
                    .checked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let checked = match remembered {
                    Some(c) => c,
                    None => self.check_submission(m, &*state, ctx)?,
                };
                let (result_id, mut events) = submit::apply_memo(
                    state,
                    &checked,
                    ctx.height,
                    ctx.tx_hash,
                    self.verifier.hashes(),
                )?;
                if let Some(calls) = &self.calls {
                    events.extend(callback::run_settled(
                        state,
                        calls.as_ref(),
                        ctx,
                        &checked,
                        result_id,
                    )?);
                }
                (any(&pb::MsgSubmitProofResponse { result_id }), events)
            }
            CoproMsg::RegisterProgram { authority, spec } => {
                let events = registry::register(state, authority.as_str(), spec, ctx.height)?;
                (any(&pb::MsgRegisterProgramResponse {}), events)
            }
            CoproMsg::UpdateProgram { authority, spec } => {
                let (frozen_version, events) =
                    registry::update(state, authority.as_str(), spec, ctx.height)?;
                (
                    any(&pb::MsgUpdateProgramResponse { frozen_version }),
                    events,
                )
            }
            CoproMsg::SetProver { authority, prover } => {
                let events = registry::set_prover(state, authority.as_str(), prover.as_str())?;
                (any(&pb::MsgSetProverResponse {}), events)
            }
        };
        Ok(Executed { response, events })
    }
}

impl Module for Coprocessor {
    fn name(&self) -> &'static str {
        "coprocessor"
    }

    fn type_urls(&self) -> &'static [&'static str] {
        TYPE_URLS
    }

    fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<Box<dyn Msg>, TxError> {
        let msg = CoproMsg::decode(type_url, bytes).ok_or_else(|| {
            TxError::new(
                Code::UnknownRequest,
                format!("module coprocessor has no message type '{type_url}'"),
            )
        })??;
        Ok(Box::new(CoproTx {
            signers: [msg.signer().clone()],
            msg,
            verifier: Arc::clone(&self.verifier),
            calls: self.calls.clone(),
            checked: Mutex::new(None),
        }))
    }

    fn default_genesis(&self) -> Value {
        serde_json::to_value(GenesisState::default()).unwrap_or_default()
    }

    fn init_genesis(&self, state: &mut dyn StateWrite, genesis: &Value) -> Result<(), TxError> {
        Ok(parse_genesis::<GenesisState>(genesis)?.init(state)?)
    }

    fn export_genesis(&self, state: &dyn StateRead) -> anyhow::Result<Value> {
        Ok(serde_json::to_value(GenesisState::export(state)?)?)
    }

    fn query_paths(&self) -> &'static [&'static str] {
        QUERY_PATHS
    }

    fn begin_block_checks(&self, stage: copro_module::Stage) {
        self.verifier.begin_deferred(stage);
    }

    fn end_block_checks(&self) -> Result<(), TxError> {
        Ok(self.verifier.end_deferred()?)
    }

    fn query(&self, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
        match query::handle(state, path, data) {
            Some(answer) => Ok(answer?),
            None => Err(TxError::new(
                Code::UnknownRequest,
                format!("module coprocessor has no query path '{path}'"),
            )),
        }
    }

    fn tx_command(&self) -> Option<clap::Command> {
        Some(cli::tx_command())
    }

    fn tx(&self, matches: &clap::ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
        cli::tx(matches, keys)
    }

    fn query_command(&self) -> Option<clap::Command> {
        Some(cli::query_command())
    }

    fn query_plan(&self, matches: &clap::ArgMatches) -> anyhow::Result<QueryPlan> {
        cli::query_plan(matches)
    }

    fn genesis_commands(&self) -> Vec<clap::Command> {
        cli::genesis_commands()
    }

    fn genesis_edit(
        &self,
        _command: &str,
        matches: &clap::ArgMatches,
        section: &mut Value,
        keys: &dyn Keys,
    ) -> anyhow::Result<Rendered> {
        cli::genesis_edit(matches, section, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_urls_and_query_paths_are_the_protos() {
        let from_protos: Vec<String> = crate::msgs::type_urls().to_vec();
        assert_eq!(
            TYPE_URLS,
            from_protos.iter().map(String::as_str).collect::<Vec<_>>()
        );
        for path in QUERY_PATHS {
            assert!(path.starts_with(query::PREFIX));
        }
    }
}
