//! The upgrade path of a program on a running localnet (issue #9 needs it
//! for `transfer` version 2): the authority registers version 2 with
//! `MsgUpdateProgram`, which freezes version 1. The prover, still set to
//! version 1, gets its next proof refused as frozen: it checks that through
//! its light client, stops proving and says what to change in `/status`
//! instead of proving the same batch again and again. Set to version 2 and
//! restarted, it proves that batch again with the new version and the
//! chain settles it.

use std::time::{Duration, Instant};

use copro_coprocessor::record::pb;
use copro_integration::{
    TestNet, any, copro_query, ledger_balance, prover_status, submit, wait_settled_up_to,
};
use copro_localnet::coprocessor::{AUTHORITY_KEY, ensure_dev_keys};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_upgrade_freezes_the_old_version_and_the_prover_moves_on() -> anyhow::Result<()> {
    let keys = ensure_dev_keys()?;
    let mut net = TestNet::start_with(1, 28450, true).await?;
    let client = net.client(0);
    let alice = net.wallet("alice")?;
    let bob = net.wallet("bob")?;
    let deposit = |who: &copro_localnet::wallet::Wallet, amount: u64| {
        any(&pb::MsgDeposit {
            signer: who.address.to_string(),
            amount,
        })
    };

    // Version 1 settles as usual.
    submit(&net, &client, &alice, deposit(&alice, 1_000)).await?;
    wait_settled_up_to(&client, 1, Duration::from_secs(300)).await?;

    // The authority registers version 2 (the same circuit and keys: what
    // matters here is the registry and the prover's handling of it).
    let vk = std::fs::read(keys.join("verifying_key.bin"))?;
    let v1: pb::QueryProgramResponse = copro_query(
        &client,
        "Program",
        pb::QueryProgramRequest {
            program_id: "transfer".into(),
            version: 1,
        },
    )
    .await?;
    let v1 = v1.program.expect("version 1 is registered");
    let authority = net.wallet(AUTHORITY_KEY)?;
    submit(
        &net,
        &client,
        &authority,
        any(&pb::MsgUpdateProgram {
            authority: authority.address.to_string(),
            program_id: "transfer".into(),
            version: 2,
            verifying_key: vk,
            vk_hash: v1.vk_hash.clone(),
            batch_size: v1.batch_size,
            tree_arity: v1.tree_arity,
            tree_depth: v1.tree_depth,
            offchain_batch_size: 0,
        }),
    )
    .await?;
    let status = |version: u32| {
        let client = client.clone();
        async move {
            let r: pb::QueryProgramResponse = copro_query(
                &client,
                "Program",
                pb::QueryProgramRequest {
                    program_id: "transfer".into(),
                    version,
                },
            )
            .await?;
            anyhow::Ok(r.program.map(|p| p.status))
        }
    };
    assert_eq!(status(1).await?, Some(pb::ProgramStatus::Frozen as i32));
    assert_eq!(status(2).await?, Some(pb::ProgramStatus::Active as i32));

    // Bob's deposit: the prover proves it with version 1, the chain refuses
    // that as frozen, and the prover stops with what to do.
    submit(&net, &client, &bob, deposit(&bob, 500)).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let refusal = loop {
        let s = prover_status(&net).await?;
        let reason = s["reason"].as_str().unwrap_or_default().to_string();
        if s["state"] == "refusing" && reason.contains("frozen") {
            break reason;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the prover did not stop on the frozen version: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        refusal.contains("version 1") && refusal.contains("[program] version"),
        "{refusal}"
    );
    let queue: pb::QueryQueueResponse =
        copro_query(&client, "Queue", pb::QueryQueueRequest::default()).await?;
    assert_eq!(
        queue.state.unwrap().settled_up_to,
        1,
        "bob's deposit settled"
    );
    // It stays stopped: no proof of version 1 reaches a block.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(prover_status(&net).await?["state"], "refusing");

    // Set to version 2 and restarted, it proves the batch again and the
    // chain settles it.
    net.net.stop_prover()?;
    let config = net.net.prover().expect("a prover").config();
    let text = std::fs::read_to_string(&config)?;
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    doc["program"]["version"] = toml_edit::value(2);
    std::fs::write(&config, doc.to_string())?;
    net.net.start_prover().await?;
    wait_settled_up_to(&client, 2, Duration::from_secs(300)).await?;
    assert_eq!(ledger_balance(&client, bob.address.as_ref()).await?, 500);
    assert_eq!(
        ledger_balance(&client, alice.address.as_ref()).await?,
        1_000
    );
    let results: pb::QueryResultsResponse =
        copro_query(&client, "Results", pb::QueryResultsRequest::default()).await?;
    let versions: Vec<u32> = results.results.iter().map(|r| r.program_version).collect();
    assert_eq!(versions, [1, 2], "one result per version: {versions:?}");
    net.passed();
    Ok(())
}
