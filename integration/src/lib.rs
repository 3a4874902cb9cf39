//! Helpers for the end-to-end tests in `tests/`: a localnet of real CometBFT
//! validators with real `coprod` processes in a temporary directory, and a
//! client that signs with cosmrs exactly as any Cosmos wallet would.
//!
//! The tests need the `coprod` binary built (`cargo build --workspace --bins`,
//! which `scripts/test.sh` does) and CometBFT installed (`scripts/setup.sh`).
// Test support, not consensus code: it measures time to wait for blocks.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

pub use copro_localnet::wallet::*;
use copro_localnet::{Localnet, UpOptions};
use tendermint_rpc::{Client, HttpClient};

/// A running localnet that is stopped (and, on failure, whose logs are shown)
/// when dropped.
pub struct TestNet {
    /// The localnet.
    pub net: Localnet,
    dir: tempfile::TempDir,
}

impl TestNet {
    /// Starts `validators` nodes whose ports begin at `base_port` (each test
    /// uses its own range, so a slow port release cannot hit the next test).
    /// No prover daemon runs: the test settles requests itself, if at all.
    pub async fn start(validators: usize, base_port: u16) -> anyhow::Result<Self> {
        Self::start_with(validators, base_port, false).await
    }

    /// As [`TestNet::start`], with the localnet's prover daemon running
    /// beside the validators when `prover` is set.
    pub async fn start_with(
        validators: usize,
        base_port: u16,
        prover: bool,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("copro-e2e-").tempdir()?;
        let mut opts = UpOptions::new(validators, dir.path().join("net"));
        opts.prover = prover;
        opts.base_port = base_port;
        opts.block_time = "300ms".into();
        opts.chain_id = "copro-e2e".into();
        let net = match Localnet::up(&opts).await {
            Ok(net) => net,
            Err(e) => {
                dump_logs(&dir.path().join("net"));
                if let Ok(mut half) = Localnet::open(&dir.path().join("net")) {
                    let _ = half.down();
                }
                return Err(e);
            }
        };
        Ok(Self { net, dir })
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.net.state().chain_id
    }

    /// RPC client of node `i`.
    pub fn client(&self, i: usize) -> HttpClient {
        self.net.client(i).expect("valid RPC URL")
    }

    /// The key of funded test account `name` from the localnet's keyring.
    pub fn wallet(&self, name: &str) -> anyhow::Result<Wallet> {
        Wallet::from_keyring(&self.net.state().keyring_dir, name)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            dump_logs(&self.dir.path().join("net"));
        }
        let _ = self.net.down();
    }
}

/// Prints the last lines of every node's logs (to see why a test failed).
pub fn dump_logs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut nodes: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    nodes.sort();
    for node in nodes {
        for log in ["logs/coprod.log", "logs/cometbft.log", "prover.log"] {
            let path = node.join(log);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(25)..];
                eprintln!("---- {} (last {} lines)", path.display(), tail.len());
                for l in tail {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// App hash in the header of block `height` as node `client` has it.
pub async fn header_app_hash(client: &HttpClient, height: u64) -> anyhow::Result<Vec<u8>> {
    let block = client
        .block(tendermint::block::Height::try_from(height)?)
        .await?;
    Ok(block.block.header.app_hash.as_bytes().to_vec())
}

/// Asserts that every node of `net` has the same header (and so the same app
/// hash: CometBFT halts a node whose app computes another one) at each height
/// in `from..=to`.
pub async fn assert_same_app_hashes(net: &TestNet, from: u64, to: u64) -> anyhow::Result<()> {
    for h in from..=to {
        let reference = header_app_hash(&net.client(0), h).await?;
        for i in 1..net.net.len() {
            let other = header_app_hash(&net.client(i), h).await?;
            anyhow::ensure!(
                other == reference,
                "node{i} has app hash {} at height {h}, node0 has {}",
                hex::encode_upper(&other),
                hex::encode_upper(&reference)
            );
        }
    }
    Ok(())
}

/// Latest height of node `i`.
pub async fn height(client: &HttpClient) -> anyhow::Result<u64> {
    Ok(client.status().await?.sync_info.latest_block_height.value())
}

/// A plain HTTP/1.1 GET of `target` (sent exactly as given, like `curl`)
/// on `127.0.0.1:port`; returns the status code and the body.
pub async fn http_get(port: u16, target: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut reply = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut reply),
    )
    .await??;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {reply:?}"))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
