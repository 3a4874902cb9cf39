//! `H/config/app.toml`: coprod's own configuration (CometBFT keeps its
//! `config.toml`).
//!
//! ```toml
//! chain-id = "copro-local"
//! minimum-gas-prices = "0.025ucopro"
//!
//! [abci]
//! address = "tcp://127.0.0.1:26658"
//!
//! [client]
//! node = "http://127.0.0.1:26657"
//!
//! [store]
//! path = "data/coprod"   # relative to the home directory
//!
//! [log]
//! level = "info"
//!
//! [metrics]
//! address = ""           # e.g. "127.0.0.1:26660" serves Prometheus /metrics
//!
//! [grpc]
//! address = "127.0.0.1:9090"   # empty: off (see `coprod::grpc`)
//!
//! [api]
//! address = "127.0.0.1:1317"   # REST (LCD); empty: off (see `coprod::rest`)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// Name of the redb file inside the store directory.
pub const STORE_FILE: &str = "store.redb";

/// The whole `app.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AppConfig {
    /// Chain-id used by client commands when `--chain-id` is absent.
    pub chain_id: String,
    /// CheckTx fee policy: minimum price per gas unit (e.g. `0.025ucopro`).
    pub minimum_gas_prices: String,
    /// ABCI server.
    pub abci: AbciConfig,
    /// Client commands.
    pub client: ClientConfig,
    /// Merkle store.
    pub store: StoreConfig,
    /// Logging.
    pub log: LogConfig,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// gRPC server (an app.toml without the section has it off).
    #[serde(default)]
    pub grpc: GrpcConfig,
    /// REST (LCD) server (an app.toml without the section has it off).
    #[serde(default)]
    pub api: ApiConfig,
}

/// `[api]`: the REST (LCD) endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiConfig {
    /// REST listen address, `HOST:PORT` (empty: off). It answers through
    /// the same handlers as the gRPC server.
    #[serde(default)]
    pub address: String,
}

/// Default REST address of a new home (the port Cosmos clients expect).
pub const DEFAULT_API_ADDRESS: &str = "127.0.0.1:1317";

/// `[grpc]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcConfig {
    /// gRPC listen address, `HOST:PORT` (empty: off). Its tx and CometBFT
    /// services call the node's CometBFT RPC at `[client] node`.
    #[serde(default)]
    pub address: String,
}

/// Default gRPC address of a new home (the port Cosmos clients expect).
pub const DEFAULT_GRPC_ADDRESS: &str = "127.0.0.1:9090";

/// `[abci]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbciConfig {
    /// `tcp://HOST:PORT` the ABCI server listens on (CometBFT's `proxy_app`).
    pub address: String,
}

/// `[client]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// CometBFT RPC URL.
    pub node: String,
}

/// `[store]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreConfig {
    /// Store directory, relative to the home directory unless absolute.
    pub path: String,
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// `tracing` filter (overridden by `RUST_LOG`).
    pub level: String,
}

/// `[metrics]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Prometheus listen address, `HOST:PORT` (empty: off).
    #[serde(default)]
    pub address: String,
}

impl AppConfig {
    /// Defaults for a new home.
    pub fn new(chain_id: &str) -> Self {
        Self {
            chain_id: chain_id.to_string(),
            minimum_gas_prices: "0.025ucopro".to_string(),
            abci: AbciConfig {
                address: "tcp://127.0.0.1:26658".to_string(),
            },
            client: ClientConfig {
                node: "http://127.0.0.1:26657".to_string(),
            },
            store: StoreConfig {
                path: "data/coprod".to_string(),
            },
            log: LogConfig {
                level: "info".to_string(),
            },
            metrics: MetricsConfig::default(),
            grpc: GrpcConfig {
                address: DEFAULT_GRPC_ADDRESS.to_string(),
            },
            api: ApiConfig {
                address: DEFAULT_API_ADDRESS.to_string(),
            },
        }
    }

    /// `H/config/app.toml`.
    pub fn path(home: &Path) -> PathBuf {
        home.join("config").join("app.toml")
    }

    /// Loads `H/config/app.toml`.
    pub fn load(home: &Path) -> anyhow::Result<Self> {
        let path = Self::path(home);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}; run `coprod init --home {}` first",
                path.display(),
                home.display()
            )
        })?;
        toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))
    }

    /// Writes `H/config/app.toml`.
    pub fn save(&self, home: &Path) -> anyhow::Result<()> {
        let path = Self::path(home);
        let text = toml::to_string(self)?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The redb file of the store.
    pub fn store_file(&self, home: &Path) -> PathBuf {
        let dir = Path::new(&self.store.path);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            home.join(dir)
        };
        dir.join(STORE_FILE)
    }
}

/// Parses `tcp://HOST:PORT` (or `HOST:PORT`; HOST an IP or a resolvable
/// name such as `localhost`) into a socket address.
pub fn parse_tcp_address(s: &str) -> anyhow::Result<SocketAddr> {
    let rest = s.strip_prefix("tcp://").unwrap_or(s);
    if rest.contains("://") {
        bail!("ABCI address '{s}' must be tcp://HOST:PORT");
    }
    if let Ok(addr) = rest.parse() {
        return Ok(addr);
    }
    std::net::ToSocketAddrs::to_socket_addrs(rest)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .with_context(|| format!("ABCI address '{s}' must be tcp://HOST:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_toml_round_trips_and_resolves_the_store_under_home() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let cfg = AppConfig::new("copro-1");
        cfg.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(AppConfig::path(dir.path())).unwrap();
        assert!(
            text.contains("minimum-gas-prices = \"0.025ucopro\""),
            "{text}"
        );
        assert!(
            text.contains("[abci]\naddress = \"tcp://127.0.0.1:26658\""),
            "{text}"
        );
        assert!(
            text.contains("[grpc]\naddress = \"127.0.0.1:9090\""),
            "{text}"
        );
        let back = AppConfig::load(dir.path()).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(
            back.store_file(dir.path()),
            dir.path().join("data/coprod").join(STORE_FILE)
        );
        assert!(AppConfig::load(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn an_app_toml_without_a_grpc_section_has_grpc_off() {
        let mut cfg = AppConfig::new("copro-1");
        cfg.grpc = GrpcConfig::default();
        let mut text = toml::to_string(&cfg).unwrap();
        text = text.replace("[grpc]\naddress = \"\"\n", "");
        assert!(!text.contains("grpc"), "{text}");
        let back: AppConfig = toml::from_str(&text).unwrap();
        assert_eq!(back.grpc.address, "");
    }

    #[test]
    fn abci_addresses_must_be_tcp_host_port() {
        assert_eq!(
            parse_tcp_address("tcp://127.0.0.1:26658").unwrap(),
            "127.0.0.1:26658".parse::<std::net::SocketAddr>().unwrap()
        );
        assert!(parse_tcp_address("127.0.0.1:1").is_ok());
        assert!(parse_tcp_address("unix:///tmp/x.sock").is_err());
        assert!(parse_tcp_address("tcp://localhost").is_err());
        assert!(parse_tcp_address("tcp://localhost:26658").is_ok());
    }
}
