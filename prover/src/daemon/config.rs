//! `copro-prover run --config FILE`: the daemon's TOML configuration.
//!
//! Relative paths are taken from the directory of the config file, so a
//! prover home can be moved as a whole.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Chain id the proofs are bound to.
    pub chain_id: String,
    /// CometBFT RPC endpoint (http://host:port).
    pub rpc: String,
    /// Where the ledger replica and the job store live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Trust root of the light client.
    pub trust: TrustConfig,
    /// The prover's account key.
    pub key: KeyConfig,
    /// The program proved.
    pub program: ProgramConfig,
    /// When to cut a batch.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Proving workers.
    #[serde(default)]
    pub proving: ProvingConfig,
    /// Transactions: fee, gas, confirmation.
    #[serde(default)]
    pub tx: TxConfig,
    /// The HTTP API and metrics.
    #[serde(default)]
    pub api: ApiConfig,
    /// The pool of signed off-chain transfers (`transfer` version 2).
    #[serde(default)]
    pub pool: PoolConfig,
}

/// Caps of the off-chain transfer pool: `POST /transfers` answers 503 when
/// `max_transfers` wait, 429 when one sender has `max_per_sender` waiting.
/// Accepted transfers are never dropped for room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Most transfers waiting (pending or batched).
    #[serde(default = "default_pool_max")]
    pub max_transfers: usize,
    /// Most transfers of one sender waiting.
    #[serde(default = "default_pool_per_sender")]
    pub max_per_sender: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_transfers: default_pool_max(),
            max_per_sender: default_pool_per_sender(),
        }
    }
}

fn default_pool_max() -> usize {
    4096
}
fn default_pool_per_sender() -> usize {
    32
}

/// Where the light client's trust starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Height of a header checked out of band.
    pub height: u64,
    /// Its hash (hex, as `coprod status` or an explorer shows it).
    pub hash: String,
    /// How long a verified validator set is trusted, seconds (below the
    /// chain's unbonding period).
    #[serde(default = "default_trusting_period")]
    pub trusting_period_secs: u64,
    /// Largest accepted clock difference with a header's time, seconds.
    #[serde(default = "default_clock_drift")]
    pub clock_drift_secs: u64,
}

/// The key that signs `MsgSubmitProof` (the chain's registered prover).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Keyring directory (`coprod keys --keyring-dir`).
    pub keyring_dir: PathBuf,
    /// Key name in it.
    pub name: String,
}

/// The program whose batches this prover proves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// Program id on the chain.
    #[serde(default = "default_program")]
    pub id: String,
    /// Program version on the chain.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Directory with `proving_key.bin` (from `copro-prover setup`, or a
    /// ceremony); its verifying key must be the one the chain registered.
    pub keys_dir: PathBuf,
}

/// Batch policy: a batch is cut when `max_entries` requests wait, or when
/// the oldest waiting request has waited `flush_after_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Requests per batch, at most the program's batch size; 0 = the
    /// program's batch size.
    #[serde(default)]
    pub max_entries: usize,
    /// Flush a partial batch after this long, milliseconds.
    #[serde(default = "default_flush")]
    pub flush_after_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_entries: 0,
            flush_after_ms: default_flush(),
        }
    }
}

/// Proving workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvingConfig {
    /// Batches proved at once (each proof already uses every core).
    #[serde(default = "default_workers")]
    pub workers: usize,
}

impl Default for ProvingConfig {
    fn default() -> Self {
        ProvingConfig {
            workers: default_workers(),
        }
    }
}

/// Transaction settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxConfig {
    /// Gas limit of a proof tx.
    #[serde(default = "default_gas")]
    pub gas: u64,
    /// Fee, e.g. `10000ucopro`.
    #[serde(default = "default_fee")]
    pub fee: String,
    /// Broadcast again when a submitted proof is not in a block after this
    /// many blocks.
    #[serde(default = "default_confirm_blocks")]
    pub rebroadcast_after_blocks: u64,
    /// First retry delay of a failed job, milliseconds (doubles per
    /// attempt, up to 60 s).
    #[serde(default = "default_backoff")]
    pub retry_backoff_ms: u64,
}

impl Default for TxConfig {
    fn default() -> Self {
        TxConfig {
            gas: default_gas(),
            fee: default_fee(),
            rebroadcast_after_blocks: default_confirm_blocks(),
            retry_backoff_ms: default_backoff(),
        }
    }
}

/// The HTTP API (`/status`, `/jobs`, `/jobs/{id}`, `/health`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address; keep it on loopback or behind a proxy (no auth).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: default_listen(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_trusting_period() -> u64 {
    14 * 24 * 3600
}
fn default_clock_drift() -> u64 {
    10
}
fn default_program() -> String {
    "transfer".into()
}
fn default_version() -> u32 {
    1
}
fn default_flush() -> u64 {
    2_000
}
fn default_workers() -> usize {
    1
}
fn default_gas() -> u64 {
    2_000_000
}
fn default_fee() -> String {
    "10000ucopro".into()
}
fn default_confirm_blocks() -> u64 {
    10
}
fn default_backoff() -> u64 {
    1_000
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 26690))
}

impl Config {
    /// Reads and checks `path`; relative paths become relative to its
    /// directory.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the prover config {} (write one as shown in docs/prover.md)",
                path.display()
            )
        })?;
        let mut config: Config = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid prover config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.data_dir,
            &mut config.key.keyring_dir,
            &mut config.program.keys_dir,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Checks what can be checked without the chain.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.chain_id.is_empty() {
            bail!("chain_id is empty");
        }
        if self.proving.workers == 0 || self.proving.workers > 64 {
            bail!("[proving] workers = {} (use 1 to 64)", self.proving.workers);
        }
        if self.trust.height == 0 {
            bail!("[trust] height must be at least 1");
        }
        if self.pool.max_transfers == 0 || self.pool.max_per_sender == 0 {
            bail!("[pool] max_transfers and max_per_sender must be at least 1");
        }
        self.trust_hash()?;
        Ok(())
    }

    /// The trusted header hash.
    pub fn trust_hash(&self) -> anyhow::Result<tendermint::Hash> {
        let bytes = hex::decode(self.trust.hash.trim_start_matches("0x"))
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| {
                format!(
                    "[trust] hash '{}' is not a 32-byte hex block hash",
                    self.trust.hash
                )
            })?;
        tendermint::Hash::from_bytes(tendermint::hash::Algorithm::Sha256, &bytes)
            .map_err(|e| anyhow::anyhow!("[trust] hash: {e}"))
    }

    /// Trusting period.
    pub fn trusting_period(&self) -> Duration {
        Duration::from_secs(self.trust.trusting_period_secs)
    }

    /// Clock drift.
    pub fn clock_drift(&self) -> Duration {
        Duration::from_secs(self.trust.clock_drift_secs)
    }

    /// The ledger replica file.
    pub fn replica_path(&self) -> PathBuf {
        self.data_dir.join("replica.redb")
    }

    /// The job store file.
    pub fn jobs_path(&self) -> PathBuf {
        self.data_dir.join("jobs.redb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
chain_id = "copro-localnet"
rpc = "http://127.0.0.1:26657"
[trust]
height = 3
hash = "0x7A0C1B1D8B7F3F4B0F1C8E0D9B2A3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D"
[key]
keyring_dir = "../keyring"
name = "prover"
[program]
keys_dir = "/keys/b4"
"#;

    #[test]
    fn a_minimal_file_gets_defaults_and_relative_paths_from_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prover.toml");
        std::fs::write(&file, MINIMAL).unwrap();
        let c = Config::load(&file).unwrap();
        assert_eq!(c.program.id, "transfer");
        assert_eq!(c.program.version, 1);
        assert_eq!(c.proving.workers, 1);
        assert_eq!(c.batch.flush_after_ms, 2_000);
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.key.keyring_dir, dir.path().join("../keyring"));
        assert_eq!(c.program.keys_dir, PathBuf::from("/keys/b4"));
        assert_eq!(c.trust_hash().unwrap().as_bytes()[0], 0x7a);
        // What it writes back reads the same.
        let again: Config = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prover.toml");
        let err = |text: &str| {
            std::fs::write(&file, text).unwrap();
            format!("{:#}", Config::load(&file).unwrap_err())
        };
        assert!(err(&MINIMAL.replace("0x7A0C", "0x7A")).contains("[trust] hash"));
        assert!(err(&format!("{MINIMAL}[proving]\nworkers = 0\n")).contains("workers = 0"));
        assert!(err(&format!("{MINIMAL}[tx]\nfees = \"1\"\n")).contains("unknown field"));
        assert!(err(&MINIMAL.replace("height = 3", "height = 0")).contains("height"));
        assert!(
            format!(
                "{:#}",
                Config::load(&dir.path().join("none.toml")).unwrap_err()
            )
            .contains("docs/prover.md")
        );
    }
}
