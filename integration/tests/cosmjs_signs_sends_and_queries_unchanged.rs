//! An unmodified cosmjs client (StargateClient and SigningStargateClient,
//! integration/cosmjs/check.mjs) works against a real copro node: chain-id,
//! accounts (null for an unknown one), balances, sends with a simulated
//! ("auto") fee and a fixed fee, and event search. The result is checked from
//! the Rust side too.
//!
//! Needs Node.js and `npm ci` in integration/cosmjs (scripts/test.sh does it).

use std::path::Path;
use std::process::Command;

use copro_integration::*;
use tendermint_rpc::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmjs_signs_sends_and_queries_unchanged() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cosmjs");
    anyhow::ensure!(
        dir.join("node_modules").is_dir(),
        "cosmjs is not installed: run `npm ci` in {} (scripts/test.sh does it)",
        dir.display()
    );
    let net = TestNet::start(1, 27400).await?;
    let c = net.client(0);
    let keyring = coprod::keyring::Keyring::new(&net.net.state().keyring_dir);
    let alice = keyring.get("alice")?;
    let bob = net.wallet("bob")?;
    let bob_before = balance(&c, &bob.address).await?;

    let out = Command::new("node")
        .arg("check.mjs")
        .arg(net.net.rpc_url(0))
        .arg(&alice.mnemonic)
        .arg(bob.address.as_ref())
        .current_dir(&dir)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run node (install Node.js >= 18): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cosmjs check failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim())?;

    assert_eq!(r["chainId"], net.chain_id());
    assert_eq!(
        r["address"], alice.address,
        "same HD path and prefix as coprod keys"
    );
    assert_eq!(r["missingAccountIsNull"], true);
    assert_eq!(r["allBalanceDenoms"], serde_json::json!([DENOM]));
    let seq_before = r["sequenceBefore"].as_u64().expect("sequence");
    assert_eq!(r["sequenceAfter"].as_u64(), Some(seq_before + 2));
    let sent = 4321 + 1000;
    assert_eq!(r["before"], bob_before.to_string());
    assert_eq!(r["after"], (bob_before + sent).to_string());
    assert_eq!(
        balance(&c, &bob.address).await?,
        bob_before + sent,
        "as seen by the Rust client"
    );
    assert_eq!(r["getTxCode"], 0);
    let hits = r["searchHits"].as_array().expect("hits");
    for tx in ["autoTx", "fixedTx"] {
        let hash = r[tx]["hash"].as_str().expect("hash");
        assert!(
            hits.iter().any(|h| h == hash),
            "{tx} found by transfer.recipient"
        );
        let found = c.tx(hash.parse()?, false).await?;
        assert!(found.tx_result.code.is_ok(), "{tx} succeeded in its block");
    }
    net.passed();
    Ok(())
}
