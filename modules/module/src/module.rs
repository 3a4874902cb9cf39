//! The [`Module`] trait and the three stages of a message ([`Msg`]).

use std::fmt;

use clap::{ArgMatches, Command};
use copro_store::{StateRead, StateWrite};
use cosmrs::Any;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::address::Address;
use crate::cli::{Keys, QueryPlan, Rendered, TxPlan};
use crate::error::{Code, TxError};
use crate::event::Event;

/// What a stateless check may know: only what is the same at every height,
/// so that a verdict reached in CheckTx still holds in ProcessProposal and
/// FinalizeBlock.
#[derive(Clone, Copy, Debug)]
pub struct StatelessContext<'a> {
    /// The chain-id (proofs bind to it).
    pub chain_id: &'a str,
}

/// Which ABCI step runs a transaction. Modules must not let it change a
/// verdict (consensus steps agree on every node); it labels metrics and
/// lets a module reuse work done at an earlier step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Mempool admission (and rechecks).
    CheckTx,
    /// The `Simulate` query (gas estimation).
    Simulate,
    /// The proposer choosing txs.
    PrepareProposal,
    /// Validating a proposed block.
    ProcessProposal,
    /// Executing a decided block.
    FinalizeBlock,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 5] = [
        Stage::CheckTx,
        Stage::Simulate,
        Stage::PrepareProposal,
        Stage::ProcessProposal,
        Stage::FinalizeBlock,
    ];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::CheckTx => "check_tx",
            Stage::Simulate => "simulate",
            Stage::PrepareProposal => "prepare_proposal",
            Stage::ProcessProposal => "process_proposal",
            Stage::FinalizeBlock => "finalize_block",
        }
    }
}

/// Where a message executes.
#[derive(Clone, Copy, Debug)]
pub struct ExecContext<'a> {
    /// The chain-id.
    pub chain_id: &'a str,
    /// Height of the block the transaction goes into (in CheckTx: the next
    /// block).
    pub height: u64,
    /// The ABCI step.
    pub stage: Stage,
    /// SHA-256 of the transaction bytes (its CometBFT hash).
    pub tx_hash: [u8; 32],
    /// The transaction's gas meter: the pipeline has charged the fixed cost
    /// of the transaction; a message whose cost depends on what it runs
    /// (a contract call) charges it here.
    pub gas: &'a crate::GasMeter,
    /// Time of the block (nanoseconds since the Unix epoch, from the block
    /// header; in CheckTx the last committed block's), for contracts.
    pub block_time_nanos: u64,
}

impl ExecContext<'_> {
    /// The part of this context a stateless check may see.
    pub fn stateless(&self) -> StatelessContext<'_> {
        StatelessContext {
            chain_id: self.chain_id,
        }
    }
}

/// What executing a message produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Executed {
    /// The message response, e.g. an empty `/cosmos.bank.v1beta1.MsgSendResponse`
    /// (reported by `Simulate`).
    pub response: Any,
    /// Events, in emission order. The pipeline adds `msg_index` to each.
    pub events: Vec<Event>,
}

/// A decoded message, valid by construction (its [`Module::decode`] enforced
/// every bound a single message can check on its own).
///
/// The transaction pipeline runs, for each transaction: decode and
/// [`check_stateless`](Msg::check_stateless) of every message; the ante
/// (signature, sequence, fee); then for each message in order
/// [`check_stateful`](Msg::check_stateful) and [`execute`](Msg::execute) on
/// the state left by the messages before it. A message that fails either of
/// the last two undoes every message of the transaction; the fee stays paid.
///
/// Every method must be deterministic and must not panic on any input.
pub trait Msg: fmt::Debug + Send + Sync {
    /// The addresses that must sign the transaction carrying this message
    /// (at least one).
    fn signers(&self) -> &[Address];

    /// Pure checks: a function of the message and `ctx` only. Expensive
    /// verification (Groth16 proofs) goes here, run once per transaction and
    /// cacheable by tx hash. The default checks nothing: most messages run
    /// their stateless checks when decoded (`Module::decode`), so a bad one
    /// never exists.
    fn check_stateless(&self, _ctx: &StatelessContext<'_>) -> Result<(), TxError> {
        Ok(())
    }

    /// Read-only checks against the state the message executes on. The
    /// default checks nothing (what execution itself refuses still fails
    /// the message).
    fn check_stateful(
        &self,
        _state: &dyn StateRead,
        _ctx: &ExecContext<'_>,
    ) -> Result<(), TxError> {
        Ok(())
    }

    /// Whether a failure of this message makes its transaction unfit for a
    /// block: a proposer leaves it out, and ProcessProposal rejects a block
    /// that holds it. For messages that only a misbehaving submitter sends
    /// failing (a proof that does not verify); an ordinary failure (not
    /// enough funds) stays a failed transaction that pays its fee.
    fn fails_block(&self) -> bool {
        false
    }

    /// Applies the message. Writes land in the transaction's own overlay, so
    /// an error needs no cleanup.
    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError>;
}

/// One module of the chain. Implemented by a unit struct in the module's
/// crate (`copro_bank::Bank`) and registered in `coprod` with one line.
///
/// Messages, queries and CLI commands are optional (auth has no messages);
/// genesis is not.
pub trait Module: Send + Sync {
    /// Short name: the genesis section (`app_state.<name>`), the `module`
    /// attribute of message events, and how errors name the module.
    fn name(&self) -> &'static str;

    /// Type URLs of the messages this module decodes.
    fn type_urls(&self) -> &'static [&'static str] {
        &[]
    }

    /// Decodes a message of one of [`Self::type_urls`] into its domain type.
    /// Malformed bytes and out-of-bounds fields are errors, never panics.
    fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<Box<dyn Msg>, TxError> {
        let _ = bytes;
        Err(TxError::new(
            Code::UnknownRequest,
            format!("module {} has no message type '{type_url}'", self.name()),
        ))
    }

    /// The genesis section `coprod init` writes.
    fn default_genesis(&self) -> Value;

    /// Writes the genesis section `genesis` (the default if genesis.json has
    /// no section for this module) into `state`. See [`parse_genesis`].
    fn init_genesis(&self, state: &mut dyn StateWrite, genesis: &Value) -> Result<(), TxError>;

    /// gRPC method paths this module answers over ABCI query.
    fn query_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Answers a query on one of [`Self::query_paths`]: protobuf request in,
    /// protobuf response out, at the state of the requested height.
    fn query(&self, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
        let (_, _) = (state, data);
        Err(TxError::new(
            Code::UnknownRequest,
            format!("module {} has no query path '{path}'", self.name()),
        ))
    }

    /// The `coprod tx <command>` subcommand. Leaf commands get the common
    /// transaction flags (`--fees`, `--gas`, `--note`, ...) from `coprod`.
    fn tx_command(&self) -> Option<Command> {
        None
    }

    /// Turns the matches of [`Self::tx_command`] into the messages to sign;
    /// `keys` resolves key names to addresses.
    fn tx(&self, matches: &ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
        let (_, _) = (matches, keys);
        anyhow::bail!("module {} has no transactions", self.name())
    }

    /// A block's transactions are about to run at `stage` (ProcessProposal,
    /// or FinalizeBlock of a block this node did not process): the module may
    /// defer expensive checks it can batch (Groth16 pairings) to
    /// [`Self::end_block_checks`], answering them optimistically until then.
    /// Deferral must never change a verdict: the caller discards the run when
    /// the deferred checks fail.
    fn begin_block_checks(&self, stage: Stage) {
        let _ = stage;
    }

    /// Runs the checks deferred since [`Self::begin_block_checks`]; an error
    /// names a check that failed (the block must then be rejected, or run
    /// again without deferral).
    fn end_block_checks(&self) -> Result<(), TxError> {
        Ok(())
    }

    /// The `coprod query <command>` subcommand.
    fn query_command(&self) -> Option<Command> {
        None
    }

    /// Turns the matches of [`Self::query_command`] into a query and a way to
    /// print its answer.
    fn query_plan(&self, matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
        let _ = matches;
        anyhow::bail!("module {} has no queries", self.name())
    }

    /// This module's genesis section for `state` (what `coprod export`
    /// writes): a chain started from it holds the same module state, but for
    /// what the section says it leaves out. An error names what cannot be
    /// exported.
    fn export_genesis(&self, state: &dyn StateRead) -> anyhow::Result<Value> {
        let _ = state;
        anyhow::bail!("module {} cannot export its state to genesis", self.name())
    }

    /// `coprod genesis <command>` subcommands that edit this module's
    /// genesis section (e.g. `add-program`).
    fn genesis_commands(&self) -> Vec<Command> {
        Vec::new()
    }

    /// Runs the genesis subcommand `command` on this module's section of
    /// `app_state` (`Value::Null` when genesis has none yet), which it edits
    /// in place; returns what to print. `matches` are those of `coprod
    /// genesis` (their subcommand is `command`); `keys` resolves key names.
    fn genesis_edit(
        &self,
        command: &str,
        matches: &ArgMatches,
        section: &mut Value,
        keys: &dyn Keys,
    ) -> anyhow::Result<Rendered> {
        let (_, _, _) = (matches, section, keys);
        anyhow::bail!("module {} has no genesis command {command}", self.name())
    }
}

/// Parses a genesis section into a module's typed genesis state (code 18,
/// `InvalidRequest`, with serde's message, if it does not fit).
pub fn parse_genesis<T: DeserializeOwned>(section: &Value) -> Result<T, TxError> {
    T::deserialize(section).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("invalid genesis section: {e}"),
        )
    })
}
