//! Issue #8 end to end: on a real 4-validator localnet, the prover daemon
//! that `localnet up` starts (`copro-prover run`) settles the ledger
//! requests of four users on its own: deposits, then transfers in a ring
//! and withdrawals. Every validator ends with the same ledger, the escrow
//! holds exactly the ledger's sum, bank balances moved by deposits,
//! withdrawals and fees only, and the prover's API, CLI and metrics tell
//! the same story as the chain (every request in exactly one committed job,
//! one job per verified result). Between the rounds another tx uses the
//! prover's key; the prover gets over the wrong sequence by itself.

use std::collections::BTreeMap;
use std::time::Duration;

use copro_coprocessor::record::pb;
use copro_coprocessor::requests::escrow_address;
use copro_integration::{
    TestNet, any, assert_same_app_hashes, height, http_get, ledger_balance, prover_jobs,
    prover_status, settled_ranges, submit, wait_settled_up_to,
};
use copro_localnet::coprocessor::{PROVER_KEY, ensure_dev_keys};
use copro_localnet::process::find_binary;
use copro_localnet::wallet::{SendTx, account_numbers, balance, broadcast_ok, wait_included};

const FEE: u128 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prover_daemon_settles_requests_of_several_users_on_every_validator()
-> anyhow::Result<()> {
    ensure_dev_keys()?;
    let net = TestNet::start_with(4, 27800, true).await?;
    let client = net.client(0);
    let names = ["alice", "bob", "carol", "dave"];
    let users = names
        .iter()
        .map(|n| net.wallet(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut bank_before = Vec::new();
    for u in &users {
        bank_before.push(balance(&client, &u.address).await?);
    }

    // Round 1: one deposit per user, all in flight at once.
    let deposits = [4_000u64, 3_000, 2_000, 1_000];
    let mut round = Vec::new();
    for (u, amount) in users.iter().zip(deposits) {
        let msg = any(&pb::MsgDeposit {
            signer: u.address.to_string(),
            amount,
        });
        round.push(submit(&net, &client, u, msg));
    }
    for r in futures::future::join_all(round).await {
        r?;
    }
    wait_settled_up_to(&client, 4, Duration::from_secs(300)).await?;

    // Someone else uses the prover's key meanwhile: its next broadcast
    // meets a wrong sequence, which it must get over by itself.
    let prover_key = net.wallet(PROVER_KEY)?;
    let (account, sequence) = account_numbers(&client, &prover_key.address).await?;
    let nudge = SendTx::new(
        &prover_key,
        &prover_key.address,
        1,
        net.chain_id(),
        account,
        sequence,
    )
    .sign()?;
    wait_included(&client, broadcast_ok(&client, nudge).await?).await?;

    // Round 2: transfers in a ring (each spends settled funds) and two
    // withdrawals, per user in order, users concurrently.
    let ring = [500u64, 400, 300, 200];
    let withdrawals = [100u64, 0, 50, 0];
    let mut round = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let to = users[(i + 1) % users.len()].address.to_string();
        let (net, client) = (&net, &client);
        round.push(async move {
            let transfer = any(&pb::MsgTransfer {
                signer: u.address.to_string(),
                recipient: to,
                amount: ring[i],
            });
            submit(net, client, u, transfer).await?;
            if withdrawals[i] > 0 {
                let w = any(&pb::MsgWithdraw {
                    signer: u.address.to_string(),
                    amount: withdrawals[i],
                });
                submit(net, client, u, w).await?;
            }
            anyhow::Ok(())
        });
    }
    for r in futures::future::join_all(round).await {
        r?;
    }
    let total = 4 + 4 + 2;
    wait_settled_up_to(&client, total, Duration::from_secs(300)).await?;

    // The chain, on every validator.
    let ledger: Vec<u64> = (0..4)
        .map(|i| deposits[i] - ring[i] + ring[(i + 3) % 4] - withdrawals[i])
        .collect();
    assert_eq!(ledger, [3_600, 3_100, 2_050, 1_100]);
    let txs = [3u128, 2, 3, 2];
    let end = height(&client).await?;
    let escrow = escrow_address()
        .to_string()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for i in 0..4 {
        net.net
            .wait_for_height(i, end, Duration::from_secs(30))
            .await?;
        let node = net.client(i);
        for (k, u) in users.iter().enumerate() {
            let in_ledger = ledger_balance(&node, u.address.as_ref()).await?;
            assert_eq!(
                in_ledger, ledger[k],
                "node{i}: {}'s ledger balance",
                names[k]
            );
            assert_eq!(
                balance(&node, &u.address).await?,
                bank_before[k] - u128::from(deposits[k]) + u128::from(withdrawals[k])
                    - txs[k] * FEE,
                "node{i}: {}'s bank balance",
                names[k]
            );
        }
        assert_eq!(
            balance(&node, &escrow).await?,
            u128::from(ledger.iter().sum::<u64>()),
            "node{i}: the escrow holds the ledger's sum"
        );
    }
    assert_same_app_hashes(&net, 1, end).await?;

    // The prover sees the settlement one round after the chain (and its
    // replica catches up then).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let s = prover_status(&net).await?;
        if s["replica_settled"] == total || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // The prover's account of it: every request in exactly one committed
    // job, one job per verified result, with the same ranges.
    let on_chain = settled_ranges(&client, total).await?;
    let jobs = prover_jobs(&net).await?;
    let committed: BTreeMap<u64, u64> = jobs
        .iter()
        .filter(|j| j["state"] == "committed")
        .map(|j| {
            (
                j["start"].as_u64().unwrap_or(u64::MAX),
                j["end"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(committed, on_chain, "jobs: {jobs:#?}");

    assert_eq!(status["state"], "idle", "{status:#}");
    assert_eq!(status["queue_settled"], total, "{status:#}");
    assert_eq!(status["replica_settled"], total, "{status:#}");
    assert_eq!(status["replica_root"], status["chain_root"], "{status:#}");
    assert_eq!(status["settled_entries"], total, "{status:#}");

    let api = net.net.prover().map(|p| p.api_port).unwrap_or_default();
    let (code, metrics) = http_get(api, "/metrics").await?;
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!("copro_prover_settled_entries_total {total}")),
        "{metrics}"
    );
    for bad in ["rejected", "replica", "witness", "proving"] {
        assert!(
            metrics.contains(&format!(
                "copro_prover_failures_total{{reason=\"{bad}\"}} 0"
            )),
            "{bad}: {metrics}"
        );
    }
    let sequence_errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("copro_prover_failures_total{reason=\"sequence\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_default();
    assert_eq!(
        sequence_errors, 1,
        "one wrong sequence, then recovered: {metrics}"
    );
    assert_eq!(http_get(api, "/health").await?.0, 200);

    // The operator commands say the same.
    let config = net.net.prover().map(|p| p.config()).unwrap_or_default();
    let out = std::process::Command::new(find_binary("copro-prover")?)
        .args(["jobs", "-o", "json", "--config"])
        .arg(&config)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    assert_eq!(listed.len(), jobs.len().min(20));
    let out = std::process::Command::new(find_binary("localnet")?)
        .args(["status", "-o", "json", "--home"])
        .arg(net.net.layout().root())
        .output()?;
    let all: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(all["prover"]["state"], "running", "{all:#}");
    assert_eq!(all["prover"]["status"]["queue_settled"], total, "{all:#}");
    assert_eq!(all["nodes"].as_array().map(Vec::len), Some(4));
    net.passed();
    Ok(())
}
