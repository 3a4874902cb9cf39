//! Issue #10, items 3 to 5, end to end on a real 4-validator localnet with
//! the prover daemon running.
//!
//! An unmodified cosmjs `SigningCosmWasmClient` (integration/cosmjs/wasm.mjs)
//! uploads `ledger-requester`, instantiates it with funds, executes a
//! deposit request and reads the contract with `queryContractSmart`. The
//! contract's request is an ordinary queue entry; the prover daemon settles
//! it with a real Groth16 proof, and the chain calls the contract's `sudo`
//! with the verified outcome. Then the contract makes its callbacks fail:
//! the next settlement still lands (the ledger moves, the proof's tx
//! succeeds), the callback is undone and recorded with its error, in state
//! and as an event of the proof's tx; turned back, a withdrawal's callback
//! succeeds. Every validator has the same app hash at every height.
//!
//! Needs Node.js and `npm ci` in integration/cosmjs (scripts/test.sh does
//! it), and the contracts built (scripts/setup.sh).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use copro_coprocessor::record::pb;
use copro_integration::cli::{CoprodCli, attr, contracts_dir};
use copro_integration::{
    TestNet, assert_same_app_hashes, copro_query, height, ledger_balance, wait_settled_up_to,
};
use copro_localnet::coprocessor::ensure_dev_keys;
use serde_json::{Value, json};

/// Waits for the proof that settles request `sequence`, then returns the
/// contract's record of its callback (through the contract's `callback`
/// query, which reads the chain's `copro` query).
async fn settled_callback(
    net: &TestNet,
    cli: &CoprodCli,
    contract: &str,
    sequence: u64,
) -> anyhow::Result<Value> {
    wait_settled_up_to(&net.client(0), sequence + 1, Duration::from_secs(300)).await?;
    // Node 1 (the CLI's) may be a block behind node 0.
    net.net
        .wait_for_height(1, height(&net.client(0)).await?, Duration::from_secs(60))
        .await?;
    let record = cli.smart(contract, &json!({"callback": {"sequence": sequence}}));
    anyhow::ensure!(record["status"] != "pending", "not run: {record}");
    Ok(record)
}

/// The `EventCallbackRun` of request `sequence` in the tx of the proof that
/// settled it (result `result_id`).
async fn callback_event(
    net: &TestNet,
    cli: &CoprodCli,
    result_id: u64,
    sequence: u64,
) -> anyhow::Result<Value> {
    let result: pb::QueryResultResponse = copro_query(
        &net.client(0),
        "Result",
        pb::QueryResultRequest {
            id: result_id,
            prove: false,
        },
    )
    .await?;
    let hash = hex::encode_upper(result.result.unwrap_or_default().tx_hash);
    let tx = cli.ok(&["query", "tx", &hash]);
    assert_eq!(
        tx["code"], 0,
        "the proof's tx succeeds whatever the callback: {tx}"
    );
    let event = tx["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["type"] == "copro.coprocessor.v1.EventCallbackRun"
                && e["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["key"] == "sequence" && a["value"] == format!("\"{sequence}\""))
        })
        .cloned();
    event.ok_or_else(|| anyhow::anyhow!("no callback event for request {sequence} in {tx}"))
}

/// Sets whether the contract's callbacks fail, then sends it `msg` (a
/// request) with `funds` through the CLI; the request's sequence.
fn request(
    cli: &CoprodCli,
    contract: &str,
    fail_callbacks: bool,
    msg: &str,
    funds: Option<&str>,
) -> anyhow::Result<u64> {
    let flag = json!({"set_fail_callbacks": {"fail": fail_callbacks}}).to_string();
    cli.tx(&[
        "wasm", "execute", "alice", contract, &flag, "--gas", "400000",
    ]);
    let mut args = vec!["wasm", "execute", "alice", contract, msg, "--gas", "800000"];
    if let Some(funds) = funds {
        args.extend(["--amount", funds]);
    }
    let (tx, _) = cli.tx(&args);
    Ok(attr(&tx, "copro_request", "sequence").parse()?)
}

fn event_attr(event: &Value, key: &str) -> String {
    event["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_request_work_and_are_called_back_by_settling_proofs() -> anyhow::Result<()> {
    let cosmjs = Path::new(env!("CARGO_MANIFEST_DIR")).join("cosmjs");
    anyhow::ensure!(
        cosmjs
            .join("node_modules/@cosmjs/cosmwasm-stargate")
            .is_dir(),
        "cosmjs is not installed: run `npm ci` in {} (scripts/test.sh does it)",
        cosmjs.display()
    );
    ensure_dev_keys()?;
    let net = TestNet::start_with(4, 28700, true).await?;
    let cli = CoprodCli::new(&net, 1)?;
    let keyring = coprod::keyring::Keyring::new(&net.net.state().keyring_dir);
    let alice = keyring.get("alice")?;
    let wasm = contracts_dir().join("ledger_requester.wasm");
    let mut figures = Vec::new();

    // cosmjs: upload, instantiate (500 ucopro), execute a deposit request
    // of 300 (with 500 more), query.
    let started = Instant::now();
    let out = Command::new("node")
        .arg("wasm.mjs")
        .arg(net.net.rpc_url(0))
        .arg(&alice.mnemonic)
        .arg(&wasm)
        .arg(json!({"callback_gas_limit": 300_000}).to_string())
        .arg(json!({"deposit": {"amount": "300"}}).to_string())
        .arg(json!({"status": {}}).to_string())
        .arg("500ucopro")
        .current_dir(&cosmjs)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run node (install Node.js >= 18): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cosmjs wasm script failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim())?;
    figures.push(format!(
        "cosmjs upload ledger-requester ({} bytes, {} gzipped): gas {}; instantiate: gas {}; \
         execute deposit request: gas {}; all three committed in {:.1}s",
        r["originalSize"],
        r["compressedSize"],
        r["uploadGas"],
        r["instantiateGas"],
        r["executeGas"],
        started.elapsed().as_secs_f64()
    ));
    let contract = r["contractAddress"].as_str().expect("address").to_string();
    assert_eq!(r["address"], alice.address);
    assert_eq!(r["checksum"], r["codeChecksum"]);
    assert_eq!(r["contractCodeId"], r["codeId"]);
    assert_eq!(r["contractLabel"], "cosmjs");
    let answer = &r["answer"];
    assert_eq!(answer["owner"], alice.address);
    assert_eq!(answer["callback_gas_limit"], 300_000);
    let pending = answer["pending"].as_array().expect("pending");
    assert_eq!(pending.len(), 1, "{answer}");
    assert_eq!(pending[0]["kind"], "deposit");
    assert_eq!(pending[0]["amount"], "300");
    let first = pending[0]["sequence"].as_u64().expect("sequence");
    // The contract asked with its own coins: 1000 sent, 300 in escrow.
    let bank = cli.ok(&["query", "bank", "balance", &contract]);
    assert_eq!(bank["balance"]["amount"], "700", "{bank}");

    // The prover daemon settles it; the callback records the outcome.
    let record = settled_callback(&net, &cli, &contract, first).await?;
    assert_eq!(record["status"], "succeeded", "{record}");
    let status = cli.smart(&contract, &json!({"status": {}}));
    assert_eq!(status["pending"], json!([]), "{status}");
    assert_eq!(status["settled"][0]["sequence"], first);
    assert_eq!(status["settled"][0]["applied"], true);
    assert_eq!(status["settled"][0]["result_id"], record["result_id"]);
    assert_eq!(status["settled_balance"], "300");
    assert_eq!(status["ledger_account"]["balance"], "300");
    let event = callback_event(&net, &cli, record["result_id"].as_u64().unwrap(), first).await?;
    assert_eq!(event_attr(&event, "success"), "true", "{event}");
    figures.push(format!(
        "settlement callback (sudo of ledger-requester: two writes, a delete): gas {}",
        record["gas_used"]
    ));

    // Callbacks set to fail: the next settlement stands, the callback is
    // undone and recorded.
    let second = request(
        &cli,
        &contract,
        true,
        r#"{"deposit":{"amount":"50"}}"#,
        Some("50ucopro"),
    )?;
    let record = settled_callback(&net, &cli, &contract, second).await?;
    assert_eq!(record["status"], "failed", "{record}");
    let error = record["error"].as_str().unwrap_or("");
    assert!(error.contains("callbacks are set to fail"), "{record}");
    // The chain's own record, as a user reads it with the CLI, proven.
    let chain_record = cli.ok(&["query", "copro", "callback", &second.to_string(), "--prove"]);
    assert_eq!(
        chain_record["callback"]["status"], "failed",
        "{chain_record}"
    );
    assert_eq!(chain_record["callback"]["contract"], contract.as_str());
    assert_eq!(chain_record["proof_verified"], true, "{chain_record}");
    assert!(
        chain_record["callback"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("set to fail"),
        "{chain_record}"
    );
    let event = callback_event(&net, &cli, record["result_id"].as_u64().unwrap(), second).await?;
    assert_eq!(event_attr(&event, "success"), "false", "{event}");
    assert!(
        event_attr(&event, "error").contains("set to fail"),
        "{event}"
    );
    let status = cli.smart(&contract, &json!({"status": {}}));
    assert_eq!(
        status["settled_balance"], "300",
        "the failed callback wrote nothing"
    );
    assert_eq!(status["pending"][0]["sequence"], second);
    assert_eq!(
        status["ledger_account"]["balance"], "350",
        "the ledger moved all the same"
    );
    assert_eq!(ledger_balance(&net.client(2), &contract).await?, 350);

    // Turned back on, a withdrawal's callback succeeds.
    let third = request(
        &cli,
        &contract,
        false,
        r#"{"withdraw":{"amount":"100"}}"#,
        None,
    )?;
    let record = settled_callback(&net, &cli, &contract, third).await?;
    assert_eq!(record["status"], "succeeded", "{record}");
    let status = cli.smart(&contract, &json!({"status": {}}));
    assert_eq!(status["settled_balance"], "200");
    assert_eq!(status["ledger_account"]["balance"], "250");
    let bank = cli.ok(&["query", "bank", "balance", &contract]);
    assert_eq!(
        bank["balance"]["amount"], "800",
        "700 + 50 sent - 50 deposited + 100 withdrawn"
    );

    let top = height(&net.client(0)).await?;
    assert_same_app_hashes(&net, 1, top).await?;
    for f in &figures {
        eprintln!("figure: {f}");
    }
    net.passed();
    Ok(())
}
