//! `localnet bench-offchain`: what validators pay per transfer, on the same
//! localnet in the same run, for a native `MsgSend` against a signed
//! off-chain ledger transfer (`transfer` version 2) settled by the prover.
//!
//! Validator CPU has two parts, each read at every new height so every
//! block has its own:
//! - **coprod**: the CPU time of the thread answering ABCI requests, summed
//!   over nodes from each node's `coprod_abci_cpu_seconds_total` (every
//!   method but `query`: what the prover and this bench ask is not a
//!   transfer's cost). It is the app's own work, whatever else runs on the
//!   cores, so it resolves a proof's few milliseconds.
//! - **CometBFT**: the user plus system time of every node's CometBFT
//!   process (`/proc/PID/stat`). Gossip, timers and RPC make it noisy.
//!
//! A transaction costs CPU in the block before its own (CheckTx on every
//! node when it is gossiped) and in its own (ProcessProposal,
//! FinalizeBlock, Commit): the transfers' CPU is the CPU of those blocks
//! above the median of ten nearest empty blocks (after them when there are
//! ten, else before). The baseline is local because the prover proves on
//! the same cores between its blocks, which slows consensus and raises what
//! an empty block costs; run with `--count` equal to the program's
//! off-chain batch size, so one proof settles them all and the blocks after
//! it are quiet. Block bytes are the bytes of the transactions each phase
//! put in blocks. Needs a localnet already on version 2 whose `alice` and
//! `bob` have their spending keys bound (what `localnet demo` leaves).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use copro_coprocessor::wallet;
use tendermint_rpc::{Client, HttpClient};

use crate::net::Localnet;
use crate::wallet::{SendTx, Wallet, account_numbers, wait_included};

/// CPU milliseconds used so far by `pids` (user + system).
fn cpu_ms(pids: &[u32]) -> anyhow::Result<u64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    let mut total = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("process {pid} is gone"))?;
        // Fields after the command name (which may hold spaces) start at ")".
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
        total += (utime + stime) * 1000 / ticks;
    }
    Ok(total)
}

/// Bytes of the transactions in blocks `from..=to`, and their count.
async fn block_tx_bytes(client: &HttpClient, from: u64, to: u64) -> anyhow::Result<(u64, u64)> {
    let (mut bytes, mut count) = (0u64, 0u64);
    for h in from..=to {
        let block = client
            .block(tendermint::block::Height::try_from(h)?)
            .await?;
        for tx in block.block.data {
            bytes += tx.len() as u64;
            count += 1;
        }
    }
    Ok((bytes, count))
}

async fn height(client: &HttpClient) -> anyhow::Result<u64> {
    Ok(client.status().await?.sync_info.latest_block_height.value())
}

/// coprod's ABCI CPU (µs) by method of the node whose metrics listen on
/// `port`.
async fn abci_cpu_us(port: u16) -> anyhow::Result<BTreeMap<String, u64>> {
    let (status, body) = crate::http::get(port, "/metrics").await?;
    anyhow::ensure!(
        status == 200,
        "coprod metrics on port {port} answered {status}"
    );
    Ok(parse_abci_cpu_us(&body))
}

/// `coprod_abci_cpu_seconds_total` of a metrics page, by method, in µs.
fn parse_abci_cpu_us(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("coprod_abci_cpu_seconds_total{method=\"") else {
            continue;
        };
        let Some((method, value)) = rest.split_once("\"}") else {
            continue;
        };
        let Ok(seconds) = value.trim().parse::<f64>() else {
            continue;
        };
        *out.entry(method.to_string()).or_default() += (seconds * 1e6) as u64;
    }
    out
}

/// The ABCI methods a transaction costs a validator, in the order printed
/// (`query` is apart: the prover's and this bench's reads).
const TX_METHODS: [&str; 5] = [
    "check_tx",
    "prepare_proposal",
    "process_proposal",
    "finalize_block",
    "commit",
];

/// CPU read at one height.
#[derive(Clone, Debug)]
struct Sample {
    height: u64,
    /// coprod ABCI CPU of every node by method, µs.
    app_us: BTreeMap<String, u64>,
    /// CometBFT process CPU of every node, ms.
    cometbft_ms: u64,
}

impl Sample {
    /// coprod ABCI CPU of every node, µs: every method but `query`.
    fn app_work_us(&self) -> u64 {
        self.app_us
            .iter()
            .filter(|(m, _)| m.as_str() != "query")
            .map(|(_, v)| v)
            .sum()
    }

    fn method_us(&self, method: &str) -> u64 {
        self.app_us.get(method).copied().unwrap_or(0)
    }
}

/// A [`Sample`] each time node 0 shows a new height, until `stop`.
fn spawn_sampler(
    client: HttpClient,
    metrics_ports: Vec<u16>,
    cometbft_pids: Vec<u32>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let mut out: Vec<Sample> = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(h) = height(&client).await
                && out.last().is_none_or(|s| h > s.height)
            {
                let mut app_us: BTreeMap<String, u64> = BTreeMap::new();
                let mut complete = true;
                for port in &metrics_ports {
                    match abci_cpu_us(*port).await {
                        Ok(node) => {
                            for (method, us) in node {
                                *app_us.entry(method).or_default() += us;
                            }
                        }
                        Err(_) => complete = false,
                    }
                }
                if let (true, Ok(cometbft_ms)) = (complete, cpu_ms(&cometbft_pids)) {
                    out.push(Sample {
                        height: h,
                        app_us,
                        cometbft_ms,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out
    })
}

/// One counter of the samples as `(height, value)`.
fn series(samples: &[Sample], f: impl Fn(&Sample) -> u64) -> Vec<(u64, u64)> {
    samples.iter().map(|s| (s.height, f(s))).collect()
}

/// CPU above the local empty-block baseline of the blocks the txs at
/// `tx_heights` touched (each height and the one before it).
fn excess_cpu(samples: &[(u64, u64)], tx_heights: &[u64]) -> f64 {
    use std::collections::{BTreeMap, BTreeSet};
    // CPU of block h: from first seeing h - 1 to first seeing h.
    let per_block: BTreeMap<u64, u64> = samples
        .windows(2)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| (w[1].0, w[1].1.saturating_sub(w[0].1)))
        .collect();
    let touched: BTreeSet<u64> = tx_heights
        .iter()
        .flat_map(|h| [h.saturating_sub(1), *h])
        .collect();
    let mut excess = 0.0;
    for b in &touched {
        let Some(cpu) = per_block.get(b) else {
            continue;
        };
        // The quiet blocks after the tx when there are enough (the
        // prover is idle once its last batch landed), else before it.
        let after: Vec<u64> = per_block
            .range(b + 1..)
            .filter(|(h, _)| !touched.contains(h))
            .take(10)
            .map(|(_, c)| *c)
            .collect();
        let mut quiet: Vec<u64> = if after.len() >= 10 {
            after
        } else {
            per_block
                .range(..*b)
                .rev()
                .filter(|(h, _)| !touched.contains(h))
                .take(10)
                .map(|(_, c)| *c)
                .collect()
        };
        if quiet.is_empty() {
            continue;
        }
        quiet.sort_unstable();
        excess += *cpu as f64 - quiet[quiet.len() / 2] as f64;
    }
    excess
}

/// Heights in `from..=to` whose blocks carry transactions.
async fn tx_heights(client: &HttpClient, from: u64, to: u64) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::new();
    for h in from..=to {
        let block = client
            .block(tendermint::block::Height::try_from(h)?)
            .await?;
        if !block.block.data.is_empty() {
            out.push(h);
        }
    }
    Ok(out)
}

/// One phase's figures.
struct Phase {
    blocks: u64,
    transfers: u64,
    /// coprod ABCI CPU above the baseline, all nodes, ms.
    app_ms: f64,
    /// CometBFT process CPU above the baseline, all nodes, ms.
    cometbft_ms: f64,
    bytes: u64,
    txs: u64,
    seconds: f64,
}

/// Runs both phases (`sends` native sends, `count` off-chain transfers) and
/// prints the figures and their ratios, all per transfer.
pub async fn run(net: &Localnet, count: usize, sends: usize) -> anyhow::Result<()> {
    let state = net.state();
    let prover = state
        .prover
        .as_ref()
        .context("this localnet has no prover")?;
    let cometbft_pids: Vec<u32> = state.nodes.iter().filter_map(|n| n.cometbft_pid).collect();
    let metrics_ports: Vec<u16> = state.nodes.iter().map(|n| n.ports.app_metrics).collect();
    anyhow::ensure!(
        cometbft_pids.len() == state.nodes.len(),
        "no CometBFT process is recorded for some node: is the localnet up?"
    );
    for port in &metrics_ports {
        abci_cpu_us(*port).await.with_context(|| {
            format!("reading coprod's ABCI CPU on port {port}: is the localnet up, on this coprod?")
        })?;
    }
    let client = net.client(0)?;
    let keyring = coprod::keyring::Keyring::new(&state.keyring_dir);

    // Per-block CPU from here on; quiet blocks first, for the baseline.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = spawn_sampler(
        client.clone(),
        metrics_ports,
        cometbft_pids.clone(),
        std::sync::Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_secs(8)).await;

    // Phase A: native MsgSend, signed up front, from two funded accounts.
    let senders = [
        Wallet::from_keyring(&state.keyring_dir, "carol")?,
        Wallet::from_keyring(&state.keyring_dir, "dave")?,
    ];
    let mut txs = Vec::new();
    for (i, w) in senders.iter().enumerate() {
        let (account, sequence) = account_numbers(&client, &w.address).await?;
        let to = &senders[(i + 1) % senders.len()].address;
        for n in 0..sends / senders.len() {
            txs.push(SendTx::new(w, to, 1, &state.chain_id, account, sequence + n as u64).sign()?);
        }
    }
    let sends = txs.len() as u64;
    let start_h = height(&client).await?;
    let t0 = Instant::now();
    let mut last = None;
    for tx in txs {
        let r = client.broadcast_tx_sync(tx).await?;
        anyhow::ensure!(r.code.is_ok(), "CheckTx refused a send: {}", r.log);
        last = Some(r.hash);
    }
    let included = wait_included(&client, last.context("no send")?).await?;
    let seconds = t0.elapsed().as_secs_f64();
    let blocks = height(&client).await?.saturating_sub(start_h);
    let send_heights = tx_heights(&client, start_h + 1, included.height).await?;
    let (bytes, ntx) = block_tx_bytes(&client, start_h + 1, included.height).await?;
    // Quiet blocks between the phases.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let native = Phase {
        blocks,
        transfers: sends,
        app_ms: 0.0,
        cometbft_ms: 0.0,
        bytes,
        txs: ntx,
        seconds,
    };

    // Phase B: signed off-chain transfers to the prover, until committed.
    let mut requests = Vec::new();
    let names = ["alice", "bob"];
    for (i, name) in names.iter().enumerate() {
        let key = keyring.resolve(name)?;
        let spending = key.spending_key()?;
        let to_name = names[(i + 1) % names.len()];
        let to = copro_module::Address::parse(&keyring.resolve(to_name)?.address)
            .map_err(|e| anyhow::anyhow!(e.log))?;
        let account = |addr: String| {
            let client = client.clone();
            async move {
                let path = format!("{}LedgerAccount", copro_coprocessor::query::PREFIX);
                let req = copro_coprocessor::record::pb::QueryLedgerAccountRequest {
                    address: addr,
                    prove: false,
                };
                let raw = coprod::client::abci_query(
                    &client,
                    &path,
                    prost::Message::encode_to_vec(&req),
                    0,
                    false,
                )
                .await?;
                let resp: copro_coprocessor::record::pb::QueryLedgerAccountResponse =
                    prost::Message::decode(raw.value.as_slice())?;
                resp.account
                    .context("no ledger account: run `localnet demo` first")
            }
        };
        let from = account(key.address.clone()).await?;
        let to_index = account(to.to_string()).await?.ledger_index;
        for n in 0..count / names.len() {
            requests.push(
                wallet::sign_transfer(
                    &spending,
                    &state.chain_id,
                    from.ledger_index,
                    to_index,
                    &to,
                    1,
                    from.nonce + n as u64,
                )
                .map_err(|e| anyhow::anyhow!(e))?,
            );
        }
    }
    let offchain = requests.len() as u64;
    let start_h = height(&client).await?;
    let t0 = Instant::now();
    let mut ids = Vec::new();
    for r in &requests {
        let body = serde_json::to_string(r)?;
        let (mut code, mut body_out) =
            crate::http::post_json(prover.api_port, "/transfers", &body).await?;
        // The prover limits each client's posts ([pool] client_burst, then
        // client_posts_per_second): past the burst, keep its pace.
        let deadline = Instant::now() + Duration::from_secs(600);
        while code == 429 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            (code, body_out) = crate::http::post_json(prover.api_port, "/transfers", &body).await?;
        }
        let body = body_out;
        anyhow::ensure!(
            code == 202,
            "the prover refused a transfer ({code}): {body}"
        );
        let v: serde_json::Value = serde_json::from_str(&body)?;
        ids.push(v["id"].as_u64().context("no id")?);
    }
    let mut last_height = start_h;
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(3600);
        loop {
            let (_, body) = crate::http::get(prover.api_port, &format!("/transfers/{id}")).await?;
            let v: serde_json::Value = serde_json::from_str(&body)?;
            match v["state"].as_str() {
                Some("committed") => {
                    last_height = last_height.max(v["height"].as_u64().unwrap_or(0));
                    break;
                }
                Some("dropped") => bail!("transfer {id} was dropped: {}", v["reason"]),
                _ if Instant::now() > deadline => bail!("transfer {id} did not settle"),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let blocks = height(&client).await?.saturating_sub(start_h);
    let proof_heights = tx_heights(&client, start_h + 1, last_height).await?;
    let (bytes, ntx) = block_tx_bytes(&client, start_h + 1, last_height).await?;
    // Quiet blocks after the last proof, for its baseline.
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.await?;
    let app = series(&samples, Sample::app_work_us);
    let cometbft = series(&samples, |s| s.cometbft_ms);
    let mut native = native;
    native.app_ms = excess_cpu(&app, &send_heights) / 1000.0;
    native.cometbft_ms = excess_cpu(&cometbft, &send_heights);
    let proven = Phase {
        blocks,
        transfers: offchain,
        app_ms: excess_cpu(&app, &proof_heights) / 1000.0,
        cometbft_ms: excess_cpu(&cometbft, &proof_heights),
        bytes,
        txs: ntx,
        seconds,
    };

    let per = |p: &Phase, x: f64| x / p.transfers as f64;
    println!(
        "validators: {} (coprod ABCI thread CPU from each node's metrics; CometBFT process CPU from /proc)",
        state.nodes.len()
    );
    for (name, p, heights) in [
        ("msgsend", &native, &send_heights),
        ("offchain", &proven, &proof_heights),
    ] {
        println!("{name}_transfers: {}", p.transfers);
        println!("{name}_block_txs: {}", p.txs);
        println!("{name}_seconds: {:.1}", p.seconds);
        println!("{name}_blocks: {}", p.blocks);
        println!("{name}_coprod_cpu_ms_above_baseline: {:.2}", p.app_ms);
        println!("{name}_coprod_cpu_ms_per_transfer: {:.4}", per(p, p.app_ms));
        let by_method: Vec<String> = TX_METHODS
            .iter()
            .map(|m| {
                let one = series(&samples, |s| s.method_us(m));
                format!("{m} {:.2}", excess_cpu(&one, heights) / 1000.0)
            })
            .collect();
        println!("{name}_coprod_cpu_ms_by_method: {}", by_method.join(", "));
        println!(
            "{name}_cometbft_cpu_ms_above_baseline: {:.0}",
            p.cometbft_ms
        );
        println!(
            "{name}_cometbft_cpu_ms_per_transfer: {:.3}",
            per(p, p.cometbft_ms)
        );
        println!(
            "{name}_block_bytes_per_transfer: {:.1}",
            p.bytes as f64 / p.transfers as f64
        );
    }
    // What one block's CPU varies by: an excess below the spread is noise.
    let quartiles = |values: &[(u64, u64)]| {
        let mut per_block: Vec<u64> = values
            .windows(2)
            .filter(|w| w[1].0 == w[0].0 + 1)
            .map(|w| w[1].1.saturating_sub(w[0].1))
            .collect();
        per_block.sort_unstable();
        let q = |f: usize| per_block.get(per_block.len() * f / 4).copied().unwrap_or(0);
        (q(1), q(2), q(3), per_block.len())
    };
    let (a1, a2, a3, n) = quartiles(&app);
    println!("coprod_block_cpu_us_quartiles: {a1} / {a2} / {a3} over {n} blocks (all nodes)");
    let (c1, c2, c3, _) = quartiles(&cometbft);
    println!("cometbft_block_cpu_ms_quartiles: {c1} / {c2} / {c3} (all nodes)");
    let queries = samples.last().zip(samples.first()).map_or(0, |(l, f)| {
        l.method_us("query").saturating_sub(f.method_us("query"))
    });
    println!(
        "coprod_query_cpu_ms_whole_run: {:.1} (ABCI queries of the prover and this bench; not counted above)",
        queries as f64 / 1000.0
    );
    // Ratios of per-transfer figures (the phases may differ in size).
    let ratio = |a: f64, b: f64| {
        if a > 0.0 && b > 0.0 {
            format!("{:.1}", a / b)
        } else {
            "not resolved (an excess at or below zero: within the spread above)".to_string()
        }
    };
    let (send_app, send_cmt) = (
        per(&native, native.app_ms),
        per(&native, native.cometbft_ms),
    );
    let (off_app, off_cmt) = (
        per(&proven, proven.app_ms),
        per(&proven, proven.cometbft_ms),
    );
    println!(
        "coprod_cpu_ratio_msgsend_over_offchain: {}",
        ratio(send_app, off_app)
    );
    println!(
        "cometbft_cpu_ratio_msgsend_over_offchain: {}",
        ratio(send_cmt, off_cmt)
    );
    let validator = if off_cmt > 0.0 {
        ratio(send_app + send_cmt, off_app + off_cmt)
    } else {
        ratio(send_app + send_cmt, off_cmt)
    };
    println!("validator_cpu_ratio_msgsend_over_offchain: {validator}");
    // When one proof tx is too little for CometBFT's noise: charge it what
    // CometBFT spends on a MsgSend, times the proof tx's size in MsgSends
    // (CometBFT's work per tx is gossip, block parts and indexing: it does
    // not look inside, so it grows with count and bytes). A model, printed
    // as one.
    let send_bytes = native.bytes as f64 / native.transfers.max(1) as f64;
    let proof_sends = (proven.bytes as f64 / proven.txs.max(1) as f64 / send_bytes).max(1.0);
    if send_cmt > 0.0 {
        let modeled = send_cmt * proof_sends * proven.txs as f64 / proven.transfers as f64;
        println!(
            "validator_cpu_ratio_modeled: {} (each proof tx charged CometBFT's CPU of {proof_sends:.1} MsgSends, its size: {modeled:.3} ms per transfer)",
            ratio(send_app + send_cmt, off_app + modeled)
        );
    }
    println!(
        "bytes_ratio_msgsend_over_offchain: {:.1}",
        (native.bytes as f64 / native.transfers as f64)
            / (proven.bytes as f64 / proven.transfers as f64).max(f64::MIN_POSITIVE)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abci_cpu_is_read_by_method_with_queries_apart() {
        let page = "# HELP coprod_abci_cpu_seconds_total CPU\n\
            # TYPE coprod_abci_cpu_seconds_total counter\n\
            coprod_abci_cpu_seconds_total{method=\"check_tx\"} 0.25\n\
            coprod_abci_cpu_seconds_total{method=\"finalize_block\"} 1.5\n\
            coprod_abci_cpu_seconds_total{method=\"query\"} 2\n\
            coprod_abci_requests_total{method=\"check_tx\"} 7\n\
            coprod_abci_cpu_seconds_total{method=\"commit\"} not-a-number\n";
        let parsed = parse_abci_cpu_us(page);
        assert_eq!(parsed.len(), 3, "{parsed:?}");
        assert_eq!(parsed["check_tx"], 250_000);
        assert_eq!(parsed["finalize_block"], 1_500_000);
        let sample = Sample {
            height: 1,
            app_us: parsed,
            cometbft_ms: 0,
        };
        assert_eq!(sample.app_work_us(), 1_750_000, "queries apart");
        assert_eq!(sample.method_us("query"), 2_000_000);
        assert_eq!(sample.method_us("commit"), 0);
        assert!(parse_abci_cpu_us("").is_empty());
    }

    #[test]
    fn a_block_with_txs_is_charged_above_the_median_of_its_quiet_neighbours() {
        // Blocks 2..=20 cost 10 each, except block 12 (30) and 11 (its
        // CheckTx, 15); heights 11 and 12 are touched by a tx at 12.
        let mut total = 0;
        let mut samples = vec![(1, 0)];
        for h in 2..=20u64 {
            total += match h {
                11 => 15,
                12 => 30,
                _ => 10,
            };
            samples.push((h, total));
        }
        assert_eq!(excess_cpu(&samples, &[12]), 25.0);
        assert_eq!(excess_cpu(&samples, &[]), 0.0);
    }
}
