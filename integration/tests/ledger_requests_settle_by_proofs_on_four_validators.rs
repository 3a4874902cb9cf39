//! Issue #7 end to end: on a real 4-validator localnet, users deposit,
//! transfer and withdraw through standard Cosmos txs signed with cosmrs;
//! the requests are settled by Groth16 proofs the test makes the way the
//! prover will (chain data read over RPC, native execution, `settle::prove`
//! with the localnet's dev program keys). Every validator verifies each
//! proof once (its Prometheus counter says so), ends on the same app hash,
//! and shows the same ledger, bank balances and escrow. One deposit and the
//! final reads go through the user CLI (`coprod tx/query copro`), whose
//! `--prove` verifies ICS-23 proofs against the chain's headers.

use std::time::Duration;

use bellman::groth16;
use bls12_381::Bls12;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Ledger, TransferParams};
use copro_coprocessor::record::pb;
use copro_coprocessor::requests::escrow_address;
use copro_coprocessor::settle;
use copro_integration::{
    SendTx, TestNet, Wallet, any, assert_same_app_hashes, copro_query as query, height, http_get,
    ledger_balance, submit,
};
use copro_localnet::coprocessor::{DEV_BATCH, DEV_DEPTH, PROVER_KEY, ensure_dev_keys};
use copro_localnet::wallet::{account_numbers, balance, broadcast_ok};
use tendermint_rpc::HttpClient;

/// Runs the `coprod` CLI against node `i` with `-o json` and returns what it
/// printed; fails with its output when it exits non-zero.
fn coprod_cli(net: &TestNet, i: usize, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let out = std::process::Command::new(copro_localnet::process::find_binary("coprod")?)
        .args(args)
        .arg("--node")
        .arg(net.net.rpc_url(i))
        .arg("--keyring-dir")
        .arg(&net.net.state().keyring_dir)
        .args(["-o", "json"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "coprod {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_str(stdout.trim())?)
}

/// Sum of `coprod_groth16_verifications_total` over stages, from /metrics.
async fn verifications(port: u16) -> anyhow::Result<u64> {
    let (status, body) = http_get(port, "/metrics").await?;
    anyhow::ensure!(status == 200, "metrics answered {status}");
    Ok(body
        .lines()
        .filter(|l| l.starts_with("coprod_groth16_verifications_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// The prover's side: its ledger copy, the dev proving key, its wallet.
struct ProverSide {
    params: TransferParams,
    ledger: Ledger,
    pk: groth16::Parameters<Bls12>,
    wallet: Wallet,
    proofs: Vec<pb::MsgSubmitProof>,
}

impl ProverSide {
    /// Proves and submits batches (at most B requests each) until the queue
    /// is empty, reading it over RPC as the prover daemon will.
    async fn settle_all(&mut self, net: &TestNet, client: &HttpClient) -> anyhow::Result<()> {
        loop {
            let queue: pb::QueryQueueResponse =
                query(client, "Queue", pb::QueryQueueRequest { pagination: None }).await?;
            if queue.entries.is_empty() {
                return Ok(());
            }
            let state = queue.state.unwrap_or_default();
            let n = queue.entries.len().min(self.params.batch_size);
            let executed = settle::execute(
                &self.params,
                net.chain_id(),
                ("transfer", 1),
                self.wallet.address.as_ref(),
                &mut self.ledger,
                &state,
                &queue.entries[..n],
            )?;
            let (msg, _) = settle::prove(&self.params, executed, &self.pk, &mut rand_core::OsRng)?;
            submit(net, client, &self.wallet, any(&msg)).await?;
            self.proofs.push(msg);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_requests_settle_by_proofs_on_four_validators() -> anyhow::Result<()> {
    let keys = ensure_dev_keys()?;
    let pk = groth16::Parameters::<Bls12>::read(
        std::io::BufReader::new(std::fs::File::open(keys.join("proving_key.bin"))?),
        false,
    )?;
    let net = TestNet::start(4, 27600).await?;
    net.net
        .wait_for_height(0, 2, Duration::from_secs(60))
        .await?;
    let client = net.client(0);
    let (alice, bob, carol) = (
        net.wallet("alice")?,
        net.wallet("bob")?,
        net.wallet("carol")?,
    );
    let prover = net.wallet(PROVER_KEY)?;
    let bob_bank = balance(&client, &bob.address).await?;

    // Three deposits, settled by one proof; then a transfer and a
    // withdrawal (debits need settled funds), settled by another.
    let params = TransferParams {
        batch_size: DEV_BATCH,
        tree: TreeConfig::new(Arity::Four, DEV_DEPTH).unwrap(),
    };
    let mut prover_side = ProverSide {
        params,
        ledger: Ledger::new(params.tree),
        pk,
        wallet: prover,
        proofs: Vec::new(),
    };
    for (who, amount) in [(&alice, 1_000), (&bob, 500)] {
        let msg = pb::MsgDeposit {
            signer: who.address.to_string(),
            amount,
        };
        submit(&net, &client, who, any(&msg)).await?;
    }
    // Carol deposits with the CLI, as a user would.
    let chain_id = net.chain_id().to_string();
    let deposit = coprod_cli(
        &net,
        1,
        &[
            "tx",
            "copro",
            "deposit",
            "carol",
            "200",
            "--chain-id",
            &chain_id,
            "--fees",
            "10000ucopro",
            "--gas",
            "400000",
            "--wait",
        ],
    )?;
    assert_eq!(deposit["code"], 0, "{deposit}");
    let queued = coprod_cli(&net, 2, &["query", "copro", "queue"])?;
    assert_eq!(
        queued["entries"].as_array().map(Vec::len),
        Some(3),
        "{queued}"
    );
    assert_eq!(queued["entries"][2]["kind"], "deposit");
    prover_side.settle_all(&net, &client).await?;
    let transfer = pb::MsgTransfer {
        signer: alice.address.to_string(),
        recipient: bob.address.to_string(),
        amount: 300,
    };
    submit(&net, &client, &alice, any(&transfer)).await?;
    let withdraw = pb::MsgWithdraw {
        signer: bob.address.to_string(),
        amount: 100,
    };
    submit(&net, &client, &bob, any(&withdraw)).await?;
    prover_side.settle_all(&net, &client).await?;
    let (prover, proofs) = (&prover_side.wallet, &prover_side.proofs);
    assert_eq!(proofs.len(), 2);

    // A replayed proof is refused in CheckTx with its own code.
    let (account, sequence) = account_numbers(&client, &prover.address).await?;
    let replay = SendTx {
        gas: 400_000,
        fee: 10_000,
        ..SendTx::new(
            prover,
            &prover.address,
            0,
            net.chain_id(),
            account,
            sequence,
        )
    }
    .sign_messages(vec![any(&proofs[0])])?;
    let refused = broadcast_ok(&client, replay).await.unwrap_err().to_string();
    assert!(refused.contains("code 8"), "{refused}");

    // Every validator: the same ledger, bank and escrow; one pairing per proof.
    let end = height(&client).await?;
    for i in 0..4 {
        net.net
            .wait_for_height(i, end, Duration::from_secs(30))
            .await?;
        let node = net.client(i);
        for (who, want) in [(&alice, 700), (&bob, 700), (&carol, 200)] {
            let in_ledger = ledger_balance(&node, who.address.as_ref()).await?;
            assert_eq!(in_ledger, want, "node{i} {}", who.address);
        }
        let escrow = escrow_address()
            .to_string()
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        assert_eq!(
            balance(&node, &escrow).await?,
            1_600,
            "node{i}: escrow = sum of the ledger"
        );
        // Bob: -500 deposited, +100 withdrawn, two fees.
        assert_eq!(
            balance(&node, &bob.address).await?,
            bob_bank - 500 + 100 - 2 * 10_000
        );
        let root: pb::QueryRootResponse = query(
            &node,
            "Root",
            pb::QueryRootRequest {
                height: 0,
                prove: false,
            },
        )
        .await?;
        assert_eq!(
            root.root.unwrap_or_default().root,
            proofs[1].new_root,
            "node{i}"
        );
        let port = net.net.state().nodes[i].ports.app_metrics;
        assert_eq!(
            verifications(port).await?,
            2,
            "node{i} verified each proof once"
        );
    }
    assert_same_app_hashes(&net, 1, end).await?;

    // The CLI's view, with proofs verified against the headers.
    let bob_cli = coprod_cli(
        &net,
        3,
        &["query", "copro", "account", bob.address.as_ref(), "--prove"],
    )?;
    assert_eq!(bob_cli["proof_verified"], true, "{bob_cli}");
    assert_eq!(bob_cli["account"]["balance"], "700", "{bob_cli}");
    let dave = net.wallet("dave")?;
    let absent = coprod_cli(
        &net,
        3,
        &[
            "query",
            "copro",
            "account",
            dave.address.as_ref(),
            "--prove",
        ],
    )?;
    assert_eq!(absent["proof_verified"], true, "{absent}");
    assert!(absent["account"].is_null(), "{absent}");
    let root = coprod_cli(&net, 0, &["query", "copro", "root", "--prove"])?;
    assert_eq!(root["proof_verified"], true, "{root}");
    assert_eq!(
        root["root"],
        format!("0x{}", hex::encode(&proofs[1].new_root))
    );
    let results = coprod_cli(&net, 0, &["query", "copro", "results"])?;
    assert_eq!(
        results["results"].as_array().map(Vec::len),
        Some(2),
        "{results}"
    );
    // The root right after the first settlement, read at that height.
    let first = coprod_cli(&net, 0, &["query", "copro", "result", "0"])?;
    let first_height = first["result"]["height"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let old_root = coprod_cli(
        &net,
        2,
        &[
            "query",
            "copro",
            "root",
            "--height",
            &first_height,
            "--prove",
        ],
    )?;
    assert_eq!(old_root["proof_verified"], true, "{old_root}");
    assert_eq!(old_root["height"], first_height.as_str());
    assert_eq!(
        old_root["root"],
        format!("0x{}", hex::encode(&proofs[0].new_root))
    );
    let result = coprod_cli(&net, 0, &["query", "copro", "result", "1", "--prove"])?;
    assert_eq!(result["proof_verified"], true, "{result}");
    assert_eq!(
        result["result"]["withdrawals"][0]["amount"], "100",
        "{result}"
    );
    net.passed();
    Ok(())
}
