//! The localnet's prover: one `copro-prover run` beside the validators,
//! with the localnet's prover key, the dev program's keys and a trust root
//! taken from node 0 when the chain starts (a localnet trusts itself; a
//! real operator checks that header out of band).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tendermint_rpc::Client;

use crate::net::Localnet;
use crate::{proc_scan, process};

/// What the state file records about the prover.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProverState {
    /// Its home: config, data, log.
    pub home: PathBuf,
    /// Port of its HTTP API (`/status`, `/jobs`, `/metrics`).
    pub api_port: u16,
    /// pid while running.
    pub pid: Option<u32>,
}

impl ProverState {
    /// Its config file.
    pub fn config(&self) -> PathBuf {
        self.home.join("prover.toml")
    }

    /// Its log file.
    pub fn log(&self) -> PathBuf {
        self.home.join("prover.log")
    }
}

/// What `localnet status` says about the prover.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProverStatus {
    /// `running`, `unreachable` (process alive, API silent) or `stopped`.
    pub state: String,
    /// pid, while running.
    pub pid: Option<u32>,
    /// Its API.
    pub api: String,
    /// Its log.
    pub log: PathBuf,
    /// The daemon's own `/status` (state, heights, jobs, reason it refuses).
    pub status: Option<serde_json::Value>,
}

/// The prover config for this localnet.
fn config_text(
    net: &Localnet,
    prover: &ProverState,
    trust: (u64, String),
) -> anyhow::Result<String> {
    let keys = crate::coprocessor::ensure_dev_keys()?;
    let quote = |p: &Path| format!("{:?}", p.display().to_string());
    Ok(format!(
        r#"# copro-prover config written by `localnet up` (see docs/prover.md).
chain_id = "{chain_id}"
rpc = "{rpc}"
data_dir = "data"

[trust]
# A localnet trusts its own first block; a real operator checks the header
# out of band.
height = {height}
hash = "{hash}"

[key]
keyring_dir = {keyring}
name = "{key}"

[program]
id = "transfer"
version = 1
keys_dir = {keys}

[batch]
max_entries = 0
flush_after_ms = 1000

[proving]
workers = 1

[tx]
gas = 400000
fee = "10000ucopro"

[api]
listen = "127.0.0.1:{port}"
"#,
        chain_id = net.state().chain_id,
        rpc = net.rpc_url(0),
        height = trust.0,
        hash = trust.1,
        keyring = quote(&net.state().keyring_dir),
        key = crate::coprocessor::PROVER_KEY,
        keys = quote(&keys),
        port = prover.api_port,
    ))
}

impl Localnet {
    /// The prover's record, if this localnet has one.
    pub fn prover(&self) -> Option<&ProverState> {
        self.state.prover.as_ref()
    }

    /// The live `copro-prover run` processes of this localnet's prover
    /// (the recorded pid first).
    pub fn prover_pids(&self) -> Vec<u32> {
        let Some(p) = self.prover() else {
            return Vec::new();
        };
        let config = p.config();
        let mut pids = proc_scan::prover_pids(&config);
        if let Some(pid) = p.pid
            && let Some(at) = pids.iter().position(|x| *x == pid)
        {
            pids.remove(at);
            pids.insert(0, pid);
        }
        pids
    }

    /// Writes the prover's config (first time: trust root from node 0's
    /// block 1) and starts it, unless it runs; waits for its API.
    pub async fn start_prover(&mut self) -> anyhow::Result<u32> {
        let prover = self
            .prover()
            .cloned()
            .context("this localnet was made without a prover")?;
        if let Some(pid) = self.prover_pids().first() {
            return Ok(*pid);
        }
        if !prover.config().exists() {
            self.wait_for_height(0, 2, Duration::from_secs(60)).await?;
            let commit = self
                .client(0)?
                .commit(tendermint::block::Height::from(1u32))
                .await
                .context("cannot read block 1 for the prover's trust root")?;
            let hash = commit.signed_header.header.hash().to_string();
            std::fs::create_dir_all(&prover.home)?;
            std::fs::write(prover.config(), config_text(self, &prover, (1, hash))?)?;
        }
        let mut cmd = Command::new(process::find_binary("copro-prover")?);
        cmd.arg("run").arg("--config").arg(prover.config());
        let child = process::spawn_detached(cmd, &prover.log())?;
        let pid = child.id();
        if let Some(p) = self.state.prover.as_mut() {
            p.pid = Some(pid);
        }
        self.prover_child = Some(child);
        self.save()?;
        // The API opens once the proving key is loaded and the chain read.
        process::wait_for_port(prover.api_port, Duration::from_secs(120)).with_context(|| {
            format!(
                "the prover did not open its API on port {}; see {}",
                prover.api_port,
                prover.log().display()
            )
        })?;
        Ok(pid)
    }

    /// Restarts the prover with `workers` proving workers (rewrites its
    /// config).
    pub async fn set_prover_workers(&mut self, workers: usize) -> anyhow::Result<()> {
        let config = self
            .prover()
            .context("this localnet was made without a prover")?
            .config();
        let text = std::fs::read_to_string(&config)?;
        let mut found = false;
        let updated: Vec<String> = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("workers") {
                    found = true;
                    format!("workers = {workers}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        anyhow::ensure!(found, "no `workers` line in {}", config.display());
        std::fs::write(&config, updated.join("\n") + "\n")?;
        self.stop_prover()?;
        self.start_prover().await?;
        Ok(())
    }

    /// Restarts the prover on program `transfer` version `version` with the
    /// keys in `keys_dir` (rewrites `[program]` in its config): what an
    /// operator does after `coprod tx copro update-program`.
    pub async fn set_prover_program(
        &mut self,
        version: u32,
        keys_dir: &Path,
    ) -> anyhow::Result<()> {
        let config = self
            .prover()
            .context("this localnet was made without a prover")?
            .config();
        let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&config)?.parse()?;
        doc["program"]["version"] = toml_edit::value(i64::from(version));
        doc["program"]["keys_dir"] = toml_edit::value(keys_dir.display().to_string());
        std::fs::write(&config, doc.to_string())?;
        self.stop_prover()?;
        self.start_prover().await?;
        Ok(())
    }

    /// Stops the prover (SIGTERM, then SIGKILL); returns the pids stopped.
    pub fn stop_prover(&mut self) -> anyhow::Result<Vec<u32>> {
        self.end_prover(|pid, child| process::stop(pid, child, Duration::from_secs(10)))
    }

    /// Kills the prover with SIGKILL, as a crash would.
    pub fn kill_prover(&mut self) -> anyhow::Result<Vec<u32>> {
        self.end_prover(process::kill9)
    }

    fn end_prover(
        &mut self,
        end: impl Fn(u32, Option<&mut std::process::Child>),
    ) -> anyhow::Result<Vec<u32>> {
        let pids = self.prover_pids();
        for &pid in &pids {
            let child = self.prover_child.as_mut().filter(|c| c.id() == pid);
            end(pid, child);
        }
        if let Some(mut child) = self.prover_child.take() {
            let _ = child.try_wait();
        }
        if let Some(p) = self.state.prover.as_mut() {
            p.pid = None;
            self.save()?;
        }
        Ok(pids)
    }

    /// The prover's state and its own `/status` (read with
    /// `copro-prover status -o json`).
    pub fn prover_status(&self) -> Option<ProverStatus> {
        let p = self.prover()?;
        let pid = self.prover_pids().first().copied();
        let status = pid.and_then(|_| {
            let out = Command::new(process::find_binary("copro-prover").ok()?)
                .args(["status", "-o", "json", "--config"])
                .arg(p.config())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| serde_json::from_slice(&out.stdout).ok())
                .flatten()
        });
        let state = match (pid, &status) {
            (None, _) => "stopped",
            (Some(_), None) => "unreachable",
            (Some(_), Some(_)) => "running",
        };
        Some(ProverStatus {
            state: state.into(),
            pid,
            api: format!("http://127.0.0.1:{}", p.api_port),
            log: p.log(),
            status,
        })
    }
}
