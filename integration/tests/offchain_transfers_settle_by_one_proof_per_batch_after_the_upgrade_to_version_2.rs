//! Off-chain transfers end to end (issue #9) on a running localnet: version
//! 1 settles deposits; the authority upgrades `transfer` to version 2 with
//! `MsgUpdateProgram` (version 1 frozen); the prover, restarted on version
//! 2, settles alice's `MsgSetLedgerKey`; `coprod ledger transfer` signs two
//! transfers with her spending key and posts them to the prover (one to
//! bob's account, one that creates carol's); the prover proves them in one
//! batch and the chain settles it from one `MsgSubmitProof`. On the way the
//! prover refuses what it must: a wrong key, another chain-id, an amount or
//! recipient changed after signing, a sender without a key, a replay.

use std::process::Command;
use std::time::{Duration, Instant};

use copro_coprocessor::record::pb;
use copro_coprocessor::wallet;
use copro_integration::{TestNet, any, copro_query, ledger_balance, submit, wait_settled_up_to};
use copro_localnet::coprocessor::{AUTHORITY_KEY, ensure_dev_keys, ensure_dev_keys_v2};
use copro_localnet::http;
use copro_module::Address;

fn coprod(net: &TestNet, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let bin = copro_localnet::process::find_binary("coprod")?;
    let state = net.net.state();
    let out = Command::new(bin)
        .args(args)
        .arg("--node")
        .arg(net.net.rpc_url(0))
        .arg("--keyring-dir")
        .arg(&state.keyring_dir)
        .args(["-o", "json"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "coprod {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

async fn transfer_state(port: u16, id: u64) -> anyhow::Result<serde_json::Value> {
    let (code, body) = http::get(port, &format!("/transfers/{id}")).await?;
    anyhow::ensure!(code == 200, "/transfers/{id} answered {code}: {body}");
    Ok(serde_json::from_str(&body)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offchain_transfers_settle_by_one_proof_per_batch_after_the_upgrade_to_version_2()
-> anyhow::Result<()> {
    ensure_dev_keys()?;
    let v2_keys = ensure_dev_keys_v2()?;
    let mut net = TestNet::start_with(1, 28470, true).await?;
    let client = net.client(0);
    let chain_id = net.chain_id().to_string();
    let alice = net.wallet("alice")?;
    let bob = net.wallet("bob")?;
    let carol = Address::from_bytes(&[0xca; 20])?;
    let deposit = |who: &copro_localnet::wallet::Wallet, amount: u64| {
        any(&pb::MsgDeposit {
            signer: who.address.to_string(),
            amount,
        })
    };

    // Version 1: deposits.
    submit(&net, &client, &alice, deposit(&alice, 1_000)).await?;
    submit(&net, &client, &bob, deposit(&bob, 500)).await?;
    wait_settled_up_to(&client, 2, Duration::from_secs(300)).await?;

    // The upgrade: version 2 with off-chain slots, registered from the
    // setup directory the way an operator does it.
    let keyring = net.net.state().keyring_dir.clone();
    let upgrade = coprod(
        &net,
        &[
            "tx",
            "copro",
            "update-program",
            AUTHORITY_KEY,
            "--keys",
            v2_keys.to_str().expect("utf-8"),
            "--chain-id",
            &chain_id,
            "--gas",
            "1000000",
            "--fees",
            "25000ucopro",
            "--wait",
        ],
    )?;
    assert_eq!(upgrade["code"], 0, "{upgrade}");
    let v2: pb::QueryProgramResponse = copro_query(
        &client,
        "Program",
        pb::QueryProgramRequest {
            program_id: "transfer".into(),
            version: 2,
        },
    )
    .await?;
    let v2 = v2.program.expect("version 2 is registered");
    assert_eq!(v2.status, pb::ProgramStatus::Active as i32);
    assert!(v2.offchain_batch_size > 0);

    // The prover, restarted on version 2.
    net.net.stop_prover()?;
    let config = net.net.prover().expect("a prover").config();
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&config)?.parse()?;
    doc["program"]["version"] = toml_edit::value(2);
    doc["program"]["keys_dir"] = toml_edit::value(v2_keys.to_str().expect("utf-8"));
    std::fs::write(&config, doc.to_string())?;
    net.net.start_prover().await?;
    let port = net.net.prover().expect("a prover").api_port;

    // Alice binds her spending key (queued, settled by a version-2 proof).
    let spending = coprod::keyring::Keyring::new(&keyring)
        .resolve("alice")?
        .spending_key()?;
    let public = spending.public_key().to_bytes();
    submit(
        &net,
        &client,
        &alice,
        any(&pb::MsgSetLedgerKey {
            signer: alice.address.to_string(),
            spending_key: public.to_vec(),
        }),
    )
    .await?;
    wait_settled_up_to(&client, 3, Duration::from_secs(300)).await?;
    let account: pb::QueryLedgerAccountResponse = copro_query(
        &client,
        "LedgerAccount",
        pb::QueryLedgerAccountRequest {
            address: alice.address.to_string(),
            prove: false,
        },
    )
    .await?;
    let account = account.account.expect("alice has a ledger account");
    assert_eq!(account.spending_key, public.to_vec());

    // The prover's replica sees the key once its round reads that block.
    let deadline = Instant::now() + Duration::from_secs(60);
    while copro_integration::prover_status(&net).await?["replica_settled"]
        .as_u64()
        .unwrap_or(0)
        < 3
    {
        anyhow::ensure!(Instant::now() < deadline, "the prover did not catch up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // What the prover must refuse, before anything is stored.
    let bob_index = {
        let r: pb::QueryLedgerAccountResponse = copro_query(
            &client,
            "LedgerAccount",
            pb::QueryLedgerAccountRequest {
                address: bob.address.to_string(),
                prove: false,
            },
        )
        .await?;
        r.account.expect("bob has an account").ledger_index
    };
    let bob_address = Address::parse(bob.address.as_ref())?;
    let good = wallet::sign_transfer(
        &spending,
        &chain_id,
        account.ledger_index,
        bob_index,
        &bob_address,
        100,
        0,
    )
    .map_err(anyhow::Error::msg)?;
    let post = |req: &wallet::TransferRequest| {
        let body = serde_json::to_string(req).expect("json");
        async move { http::post_json(port, "/transfers", &body).await }
    };
    let wrong_key = copro_circuits::spend_auth::SpendingKey::from_seed(&[9; 32])?;
    let refused = [
        (
            "a wrong key",
            wallet::sign_transfer(
                &wrong_key,
                &chain_id,
                account.ledger_index,
                bob_index,
                &bob_address,
                100,
                0,
            )
            .map_err(anyhow::Error::msg)?,
            (400, "does not verify"),
        ),
        (
            "another chain-id",
            wallet::sign_transfer(
                &spending,
                "another-chain",
                account.ledger_index,
                bob_index,
                &bob_address,
                100,
                0,
            )
            .map_err(anyhow::Error::msg)?,
            (400, "does not verify"),
        ),
        (
            "the amount changed after signing",
            wallet::TransferRequest {
                amount: 101,
                ..good.clone()
            },
            (400, "does not verify"),
        ),
        (
            "the recipient changed after signing",
            wallet::TransferRequest {
                to_address: carol.to_string(),
                ..good.clone()
            },
            (400, "does not verify"),
        ),
        (
            "a sender without a spending key",
            wallet::TransferRequest {
                from_index: bob_index,
                ..good.clone()
            },
            (400, "no spending key"),
        ),
        (
            "a nonce ahead",
            wallet::sign_transfer(
                &spending,
                &chain_id,
                account.ledger_index,
                bob_index,
                &bob_address,
                100,
                5,
            )
            .map_err(anyhow::Error::msg)?,
            (409, "next nonce 0"),
        ),
    ];
    for (what, req, (code, says)) in &refused {
        let (got, body) = post(req).await?;
        assert_eq!(got, *code, "{what}: {body}");
        assert!(body.contains(says), "{what}: {body}");
    }
    let (code, body) = http::post_json(port, "/transfers", "{\"from_index\": 1}").await?;
    assert_eq!(code, 400, "{body}");

    // Two transfers through the CLI: to bob's account, and one that creates
    // carol's (the second is signed with the next nonce, which the prover
    // names).
    let first = coprod(
        &net,
        &[
            "ledger",
            "transfer",
            "alice",
            bob.address.as_ref(),
            "100",
            "--prover",
            &format!("http://127.0.0.1:{port}"),
            "--chain-id",
            &chain_id,
        ],
    )?;
    let second = coprod(
        &net,
        &[
            "ledger",
            "transfer",
            "alice",
            &carol.to_string(),
            "50",
            "--prover",
            &format!("http://127.0.0.1:{port}"),
            "--chain-id",
            &chain_id,
        ],
    )?;
    let ids = [
        first["id"].as_u64().expect("an id"),
        second["id"].as_u64().expect("an id"),
    ];
    assert_eq!(second["nonce"], "1", "signed with the next nonce: {second}");
    // A replay of the first is refused: its nonce is taken.
    let (code, body) = post(&good).await?;
    assert_eq!(code, 409, "a replay: {body}");

    let deadline = Instant::now() + Duration::from_secs(300);
    let settled = loop {
        let states = [
            transfer_state(port, ids[0]).await?,
            transfer_state(port, ids[1]).await?,
        ];
        if states.iter().all(|s| s["state"] == "committed") {
            break states;
        }
        anyhow::ensure!(
            states.iter().all(|s| s["state"] != "dropped"),
            "a transfer was dropped: {states:?}"
        );
        anyhow::ensure!(
            Instant::now() < deadline,
            "the transfers did not settle: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        settled[0]["tx_hash"], settled[1]["tx_hash"],
        "one proof for both"
    );
    assert!(settled[0]["height"].as_u64().unwrap_or(0) > 0);
    let status = coprod(
        &net,
        &[
            "ledger",
            "transfer-status",
            &ids[1].to_string(),
            "--prover",
            &format!("http://127.0.0.1:{port}"),
        ],
    )?;
    assert_eq!(status["state"], "committed");

    // The chain's balances, from its mirror of the settled ledger.
    assert_eq!(ledger_balance(&client, alice.address.as_ref()).await?, 850);
    assert_eq!(ledger_balance(&client, bob.address.as_ref()).await?, 600);
    assert_eq!(ledger_balance(&client, &carol.to_string()).await?, 50);
    let results: pb::QueryResultsResponse =
        copro_query(&client, "Results", pb::QueryResultsRequest::default()).await?;
    let last = results.results.last().expect("results");
    assert_eq!((last.offchain_count, last.created), (2, 1), "{last:?}");
    assert_eq!(
        hex::encode_upper(&last.tx_hash),
        settled[0]["tx_hash"].as_str().unwrap_or_default()
    );

    // After settlement, the same signed transfer is still a replay.
    let (code, body) = post(&good).await?;
    assert_eq!(code, 409, "a replay after settlement: {body}");
    net.passed();
    Ok(())
}
