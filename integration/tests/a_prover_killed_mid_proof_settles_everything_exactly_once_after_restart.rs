//! Issue #8: the prover daemon is SIGKILLed twice, once while it proves a
//! batch and once right after it broadcast a proof, with users' requests
//! arriving while it is down. After each restart it resumes from its job
//! store: every request is settled exactly once (each user's ledger balance
//! is exactly the sum of their deposits; the chain's verified results cover
//! the queue without gap or overlap), and the batch whose proof landed while
//! the prover was dead is recognised from chain state, not proved again.

use std::time::Duration;

use copro_coprocessor::record::pb;
use copro_integration::{
    TestNet, Wallet, any, ledger_balance, prover_job, prover_jobs, prover_status, settled_ranges,
    submit, wait_settled_up_to,
};
use copro_localnet::coprocessor::ensure_dev_keys;

/// One deposit per user, concurrently.
async fn deposit_round(net: &TestNet, users: &[Wallet], amounts: &[u64]) -> anyhow::Result<()> {
    let client = net.client(0);
    let mut all = Vec::new();
    for (u, amount) in users.iter().zip(amounts) {
        let msg = any(&pb::MsgDeposit {
            signer: u.address.to_string(),
            amount: *amount,
        });
        all.push(submit(net, &client, u, msg));
    }
    for r in futures::future::join_all(all).await {
        r?;
    }
    Ok(())
}

/// Waits until some job of the prover is in `state`; returns its id.
async fn wait_for_job_in(net: &TestNet, state: &str) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = prover_jobs(net).await?;
        if let Some(j) = jobs.iter().find(|j| j["state"] == state) {
            return j["id"]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("job without id: {j}"));
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no job reached state {state}: {jobs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_killed_mid_proof_settles_everything_exactly_once_after_restart()
-> anyhow::Result<()> {
    ensure_dev_keys()?;
    let mut net = TestNet::start_with(1, 27900, true).await?;
    let client = net.client(0);
    let users = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|n| net.wallet(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rounds: [[u64; 4]; 3] = [[100, 200, 300, 400], [1, 2, 3, 4], [10, 20, 30, 40]];

    // Kill 1: while a batch is being proved; more requests arrive meanwhile.
    deposit_round(&net, &users, &rounds[0]).await?;
    let proving = wait_for_job_in(&net, "proving").await?;
    let killed = net.net.kill_prover()?;
    assert_eq!(killed.len(), 1, "one prover process");
    deposit_round(&net, &users, &rounds[1]).await?;
    net.net.start_prover().await?;
    wait_settled_up_to(&client, 8, Duration::from_secs(300)).await?;
    let jobs = prover_jobs(&net).await?;
    let resumed = jobs
        .iter()
        .find(|j| j["id"] == proving)
        .ok_or_else(|| anyhow::anyhow!("job {proving} is gone: {jobs:#?}"))?;
    assert_eq!(resumed["state"], "committed", "{resumed}");

    // Kill 2: right after a proof was broadcast, before or just as it lands.
    deposit_round(&net, &users, &rounds[2]).await?;
    let submitted = wait_for_job_in(&net, "submitted").await?;
    let before = prover_job(&net, submitted).await?;
    net.net.kill_prover()?;
    // The proof lands while the prover is dead.
    tokio::time::sleep(Duration::from_secs(3)).await;
    net.net.start_prover().await?;
    wait_settled_up_to(&client, 12, Duration::from_secs(300)).await?;

    // Exactly once: each user's ledger balance is the sum of their deposits.
    for (k, u) in users.iter().enumerate() {
        let in_ledger = ledger_balance(&client, u.address.as_ref()).await?;
        let want: u64 = rounds.iter().map(|r| r[k]).sum();
        assert_eq!(in_ledger, want, "user {k}");
    }
    // The verified results tile the queue: no request settled twice.
    let ranges = settled_ranges(&client, 12).await?;

    // The job broadcast before the kill is committed, recognised from the
    // chain: one result has exactly its range, and it was never proved
    // again (its proof is the one in the job store).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = prover_job(&net, submitted).await?;
        if job["state"] == "committed" || tokio::time::Instant::now() > deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(job["state"], "committed", "{job:#}");
    assert_eq!(job["msg"], before["msg"], "the same proof, not a new one");
    assert_eq!(
        job["attempts"], before["attempts"],
        "neither proved nor broadcast again: before {before:#}, after {job:#}"
    );
    let (start, end) = (job["start"].as_u64(), job["end"].as_u64());
    assert_eq!(
        start.and_then(|s| ranges.get(&s)).copied(),
        end,
        "a result with the job's range: {ranges:?}"
    );
    // The prover's status follows the chain a round later (it publishes
    // what it verified at its last block): wait for it to see the end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = prover_status(&net).await?;
        if status["queue_settled"] == 12 || tokio::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(status["queue_settled"], 12, "{status:#}");
    net.passed();
    Ok(())
}
