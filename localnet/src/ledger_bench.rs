//! `localnet bench-ledger`: the whole system under a ledger workload. Fresh
//! users each send a train of deposits (cosmrs-signed txs, broadcast
//! without waiting); the prover daemon settles them. Measured: settled
//! requests per second from the first broadcast to the last settlement,
//! and each request's latency from its broadcast to the first height whose
//! queue state shows it settled (p50, p95, max). The prover's own job
//! records give the proving and witness time per batch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use copro_coprocessor::record::pb;
use prost::{Message, Name};
use serde::Serialize;
use tendermint_rpc::{Client, HttpClient};

use crate::net::Localnet;
use crate::wallet::{SendTx, Wallet, account_numbers, wait_included};

/// Fee and gas of one deposit tx.
const DEPOSIT_FEE: u128 = 10_000;
const DEPOSIT_GAS: u64 = 400_000;
/// Each deposit moves this much into the ledger.
const DEPOSIT_AMOUNT: u64 = 1;

/// What the bench measured.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerBenchReport {
    /// Users (fresh accounts).
    pub users: usize,
    /// Requests (deposits) sent.
    pub requests: usize,
    /// Prover workers during the run.
    pub workers: Option<u64>,
    /// First broadcast to last settlement, seconds.
    pub seconds: f64,
    /// Settled requests per second.
    pub settled_per_second: f64,
    /// Latency broadcast → settled, milliseconds: p50.
    pub latency_p50_ms: u64,
    /// p95.
    pub latency_p95_ms: u64,
    /// Max.
    pub latency_max_ms: u64,
    /// Batches (jobs) that settled the requests.
    pub batches: usize,
    /// Mean requests per batch.
    pub mean_batch: f64,
    /// Mean proving time per batch, ms (from the prover's jobs).
    pub mean_proving_ms: f64,
    /// Mean witness time per batch, ms.
    pub mean_witness_ms: f64,
    /// Blocks from the first request's block to the last settlement.
    pub blocks: u64,
}

/// Queue state on `client`'s node, unproven (the bench only times it).
async fn queue_state(client: &HttpClient) -> anyhow::Result<pb::QueueState> {
    let resp = client
        .abci_query(
            Some("/copro.coprocessor.v1.Query/Queue".into()),
            pb::QueryQueueRequest {
                pagination: Some(pb::PageRequest {
                    key: Vec::new(),
                    limit: 1,
                }),
            }
            .encode_to_vec(),
            None,
            false,
        )
        .await?;
    anyhow::ensure!(resp.code.is_ok(), "queue query failed: {}", resp.log);
    Ok(pb::QueryQueueResponse::decode(resp.value.as_slice())?
        .state
        .unwrap_or_default())
}

/// The queue sequence a deposit tx got (from its `EventDepositEnqueued`).
async fn deposit_sequence(
    client: &HttpClient,
    hash: tendermint::Hash,
) -> anyhow::Result<(u64, u64)> {
    let included = wait_included(client, hash).await?;
    anyhow::ensure!(included.code == 0, "deposit failed: {}", included.log);
    let found = client.tx(hash, false).await?;
    let event = pb::EventDepositEnqueued::full_name();
    let seq = found
        .tx_result
        .events
        .iter()
        .filter(|e| e.kind == event)
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key_bytes() == b"sequence")
        .and_then(|a| a.value_str().ok().map(|v| v.trim_matches('"').to_string()))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("tx {hash} has no {event} sequence"))?;
    Ok((seq, included.height))
}

/// Runs the bench: `users` fresh accounts, `per_user` deposits each.
pub async fn run(
    net: &Localnet,
    users: usize,
    per_user: usize,
) -> anyhow::Result<LedgerBenchReport> {
    anyhow::ensure!(
        users >= 1 && per_user >= 1,
        "need at least one user and one request"
    );
    let prover = net.prover().context(
        "this localnet runs no prover: start one with `localnet up` (without --no-prover)",
    )?;
    anyhow::ensure!(
        !net.prover_pids().is_empty(),
        "the prover is not running: `localnet restart prover`"
    );
    let state = net.state();
    let client = net.client(0)?;
    let funder = state
        .accounts
        .first()
        .context("this localnet has no funded test account")?;
    let funder = Wallet::from_keyring(&state.keyring_dir, &funder.name)?;
    let need = (DEPOSIT_FEE + u128::from(DEPOSIT_AMOUNT))
        .checked_mul(u128::try_from(per_user)?)
        .context("amount overflows")?;
    let wallets =
        crate::bench::fund_senders(&client, &state.chain_id, &funder, users, need).await?;
    let before = queue_state(&client).await?;
    anyhow::ensure!(
        before.settled_up_to == before.next_sequence,
        "{} requests are already queued: wait until they settle",
        before.next_sequence - before.settled_up_to
    );

    // Sign everything first, then broadcast: one task per user, in
    // sequence order within a user.
    let mut signed = Vec::new();
    for w in &wallets {
        let (account, sequence) = account_numbers(&client, &w.address).await?;
        let mut txs = Vec::with_capacity(per_user);
        for n in 0..per_user {
            let msg = cosmrs::Any {
                type_url: pb::MsgDeposit::type_url(),
                value: pb::MsgDeposit {
                    signer: w.address.to_string(),
                    amount: DEPOSIT_AMOUNT,
                }
                .encode_to_vec(),
            };
            txs.push(
                SendTx {
                    gas: DEPOSIT_GAS,
                    fee: DEPOSIT_FEE,
                    ..SendTx::new(
                        w,
                        &w.address,
                        0,
                        &state.chain_id,
                        account,
                        sequence + u64::try_from(n)?,
                    )
                }
                .sign_messages(vec![msg])?,
            );
        }
        signed.push(txs);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for txs in signed {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for tx in txs {
                let at = Instant::now();
                let r = client.broadcast_tx_sync(tx).await?;
                if r.code.is_err() {
                    bail!("CheckTx refused a deposit: {}", r.log);
                }
                sent.push((r.hash, at));
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await??);
    }
    let requests = sent.len();
    let last = before.next_sequence + u64::try_from(requests)?;

    // Watch the queue settle while the sequences are looked up.
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut settled_at: BTreeMap<u64, Instant> = BTreeMap::new();
            let mut seen = before.settled_up_to;
            let deadline = Instant::now() + Duration::from_secs(3600);
            while seen < last {
                if Instant::now() > deadline {
                    bail!("the prover settled only up to {seen} of {last} in an hour");
                }
                if let Ok(q) = queue_state(&client).await
                    && q.settled_up_to > seen
                {
                    let now = Instant::now();
                    for s in seen..q.settled_up_to {
                        settled_at.insert(s, now);
                    }
                    seen = q.settled_up_to;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok(settled_at)
        })
    };
    let mut sent_at: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut first_height = u64::MAX;
    for (hash, at) in &sent {
        let (seq, height) = deposit_sequence(&client, *hash).await?;
        sent_at.insert(seq, *at);
        first_height = first_height.min(height);
    }
    let settled_at = watcher.await??;
    let end = settled_at.values().max().copied().unwrap_or(started);
    let mut latencies: Vec<u64> = sent_at
        .iter()
        .filter_map(|(seq, at)| {
            let done = settled_at.get(seq)?;
            u64::try_from(done.duration_since(*at).as_millis()).ok()
        })
        .collect();
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let end_height = client.status().await?.sync_info.latest_block_height.value();

    // The prover's view of the same batches, once it has seen them settle
    // (it reads the chain a round after the bench did).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, status) = crate::http::get(prover.api_port, "/status").await?;
        let seen = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|s| s["replica_settled"].as_u64())
            .unwrap_or(0);
        if seen >= last || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, body) =
        crate::http::get(prover.api_port, "/jobs?state=committed&limit=1000").await?;
    anyhow::ensure!(code == 200, "prover /jobs answered {code}");
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&body)?;
    let ours: Vec<&serde_json::Value> = jobs
        .iter()
        .filter(|j| {
            j["start"]
                .as_u64()
                .is_some_and(|s| s >= before.next_sequence)
        })
        .collect();
    let mean = |key: &str| {
        let total: u64 = ours.iter().filter_map(|j| j[key].as_u64()).sum();
        total as f64 / ours.len().max(1) as f64
    };
    let (_, status) = crate::http::get(prover.api_port, "/status").await?;
    let workers = serde_json::from_str::<serde_json::Value>(&status)
        .ok()
        .and_then(|s| s["workers"].as_u64());
    let seconds = end.duration_since(started).as_secs_f64();
    Ok(LedgerBenchReport {
        users,
        requests,
        workers,
        seconds,
        settled_per_second: requests as f64 / seconds.max(f64::EPSILON),
        latency_p50_ms: pct(50),
        latency_p95_ms: pct(95),
        latency_max_ms: latencies.last().copied().unwrap_or(0),
        batches: ours.len(),
        mean_batch: requests as f64 / ours.len().max(1) as f64,
        mean_proving_ms: mean("proving_ms"),
        mean_witness_ms: mean("witness_ms"),
        blocks: end_height.saturating_sub(first_height),
    })
}
