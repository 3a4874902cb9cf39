//! `localnet bench-offchain`: what validators pay per transfer, on the same
//! localnet in the same run, for a native `MsgSend` against a signed
//! off-chain ledger transfer (`transfer` version 2) settled by the prover.
//!
//! Validator CPU is the user plus system time of every node's coprod and
//! CometBFT processes (`/proc/PID/stat`), sampled at every new height, so
//! each block has its CPU. A transaction costs CPU in the block before its
//! own (CheckTx on every node when it is gossiped) and in its own
//! (ProcessProposal, FinalizeBlock, Commit): the transfers' CPU is the CPU
//! of those blocks above the median of ten nearest empty blocks (after
//! them when there are ten, else before). The baseline is local because the
//! prover proves on the same cores between its blocks, which slows
//! consensus and raises what an empty block costs; run with `--count` equal
//! to the program's off-chain batch size, so one proof settles them all and
//! the blocks after it are quiet. Block bytes are the bytes of the transactions each phase put
//! in blocks. Needs a localnet already on version 2 whose `alice` and `bob`
//! have their spending keys bound (what `localnet demo` leaves).

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

/// `(height, cpu ms)` each time node 0 shows a new height, until `stop`.
fn spawn_sampler(
    client: HttpClient,
    pids: Vec<u32>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(u64, u64)>> {
    tokio::spawn(async move {
        let mut out: Vec<(u64, u64)> = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let (Ok(h), Ok(c)) = (height(&client).await, cpu_ms(&pids))
                && out.last().is_none_or(|(last, _)| h > *last)
            {
                out.push((h, c));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out
    })
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
    cpu_ms: f64,
    bytes: u64,
    txs: u64,
    seconds: f64,
}

/// Runs both phases and prints the figures and their ratios.
pub async fn run(net: &Localnet, count: usize) -> anyhow::Result<()> {
    let state = net.state();
    let prover = state
        .prover
        .as_ref()
        .context("this localnet has no prover")?;
    let pids: Vec<u32> = state
        .nodes
        .iter()
        .flat_map(|n| [n.coprod_pid, n.cometbft_pid])
        .flatten()
        .collect();
    anyhow::ensure!(
        !pids.is_empty(),
        "no node process is recorded: is the localnet up?"
    );
    let client = net.client(0)?;
    let keyring = coprod::keyring::Keyring::new(&state.keyring_dir);

    // Per-block CPU from here on; quiet blocks first, for the baseline.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = spawn_sampler(client.clone(), pids.clone(), std::sync::Arc::clone(&stop));
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
        for n in 0..count / senders.len() {
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
        cpu_ms: 0.0,
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
        let (code, body) =
            crate::http::post_json(prover.api_port, "/transfers", &serde_json::to_string(r)?)
                .await?;
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
    let mut native = native;
    native.cpu_ms = excess_cpu(&samples, &send_heights);
    let cpu = excess_cpu(&samples, &proof_heights);
    let proven = Phase {
        blocks,
        transfers: offchain,
        cpu_ms: cpu,
        bytes,
        txs: ntx,
        seconds,
    };

    let per = |p: &Phase| {
        (
            p.cpu_ms / p.transfers as f64,
            p.bytes as f64 / p.transfers as f64,
        )
    };
    let (native_cpu, native_bytes) = per(&native);
    let (proven_cpu, proven_bytes) = per(&proven);
    println!(
        "validators: {} (coprod + CometBFT processes: {})",
        state.nodes.len(),
        pids.len()
    );
    for (name, p) in [("msgsend", &native), ("offchain", &proven)] {
        println!("{name}_transfers: {}", p.transfers);
        println!("{name}_block_txs: {}", p.txs);
        println!("{name}_seconds: {:.1}", p.seconds);
        println!("{name}_blocks: {}", p.blocks);
        println!("{name}_validator_cpu_ms_above_baseline: {:.0}", p.cpu_ms);
        let (c, b) = per(p);
        println!("{name}_validator_cpu_ms_per_transfer: {c:.2}");
        println!("{name}_block_bytes_per_transfer: {b:.1}");
    }
    // What one empty block's CPU varies by: an excess below it is noise.
    let mut quiet: Vec<u64> = samples
        .windows(2)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| w[1].1.saturating_sub(w[0].1))
        .collect();
    quiet.sort_unstable();
    let q = |f: usize| quiet.get(quiet.len() * f / 4).copied().unwrap_or(0);
    println!(
        "block_cpu_ms_quartiles: {} / {} / {} over {} blocks",
        q(1),
        q(2),
        q(3),
        quiet.len()
    );
    if proven.cpu_ms > 0.0 {
        println!(
            "cpu_ratio_msgsend_over_offchain: {:.1}",
            native_cpu / proven_cpu
        );
    } else {
        println!(
            "cpu_ratio_msgsend_over_offchain: not resolved (the off-chain blocks cost no more than the empty blocks around them, within the spread above)"
        );
    }
    println!(
        "bytes_ratio_msgsend_over_offchain: {:.1}",
        native_bytes / proven_bytes.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
