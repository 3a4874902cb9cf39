//! Helpers for the end-to-end tests in `tests/`: a localnet of real CometBFT
//! validators with real `coprod` processes in a temporary directory, and a
//! client that signs with cosmrs exactly as any Cosmos wallet would.
//!
//! The tests need the `coprod` binary built (`cargo build --workspace --bins`,
//! which `scripts/test.sh` does) and CometBFT installed (`scripts/setup.sh`).
// Test support, not consensus code: it measures time to wait for blocks.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

pub mod cli;

pub use copro_localnet::http::get as http_get;
pub use copro_localnet::wallet::*;
use copro_localnet::{Localnet, UpOptions};
use tendermint_rpc::{Client, HttpClient};

/// A running localnet that is stopped when dropped, and whose logs are shown
/// then unless the test said it [passed](TestNet::passed): a test that
/// panics or returns an error shows its nodes' logs either way.
pub struct TestNet {
    /// The localnet.
    pub net: Localnet,
    dir: tempfile::TempDir,
    passed: std::sync::atomic::AtomicBool,
}

impl TestNet {
    /// Starts `validators` nodes whose ports begin at `base_port` (each test
    /// uses its own range, so a slow port release cannot hit the next test;
    /// keep it below 32768, where outgoing connections never take ports).
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
        Ok(Self {
            net,
            dir,
            passed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Marks the test as passed, as its last step: the logs are not shown.
    pub fn passed(&self) {
        self.passed
            .store(true, std::sync::atomic::Ordering::Relaxed);
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
        let passed = self.passed.load(std::sync::atomic::Ordering::Relaxed);
        if std::thread::panicking() || !passed {
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

/// `msg` as a protobuf `Any`.
pub fn any<M: prost::Message + prost::Name>(msg: &M) -> cosmrs::Any {
    cosmrs::Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

/// Signs `msg` with `from` (gas 400000, fee 10000), broadcasts it through
/// `client`, waits for its block; the result code must be 0. Returns the
/// block height.
pub async fn submit(
    net: &TestNet,
    client: &HttpClient,
    from: &Wallet,
    msg: cosmrs::Any,
) -> anyhow::Result<u64> {
    let (account, sequence) = account_numbers(client, &from.address).await?;
    let to = from.address.clone();
    let tx = SendTx {
        gas: 400_000,
        fee: 10_000,
        ..SendTx::new(from, &to, 0, net.chain_id(), account, sequence)
    }
    .sign_messages(vec![msg])?;
    let hash = broadcast_ok(client, tx).await?;
    let included = wait_included(client, hash).await?;
    anyhow::ensure!(included.code == 0, "tx failed: {}", included.log);
    Ok(included.height)
}

/// A coprocessor module query over `abci_query` (no proof), decoded.
pub async fn copro_query<Req: prost::Message, Resp: prost::Message + Default>(
    client: &HttpClient,
    method: &str,
    req: Req,
) -> anyhow::Result<Resp> {
    let resp = coprod::client::abci_query(
        client,
        &format!("/copro.coprocessor.v1.Query/{method}"),
        req.encode_to_vec(),
        0,
        false,
    )
    .await?;
    Ok(Resp::decode(resp.value.as_slice())?)
}

/// The settled ledger balance of `address` on `client`'s node (0 for an
/// account the ledger does not know).
pub async fn ledger_balance(client: &HttpClient, address: &str) -> anyhow::Result<u64> {
    use copro_coprocessor::record::pb;
    let resp: pb::QueryLedgerAccountResponse = copro_query(
        client,
        "LedgerAccount",
        pb::QueryLedgerAccountRequest {
            address: address.to_string(),
            prove: false,
        },
    )
    .await?;
    Ok(resp.account.unwrap_or_default().balance)
}

/// Waits until the request queue on `client`'s node is settled up to at
/// least `sequence` (every request below it settled).
pub async fn wait_settled_up_to(
    client: &HttpClient,
    sequence: u64,
    timeout: std::time::Duration,
) -> anyhow::Result<copro_coprocessor::record::pb::QueueState> {
    use copro_coprocessor::record::pb;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let queue: pb::QueryQueueResponse =
            copro_query(client, "Queue", pb::QueryQueueRequest { pagination: None }).await?;
        let state = queue.state.unwrap_or_default();
        if state.settled_up_to >= sequence {
            return Ok(state);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the queue was settled only up to {} of {sequence} after {timeout:?}",
            state.settled_up_to
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// `GET path` on the prover daemon's API; the body as JSON (status 200 only).
async fn prover_get<T: serde::de::DeserializeOwned>(
    net: &TestNet,
    path: &str,
) -> anyhow::Result<T> {
    let port = net
        .net
        .prover()
        .ok_or_else(|| anyhow::anyhow!("this localnet has no prover"))?
        .api_port;
    let (code, body) = http_get(port, path).await?;
    anyhow::ensure!(code == 200, "{path} answered {code}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// The prover daemon's `/status` (JSON).
pub async fn prover_status(net: &TestNet) -> anyhow::Result<serde_json::Value> {
    prover_get(net, "/status").await
}

/// The prover daemon's jobs (JSON list from `/jobs?limit=1000`).
pub async fn prover_jobs(net: &TestNet) -> anyhow::Result<Vec<serde_json::Value>> {
    prover_get(net, "/jobs?limit=1000").await
}

/// One job of the prover daemon in full (`/jobs/{id}`).
pub async fn prover_job(net: &TestNet, id: u64) -> anyhow::Result<serde_json::Value> {
    prover_get(net, &format!("/jobs/{id}")).await
}

/// The queue range `[start, end)` of every verified result on `client`'s
/// node (up to 100), by start; fails unless they tile the queue from 0 to
/// `end` with no gap and no overlap (no request settled twice or skipped).
pub async fn settled_ranges(
    client: &HttpClient,
    end: u64,
) -> anyhow::Result<std::collections::BTreeMap<u64, u64>> {
    use copro_coprocessor::record::pb;
    let results: pb::QueryResultsResponse = copro_query(
        client,
        "Results",
        pb::QueryResultsRequest {
            from_height: 0,
            pagination: Some(pb::PageRequest {
                key: Vec::new(),
                limit: 100,
            }),
        },
    )
    .await?;
    let ranges: std::collections::BTreeMap<u64, u64> = results
        .results
        .iter()
        .map(|r| (r.start_sequence, r.end_sequence))
        .collect();
    anyhow::ensure!(
        ranges.len() == results.results.len(),
        "two results start at the same request: {:?}",
        results.results
    );
    let mut next = 0;
    for (start, stop) in &ranges {
        anyhow::ensure!(*start == next, "results do not tile the queue: {ranges:?}");
        next = *stop;
    }
    anyhow::ensure!(next == end, "results end at {next}, not {end}: {ranges:?}");
    Ok(ranges)
}
