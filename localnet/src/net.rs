//! A localnet: N CometBFT validators, each driving its own `coprod`, on 127.0.0.1.
//!
//! `up` prepares every node with the same tools an operator would use
//! (`coprod init`, `coprod keys add`, `coprod genesis add-account`,
//! `cometbft show-node-id`), writes one genesis with all validators and the
//! funded test accounts, wires the nodes to each other with distinct ports, and
//! starts the processes. The state file (`localnet.json`) lets later commands
//! (`status`, `down`) and tests find the nodes again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tendermint_rpc::{Client, HttpClient};

use crate::layout::{Layout, NodePorts};
use crate::process;

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
}

/// Which of a node's two processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proc {
    /// The ABCI application.
    Coprod,
    /// The consensus engine.
    Cometbft,
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
    /// Whether its processes run (as far as pids tell).
    pub running: bool,
}

/// A localnet we started or found on disk.
pub struct Localnet {
    layout: Layout,
    state: State,
    /// Processes we are the parent of, so we can reap them.
    children: BTreeMap<(usize, Proc), Child>,
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
        Ok(net)
    }

    /// Writes configs, keys and genesis for a new localnet, starting nothing.
    pub fn prepare(opts: &UpOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(opts.validators >= 1, "--validators must be at least 1");
        let layout = Layout::new(&opts.home);
        if layout.state_file().exists()
            && let Ok(old) = Self::open(layout.root())
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
            for port in [ports.p2p, ports.rpc, ports.abci] {
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

        let net = Self {
            layout,
            state: State {
                chain_id: opts.chain_id.clone(),
                app: opts.app,
                nodes,
                accounts,
                keyring_dir: keyring,
            },
            children: BTreeMap::new(),
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

    fn save(&self) -> anyhow::Result<()> {
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

    /// Whether any recorded process is alive.
    pub fn any_running(&self) -> bool {
        self.state
            .nodes
            .iter()
            .flat_map(|n| [n.coprod_pid, n.cometbft_pid])
            .flatten()
            .any(process::is_alive)
    }

    /// Whether process `which` of node `i` runs.
    pub fn is_running(&mut self, i: usize, which: Proc) -> bool {
        let Some(pid) = self.pid(i, which) else {
            return false;
        };
        match self.children.get_mut(&(i, which)) {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => process::is_alive(pid),
        }
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
        self.children.insert((i, which), child);
        self.set_pid(i, which, Some(pid))
    }

    /// Stops one process of node `i` gracefully (SIGTERM, then SIGKILL).
    pub fn stop(&mut self, i: usize, which: Proc) -> anyhow::Result<()> {
        if let Some(pid) = self.pid(i, which) {
            let child = self.children.get_mut(&(i, which));
            process::stop(pid, child, Duration::from_secs(10));
            self.children.remove(&(i, which));
        }
        self.set_pid(i, which, None)
    }

    /// Kills one process of node `i` with SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize, which: Proc) -> anyhow::Result<()> {
        if let Some(pid) = self.pid(i, which) {
            let child = self.children.get_mut(&(i, which));
            process::kill9(pid, child);
            self.children.remove(&(i, which));
        }
        self.set_pid(i, which, None)
    }

    /// Stops node `i` (CometBFT first, so it does not log a lost app).
    pub fn stop_node(&mut self, i: usize) -> anyhow::Result<()> {
        self.stop(i, Proc::Cometbft)?;
        self.stop(i, Proc::Coprod)
    }

    /// Stops every node.
    pub fn down(&mut self) -> anyhow::Result<()> {
        for i in 0..self.state.nodes.len() {
            self.stop_node(i)?;
        }
        Ok(())
    }

    /// Status of every node, asked over RPC.
    pub async fn status(&mut self) -> Vec<NodeStatus> {
        let mut out = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            let running = self.is_running(i, Proc::Cometbft);
            let rpc = self.rpc_url(i);
            let mut status = NodeStatus {
                name: self.state.nodes[i].name.clone(),
                rpc: rpc.clone(),
                height: None,
                app_hash: None,
                catching_up: None,
                running,
            };
            if let Ok(client) = rpc_client(&rpc)
                && let Ok(Ok(s)) =
                    tokio::time::timeout(Duration::from_secs(3), client.status()).await
            {
                status.height = Some(s.sync_info.latest_block_height.value());
                status.app_hash = Some(hex::encode_upper(s.sync_info.latest_app_hash.as_bytes()));
                status.catching_up = Some(s.sync_info.catching_up);
            }
            out.push(status);
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
    })
}
