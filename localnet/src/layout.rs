//! Where a localnet keeps its files and which ports each node listens on.
//!
//! Every node owns a block of [`PORTS_PER_NODE`] consecutive ports starting at
//! `base_port + PORT_STRIDE * index`, so node 0 with the default base gets the
//! ports users know from Cosmos chains (p2p 26656, RPC 26657, ABCI 26658).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default first port of node 0 (its p2p port).
pub const DEFAULT_BASE_PORT: u16 = 26656;
/// Distance between the port blocks of consecutive nodes.
pub const PORT_STRIDE: u16 = 10;
/// Ports a node uses out of its block.
pub const PORTS_PER_NODE: u16 = 7;

/// The ports of one node, all bound on 127.0.0.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePorts {
    /// CometBFT peer-to-peer.
    pub p2p: u16,
    /// CometBFT RPC (what clients talk to).
    pub rpc: u16,
    /// ABCI socket between CometBFT and coprod.
    pub abci: u16,
    /// CometBFT's Prometheus metrics.
    pub cometbft_metrics: u16,
    /// coprod's Prometheus metrics.
    pub app_metrics: u16,
    /// coprod's gRPC server (the Cosmos gRPC services).
    #[serde(default)]
    pub grpc: u16,
    /// coprod's REST (LCD) server.
    #[serde(default)]
    pub api: u16,
}

impl NodePorts {
    /// Ports of node `index` for a localnet whose node 0 starts at `base`.
    /// Fails when the block would run past the last port.
    pub fn for_node(base: u16, index: usize) -> anyhow::Result<Self> {
        let start = u32::from(base) + u32::from(PORT_STRIDE) * u32::try_from(index)?;
        let last = start + u32::from(PORTS_PER_NODE) - 1;
        anyhow::ensure!(
            last <= u32::from(u16::MAX),
            "node {index} would need ports up to {last}: use a lower --base-port or fewer validators"
        );
        let port = |offset: u32| u16::try_from(start + offset).expect("checked above");
        Ok(Self {
            p2p: port(0),
            rpc: port(1),
            abci: port(2),
            cometbft_metrics: port(3),
            app_metrics: port(4),
            grpc: port(5),
            api: port(6),
        })
    }

    /// The RPC endpoint clients use.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc)
    }

    /// The REST (LCD) endpoint clients use.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api)
    }

    /// The gRPC endpoint clients use.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }
}

/// Paths of a localnet home directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root` (need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The localnet home.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state file written by `up` and read by every other command.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("localnet.json")
    }

    /// The keyring shared by the test accounts.
    pub fn keyring_dir(&self) -> PathBuf {
        self.root.join("keyring")
    }

    /// Name of node `index`.
    pub fn node_name(index: usize) -> String {
        format!("node{index}")
    }

    /// Home of node `index`: CometBFT's config and data, coprod's app.toml and store.
    pub fn node_home(&self, index: usize) -> PathBuf {
        self.root.join(Self::node_name(index))
    }

    /// Log directory of node `index`.
    pub fn node_logs(&self, index: usize) -> PathBuf {
        self.node_home(index).join("logs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_zero_gets_the_usual_cosmos_ports() {
        let p = NodePorts::for_node(DEFAULT_BASE_PORT, 0).unwrap();
        assert_eq!((p.p2p, p.rpc, p.abci), (26656, 26657, 26658));
        assert_eq!((p.grpc, p.api), (26661, 26662));
    }

    #[test]
    fn port_blocks_of_nodes_never_overlap() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..16 {
            let p = NodePorts::for_node(DEFAULT_BASE_PORT, i).unwrap();
            for port in [
                p.p2p,
                p.rpc,
                p.abci,
                p.cometbft_metrics,
                p.app_metrics,
                p.grpc,
                p.api,
            ] {
                assert!(seen.insert(port), "port {port} used twice");
                assert!(port < NodePorts::for_node(DEFAULT_BASE_PORT, i + 1).unwrap().p2p);
            }
        }
    }

    #[test]
    fn ports_past_the_last_one_are_refused() {
        let last_fitting = u16::MAX - (PORTS_PER_NODE - 1);
        assert_eq!(NodePorts::for_node(last_fitting, 0).unwrap().api, u16::MAX);
        assert!(NodePorts::for_node(last_fitting + 1, 0).is_err());
        assert!(NodePorts::for_node(60000, 1000).is_err());
    }
}
