//! Every kind of bad input sent to a real node's RPC is rejected by CheckTx
//! with its own code and a readable log; nothing changes in state, the node
//! keeps making blocks, and a good tx afterwards still goes through.

use std::time::Duration;

use copro_integration::*;
use cosmrs::proto::cosmos::tx::v1beta1::TxRaw;
use prost::Message as _;
use tendermint_rpc::{Client, HttpClient};

/// Broadcasts `tx` and returns CheckTx's (code, codespace, log).
async fn check(client: &HttpClient, tx: Vec<u8>) -> anyhow::Result<(u32, String, String)> {
    let r = client.broadcast_tx_sync(tx).await?;
    Ok((r.code.value(), r.codespace, r.log))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_are_rejected_in_checktx_with_distinct_codes() -> anyhow::Result<()> {
    let net = TestNet::start(1, 27300).await?;
    let c = net.client(0);
    let alice = net.wallet("alice")?;
    let bob = net.wallet("bob")?;
    let alice_before = balance(&c, &alice.address).await?;
    let bob_before = balance(&c, &bob.address).await?;
    let (account_number, sequence) = account_numbers(&c, &alice.address).await?;
    let good = || {
        SendTx::new(
            &alice,
            &bob.address,
            1_000,
            net.chain_id(),
            account_number,
            sequence,
        )
    };

    let mut cases: Vec<(&str, Vec<u8>, u32, &str)> = Vec::new();
    cases.push((
        "undecodable bytes",
        b"\x0a\xffnot a transaction".to_vec(),
        2,
        "decode",
    ));

    let mut raw = TxRaw::decode(good().sign()?.as_slice())?;
    raw.signatures[0][10] ^= 0x01;
    cases.push(("tampered signature", raw.encode_to_vec(), 4, "signature"));

    cases.push((
        "wrong chain-id",
        SendTx {
            chain_id: "some-other-chain",
            ..good()
        }
        .sign()?,
        4,
        "chain-id",
    ));
    cases.push((
        "wrong sequence",
        SendTx {
            sequence: sequence + 5,
            ..good()
        }
        .sign()?,
        32,
        "sequence",
    ));
    cases.push((
        "insufficient funds",
        SendTx {
            amount: alice_before * 2,
            ..good()
        }
        .sign()?,
        5,
        "insufficient",
    ));
    cases.push((
        "insufficient fee",
        SendTx { fee: 1, ..good() }.sign()?,
        13,
        "fee",
    ));
    cases.push((
        "unknown message type",
        good().sign_messages(vec![cosmrs::Any {
            type_url: "/copro.nothing.v1.MsgNothing".into(),
            value: vec![],
        }])?,
        6,
        "MsgNothing",
    ));
    let mut raw = TxRaw::decode(good().sign()?.as_slice())?;
    raw.signatures[0].truncate(10);
    cases.push(("malformed signature", raw.encode_to_vec(), 8, "signature"));
    cases.push((
        "oversized tx",
        good().sign_messages(vec![cosmrs::Any {
            type_url: "/cosmos.bank.v1beta1.MsgSend".into(),
            // Just over the app's limit, well under CometBFT's (1 MiB).
            value: vec![0u8; coprod::tx::MAX_TX_BYTES + 1024],
        }])?,
        21,
        "too large",
    ));

    let mut codes = std::collections::BTreeMap::new();
    for (what, tx, want, in_log) in cases {
        let (code, codespace, log) = check(&c, tx).await?;
        assert_eq!(
            code, want,
            "{what}: expected code {want}, got {code} ({codespace}): {log}"
        );
        assert!(
            log.to_lowercase().contains(&in_log.to_lowercase()),
            "{what}: log should mention '{in_log}': {log}"
        );
        codes.entry(code).or_insert(what);
    }
    // Bad signature and wrong chain-id share code 4 by necessity (the chain-id
    // is only inside the signed bytes); every other case has a code of its own.
    assert_eq!(codes.len(), 8, "distinct codes: {codes:?}");

    // Nothing changed and the node is alive: blocks go on, balances and the
    // sequence are as before, and the good tx is still accepted.
    let h = height(&c).await?;
    net.net
        .wait_for_height(0, h + 2, Duration::from_secs(30))
        .await?;
    assert_eq!(balance(&c, &alice.address).await?, alice_before);
    assert_eq!(balance(&c, &bob.address).await?, bob_before);
    assert_eq!(account_numbers(&c, &alice.address).await?.1, sequence);
    let included = wait_included(&c, broadcast_ok(&c, good().sign()?).await?).await?;
    assert_eq!(included.code, 0, "{}", included.log);
    assert_eq!(balance(&c, &bob.address).await?, bob_before + 1_000);
    net.passed();
    Ok(())
}
