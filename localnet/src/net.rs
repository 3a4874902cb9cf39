//! A localnet: N CometBFT validators, each driving its own `coprod`, on 127.0.0.1.
//!
//! `up` prepares every node with the same tools an operator would use
//! (`coprod init`, `coprod keys add`, `coprod genesis add-account`,
//! `cometbft show-node-id`), writes one genesis with all validators and the
//! funded test accounts, wires the nodes to each other with distinct ports, and
//! starts the processes. The state file (`localnet.json`) lets later commands
//! (`status`, `stop`, `restart`, `down`) and tests find the nodes again.
//!
//! Recorded pids are only a hint: a node's processes are those that run
//! `coprod start` / `cometbft start` with the node's `--home`, whoever
//! started them ([`crate::proc_scan`]). So `status` sees a node restarted by
//! hand, and `down` stops it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tendermint_rpc::{Client, HttpClient};

use crate::layout::{Layout, NodePorts};
use crate::{proc_scan, process};

/// How long a stopped process gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a node's RPC may take to answer before `status` calls it
/// unreachable.
pub const RPC_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Which ABCI application the validators run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// Our application: one `coprod` process per validator.
    Coprod,
    /// CometBFT's built-in example key-value app; only for debugging the
    /// orchestration itself (no coprod involved).
    Kvstore,
}

/// Options of `localnet up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Number of validators (each one CometBFT + one coprod).
    pub validators: usize,
    /// Localnet home directory; wiped and recreated.
    pub home: PathBuf,
    /// Chain id written into the genesis.
    pub chain_id: String,
    /// First port of node 0 (see [`NodePorts`]).
    pub base_port: u16,
    /// Names of the funded test accounts (keys land in the keyring).
    pub accounts: Vec<String>,
    /// Amount each test account holds at genesis, e.g. `1000000000000ucopro`.
    pub account_coins: String,
    /// CometBFT `timeout_commit`, e.g. `1s`.
    pub block_time: String,
    /// The ABCI application.
    pub app: AppKind,
    /// Start a prover daemon beside the validators (coprod only).
    pub prover: bool,
}

impl UpOptions {
    /// Defaults for a localnet of `validators` nodes under `home`.
    pub fn new(validators: usize, home: impl Into<PathBuf>) -> Self {
        Self {
            validators,
            home: home.into(),
            chain_id: "copro-localnet".into(),
            base_port: crate::layout::DEFAULT_BASE_PORT,
            accounts: ["alice", "bob", "carol", "dave"].map(String::from).to_vec(),
            account_coins: "1000000000000ucopro".into(),
            block_time: "1s".into(),
            app: AppKind::Coprod,
            prover: true,
        }
    }
}

/// What the state file records about one node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeState {
    /// `node0`, `node1`, ...
    pub name: String,
    /// CometBFT and coprod home.
    pub home: PathBuf,
    /// Its ports.
    pub ports: NodePorts,
    /// CometBFT node id (hex of the p2p key's address).
    pub node_id: String,
    /// pid of its coprod, while running.
    pub coprod_pid: Option<u32>,
    /// pid of its CometBFT, while running.
    pub cometbft_pid: Option<u32>,
}

/// A funded test account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountState {
    /// Key name in the keyring.
    pub name: String,
    /// Bech32 address.
    pub address: String,
}

/// The state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Chain id.
    pub chain_id: String,
    /// The ABCI application the nodes run.
    pub app: AppKind,
    /// The nodes, by index.
    pub nodes: Vec<NodeState>,
    /// Funded test accounts.
    pub accounts: Vec<AccountState>,
    /// Keyring directory of the test accounts.
    pub keyring_dir: PathBuf,
    /// The prover daemon, if the localnet has one.
    #[serde(default)]
    pub prover: Option<crate::prover::ProverState>,
}

/// Which of a node's two processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proc {
    /// The ABCI application.
    Coprod,
    /// The consensus engine.
    Cometbft,
}

impl Proc {
    /// The program's name, as in its command line.
    pub fn name(self) -> &'static str {
        match self {
            Proc::Coprod => "coprod",
            Proc::Cometbft => "cometbft",
        }
    }

    /// The file in a node's `logs/` that takes this process's output.
    pub fn log_file(self) -> &'static str {
        match self {
            Proc::Coprod => "coprod.log",
            Proc::Cometbft => "cometbft.log",
        }
    }
}

/// How a node is doing, as `status` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Its processes are alive and its RPC answers.
    Running,
    /// Its processes are alive but its RPC does not answer in time: stopped
    /// with SIGSTOP, wedged, or still starting.
    Unreachable,
    /// One of its two processes is alive, the other is not (CometBFT exits
    /// soon after its coprod dies, so this is mostly a moment in a crash).
    Partial,
    /// None of its processes is alive.
    Stopped,
}

impl RunState {
    /// The word `status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Unreachable => "unreachable",
            RunState::Partial => "partial",
            RunState::Stopped => "stopped",
        }
    }
}

/// What `status` reports about a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// RPC URL.
    pub rpc: String,
    /// Latest block height, when the node answers.
    pub height: Option<u64>,
    /// App hash after the latest block (hex), when the node answers.
    pub app_hash: Option<String>,
    /// Whether the node is still catching up.
    pub catching_up: Option<bool>,
    /// Whether all its processes are alive (it may still not answer, see
    /// `state`).
    pub running: bool,
    /// How the node is doing.
    pub state: RunState,
    /// pid of its live coprod (the recorded one when it still runs).
    pub coprod_pid: Option<u32>,
    /// pid of its live CometBFT (the recorded one when it still runs).
    pub cometbft_pid: Option<u32>,
    /// More live processes with this node's home: a second coprod or
    /// CometBFT that should not be there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_pids: Vec<u32>,
}

/// A process that `stop`, `restart` or `down` stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoppedProcess {
    /// Index of its node.
    pub node: usize,
    /// Which process it was.
    pub which: Proc,
    /// Its pid.
    pub pid: u32,
    /// Whether `localnet.json` recorded it (false: started some other way,
    /// found by its command line).
    pub recorded: bool,
}

/// What `restart` did.
#[derive(Clone, Debug)]
pub struct Restarted {
    /// The processes stopped first (none when the node was down).
    pub stopped: Vec<StoppedProcess>,
    /// pid of the new coprod (none on a kvstore localnet).
    pub coprod_pid: Option<u32>,
    /// pid of the new CometBFT.
    pub cometbft_pid: Option<u32>,
    /// The height the node had to reach: the highest of the other nodes'
    /// that answered and its own before the restart.
    pub target_height: u64,
    /// Its height when it got there.
    pub height: u64,
}

/// What one node's RPC said.
#[derive(Clone, Debug)]
struct RpcAnswer {
    height: u64,
    app_hash: String,
    catching_up: bool,
}

/// A localnet we started or found on disk.
pub struct Localnet {
    pub(crate) layout: Layout,
    pub(crate) state: State,
    /// Processes we are the parent of, so we can reap them.
    children: BTreeMap<(usize, Proc), Child>,
    /// The prover, when we started it.
    pub(crate) prover_child: Option<Child>,
}

impl Localnet {
    /// Prepares a fresh localnet under `opts.home` and starts every node; returns
    /// once every node has committed a block.
    pub async fn up(opts: &UpOptions) -> anyhow::Result<Self> {
        let mut net = Self::prepare(opts)?;
        for i in 0..net.state.nodes.len() {
            net.start_node(i)?;
        }
        for i in 0..net.state.nodes.len() {
            net.wait_for_height(i, 1, Duration::from_secs(90))
                .await
                .with_context(|| {
                    format!(
                        "node{i} made no block; see its logs in {}",
                        net.layout.node_logs(i).display()
                    )
                })?;
        }
        if net.state.prover.is_some() {
            net.start_prover().await?;
        }
        Ok(net)
    }

    /// Writes configs, keys and genesis for a new localnet, starting nothing.
    pub fn prepare(opts: &UpOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(opts.validators >= 1, "--validators must be at least 1");
        let layout = Layout::new(&opts.home);
        if layout.state_file().exists()
            && let Ok(mut old) = Self::open(layout.root())
            && old.any_running()
        {
            bail!(
                "a localnet is still running in {}: run `localnet down --home {}` first",
                layout.root().display(),
                layout.root().display()
            );
        }
        if layout.root().exists() {
            std::fs::remove_dir_all(layout.root())
                .with_context(|| format!("cannot clear {}", layout.root().display()))?;
        }
        std::fs::create_dir_all(layout.root())?;
        let cometbft = process::find_binary("cometbft")?;
        let coprod = match opts.app {
            AppKind::Coprod => Some(process::find_binary("coprod")?),
            AppKind::Kvstore => None,
        };

        let mut nodes = Vec::with_capacity(opts.validators);
        for i in 0..opts.validators {
            let home = layout.node_home(i);
            let ports = NodePorts::for_node(opts.base_port, i)?;
            for port in [ports.p2p, ports.rpc, ports.abci, ports.grpc, ports.api] {
                process::ensure_port_free(port)?;
            }
            let name = Layout::node_name(i);
            match &coprod {
                Some(coprod) => {
                    process::run(
                        Command::new(coprod)
                            .args(["init", "--chain-id", &opts.chain_id, "--moniker", &name])
                            .arg("--home")
                            .arg(&home)
                            .env("COMETBFT_BIN", &cometbft),
                    )?;
                }
                None => {
                    process::run(Command::new(&cometbft).arg("init").arg("--home").arg(&home))?;
                }
            }
            let node_id = process::run(
                Command::new(&cometbft)
                    .arg("show-node-id")
                    .arg("--home")
                    .arg(&home),
            )?
            .trim()
            .to_string();
            nodes.push(NodeState {
                name,
                home,
                ports,
                node_id,
                coprod_pid: None,
                cometbft_pid: None,
            });
        }

        let mut accounts = Vec::new();
        let keyring = layout.keyring_dir();
        if let Some(coprod) = &coprod {
            for name in &opts.accounts {
                let address =
                    add_funded_key(coprod, &keyring, &nodes[0].home, name, &opts.account_coins)?;
                accounts.push(AccountState {
                    name: name.clone(),
                    address,
                });
            }
        }

        if let Some(coprod) = &coprod {
            // The coprocessor's prover and authority, funded for fees, and
            // its genesis section with the dev program.
            let mut address_of = |name: &str| -> anyhow::Result<String> {
                if let Some(a) = accounts.iter().find(|a: &&AccountState| a.name == name) {
                    return Ok(a.address.clone());
                }
                let address =
                    add_funded_key(coprod, &keyring, &nodes[0].home, name, &opts.account_coins)?;
                accounts.push(AccountState {
                    name: name.to_string(),
                    address: address.clone(),
                });
                Ok(address)
            };
            let prover = address_of(crate::coprocessor::PROVER_KEY)?;
            let authority = address_of(crate::coprocessor::AUTHORITY_KEY)?;
            let keys = crate::coprocessor::ensure_dev_keys()?;
            crate::coprocessor::add_to_genesis(coprod, &nodes[0].home, &keys, &authority, &prover)?;
        }
        write_shared_genesis(&nodes, &opts.chain_id)?;
        for (i, node) in nodes.iter().enumerate() {
            let peers: Vec<String> = nodes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| format!("{}@127.0.0.1:{}", n.node_id, n.ports.p2p))
                .collect();
            configure_cometbft(node, &peers.join(","), &opts.block_time, opts.app)?;
            if opts.app == AppKind::Coprod {
                configure_coprod(node, &opts.chain_id)?;
            }
        }

        let prover = if opts.prover && opts.app == AppKind::Coprod {
            // The port block after the last node's.
            let api_port = NodePorts::for_node(opts.base_port, opts.validators)?.p2p;
            process::ensure_port_free(api_port)?;
            Some(crate::prover::ProverState {
                home: layout.root().join("prover"),
                api_port,
                pid: None,
            })
        } else {
            None
        };
        let net = Self {
            layout,
            state: State {
                chain_id: opts.chain_id.clone(),
                app: opts.app,
                nodes,
                accounts,
                keyring_dir: keyring,
                prover,
            },
            children: BTreeMap::new(),
            prover_child: None,
        };
        net.save()?;
        Ok(net)
    }

    /// Loads a localnet from its home (for `status`, `down` and tests).
    pub fn open(home: &Path) -> anyhow::Result<Self> {
        let layout = Layout::new(home);
        let path = layout.state_file();
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "no localnet in {} (missing {}): start one with `localnet up`",
                home.display(),
                path.display()
            )
        })?;
        let state = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a localnet state file", path.display()))?;
        Ok(Self {
            layout,
            state,
            children: BTreeMap::new(),
            prover_child: None,
        })
    }

    /// The recorded state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The home layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.state.nodes.len()
    }

    /// Whether the localnet has no nodes (never true for one `up` made).
    pub fn is_empty(&self) -> bool {
        self.state.nodes.is_empty()
    }

    /// RPC URL of node `i`.
    pub fn rpc_url(&self, i: usize) -> String {
        self.state.nodes[i].ports.rpc_url()
    }

    /// An RPC client for node `i` (CometBFT 0.38 dialect).
    pub fn client(&self, i: usize) -> anyhow::Result<HttpClient> {
        rpc_client(&self.rpc_url(i))
    }

    pub(crate) fn save(&self) -> anyhow::Result<()> {
        let path = self.layout.state_file();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.state)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn pid(&self, i: usize, which: Proc) -> Option<u32> {
        let node = &self.state.nodes[i];
        match which {
            Proc::Coprod => node.coprod_pid,
            Proc::Cometbft => node.cometbft_pid,
        }
    }

    fn set_pid(&mut self, i: usize, which: Proc, pid: Option<u32>) -> anyhow::Result<()> {
        let node = &mut self.state.nodes[i];
        match which {
            Proc::Coprod => node.coprod_pid = pid,
            Proc::Cometbft => node.cometbft_pid = pid,
        }
        self.save()
    }

    /// The processes of this localnet's nodes that are alive now, keyed by
    /// (node, process): each recorded pid that still runs its node's command
    /// line (first), then any other process found with the node's `--home`.
    pub fn live_pids(&mut self) -> BTreeMap<(usize, Proc), Vec<u32>> {
        let homes: Vec<PathBuf> = self.state.nodes.iter().map(|n| n.home.clone()).collect();
        let mut live = if proc_scan::available() {
            proc_scan::scan(&homes)
        } else {
            BTreeMap::new()
        };
        for i in 0..self.len() {
            for which in [Proc::Coprod, Proc::Cometbft] {
                if let Some(pid) = self.recorded_live_pid(i, which) {
                    let pids = live.entry((i, which)).or_default();
                    pids.retain(|p| *p != pid);
                    pids.insert(0, pid);
                }
            }
        }
        live
    }

    /// The live pids of process `which` of node `i` (see [`Self::live_pids`]).
    pub fn node_pids(&mut self, i: usize, which: Proc) -> Vec<u32> {
        self.live_pids().remove(&(i, which)).unwrap_or_default()
    }

    /// The recorded pid of process `which` of node `i`, if that process still
    /// runs. A pid alone proves nothing (it may have been reused after the
    /// process died), so it must still run the node's command line.
    fn recorded_live_pid(&mut self, i: usize, which: Proc) -> Option<u32> {
        let pid = self.pid(i, which)?;
        if let Some(child) = self.children.get_mut(&(i, which)) {
            // Our own child: try_wait also reaps it once it has exited.
            return matches!(child.try_wait(), Ok(None)).then_some(pid);
        }
        let alive = if proc_scan::available() {
            proc_scan::pid_matches(pid, which, &self.state.nodes[i].home)
        } else {
            process::is_alive(pid)
        };
        alive.then_some(pid)
    }

    /// Whether any process of any node is alive.
    pub fn any_running(&mut self) -> bool {
        self.live_pids().values().any(|pids| !pids.is_empty()) || !self.prover_pids().is_empty()
    }

    /// Whether process `which` of node `i` runs.
    pub fn is_running(&mut self, i: usize, which: Proc) -> bool {
        !self.node_pids(i, which).is_empty()
    }

    /// The processes a node of this localnet has.
    pub fn node_procs(&self) -> &'static [Proc] {
        match self.state.app {
            AppKind::Coprod => &[Proc::Coprod, Proc::Cometbft],
            AppKind::Kvstore => &[Proc::Cometbft],
        }
    }

    /// The index of the node called `name`: `node2` or just `2`.
    pub fn node_index(&self, name: &str) -> anyhow::Result<usize> {
        if let Some(i) =
            (0..self.len()).find(|i| name == Layout::node_name(*i) || name == i.to_string())
        {
            return Ok(i);
        }
        let names: Vec<String> = (0..self.len()).map(Layout::node_name).collect();
        bail!(
            "no node `{name}` in the localnet in {}: its nodes are {} (or just 0-{})",
            self.layout.root().display(),
            names.join(", "),
            self.len().saturating_sub(1)
        )
    }

    /// Starts node `i`: its coprod first (CometBFT dials it at start), then CometBFT.
    pub fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        if self.state.app == AppKind::Coprod {
            self.start(i, Proc::Coprod)?;
        }
        self.start(i, Proc::Cometbft)
    }

    /// Starts one process of node `i` (no-op when it already runs).
    pub fn start(&mut self, i: usize, which: Proc) -> anyhow::Result<()> {
        if self.is_running(i, which) {
            return Ok(());
        }
        let node = self.state.nodes[i].clone();
        let logs = self.layout.node_logs(i);
        let child = match which {
            Proc::Coprod => {
                let mut cmd = Command::new(process::find_binary("coprod")?);
                cmd.arg("start")
                    .arg("--home")
                    .arg(&node.home)
                    .arg("--abci-address")
                    .arg(format!("tcp://127.0.0.1:{}", node.ports.abci));
                let child = process::spawn_detached(cmd, &logs.join("coprod.log"))?;
                process::wait_for_port(node.ports.abci, Duration::from_secs(30)).with_context(
                    || {
                        format!(
                            "coprod of {} did not open its ABCI port; see {}",
                            node.name,
                            logs.join("coprod.log").display()
                        )
                    },
                )?;
                child
            }
            Proc::Cometbft => {
                let mut cmd = Command::new(process::find_binary("cometbft")?);
                cmd.arg("start").arg("--home").arg(&node.home);
                process::spawn_detached(cmd, &logs.join("cometbft.log"))?
            }
        };
        let pid = child.id();
        // A handle to an earlier child is reaped before it is replaced, so
        // it leaves no zombie behind.
        if let Some(mut old) = self.children.insert((i, which), child) {
            let _ = old.try_wait();
        }
        self.set_pid(i, which, Some(pid))
    }

    /// Stops one process of node `i` gracefully (SIGTERM, then SIGKILL):
    /// every live one, recorded or found by its command line.
    pub fn stop(&mut self, i: usize, which: Proc) -> anyhow::Result<Vec<StoppedProcess>> {
        self.end_processes(i, which, |pid, child| process::stop(pid, child, STOP_GRACE))
    }

    /// Kills one process of node `i` with SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize, which: Proc) -> anyhow::Result<Vec<StoppedProcess>> {
        self.end_processes(i, which, process::kill9)
    }

    fn end_processes(
        &mut self,
        i: usize,
        which: Proc,
        end: impl Fn(u32, Option<&mut Child>),
    ) -> anyhow::Result<Vec<StoppedProcess>> {
        let recorded = self.pid(i, which);
        let pids = self.node_pids(i, which);
        for &pid in &pids {
            let child = self.children.get_mut(&(i, which)).filter(|c| c.id() == pid);
            end(pid, child);
        }
        if let Some(mut child) = self.children.remove(&(i, which)) {
            // Reaps a child that had exited on its own before.
            let _ = child.try_wait();
        }
        self.set_pid(i, which, None)?;
        Ok(pids
            .into_iter()
            .map(|pid| StoppedProcess {
                node: i,
                which,
                pid,
                recorded: recorded == Some(pid),
            })
            .collect())
    }

    /// Stops node `i` (CometBFT first, so it does not log a lost app).
    pub fn stop_node(&mut self, i: usize) -> anyhow::Result<Vec<StoppedProcess>> {
        let mut stopped = self.stop(i, Proc::Cometbft)?;
        stopped.extend(self.stop(i, Proc::Coprod)?);
        Ok(stopped)
    }

    /// Stops the prover, then every node, including processes started by
    /// hand on a node's home. (The prover's pids are not in the list: it is
    /// not a node process.)
    pub fn down(&mut self) -> anyhow::Result<Vec<StoppedProcess>> {
        self.stop_prover()?;
        let mut stopped = Vec::new();
        for i in 0..self.state.nodes.len() {
            stopped.extend(self.stop_node(i)?);
        }
        Ok(stopped)
    }

    /// Stops node `i` (whatever of it runs), starts it again and waits, up
    /// to `timeout`, until its RPC answers at the height the other nodes had
    /// when it came back (on start, CometBFT replays to coprod the blocks it
    /// has not committed, then catches up from its peers).
    pub async fn restart(&mut self, i: usize, timeout: Duration) -> anyhow::Result<Restarted> {
        let own_height_before = self.rpc_answers().await[i].as_ref().map(|a| a.height);
        let stopped = self.stop_node(i)?;
        self.start_node(i)?;
        let others_height = self
            .rpc_answers()
            .await
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, a)| a.as_ref().map(|a| a.height))
            .max();
        let target_height = others_height.max(own_height_before).unwrap_or(1).max(1);
        let logs = self.layout.node_logs(i);
        let name = self.state.nodes[i].name.clone();
        let client = self.client(i)?;
        let deadline = Instant::now() + timeout;
        let mut last_height = None;
        loop {
            for &which in self.node_procs() {
                if !self.is_running(i, which) {
                    bail!(
                        "{} of {name} exited after the restart; see {}",
                        which.name(),
                        logs.join(which.log_file()).display()
                    );
                }
            }
            if let Ok(Ok(s)) = tokio::time::timeout(RPC_ANSWER_TIMEOUT, client.status()).await {
                let height = s.sync_info.latest_block_height.value();
                if height >= target_height {
                    return Ok(Restarted {
                        stopped,
                        coprod_pid: self.pid(i, Proc::Coprod),
                        cometbft_pid: self.pid(i, Proc::Cometbft),
                        target_height,
                        height,
                    });
                }
                last_height = Some(height);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{name} did not reach height {target_height} within {timeout:?} after \
                     the restart (its RPC {}); see {} and {}",
                    last_height.map_or("never answered".to_string(), |h| format!(
                        "last said height {h}"
                    )),
                    logs.join(Proc::Coprod.log_file()).display(),
                    logs.join(Proc::Cometbft.log_file()).display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every node's RPC status, asked of all nodes at once; `None` for a node
    /// that does not answer within [`RPC_ANSWER_TIMEOUT`].
    async fn rpc_answers(&self) -> Vec<Option<RpcAnswer>> {
        let mut asks = tokio::task::JoinSet::new();
        for i in 0..self.len() {
            let Ok(client) = self.client(i) else {
                continue;
            };
            asks.spawn(async move {
                let answer = tokio::time::timeout(RPC_ANSWER_TIMEOUT, client.status()).await;
                let answer = match answer {
                    Ok(Ok(s)) => Some(RpcAnswer {
                        height: s.sync_info.latest_block_height.value(),
                        app_hash: hex::encode_upper(s.sync_info.latest_app_hash.as_bytes()),
                        catching_up: s.sync_info.catching_up,
                    }),
                    _ => None,
                };
                (i, answer)
            });
        }
        let mut answers = vec![None; self.len()];
        while let Some(joined) = asks.join_next().await {
            if let Ok((i, answer)) = joined {
                answers[i] = answer;
            }
        }
        answers
    }

    /// Status of every node: which of its processes are alive, and what its
    /// RPC says.
    pub async fn status(&mut self) -> Vec<NodeStatus> {
        let mut live = self.live_pids();
        let answers = self.rpc_answers().await;
        let procs = self.node_procs();
        let mut out = Vec::with_capacity(self.len());
        for (i, answer) in answers.into_iter().enumerate() {
            let mut pids_of = |which: Proc| live.remove(&(i, which)).unwrap_or_default();
            let (coprod, cometbft) = (pids_of(Proc::Coprod), pids_of(Proc::Cometbft));
            let alive = procs
                .iter()
                .filter(|p| match p {
                    Proc::Coprod => !coprod.is_empty(),
                    Proc::Cometbft => !cometbft.is_empty(),
                })
                .count();
            let state = if alive == 0 {
                RunState::Stopped
            } else if alive < procs.len() {
                RunState::Partial
            } else if answer.is_some() {
                RunState::Running
            } else {
                RunState::Unreachable
            };
            let extra_pids = coprod
                .iter()
                .skip(1)
                .chain(cometbft.iter().skip(1))
                .copied();
            out.push(NodeStatus {
                name: self.state.nodes[i].name.clone(),
                rpc: self.rpc_url(i),
                height: answer.as_ref().map(|a| a.height),
                app_hash: answer.as_ref().map(|a| a.app_hash.clone()),
                catching_up: answer.as_ref().map(|a| a.catching_up),
                running: alive == procs.len(),
                state,
                coprod_pid: coprod.first().copied(),
                cometbft_pid: cometbft.first().copied(),
                extra_pids: extra_pids.collect(),
            });
        }
        out
    }

    /// Waits until node `i` reports a latest height of at least `height`.
    pub async fn wait_for_height(
        &self,
        i: usize,
        height: u64,
        timeout: Duration,
    ) -> anyhow::Result<u64> {
        let client = self.client(i)?;
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(3), client.status()).await {
                let h = s.sync_info.latest_block_height.value();
                if h >= height {
                    return Ok(h);
                }
                last = Some(h);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("node{i} did not reach height {height} within {timeout:?} (last seen: {last:?})")
    }
}

/// An RPC client speaking CometBFT 0.38's dialect.
pub fn rpc_client(url: &str) -> anyhow::Result<HttpClient> {
    let url: tendermint_rpc::Url = url.parse()?;
    Ok(HttpClient::builder(url.try_into()?)
        .compat_mode(tendermint_rpc::client::CompatMode::V0_38)
        .build()?)
}

/// Puts every node's validator key into node 0's genesis (which holds the
/// accounts added so far) and gives all nodes that same genesis file.
/// Adds key `name` to the keyring and funds it in `home`'s genesis; returns
/// its address.
fn add_funded_key(
    coprod: &Path,
    keyring: &Path,
    home: &Path,
    name: &str,
    coins: &str,
) -> anyhow::Result<String> {
    let out = process::run(
        Command::new(coprod)
            .args(["keys", "add", name, "--output", "json"])
            .arg("--keyring-dir")
            .arg(keyring),
    )?;
    let key: Value = serde_json::from_str(&out)
        .with_context(|| format!("`coprod keys add` printed no JSON: {out}"))?;
    let address = key["address"]
        .as_str()
        .context("`coprod keys add` JSON has no address")?
        .to_string();
    process::run(
        Command::new(coprod)
            .args(["genesis", "add-account", &address, coins])
            .arg("--home")
            .arg(home),
    )?;
    Ok(address)
}

fn write_shared_genesis(nodes: &[NodeState], chain_id: &str) -> anyhow::Result<()> {
    let genesis_path = |home: &Path| home.join("config").join("genesis.json");
    let mut genesis: Value = serde_json::from_slice(&std::fs::read(genesis_path(&nodes[0].home))?)?;
    let mut validators = Vec::with_capacity(nodes.len());
    for node in nodes {
        let key_path = node.home.join("config").join("priv_validator_key.json");
        let key: Value = serde_json::from_slice(
            &std::fs::read(&key_path).with_context(|| format!("missing {}", key_path.display()))?,
        )?;
        validators.push(serde_json::json!({
            "address": key["address"],
            "pub_key": key["pub_key"],
            "power": "10",
            "name": node.name,
        }));
    }
    genesis["validators"] = Value::Array(validators);
    genesis["chain_id"] = Value::String(chain_id.to_string());
    let bytes = serde_json::to_vec_pretty(&genesis)?;
    for node in nodes {
        std::fs::write(genesis_path(&node.home), &bytes)?;
    }
    Ok(())
}

fn edit_toml(path: &Path, edit: impl FnOnce(&mut toml_edit::DocumentMut)) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("missing {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    edit(&mut doc);
    std::fs::write(path, doc.to_string())?;
    Ok(())
}

fn configure_cometbft(
    node: &NodeState,
    peers: &str,
    block_time: &str,
    app: AppKind,
) -> anyhow::Result<()> {
    let p = node.ports;
    edit_toml(&node.home.join("config").join("config.toml"), |doc| {
        doc["moniker"] = toml_edit::value(node.name.as_str());
        doc["proxy_app"] = toml_edit::value(match app {
            AppKind::Coprod => format!("tcp://127.0.0.1:{}", p.abci),
            AppKind::Kvstore => "kvstore".to_string(),
        });
        doc["rpc"]["laddr"] = toml_edit::value(format!("tcp://127.0.0.1:{}", p.rpc));
        doc["rpc"]["pprof_laddr"] = toml_edit::value("");
        doc["p2p"]["laddr"] = toml_edit::value(format!("tcp://127.0.0.1:{}", p.p2p));
        doc["p2p"]["external_address"] = toml_edit::value(format!("127.0.0.1:{}", p.p2p));
        doc["p2p"]["persistent_peers"] = toml_edit::value(peers);
        doc["p2p"]["allow_duplicate_ip"] = toml_edit::value(true);
        doc["p2p"]["addr_book_strict"] = toml_edit::value(false);
        doc["consensus"]["timeout_commit"] = toml_edit::value(block_time);
        doc["instrumentation"]["prometheus"] = toml_edit::value(true);
        doc["instrumentation"]["prometheus_listen_addr"] =
            toml_edit::value(format!("127.0.0.1:{}", p.cometbft_metrics));
    })
}

fn configure_coprod(node: &NodeState, chain_id: &str) -> anyhow::Result<()> {
    let p = node.ports;
    edit_toml(&node.home.join("config").join("app.toml"), |doc| {
        doc["chain-id"] = toml_edit::value(chain_id);
        doc["abci"]["address"] = toml_edit::value(format!("tcp://127.0.0.1:{}", p.abci));
        doc["client"]["node"] = toml_edit::value(p.rpc_url());
        doc["metrics"]["address"] = toml_edit::value(format!("127.0.0.1:{}", p.app_metrics));
        doc["grpc"]["address"] = toml_edit::value(format!("127.0.0.1:{}", p.grpc));
        doc["api"]["address"] = toml_edit::value(format!("127.0.0.1:{}", p.api));
    })
}
