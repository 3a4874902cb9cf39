//! The ABCI 2.0 application: one [`App`] that handles every request in order.
//!
//! Heights and versions: the store version `H` holds the state after block
//! `H` (version 0 = genesis, written at InitChain). The app hash returned by
//! FinalizeBlock of block `H` is the root of version `H`; CometBFT puts it in
//! the header of block `H + 1`. Info reports the last *committed* version.

use copro_module::{Event, Registry, Stage, StatelessContext, TxError};
use copro_store::{PendingCommit, Snapshot, StateDelta, StateRead, StateWrite, Storage};
use serde_json::Value;
use tendermint::AppHash;
use tendermint::abci::types::ExecTxResult;
use tendermint::abci::{Code as AbciCode, Event as AbciEvent, EventAttributeIndexExt};
use tendermint::block::Height;
use tendermint::v0_38::abci::{request, response};

use crate::query;
use crate::tx::{CheckedTx, Context, ExecError, GasPrice, Mode, TxOutcome, execute};

/// The application version `Info` reports to CometBFT (the protocol version
/// of the state machine; raise it with any change of consensus rules).
pub const APP_VERSION: u64 = 1;

/// Store keys of the app itself (besides the modules' `state_key`s).
pub mod state_key {
    /// `app/chain_id` → the chain-id (UTF-8), written at genesis. Block
    /// execution verifies signatures against it, so it survives restarts.
    pub fn chain_id() -> Vec<u8> {
        b"app/chain_id".to_vec()
    }

    /// `app/genesis_hash` → sha256(chain_id ‖ 0x00 ‖ app_state bytes), so a
    /// repeated InitChain can tell whether the genesis changed.
    pub fn genesis_hash() -> Vec<u8> {
        b"app/genesis_hash".to_vec()
    }
}

/// Parses the genesis `app_state` bytes: one section per module, keyed by
/// module name, each optional; a section no module owns is refused when the
/// registry applies it.
///
/// ```json
/// {"auth": {"accounts": [{"address": "copro1..."}]},
///  "bank": {"balances": [{"address": "copro1...",
///                         "coins": [{"denom": "ucopro", "amount": "1000"}]}]}}
/// ```
/// Empty bytes and `null` are an empty `app_state` (every module's default).
pub fn parse_app_state(bytes: &[u8]) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// A local fault (store failure, genesis misconfiguration) that must stop
/// the node: answered with an ABCI exception, on which CometBFT halts (see
/// [`crate::service`]). Never caused by transaction or query contents.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

impl From<copro_store::StoreError> for Fatal {
    fn from(e: copro_store::StoreError) -> Self {
        Fatal(e.to_string())
    }
}

/// The application.
pub struct App {
    storage: Storage,
    /// The chain's modules (see [`crate::modules`]).
    registry: Registry,
    min_gas_price: GasPrice,
    /// CheckTx state: the committed state plus the txs accepted into the
    /// mempool since, so one sender can queue several txs per block. Reset
    /// at Commit (CometBFT then rechecks the mempool).
    check_state: Option<StateDelta<Snapshot>>,
    /// Block hashed by FinalizeBlock, written at Commit.
    pending: Option<PendingCommit>,
    /// The last proposal ProcessProposal accepted, executed: FinalizeBlock
    /// reuses it when block hash and height match (so signatures are
    /// verified once per block, not twice).
    proposal: Option<(tendermint::Hash, u64, BlockRun)>,
    /// Signatures that verified, so rechecks, PrepareProposal and
    /// ProcessProposal do not verify the same signature again.
    sig_cache: crate::sigcache::SignatureCache,
    /// Time of the last finalized block (ns since the epoch): what
    /// contracts see as the block time in CheckTx. Not consensus state:
    /// CheckTx verdicts are local.
    last_block_time_nanos: u64,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Result of executing the txs of a block.
struct BlockRun {
    delta: StateDelta<Snapshot>,
    txs: Vec<TxRun>,
}

/// Result of one tx of a block.
struct TxRun {
    gas_wanted: u64,
    gas_used: u64,
    /// Events on success; error and the events of the ante on failure.
    result: Result<Vec<Event>, (TxError, Vec<Event>)>,
    /// Undecodable or failed ante: such a tx does not belong in a block.
    invalid: bool,
}

impl TxRun {
    fn into_exec_result(self) -> ExecTxResult {
        let gas_wanted = i64::try_from(self.gas_wanted).unwrap_or(i64::MAX);
        let gas_used = i64::try_from(self.gas_used).unwrap_or(i64::MAX);
        match self.result {
            Ok(events) => ExecTxResult {
                code: AbciCode::Ok,
                gas_wanted,
                gas_used,
                events: to_abci_events(events),
                ..Default::default()
            },
            Err((e, events)) => ExecTxResult {
                code: AbciCode::from(e.code.value()),
                codespace: e.codespace().to_string(),
                log: e.log,
                gas_wanted,
                gas_used,
                events: to_abci_events(events),
                ..Default::default()
            },
        }
    }
}

fn to_abci_events(events: Vec<Event>) -> Vec<AbciEvent> {
    events
        .into_iter()
        .map(|e| AbciEvent::new(e.kind, e.attributes.into_iter().map(|a| a.index())))
        .collect()
}

fn app_hash(root: [u8; 32]) -> AppHash {
    AppHash::try_from(root.to_vec()).unwrap_or_default()
}

fn height_u64(h: Height) -> u64 {
    h.value()
}

/// A block time as nanoseconds since the Unix epoch (0 before the epoch,
/// saturating in 2554).
fn time_nanos(t: tendermint::Time) -> u64 {
    u64::try_from(t.unix_timestamp_nanos().max(0)).unwrap_or(u64::MAX)
}

impl App {
    /// An app over `storage` with the node's CheckTx fee policy, running
    /// the chain's modules ([`crate::modules::registry`]), contracts in a
    /// VM caching in a temporary directory (tests; a node uses
    /// [`App::with_wasm`]).
    pub fn new(storage: Storage, min_gas_price: GasPrice) -> Self {
        Self::with_wasm(storage, min_gas_price, copro_wasm::Wasm::default())
    }

    /// [`App::new`] running contracts in `wasm` (the node's VM, caching
    /// compiled contracts under its home).
    pub fn with_wasm(storage: Storage, min_gas_price: GasPrice, wasm: copro_wasm::Wasm) -> Self {
        Self {
            storage,
            registry: crate::modules::registry_with(
                std::sync::Arc::new(copro_coprocessor::submit::Verifier::default().observed(
                    Box::new(|stage, n| {
                        if let Some(m) = crate::metrics::metrics() {
                            m.groth16_verifications
                                .with_label_values(&[stage.label()])
                                .inc_by(n);
                        }
                    }),
                )),
                wasm,
            ),
            min_gas_price,
            check_state: None,
            pending: None,
            proposal: None,
            sig_cache: crate::sigcache::SignatureCache::default(),
            last_block_time_nanos: 0,
        }
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The modules.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The chain-id stored at genesis.
    pub(crate) fn chain_id(state: &impl StateRead) -> Result<String, TxError> {
        let raw = state
            .get_raw(&state_key::chain_id())?
            .ok_or_else(|| TxError::internal("chain not initialised (no InitChain yet)"))?;
        String::from_utf8(raw).map_err(|_| TxError::internal("corrupt chain-id"))
    }

    /// InitChain: writes the genesis state as version 0 and returns its root.
    pub fn init_chain(&mut self, req: request::InitChain) -> Result<response::InitChain, Fatal> {
        if req.initial_height.value() != 1 {
            return Err(Fatal(format!(
                "initial_height {} is not supported: copro genesis must start at height 1",
                req.initial_height
            )));
        }
        match self.storage.latest_version()? {
            None => {}
            Some(0) => {
                // Crash between InitChain and the first Commit: genesis is
                // already on disk and is a pure function of genesis.json.
                let stored = self
                    .storage
                    .latest_snapshot()?
                    .get_raw(&state_key::genesis_hash())?;
                if stored.as_deref() != Some(genesis_digest(&req).as_slice()) {
                    return Err(Fatal(
                        "the coprod store holds a different genesis than CometBFT's genesis.json; \
                         delete the coprod store (app.toml [store] path) and restart"
                            .into(),
                    ));
                }
                let root = self
                    .storage
                    .root_hash(0)?
                    .ok_or_else(|| Fatal("genesis version missing".into()))?;
                tracing::info!(app_hash = %hex::encode_upper(root), "genesis already written; reusing it");
                return Ok(response::InitChain {
                    consensus_params: versioned_params(&req),
                    validators: vec![],
                    app_hash: app_hash(root),
                });
            }
            Some(v) => {
                return Err(Fatal(format!(
                    "CometBFT asked for InitChain but the app store is already at height {v}; \
                     the CometBFT data and the coprod store (app.toml [store] path) disagree: \
                     reset both or neither"
                )));
            }
        }
        let app_state = parse_app_state(&req.app_state_bytes)
            .map_err(|e| Fatal(format!("genesis app_state is invalid: {e}")))?;
        let mut delta = StateDelta::new(self.storage.latest_snapshot()?);
        delta.put_raw(state_key::chain_id(), req.chain_id.clone().into_bytes());
        delta.put_raw(state_key::genesis_hash(), genesis_digest(&req).to_vec());
        self.registry
            .init_genesis(&mut delta, &app_state)
            .map_err(|e| Fatal(e.log))?;
        let (root, pending) = self.storage.compute_root(delta.changes(), 0)?;
        self.storage.commit(pending)?;
        self.check_state = None;
        tracing::info!(chain_id = %req.chain_id, app_hash = %hex::encode_upper(root), "genesis written");
        Ok(response::InitChain {
            consensus_params: versioned_params(&req),
            validators: vec![],
            app_hash: app_hash(root),
        })
    }

    /// Info: last committed height and app hash.
    pub fn info(&self) -> Result<response::Info, Fatal> {
        let (height, hash) = match self.storage.latest_version()? {
            Some(v) => (
                v,
                self.storage.root_hash(v)?.map(app_hash).unwrap_or_default(),
            ),
            None => (0, AppHash::default()),
        };
        Ok(response::Info {
            data: "coprod".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            app_version: APP_VERSION,
            last_block_height: Height::try_from(height).map_err(|e| Fatal(e.to_string()))?,
            last_block_app_hash: hash,
        })
    }

    /// CheckTx: decode, check and execute on the check-state; a tx that
    /// fails anywhere (including its messages) is refused and changes nothing.
    pub fn check_tx(&mut self, req: request::CheckTx) -> response::CheckTx {
        let resp = self.check_tx_inner(req);
        count_check_tx(&resp);
        resp
    }

    /// Refuses a CheckTx request that never reached the pipeline (it could
    /// not be read, or the handler failed), counted like any other answer.
    pub fn refuse_tx(&self, e: TxError) -> response::CheckTx {
        let resp = check_tx_error(e, 0, 0);
        count_check_tx(&resp);
        resp
    }

    fn check_tx_inner(&mut self, req: request::CheckTx) -> response::CheckTx {
        let check_state = match ensure_check_state(&mut self.check_state, &self.storage) {
            Ok(s) => s,
            Err(e) => return check_tx_error(TxError::internal(e), 0, 0),
        };
        let (chain_id, height) = match (Self::chain_id(&*check_state), check_state.base().version())
        {
            (Ok(c), Some(v)) => (c, v + 1),
            (Err(e), _) => return check_tx_error(e, 0, 0),
            (_, None) => return check_tx_error(TxError::internal("chain not initialised"), 0, 0),
        };
        let stateless = StatelessContext {
            chain_id: &chain_id,
        };
        let tx = match CheckedTx::decode(&self.registry, &stateless, &req.tx) {
            Ok(tx) => tx,
            Err(e) => return check_tx_error(e, 0, 0),
        };
        let gas_wanted = i64::try_from(tx.gas_limit).unwrap_or(i64::MAX);
        let ctx = Context {
            chain_id: &chain_id,
            height,
            mode: Mode::Check(&self.min_gas_price),
            sig_cache: Some(&self.sig_cache),
            block_time_nanos: self.last_block_time_nanos,
        };
        let (changes, gas_used) = {
            let mut delta = StateDelta::new(&*check_state);
            match execute(&mut delta, &tx, &ctx) {
                Ok(outcome) => (delta.into_changes(), outcome.gas_used),
                Err(e) => {
                    let gas_used = match &e {
                        ExecError::Msg(_, outcome) => outcome.gas_used,
                        ExecError::Ante(_) => tx.gas_used,
                    };
                    let gas_used = i64::try_from(gas_used).unwrap_or(i64::MAX);
                    return check_tx_error(e.error().clone(), gas_wanted, gas_used);
                }
            }
        };
        let gas_used = i64::try_from(gas_used).unwrap_or(i64::MAX);
        check_state.apply(changes);
        response::CheckTx {
            code: AbciCode::Ok,
            gas_wanted,
            gas_used,
            sender: tx.signer.to_string(),
            ..Default::default()
        }
    }

    /// Context of executing a block's txs (PrepareProposal, ProcessProposal,
    /// FinalizeBlock): no local fee policy, shared signature cache.
    fn block_context<'a>(
        &'a self,
        chain_id: &'a str,
        height: u64,
        stage: Stage,
        block_time_nanos: u64,
    ) -> Context<'a> {
        Context {
            chain_id,
            height,
            mode: Mode::Deliver(stage),
            sig_cache: Some(&self.sig_cache),
            block_time_nanos,
        }
    }

    /// [`Self::run_block`] with the modules' expensive checks deferred and
    /// batched (the Groth16 pairings of every proof not verified before);
    /// the run is only good if the deferred checks pass.
    fn run_block_batched(
        &self,
        txs: &[bytes::Bytes],
        height: u64,
        stage: Stage,
        time: u64,
    ) -> Result<(BlockRun, Result<(), TxError>), Fatal> {
        self.registry.begin_block_checks(stage);
        let run = self.run_block(txs, height, stage, time);
        // Always ended, so no deferral outlives the block.
        let deferred = self.registry.end_block_checks();
        Ok((run?, deferred))
    }

    /// Executes `txs` as block `height` on the committed state.
    fn run_block(
        &self,
        txs: &[bytes::Bytes],
        height: u64,
        stage: Stage,
        time: u64,
    ) -> Result<BlockRun, Fatal> {
        let snapshot = self.storage.latest_snapshot()?;
        let expected = snapshot.version().map_or(0, |v| v + 1);
        if height != expected {
            return Err(Fatal(format!(
                "asked to execute block {height} but the store is at height {:?}",
                snapshot.version()
            )));
        }
        let mut delta = StateDelta::new(snapshot);
        let chain_id = Self::chain_id(&delta).map_err(|e| Fatal(e.log))?;
        let ctx = self.block_context(&chain_id, height, stage, time);
        let mut runs = Vec::with_capacity(txs.len());
        for raw in txs {
            let tx = match CheckedTx::decode(&self.registry, &ctx.stateless(), raw) {
                Ok(tx) => tx,
                Err(e) => {
                    runs.push(TxRun {
                        gas_wanted: 0,
                        gas_used: 0,
                        result: Err((e, vec![])),
                        invalid: true,
                    });
                    continue;
                }
            };
            let (changes, result, invalid, gas_used) = {
                let mut tx_delta = StateDelta::new(&delta);
                match execute(&mut tx_delta, &tx, &ctx) {
                    Ok(TxOutcome {
                        events, gas_used, ..
                    }) => (Some(tx_delta.into_changes()), Ok(events), false, gas_used),
                    Err(ExecError::Msg(e, partial)) => (
                        Some(tx_delta.into_changes()),
                        Err((e, partial.events)),
                        tx.fails_block(),
                        partial.gas_used,
                    ),
                    Err(ExecError::Ante(e)) => (None, Err((e, vec![])), true, 0),
                }
            };
            if let Some(changes) = changes {
                delta.apply(changes);
            }
            runs.push(TxRun {
                gas_wanted: tx.gas_limit,
                gas_used: if invalid { 0 } else { gas_used },
                result,
                invalid,
            });
        }
        Ok(BlockRun { delta, txs: runs })
    }

    /// PrepareProposal: keeps, in mempool order, the txs that fit in
    /// `max_tx_bytes` and still pass decoding and the ante checks when
    /// executed in sequence; drops the others. Sizes are counted as CometBFT
    /// checks them (`types.Txs.Validate`): each tx's protobuf size inside
    /// the block's `Data` (bytes + field tag + length varint).
    pub fn prepare_proposal(
        &self,
        req: request::PrepareProposal,
    ) -> Result<response::PrepareProposal, Fatal> {
        let height = height_u64(req.height);
        let mut budget = u64::try_from(req.max_tx_bytes).unwrap_or(0);
        let snapshot = self.storage.latest_snapshot()?;
        let mut delta = StateDelta::new(snapshot);
        let chain_id = Self::chain_id(&delta).map_err(|e| Fatal(e.log))?;
        let ctx = self.block_context(
            &chain_id,
            height,
            Stage::PrepareProposal,
            time_nanos(req.time),
        );
        let mut kept = Vec::new();
        for raw in req.txs {
            let len = proto_size_in_block(raw.len());
            if len > budget {
                continue;
            }
            let Ok(tx) = CheckedTx::decode(&self.registry, &ctx.stateless(), &raw) else {
                continue;
            };
            let changes = {
                let mut tx_delta = StateDelta::new(&delta);
                match execute(&mut tx_delta, &tx, &ctx) {
                    Err(ExecError::Msg(e, _)) if tx.fails_block() => {
                        tracing::debug!(tx = %tx.hash_hex(), error = %e, "dropping a failing proof from the proposal");
                        None
                    }
                    Ok(_) | Err(ExecError::Msg(..)) => Some(tx_delta.into_changes()),
                    Err(ExecError::Ante(e)) => {
                        tracing::debug!(tx = %tx.hash_hex(), error = %e, "dropping tx from proposal");
                        None
                    }
                }
            };
            if let Some(changes) = changes {
                delta.apply(changes);
                budget -= len;
                kept.push(raw);
            }
        }
        Ok(response::PrepareProposal { txs: kept })
    }

    /// ProcessProposal: accepts the block iff every tx decodes and passes
    /// the ante checks in order. Deterministic; never `Unknown`.
    pub fn process_proposal(
        &mut self,
        req: request::ProcessProposal,
    ) -> Result<response::ProcessProposal, Fatal> {
        let height = height_u64(req.height);
        let (run, deferred) = self.run_block_batched(
            &req.txs,
            height,
            Stage::ProcessProposal,
            time_nanos(req.time),
        )?;
        if let Err(e) = deferred {
            tracing::warn!(height = %req.height, error = %e, "rejecting proposal: a proof does not verify");
            return Ok(response::ProcessProposal::Reject);
        }
        let bad = run.txs.iter().position(|t| t.invalid);
        Ok(match bad {
            None => {
                self.proposal =
                    (req.hash != tendermint::Hash::None).then_some((req.hash, height, run));
                response::ProcessProposal::Accept
            }
            Some(i) => {
                tracing::warn!(height = %req.height, tx_index = i, "rejecting proposal with an invalid tx");
                response::ProcessProposal::Reject
            }
        })
    }

    /// FinalizeBlock: executes the block and hashes its state (nothing
    /// written until Commit).
    pub fn finalize_block(
        &mut self,
        req: request::FinalizeBlock,
    ) -> Result<response::FinalizeBlock, Fatal> {
        let timer = crate::metrics::metrics().map(|m| m.finalize_seconds.start_timer());
        let height = height_u64(req.height);
        let time = time_nanos(req.time);
        let run = match self.proposal.take() {
            Some((hash, h, run)) if hash == req.hash && h == height => {
                tracing::debug!(height, "reusing the execution of ProcessProposal");
                run
            }
            _ => match self.run_block_batched(&req.txs, height, Stage::FinalizeBlock, time)? {
                (run, Ok(())) => run,
                // A decided block with a bad proof: run it again with every
                // proof checked on its own, so that tx fails exactly.
                (_, Err(e)) => {
                    tracing::warn!(height, error = %e, "a decided block holds a bad proof");
                    self.run_block(&req.txs, height, Stage::FinalizeBlock, time)?
                }
            },
        };
        let tx_results: Vec<ExecTxResult> =
            run.txs.into_iter().map(TxRun::into_exec_result).collect();
        if let Some(m) = crate::metrics::metrics() {
            for r in &tx_results {
                m.block_txs
                    .with_label_values(&[&r.code.value().to_string()])
                    .inc();
            }
        }
        let (root, pending) = self.storage.compute_root(run.delta.changes(), height)?;
        self.pending = Some(pending);
        self.last_block_time_nanos = time;
        if let Some(t) = timer {
            t.observe_duration();
        }
        tracing::info!(height, txs = req.txs.len(), app_hash = %hex::encode_upper(root), "finalized block");
        Ok(response::FinalizeBlock {
            events: vec![],
            tx_results,
            validator_updates: vec![],
            consensus_param_updates: None,
            app_hash: app_hash(root),
        })
    }

    /// Commit: writes the finalized block atomically; resets the check-state.
    pub fn commit(&mut self) -> Result<response::Commit, Fatal> {
        let pending = self
            .pending
            .take()
            .ok_or_else(|| Fatal("Commit without FinalizeBlock".into()))?;
        let height = pending.version();
        self.storage.commit(pending)?;
        self.check_state = None;
        self.proposal = None;
        if let Some(m) = crate::metrics::metrics() {
            m.committed_height
                .set(i64::try_from(height).unwrap_or(i64::MAX));
        }
        tracing::debug!(height, "committed");
        Ok(response::Commit {
            data: Default::default(),
            retain_height: Height::from(0u32),
        })
    }

    /// Query: gRPC-style paths and `/store/key` (see [`query`]).
    pub fn query(&self, req: request::Query) -> response::Query {
        query::handle(&self.storage, &self.registry, req)
    }
}

/// Applies a genesis `app_state` to an empty scratch store (as InitChain
/// would) and returns the number of accounts created. Used by
/// `coprod genesis validate`. (The genesis app hash itself also covers the
/// exact bytes of `app_state` in genesis.json, so it is not predicted here.)
pub fn validate_genesis(
    registry: &Registry,
    chain_id: &str,
    app_state: &[u8],
) -> Result<u64, String> {
    use copro_auth::AuthRead;
    let app_state = parse_app_state(app_state)?;
    let dir = std::env::temp_dir().join(format!("coprod-genesis-check-{}", std::process::id()));
    let result = (|| {
        let storage = Storage::open(dir.join("store.redb")).map_err(|e| e.to_string())?;
        let mut delta = StateDelta::new(storage.latest_snapshot().map_err(|e| e.to_string())?);
        delta.put_raw(state_key::chain_id(), chain_id.as_bytes().to_vec());
        registry
            .init_genesis(&mut delta, &app_state)
            .map_err(|e| e.log)?;
        let accounts = delta.next_account_number().map_err(|e| e.log)?;
        Ok::<_, String>((storage, delta.into_changes(), accounts))
    })();
    let out = result.and_then(|(storage, changes, accounts)| {
        storage
            .compute_root(&changes, 0)
            .map_err(|e| e.to_string())?;
        Ok(accounts)
    });
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Size of one tx as a `repeated bytes txs = 1` field: tag + varint length
/// + bytes (CometBFT's `ComputeProtoSizeForTxs` for a single tx).
pub fn proto_size_in_block(len: usize) -> u64 {
    let len = len as u64;
    let mut varint = 1;
    let mut rest = len >> 7;
    while rest > 0 {
        varint += 1;
        rest >>= 7;
    }
    1 + varint + len
}

/// Genesis's consensus parameters with `version.app` set to
/// [`APP_VERSION`] when they say otherwise (CometBFT's genesis says 0), as
/// the Cosmos SDK keeps them: CometBFT's state then holds the version Info
/// reports and block headers carry, which `cometbft rollback` restores from
/// the parameters (with 0 there, a rolled-back node refuses to start:
/// "wrong Block.Header.Version"). `None` (no change) when they agree.
fn versioned_params(req: &request::InitChain) -> Option<tendermint::consensus::Params> {
    let version = tendermint::consensus::params::VersionParams { app: APP_VERSION };
    if req.consensus_params.version.as_ref() == Some(&version) {
        return None;
    }
    Some(tendermint::consensus::Params {
        version: Some(version),
        ..req.consensus_params.clone()
    })
}

fn genesis_digest(req: &request::InitChain) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(req.chain_id.as_bytes());
    h.update([0u8]);
    h.update(&req.app_state_bytes);
    h.finalize().into()
}

fn ensure_check_state<'a>(
    slot: &'a mut Option<StateDelta<Snapshot>>,
    storage: &Storage,
) -> Result<&'a mut StateDelta<Snapshot>, Fatal> {
    if slot.is_none() {
        *slot = Some(StateDelta::new(storage.latest_snapshot()?));
    }
    slot.as_mut()
        .ok_or_else(|| Fatal("check state missing".into()))
}

fn count_check_tx(resp: &response::CheckTx) {
    if let Some(m) = crate::metrics::metrics() {
        m.check_tx
            .with_label_values(&[&resp.code.value().to_string()])
            .inc();
    }
}

fn check_tx_error(e: TxError, gas_wanted: i64, gas_used: i64) -> response::CheckTx {
    response::CheckTx {
        code: AbciCode::from(e.code.value()),
        codespace: e.codespace().to_string(),
        log: e.log,
        gas_wanted,
        gas_used,
        ..Default::default()
    }
}
