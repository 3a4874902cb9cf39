//! `localnet bench-offchain`: what validators pay per transfer, on the same
//! localnet in the same run, for a native `MsgSend` against a signed
//! off-chain ledger transfer (`transfer` version 2) settled by the prover.
//!
//! Validator CPU is the user plus system time of every node's coprod and
//! CometBFT processes (`/proc/PID/stat`), over each phase, minus what the
//! same processes burn idle (empty blocks) over the same wall time, measured
//! just before. Block bytes are the bytes of the transactions each phase put
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

/// One phase's figures.
struct Phase {
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

    // Idle: what the validators burn producing empty blocks.
    let idle_window = Duration::from_secs(10);
    let before = cpu_ms(&pids)?;
    tokio::time::sleep(idle_window).await;
    let idle_ms_per_s = (cpu_ms(&pids)? - before) as f64 / idle_window.as_secs_f64();
    println!("idle_validator_cpu_ms_per_s: {idle_ms_per_s:.1}");

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
    let (cpu0, t0) = (cpu_ms(&pids)?, Instant::now());
    let mut last = None;
    for tx in txs {
        let r = client.broadcast_tx_sync(tx).await?;
        anyhow::ensure!(r.code.is_ok(), "CheckTx refused a send: {}", r.log);
        last = Some(r.hash);
    }
    let included = wait_included(&client, last.context("no send")?).await?;
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ms(&pids)? - cpu0) as f64 - idle_ms_per_s * seconds;
    let (bytes, ntx) = block_tx_bytes(&client, start_h + 1, included.height).await?;
    let native = Phase {
        transfers: sends,
        cpu_ms: cpu,
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
    let (cpu0, t0) = (cpu_ms(&pids)?, Instant::now());
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
    let cpu = (cpu_ms(&pids)? - cpu0) as f64 - idle_ms_per_s * seconds;
    let (bytes, ntx) = block_tx_bytes(&client, start_h + 1, last_height).await?;
    let proven = Phase {
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
        println!("{name}_validator_cpu_ms_above_idle: {:.0}", p.cpu_ms);
        let (c, b) = per(p);
        println!("{name}_validator_cpu_ms_per_transfer: {c:.2}");
        println!("{name}_block_bytes_per_transfer: {b:.1}");
    }
    println!(
        "cpu_ratio_msgsend_over_offchain: {:.1}",
        native_cpu / proven_cpu.max(f64::MIN_POSITIVE)
    );
    println!(
        "bytes_ratio_msgsend_over_offchain: {:.1}",
        native_bytes / proven_bytes.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
