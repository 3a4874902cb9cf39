//! `copro-prover run`: the prover daemon.
//!
//! One coordinator task owns every piece of state and runs [`Daemon::step`]
//! on each new block (websocket `NewBlock`, with a polling fallback) and on
//! each finished proof:
//!
//! 1. read the chain at the latest height the light client verifies: the
//!    ledger root, the queue state and every pending request, all checked
//!    against the verified app hash ([`crate::chain`]); any failure is a
//!    refusal to prove, shown in `/status` and the log;
//! 2. bring the ledger replica up to the chain: the requests the chain has
//!    settled since the replica's sync point are executed again over it
//!    (from the job store's copy of them) and the result must give the
//!    chain's proven root, or the daemon halts loudly;
//! 3. reconcile jobs with the chain: a job whose range is settled is
//!    `committed`; a submitted job not included after a while is broadcast
//!    again; a failed one is retried after its backoff;
//! 4. plan: cut a batch when `max_entries` requests wait or the oldest has
//!    waited `flush_after_ms`, execute it natively on the speculative ledger
//!    (the replica plus the batches still in flight) and hand the witness to
//!    a proving worker, so the next witness is built while a proof runs;
//! 5. submit the proved batch whose turn it is (its range starts where the
//!    chain's queue is settled and its old root is the chain's root).
//!
//! Exactly-once settlement is the chain's rule (a proof must continue the
//! queue from `settled_up_to` over the current root); the daemon's part is
//! to lose nothing and never resubmit what the chain already settled, which
//! it reads from the proven queue state, not from its own records.

pub mod api;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod pool;
pub mod submit;
mod v2;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bellman::groth16;
use bls12_381::Bls12;
use copro_circuits::encoding::vk_hash;
use copro_circuits::field::{Fr, fr_to_hex};
use copro_circuits::smt::{Arity, NodeStore, TreeConfig};
use copro_circuits::transfer::{Ledger, TransferOutcome, TransferParams};
use copro_coprocessor::record::{circuit_entry, fr_bytes, fr_of, pb};
use copro_coprocessor::{CODESPACE, CoproCode, settle, state_key};
use ff::Field;
use prost::Message;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::chain::{TrustRoot, VerifiedChain};
use crate::replica::{Replica, SpeculativeLedger};
use api::{ApiState, Status};
use config::Config;
use jobs::{Job, JobState, JobStore};
use metrics::{Metrics, reason};
use submit::{Broadcast, Inclusion, Submitter};

/// Longest wait between two steps when no block event arrives.
const POLL_INTERVAL: Duration = Duration::from_millis(1_000);
/// Longest retry delay of a failed job.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Rounds of [`POLL_INTERVAL`] the daemon waits at start for its program to
/// be provable and active before it gives up.
const PROGRAM_WAIT_ROUNDS: u32 = 20;
/// Store the light client's latest header as the next trust root every
/// this many heights.
const TRUST_SAVE_EVERY: u64 = 20;

/// Wall-clock seconds, for job records and retry times. The prover is not
/// consensus code: nothing the chain decides depends on its clock.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn root_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A finished proof, from a worker to the coordinator.
#[derive(Debug)]
struct ProofDone {
    job: u64,
    result: Result<pb::MsgSubmitProof, String>,
    elapsed: Duration,
}

/// What one step read from the chain, all of it verified.
#[derive(Debug, Clone)]
struct ChainView {
    height: u64,
    root: Vec<u8>,
    queue: pb::QueueState,
    entries: Vec<pb::QueueEntry>,
}

/// The daemon.
pub struct Daemon {
    config: Config,
    chain: VerifiedChain,
    jobs: Arc<JobStore>,
    replica: Replica,
    /// Replica plus the batches executed but not settled; `None`: rebuild
    /// from the replica at the next step.
    spec: Option<SpeculativeLedger>,
    /// Queue position after the last batch executed on `spec`.
    spec_end: u64,
    /// Queue hash chain value at `spec_end`.
    spec_queue_hash: Vec<u8>,
    params: TransferParams,
    program: (String, u32),
    max_entries: usize,
    key: Arc<groth16::Parameters<Bls12>>,
    submitter: Submitter,
    status: Arc<RwLock<Status>>,
    metrics: Metrics,
    proofs_tx: mpsc::UnboundedSender<ProofDone>,
    proofs_rx: mpsc::UnboundedReceiver<ProofDone>,
    workers: Arc<Semaphore>,
    /// When each unsettled request was first seen (latency, batch flush).
    first_seen: BTreeMap<u64, Instant>,
    /// Set when the replica disagrees with the chain: nothing is proved
    /// again until an operator looks.
    halted: Option<String>,
    last_trust_saved: u64,
    last_logged_refusal: String,
    /// Queue entries below this sequence are in the job store already.
    entries_stored_up_to: u64,
    /// `transfer` version 2's shape when the program has off-chain slots
    /// (`None`: version 1).
    v2: Option<copro_circuits::transfer_v2::TransferV2Params>,
    /// What `POST /transfers` checks against.
    intake: Arc<RwLock<v2::IntakeView>>,
    /// The replica state `intake` was last built from (rebuilt only when
    /// the replica moves: it is a scan of every account).
    intake_at: Option<crate::replica::SyncPoint>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("chain", &self.chain)
            .field("spec_end", &self.spec_end)
            .finish_non_exhaustive()
    }
}

/// Runs the daemon until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let status = Arc::new(RwLock::new(Status {
        state: "starting".into(),
        chain_id: config.chain_id.clone(),
        rpc: config.rpc.clone(),
        workers: config.proving.workers,
        ..Status::default()
    }));
    let metrics = Metrics::new().context("metrics registry")?;
    let jobs = Arc::new(JobStore::open(config.jobs_path())?);
    let intake = Arc::new(RwLock::new(v2::IntakeView::default()));
    let listener = api::bind(config.api.listen).await?;
    tracing::info!(listen = %config.api.listen, "prover API up (/status /jobs /health /metrics)");
    let api_task = tokio::spawn(api::serve(
        listener,
        ApiState {
            status: Arc::clone(&status),
            jobs: Arc::clone(&jobs),
            metrics: metrics.clone(),
            intake: Arc::clone(&intake),
            intake_lock: Arc::new(tokio::sync::Mutex::new(())),
        },
    ));
    tokio::pin!(shutdown);
    let mut daemon = tokio::select! {
        d = Daemon::start(config, jobs, Arc::clone(&status), metrics, intake) => d?,
        () = &mut shutdown => {
            api_task.abort();
            return Ok(());
        }
    };
    let notify = Arc::new(Notify::new());
    let follower = tokio::spawn(follow_blocks(
        daemon.config.rpc.clone(),
        Arc::clone(&notify),
    ));
    loop {
        daemon.step().await;
        tokio::select! {
            () = &mut shutdown => break,
            () = notify.notified() => {}
            Some(done) = daemon.proofs_rx.recv() => daemon.on_proof(done),
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
    follower.abort();
    api_task.abort();
    tracing::info!("prover stopped; the job store resumes from here on the next start");
    Ok(())
}

/// Wakes the coordinator on every `NewBlock` event of the node's websocket;
/// reconnects with a backoff (the coordinator polls meanwhile).
async fn follow_blocks(rpc: String, notify: Arc<Notify>) {
    use futures::StreamExt;
    use tendermint_rpc::query::EventType;
    use tendermint_rpc::{SubscriptionClient, WebSocketClient, client::CompatMode};

    let ws = rpc
        .replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1)
        .trim_end_matches('/')
        .to_string()
        + "/websocket";
    let mut backoff = Duration::from_millis(500);
    loop {
        let connected = async {
            let url: tendermint_rpc::WebSocketClientUrl = ws.parse().map_err(|e| format!("{e}"))?;
            let (client, driver) = WebSocketClient::builder(url)
                .compat_mode(CompatMode::V0_38)
                .build()
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(driver.run());
            let mut sub = client
                .subscribe(EventType::NewBlock.into())
                .await
                .map_err(|e| e.to_string())?;
            tracing::debug!(%ws, "following NewBlock events");
            while let Some(event) = sub.next().await {
                if event.is_err() {
                    break;
                }
                notify.notify_one();
            }
            let _ = client.close();
            driver.abort();
            Ok::<(), String>(())
        }
        .await;
        match connected {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(e) => {
                tracing::debug!(%ws, error = %e, "websocket unavailable; polling");
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

impl Daemon {
    /// Connects, checks the program, the key and the prover registration,
    /// opens (or rebuilds) the replica, and resets interrupted jobs.
    async fn start(
        config: Config,
        jobs: Arc<JobStore>,
        status: Arc<RwLock<Status>>,
        metrics: Metrics,
        intake: Arc<RwLock<v2::IntakeView>>,
    ) -> anyhow::Result<Daemon> {
        // Trust: the configured header, or a later one this prover verified
        // itself before it stopped.
        let mut trust = TrustRoot {
            height: config.trust.height,
            hash: config.trust_hash()?,
            trusting_period: config.trusting_period(),
            clock_drift: config.clock_drift(),
        };
        if let Some((height, hash)) = jobs.trusted_header()?
            && height > trust.height
        {
            trust.height = height;
            trust.hash = tendermint::Hash::Sha256(hash);
        }
        let chain = loop {
            match VerifiedChain::connect(&config.rpc, trust.clone()).await {
                Ok(c) => break c,
                Err(e @ crate::chain::ChainError::Rpc { .. }) => {
                    set_refusing(&status, &metrics, &e.to_string());
                    tracing::warn!(error = %e, "cannot reach the chain yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e).context("the light client refused its trust root"),
            }
        };
        let (id, version) = (config.program.id.clone(), config.program.version);
        // A program registered in the last block is not provable until the
        // next header: an operator who restarts the prover right after
        // `update-program` waits a few blocks, not for an error.
        let mut waited = 0;
        let (height, program) = loop {
            let height = chain.latest_provable_height().await?;
            let found = chain.program(&id, version, height).await;
            let why = match found {
                Ok(p) if p.value.status == pb::ProgramStatus::Active as i32 => {
                    break (height, p.value);
                }
                Ok(_) => format!("program {id} version {version} is not active on the chain"),
                Err(e) => e.to_string(),
            };
            if waited >= PROGRAM_WAIT_ROUNDS {
                anyhow::bail!("{why}");
            }
            set_refusing(&status, &metrics, &why);
            waited += 1;
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        let arity = match program.tree_arity {
            2 => Arity::Two,
            4 => Arity::Four,
            a => anyhow::bail!("program {id} has tree arity {a}, which this prover does not know"),
        };
        let tree = TreeConfig::new(arity, program.tree_depth)
            .with_context(|| format!("program {id} has an invalid tree depth"))?;
        let params = TransferParams {
            batch_size: usize::try_from(program.batch_size)?,
            tree,
        };
        let v2 = (program.offchain_batch_size > 0).then_some(
            copro_circuits::transfer_v2::TransferV2Params {
                queue_slots: params.batch_size,
                offchain_slots: program.offchain_batch_size as usize,
                tree,
            },
        );
        let key_file = config.program.keys_dir.join("proving_key.bin");
        tracing::info!(file = %key_file.display(), "loading the proving key");
        let key = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let f = std::fs::File::open(&key_file).with_context(|| {
                format!(
                    "cannot open the proving key {} ([program] keys_dir)",
                    key_file.display()
                )
            })?;
            groth16::Parameters::<Bls12>::read(std::io::BufReader::new(f), false)
                .with_context(|| format!("{} is not a proving key", key_file.display()))
        })
        .await??;
        if vk_hash(&key.vk).as_slice() != program.vk_hash.as_slice() {
            anyhow::bail!(
                "the proving key in {} does not belong to program {id} version {version} on the chain (its verifying key hash differs): use the keys of that program",
                config.program.keys_dir.display()
            );
        }
        let submitter = Submitter::new(&config)?;
        let registered = chain
            .store_value(&state_key::prover(), height)
            .await?
            .value
            .unwrap_or_default();
        if registered != submitter.address().as_bytes() {
            anyhow::bail!(
                "the chain's registered prover is '{}', not this key's address {}: register it (coprod tx copro set-prover) or use its key",
                String::from_utf8_lossy(&registered),
                submitter.address()
            );
        }
        let max_entries = match config.batch.max_entries {
            0 => params.batch_size,
            n => n.min(params.batch_size),
        };
        let replica = Replica::open(config.replica_path(), tree)?;
        let (proofs_tx, proofs_rx) = mpsc::unbounded_channel();
        let workers = Arc::new(Semaphore::new(config.proving.workers));
        {
            let mut s = write(&status);
            s.prover_address = submitter.address().to_string();
            s.program = format!("{id}@{version}");
            s.batch_size = params.batch_size;
        }
        let mut daemon = Daemon {
            chain,
            jobs,
            replica,
            spec: None,
            spec_end: 0,
            spec_queue_hash: Vec::new(),
            params,
            program: (id, version),
            max_entries,
            key: Arc::new(key),
            submitter,
            status,
            metrics,
            proofs_tx,
            proofs_rx,
            workers,
            first_seen: BTreeMap::new(),
            halted: None,
            last_trust_saved: 0,
            last_logged_refusal: String::new(),
            entries_stored_up_to: 0,
            v2,
            intake,
            intake_at: None,
            config,
        };
        if daemon.replica.synced().is_none() {
            daemon.rebuild_replica(height).await?;
        }
        // Work that was in memory when the process stopped is redone:
        // a job without its proof goes back to pending.
        for mut job in daemon.jobs.open_jobs()? {
            let lost_work = matches!(job.state, JobState::Witness | JobState::Proving)
                || (job.state == JobState::Failed && job.retry_at.is_some() && job.msg.is_empty());
            if lost_work && daemon.v2.is_some() {
                // Version 2 plans afresh from the chain and the pool: the
                // batch's transfers go back to pending.
                daemon.give_up(&mut job, "interrupted by a restart before it was proved")?;
                continue;
            }
            if lost_work {
                job.state = JobState::Pending;
                job.old_root.clear();
                job.new_root.clear();
                job.retry_at = None;
                job.retry_state = None;
                job.updated_at = unix_now();
                daemon.jobs.put(&job)?;
            }
        }
        if daemon.v2.is_some() {
            // A batch that was given up while the process stopped left its
            // transfers batched; no batch is open that is not in the store.
            daemon.release_orphan_transfers()?;
        }
        tracing::info!(
            prover = daemon.submitter.address(),
            program = %daemon.program.0,
            offchain_slots = daemon.v2.map_or(0, |p| p.offchain_slots),
            batch = daemon.params.batch_size,
            workers = daemon.config.proving.workers,
            "prover started"
        );
        Ok(daemon)
    }

    /// Fills an empty replica from the chain's proven ledger accounts at
    /// `height` (two proven reads per account), then checks the root.
    async fn rebuild_replica(&mut self, height: u64) -> anyhow::Result<()> {
        write(&self.status).state = "syncing".into();
        let raw = self
            .chain
            .store_value(&state_key::next_index(), height)
            .await?
            .value;
        let accounts = match raw {
            None => 0,
            Some(b) => u64::from_be_bytes(
                <[u8; 8]>::try_from(b.as_slice())
                    .context("the chain's next ledger index is not 8 bytes")?,
            ),
        };
        tracing::info!(
            accounts,
            height,
            "rebuilding the ledger replica from the chain's proven accounts"
        );
        let bar = indicatif::ProgressBar::new(accounts);
        for index in 0..accounts {
            let index = u32::try_from(index)?;
            let owner = self
                .chain
                .store_value(&state_key::ledger_owner(index), height)
                .await?
                .value
                .with_context(|| format!("ledger leaf {index} has no owner on the chain"))?;
            let owner = String::from_utf8(owner).context("ledger owner is not UTF-8")?;
            let account = self
                .chain
                .ledger_account(&owner, height)
                .await?
                .value
                .with_context(|| format!("ledger account of {owner} is missing"))?;
            // Amounts are positive, so a written leaf has a balance or has
            // been debited (nonce > 0); (0, 0) is a bound, never-credited
            // account whose leaf is still empty.
            if account.balance != 0 || account.nonce != 0 || !account.spending_key.is_empty() {
                let spend = match account.spending_key.as_slice() {
                    [] => None,
                    k => Some(
                        copro_circuits::spend_auth::PublicKey::from_bytes(k).map_err(|e| {
                            anyhow::anyhow!("the spending key of {owner} does not decode: {e}")
                        })?,
                    ),
                };
                self.replica.set_account_v2(
                    index,
                    copro_circuits::transfer_v2::Account {
                        key: fr_of(&account.key, "account key")?,
                        balance: account.balance,
                        nonce: account.nonce,
                        spend,
                    },
                )?;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let root = fr_of(&self.chain.root(height).await?.value.root, "ledger root")?;
        let queue = self.chain.pending_queue(height).await?.value.state;
        self.replica
            .commit_checked(height, root, queue.settled_up_to)?;
        tracing::info!(height, root = %fr_to_hex(&root), "ledger replica rebuilt and agrees with the chain");
        Ok(())
    }

    /// One round: read, catch up, reconcile, plan, submit. Errors become a
    /// refusal with a reason; the next round tries again.
    async fn step(&mut self) {
        if let Some(why) = &self.halted {
            set_refusing(&self.status, &self.metrics, why);
            return;
        }
        let view = match self.read_chain().await {
            Ok(v) => v,
            Err(e) => {
                self.refuse(reason::CHAIN, &coprod::report::error_chain(&e));
                return;
            }
        };
        if self.v2.is_some() {
            let outcome = async {
                self.reconcile_v2(&view).await?;
                self.catch_up_v2(&view)?;
                self.plan_v2(&view).await?;
                self.submit(&view).await
            }
            .await;
            if let Err(e) = outcome {
                self.halt_or_refuse(&e, reason::CHAIN);
                return;
            }
            self.publish(&view);
            return;
        }
        if let Err(e) = self.catch_up(&view) {
            self.halt_or_refuse(&e, reason::REPLICA);
            return;
        }
        let outcome = async {
            self.reconcile(&view).await?;
            self.plan(&view)?;
            self.submit(&view).await
        }
        .await;
        if let Err(e) = outcome {
            self.refuse(reason::CHAIN, &coprod::report::error_chain(&e));
            return;
        }
        self.publish(&view);
    }

    /// A replica that disagrees with the chain stops the daemon for good
    /// (an operator must look); any other error is a refusal for this round.
    fn halt_or_refuse(&mut self, e: &anyhow::Error, label: &'static str) {
        let msg = coprod::report::error_chain(e);
        if msg.contains("DISAGREES") {
            tracing::error!("{msg}");
            self.metrics.fail(reason::REPLICA);
            self.halted = Some(msg);
        } else {
            self.refuse(label, &msg);
        }
    }

    /// Puts a failed job whose retry time has come back in the state it
    /// failed from (`default` if none was recorded).
    fn retry_if_due(&mut self, job: &mut Job, now: u64, default: JobState) -> anyhow::Result<()> {
        if job.state == JobState::Failed && job.retry_at.is_some_and(|t| t <= now) {
            let back = job.retry_state.unwrap_or(default);
            job.retry_at = None;
            job.retry_state = None;
            self.transition(job, back)?;
        }
        Ok(())
    }

    fn refuse(&mut self, why: &'static str, msg: &str) {
        self.metrics.fail(why);
        if self.last_logged_refusal != msg {
            tracing::warn!(reason = why, "refusing to prove: {msg}");
            self.last_logged_refusal = msg.to_string();
        }
        set_refusing(&self.status, &self.metrics, msg);
    }

    async fn read_chain(&mut self) -> anyhow::Result<ChainView> {
        let height = self.chain.latest_provable_height().await?;
        let pending = self.chain.pending_queue(height).await?;
        let root = self.chain.root(height).await?;
        if root.app_hash != pending.app_hash {
            anyhow::bail!("root and queue were verified against different app hashes at {height}");
        }
        // The chain deletes settled entries: keep them before any proof
        // covering them can exist.
        // (Only the new ones: each write is a durable transaction.)
        let fresh: Vec<pb::QueueEntry> = pending
            .value
            .entries
            .iter()
            .filter(|e| e.sequence >= self.entries_stored_up_to)
            .cloned()
            .collect();
        self.jobs.put_entries(&fresh)?;
        self.entries_stored_up_to = self
            .entries_stored_up_to
            .max(pending.value.state.next_sequence);
        let now = Instant::now();
        for e in &pending.value.entries {
            self.first_seen.entry(e.sequence).or_insert(now);
        }
        if height >= self.last_trust_saved.saturating_add(TRUST_SAVE_EVERY)
            && let Some((h, hash)) = self.chain.latest_verified_header()
        {
            self.jobs.put_trusted_header(h, hash)?;
            self.last_trust_saved = height;
        }
        self.metrics
            .verified_height
            .set(i64::try_from(height).unwrap_or(i64::MAX));
        Ok(ChainView {
            height,
            root: root.value.root,
            queue: pending.value.state,
            entries: pending.value.entries,
        })
    }

    /// Executes the settled-but-not-replicated requests over the replica
    /// and commits it if its root is the chain's.
    fn catch_up(&mut self, view: &ChainView) -> anyhow::Result<()> {
        let synced = self
            .replica
            .synced()
            .context("the ledger replica was never synced")?;
        let chain_root = fr_of(&view.root, "ledger root")?;
        let settled = view.queue.settled_up_to;
        if settled < synced.settled_up_to {
            anyhow::bail!(
                "LEDGER REPLICA DISAGREES WITH THE CHAIN: the chain's queue is settled up to {settled}, the replica up to {}: is the RPC node on another chain?",
                synced.settled_up_to
            );
        }
        if settled == synced.settled_up_to {
            if chain_root != synced.root {
                anyhow::bail!(
                    "LEDGER REPLICA DISAGREES WITH THE CHAIN at height {}: same queue position {settled}, replica root {}, chain root {}",
                    view.height,
                    fr_to_hex(&synced.root),
                    fr_to_hex(&chain_root)
                );
            }
            return Ok(());
        }
        let entries = self.jobs.entries(synced.settled_up_to, settled)?.with_context(|| {
            format!(
                "the chain settled requests {}..{settled} that this prover's job store does not hold (settled by another prover, or the job store was lost); stop the prover, move {} aside and start again to rebuild the replica from the chain",
                synced.settled_up_to,
                self.config.replica_path().display()
            )
        })?;
        write(&self.status).state = "syncing".into();
        let mut ledger = self.replica.speculative()?;
        for chunk in entries.chunks(self.params.batch_size) {
            // The queue hash only feeds the public input, not the state.
            let outcome = self
                .execute_entries(&mut ledger, Fr::ZERO, chunk)
                .context("re-executing settled requests")?;
            self.replica.apply_deltas(&outcome.deltas)?;
        }
        self.replica
            .commit_checked(view.height, chain_root, settled)?;
        self.jobs.prune_entries(settled)?;
        tracing::info!(
            height = view.height,
            settled,
            root = %fr_to_hex(&chain_root),
            "ledger replica agrees with the chain"
        );
        Ok(())
    }

    /// Jobs against the chain: settled ones are committed, stale ones given
    /// up, slow ones rebroadcast, failed ones retried.
    async fn reconcile(&mut self, view: &ChainView) -> anyhow::Result<()> {
        let settled = view.queue.settled_up_to;
        let now = unix_now();
        let mut reset = false;
        for mut job in self.jobs.open_jobs()? {
            if job.state.is_final(job.retry_at) {
                continue;
            }
            if reset {
                self.give_up(
                    &mut job,
                    "an earlier batch was given up; its requests are planned again",
                )?;
                continue;
            }
            if job.end <= settled {
                self.committed(&mut job, view.height)?;
                continue;
            }
            if job.start < settled {
                self.give_up(
                    &mut job,
                    &format!("the chain settled up to {settled} with another batch split"),
                )?;
                reset = true;
                continue;
            }
            match job.state {
                JobState::Submitted => {
                    match self.submitter.inclusion(&job.tx_hash).await {
                        Ok(Inclusion::Included { code, log, height }) if code != 0 => {
                            // Refused in its block (another tx moved the root
                            // first, or the proof is bad): this range is
                            // planned and proved again from the chain's state.
                            self.metrics.fail(reason::REJECTED);
                            let why = format!(
                                "tx {} failed in block {height} with code {code}: {log}",
                                job.tx_hash
                            );
                            self.give_up(&mut job, &why)?;
                            reset = true;
                        }
                        Ok(Inclusion::NotFound)
                            if view.height
                                > job
                                    .submitted_height
                                    .saturating_add(self.config.tx.rebroadcast_after_blocks) =>
                        {
                            self.metrics.fail(reason::NOT_INCLUDED);
                            job.reason = format!(
                                "not in a block {} blocks after broadcast; broadcasting again",
                                self.config.tx.rebroadcast_after_blocks
                            );
                            self.transition(&mut job, JobState::Proved)?;
                        }
                        _ => {}
                    }
                }
                JobState::Failed => self.retry_if_due(&mut job, now, JobState::Pending)?,
                _ => {}
            }
        }
        if reset {
            self.spec = None;
        }
        // The speculative ledger must start at or after the chain.
        if self.spec.is_none() || self.spec_end < settled {
            self.reset_spec(view)?;
        }
        Ok(())
    }

    /// Rebuilds the speculative ledger from the replica (which agrees with
    /// the chain) and replays the jobs still in flight over it, in order.
    /// The first job that cannot be replayed, and every later one, is given
    /// up: their requests are planned again.
    fn reset_spec(&mut self, view: &ChainView) -> anyhow::Result<()> {
        self.spec = Some(self.replica.speculative()?);
        self.spec_end = view.queue.settled_up_to;
        self.spec_queue_hash = view.queue.settled_hash.clone();
        let mut broken = false;
        for mut job in self.jobs.open_jobs()? {
            if job.state.is_final(job.retry_at) || job.end <= view.queue.settled_up_to {
                continue;
            }
            // Whether the job's batch was executed on the ledger this daemon
            // had (and so has roots to replay against).
            let executed = matches!(
                job.state,
                JobState::Proving | JobState::Proved | JobState::Submitted
            ) || (job.state == JobState::Failed
                && job.retry_state == Some(JobState::Proved));
            if !broken && job.start == self.spec_end && !executed {
                // Not executed yet: `plan` resumes it; nothing after it can
                // have been executed either.
                broken = true;
                continue;
            }
            if !broken && job.start == self.spec_end {
                if self.replay_on_spec(&job)? {
                    continue;
                }
                // The ledger may be half-advanced: start over with nothing
                // in flight.
                for mut other in self.jobs.open_jobs()? {
                    if !other.state.is_final(other.retry_at) && other.end > view.queue.settled_up_to
                    {
                        self.give_up(&mut other, "a batch before it no longer follows the chain's state; its requests are planned again")?;
                    }
                }
                self.spec = Some(self.replica.speculative()?);
                self.spec_end = view.queue.settled_up_to;
                self.spec_queue_hash = view.queue.settled_hash.clone();
                return Ok(());
            }
            broken = true;
            self.give_up(
                &mut job,
                "it no longer follows the chain's state; its requests are planned again",
            )?;
        }
        Ok(())
    }

    /// Advances the speculative ledger over an existing job's requests;
    /// false if the job's recorded roots do not follow from it.
    fn replay_on_spec(&mut self, job: &Job) -> anyhow::Result<bool> {
        let Some(entries) = self.jobs.entries(job.start, job.end)? else {
            return Ok(false);
        };
        let Some(mut spec) = self.spec.take() else {
            return Ok(false);
        };
        if fr_to_hex(&spec.root()?) != job.old_root {
            self.spec = Some(spec);
            return Ok(false);
        }
        let queue_before = fr_of(&self.spec_queue_hash, "queue hash")?;
        let outcome = self.execute_entries(&mut spec, queue_before, &entries);
        self.spec = Some(spec);
        let outcome = outcome.with_context(|| format!("re-executing job {}", job.id))?;
        self.spec_end = job.end;
        self.spec_queue_hash = fr_bytes(&outcome.public.queue_after);
        Ok(fr_to_hex(&outcome.public.new_root) == job.new_root)
    }

    /// Runs queue entries natively over `ledger` (no proof): how the
    /// replica catches up and how in-flight jobs are replayed.
    fn execute_entries<S: NodeStore>(
        &self,
        ledger: &mut Ledger<S>,
        queue_before: Fr,
        entries: &[pb::QueueEntry],
    ) -> anyhow::Result<TransferOutcome> {
        let batch = entries
            .iter()
            .map(circuit_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let (outcome, _) = copro_circuits::transfer::execute(
            &self.params,
            self.config.chain_id.as_bytes(),
            ledger,
            queue_before,
            &batch,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(outcome)
    }

    /// Cuts and executes batches while the pipeline has room.
    fn plan(&mut self, view: &ChainView) -> anyhow::Result<()> {
        loop {
            let all = self.jobs.open_jobs()?;
            let in_flight = all
                .iter()
                .filter(|j| !j.state.is_final(j.retry_at) && j.end > view.queue.settled_up_to)
                .count();
            if in_flight > self.config.proving.workers {
                return Ok(());
            }
            // A pending job (interrupted by a restart) continues first.
            let resumed = all
                .iter()
                .find(|j| j.state == JobState::Pending && j.start == self.spec_end)
                .cloned();
            let job = match resumed {
                Some(j) => j,
                // A job not executed yet (failed, waiting for its retry)
                // holds the next range: nothing new may start there.
                None if all
                    .iter()
                    .any(|j| !j.state.is_final(j.retry_at) && j.end > self.spec_end) =>
                {
                    return Ok(());
                }
                None => {
                    let waiting: Vec<&pb::QueueEntry> = view
                        .entries
                        .iter()
                        .filter(|e| e.sequence >= self.spec_end)
                        .collect();
                    let n = waiting.len().min(self.max_entries);
                    if n == 0 {
                        return Ok(());
                    }
                    let oldest_wait = waiting
                        .first()
                        .and_then(|e| self.first_seen.get(&e.sequence))
                        .map_or(Duration::ZERO, Instant::elapsed);
                    if n < self.max_entries
                        && oldest_wait < Duration::from_millis(self.config.batch.flush_after_ms)
                    {
                        return Ok(());
                    }
                    let job = Job::new(
                        self.jobs.next_id()?,
                        self.spec_end,
                        self.spec_end + n as u64,
                        unix_now(),
                    );
                    self.jobs.put(&job)?;
                    tracing::info!(
                        job = job.id,
                        start = job.start,
                        end = job.end,
                        "batch planned"
                    );
                    job
                }
            };
            self.execute(job)?;
        }
    }

    /// Native execution and witness on the speculative ledger, then off to
    /// a proving worker.
    fn execute(&mut self, mut job: Job) -> anyhow::Result<()> {
        self.transition(&mut job, JobState::Witness)?;
        let started = Instant::now();
        let entries = self
            .jobs
            .entries(job.start, job.end)?
            .with_context(|| format!("job {}: its requests are not in the job store", job.id))?;
        let spec = self.spec.as_mut().context("no speculative ledger")?;
        let queue = pb::QueueState {
            settled_up_to: job.start,
            settled_hash: self.spec_queue_hash.clone(),
            ..Default::default()
        };
        let executed = match settle::execute(
            &self.params,
            &self.config.chain_id,
            (&self.program.0, self.program.1),
            self.submitter.address(),
            spec,
            &queue,
            &entries,
        ) {
            Ok(x) => x,
            Err(e) => {
                // The speculative ledger may be half-advanced: rebuild it.
                self.spec = None;
                self.metrics.fail(reason::WITNESS);
                self.fail(
                    &mut job,
                    &format!("native execution failed: {e}"),
                    JobState::Pending,
                )?;
                return Ok(());
            }
        };
        self.spec_end = job.end;
        self.spec_queue_hash = fr_bytes(&executed.outcome.public.queue_after);
        job.old_root = root_hex(&executed.msg.old_root);
        job.new_root = root_hex(&executed.msg.new_root);
        let elapsed = started.elapsed();
        job.witness_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.metrics.witness_seconds.observe(elapsed.as_secs_f64());
        job.attempts = job.attempts.saturating_add(1);
        self.transition(&mut job, JobState::Proving)?;
        let (key, params) = (Arc::clone(&self.key), self.params);
        self.spawn_proof(job.id, move || {
            settle::prove(&params, executed, &key, &mut rand::rngs::OsRng)
                .map(|(msg, _)| msg)
                .map_err(|e| e.to_string())
        });
        Ok(())
    }

    /// Runs `prove` on a proving worker (when one is free) and reports the
    /// result to the coordinator as job `job`'s.
    fn spawn_proof(
        &self,
        job: u64,
        prove: impl FnOnce() -> Result<pb::MsgSubmitProof, String> + Send + 'static,
    ) {
        let (workers, done) = (Arc::clone(&self.workers), self.proofs_tx.clone());
        tokio::spawn(async move {
            let Ok(_permit) = workers.acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(prove)
                .await
                .unwrap_or_else(|e| Err(format!("proving task failed: {e}")));
            let _ = done.send(ProofDone {
                job,
                result,
                elapsed: started.elapsed(),
            });
        });
    }

    /// A worker finished.
    fn on_proof(&mut self, done: ProofDone) {
        let outcome = (|| -> anyhow::Result<()> {
            let Some(mut job) = self.jobs.job(done.job)? else {
                return Ok(());
            };
            if job.state != JobState::Proving {
                return Ok(()); // given up meanwhile
            }
            job.proving_ms = u64::try_from(done.elapsed.as_millis()).unwrap_or(u64::MAX);
            match done.result {
                Ok(msg) => {
                    self.metrics
                        .proving_seconds
                        .observe(done.elapsed.as_secs_f64());
                    job.msg = hex::encode(msg.encode_to_vec());
                    tracing::info!(job = job.id, ms = job.proving_ms, "batch proved");
                    self.transition(&mut job, JobState::Proved)
                }
                Err(e) => {
                    self.metrics.fail(reason::PROVING);
                    self.spec = None;
                    self.give_up(&mut job, &format!("proving failed: {e}"))
                }
            }
        })();
        if let Err(e) = outcome {
            tracing::error!("recording a finished proof: {e:#}");
        }
    }

    /// Broadcasts the proved batch that continues the chain.
    async fn submit(&mut self, view: &ChainView) -> anyhow::Result<()> {
        let settled = view.queue.settled_up_to;
        let Some(mut job) = self
            .jobs
            .open_jobs()?
            .into_iter()
            .find(|j| !j.state.is_final(j.retry_at) && j.start == settled)
        else {
            return Ok(());
        };
        if job.state != JobState::Proved {
            return Ok(());
        }
        if job.old_root != root_hex(&view.root) {
            self.metrics.fail(reason::SUPERSEDED);
            self.give_up(&mut job, "its old root is no longer the chain's root")?;
            self.spec = None;
            return Ok(());
        }
        let msg = job.submit_msg().context("a proved job without its proof")?;
        if msg.program_id != self.config.program.id
            || msg.program_version != self.config.program.version
        {
            // Proved before a restart with another [program]: prove the range
            // again with the configured one.
            self.metrics.fail(reason::SUPERSEDED);
            let why = format!(
                "proved for program {} version {}; this prover now proves {} version {}",
                msg.program_id,
                msg.program_version,
                self.config.program.id,
                self.config.program.version
            );
            self.give_up(&mut job, &why)?;
            self.spec = None;
            return Ok(());
        }
        job.attempts = job.attempts.saturating_add(1);
        match self.submitter.broadcast(&msg).await {
            Ok(Broadcast::Accepted(hash)) => {
                tracing::info!(job = job.id, tx = %hash, "proof submitted");
                job.tx_hash = hash;
                job.submitted_height = view.height;
                self.transition(&mut job, JobState::Submitted)
            }
            Ok(Broadcast::Refused {
                codespace,
                code,
                log,
            }) => {
                let why = format!("CheckTx refused it ({codespace} code {code}): {log}");
                let moved = codespace == CODESPACE
                    && [
                        CoproCode::StaleRoot,
                        CoproCode::QueueGap,
                        CoproCode::QueueRange,
                        CoproCode::Replay,
                    ]
                    .iter()
                    .any(|c| *c as u32 == code);
                if codespace == CODESPACE
                    && code == CoproCode::FrozenProgram as u32
                    && self.program_frozen(view).await
                {
                    // The authority registered a newer version: proving this
                    // one again and again would only be refused. Stop, and
                    // say what to change.
                    let (id, version) = (&self.config.program.id, self.config.program.version);
                    let why = format!(
                        "program {id} version {version} is frozen on the chain (a newer version \
                         replaced it): set [program] version and keys_dir to the active version \
                         and restart the prover"
                    );
                    tracing::error!("{why}");
                    self.metrics.fail(reason::REJECTED);
                    job.reason = why.clone();
                    self.transition(&mut job, JobState::Proved)?;
                    self.halted = Some(why);
                    return Ok(());
                }
                if self.v2.is_some() && !submit::is_wrong_sequence(&codespace, code) {
                    // Version 2 batches are planned one at a time from the
                    // chain's state: whatever moved (root, allocator, an
                    // overdue request, a transfer that no longer applies),
                    // the batch is planned again from the chain as it is.
                    self.metrics.fail(reason::REJECTED);
                    self.give_up(&mut job, &why)?;
                    return Ok(());
                }
                if codespace == CODESPACE && code == CoproCode::OverdueRequest as u32 {
                    // Requests arrived while this batch was proved and are
                    // now due (the inclusion rule K): the range is planned
                    // again, with them, from the chain's state.
                    self.metrics.fail(reason::REJECTED);
                    self.give_up(&mut job, &why)?;
                    self.spec = None;
                    return Ok(());
                }
                let label = if submit::is_wrong_sequence(&codespace, code) {
                    reason::SEQUENCE
                } else if moved {
                    reason::SUPERSEDED
                } else {
                    reason::REJECTED
                };
                self.metrics.fail(label);
                if label == reason::SEQUENCE {
                    // Another tx used the key: the next round broadcasts
                    // again with the sequence read afresh.
                    tracing::warn!(job = job.id, "{why}; broadcasting again");
                    job.reason = why;
                    return self.transition(&mut job, JobState::Proved);
                }
                // The chain moved: the next round's proven state says
                // whether this batch landed (committed) or was overtaken
                // (given up and planned again).
                self.fail(&mut job, &why, JobState::Proved)
            }
            Err(e) => {
                self.metrics.fail(reason::BROADCAST);
                self.fail(
                    &mut job,
                    &format!("broadcast failed: {}", coprod::report::error_chain(&e)),
                    JobState::Proved,
                )
            }
        }
    }

    /// Whether the light client shows this daemon's program version as no
    /// longer active at the verified height of `view` (a CheckTx answer
    /// alone comes from an RPC node, which is not trusted to stop us).
    async fn program_frozen(&self, view: &ChainView) -> bool {
        let (id, version) = (&self.config.program.id, self.config.program.version);
        match self.chain.program(id, version, view.height).await {
            Ok(p) => p.value.status != pb::ProgramStatus::Active as i32,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the program's status");
                false
            }
        }
    }

    fn committed(&mut self, job: &mut Job, height: u64) -> anyhow::Result<()> {
        job.committed_height = height;
        job.retry_at = None;
        job.retry_state = None;
        self.transition(job, JobState::Committed)?;
        self.metrics.settled_batches.inc();
        self.metrics.settled_entries.inc_by(job.len());
        for seq in job.start..job.end {
            if let Some(t) = self.first_seen.remove(&seq) {
                self.metrics
                    .settle_seconds
                    .observe(t.elapsed().as_secs_f64());
            }
        }
        write(&self.status).settled_entries += job.len();
        tracing::info!(
            job = job.id,
            start = job.start,
            end = job.end,
            height,
            "batch settled"
        );
        Ok(())
    }

    /// Marks `job` failed with a retry after its backoff, returning to `back`.
    fn fail(&mut self, job: &mut Job, why: &str, back: JobState) -> anyhow::Result<()> {
        let shift = job.attempts.min(6);
        let delay =
            Duration::from_millis(self.config.tx.retry_backoff_ms.saturating_mul(1 << shift))
                .min(MAX_BACKOFF);
        tracing::warn!(
            job = job.id,
            retry_in_ms = delay.as_millis() as u64,
            "{why}"
        );
        job.reason = why.to_string();
        job.retry_at = Some(unix_now().saturating_add(delay.as_secs().max(1)));
        job.retry_state = Some(back);
        write(&self.status).last_error = format!("job {}: {why}", job.id);
        self.transition(job, JobState::Failed)
    }

    /// Marks `job` failed for good; its requests are planned again.
    fn give_up(&mut self, job: &mut Job, why: &str) -> anyhow::Result<()> {
        tracing::warn!(job = job.id, "given up: {why}");
        job.reason = why.to_string();
        job.retry_at = None;
        job.retry_state = None;
        self.transition(job, JobState::Failed)?;
        self.release_transfers(job, why)
    }

    fn transition(&self, job: &mut Job, to: JobState) -> anyhow::Result<()> {
        job.state = to;
        job.updated_at = unix_now();
        self.jobs.put(job)?;
        Ok(())
    }

    /// Status and gauges after a successful round.
    fn publish(&mut self, view: &ChainView) {
        let counts = self.jobs.counts().unwrap_or_default();
        for state in [
            "pending",
            "witness",
            "proving",
            "proved",
            "submitted",
            "committed",
            "failed",
        ] {
            let n = counts.get(state).copied().unwrap_or(0);
            self.metrics
                .jobs
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let lag = view
            .queue
            .next_sequence
            .saturating_sub(view.queue.settled_up_to);
        self.metrics
            .queue_lag_entries
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
        let lag_blocks = view
            .entries
            .first()
            .map_or(0, |e| view.height.saturating_sub(e.enqueue_height));
        self.metrics
            .queue_lag_blocks
            .set(i64::try_from(lag_blocks).unwrap_or(i64::MAX));
        self.metrics.refusing.set(0);
        self.last_logged_refusal.clear();
        let busy = self
            .jobs
            .open_jobs()
            .unwrap_or_default()
            .iter()
            .any(|j| !j.state.is_final(j.retry_at) && j.end > view.queue.settled_up_to);
        let synced = self.replica.synced();
        let mut s = write(&self.status);
        s.state = if busy { "proving" } else { "idle" }.into();
        s.reason.clear();
        s.verified_height = view.height;
        s.chain_root = root_hex(&view.root);
        s.queue_next = view.queue.next_sequence;
        s.queue_settled = view.queue.settled_up_to;
        if let Some(p) = synced {
            s.replica_height = p.height;
            s.replica_root = fr_to_hex(&p.root);
            s.replica_settled = p.settled_up_to;
        }
        s.jobs = counts;
    }
}

fn write(status: &RwLock<Status>) -> std::sync::RwLockWriteGuard<'_, Status> {
    status.write().unwrap_or_else(|p| p.into_inner())
}

fn set_refusing(status: &RwLock<Status>, metrics: &Metrics, why: &str) {
    metrics.refusing.set(1);
    let mut s = write(status);
    s.state = "refusing".into();
    s.reason = why.to_string();
    s.last_error = why.to_string();
}
