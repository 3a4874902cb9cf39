//! A node's REST (LCD) endpoint over plain HTTP, as wallets, explorers and
//! `curl` use it: the gRPC-gateway paths answer what gRPC and `abci_query`
//! answer, in the gateway's JSON (proto field names, 64-bit integers as
//! strings, bytes as base64, `Any` as `{"@type": ...}`); a cosmrs-signed
//! send is simulated, broadcast and found over REST; `x-cosmos-block-height`
//! selects the state; CORS lets a browser in; bad input gets the gateway's
//! error JSON and the right HTTP status, never a dead node.
// Test code: measures time to wait for blocks and report latencies.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use copro_integration::{SendTx, TestNet, Wallet, account_numbers};
use cosmrs::proto::cosmos::bank::v1beta1::{QueryBalanceRequest, query_client::QueryClient};
use prost::Message;
use serde_json::{Value, json};

const DENOM: &str = "ucopro";
const HEIGHT: &str = "x-cosmos-block-height";

/// One HTTP/1.1 exchange on 127.0.0.1:`port`: status, headers (names in
/// lower case) and the body parsed as JSON (`Null` when it is not JSON).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<Reply> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // A refused body may close the connection before it is all written.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        json: serde_json::from_str(body).unwrap_or(Value::Null),
    })
}

async fn get(port: u16, target: &str) -> anyhow::Result<Reply> {
    http(port, "GET", target, &[], b"").await
}

/// A 200 answer's JSON, or a failure showing what came back.
async fn ok(port: u16, target: &str) -> anyhow::Result<Value> {
    let r = get(port, target).await?;
    anyhow::ensure!(r.status == 200, "GET {target}: {} {}", r.status, r.json);
    Ok(r.json)
}

/// The gateway's error: HTTP status and gRPC code, with a message.
fn assert_error(r: &Reply, status: u16, grpc_code: i64, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.json);
    assert_eq!(r.json["code"], grpc_code, "{what}: {}", r.json);
    assert!(
        r.json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        r.json
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_clients_query_broadcast_and_find_a_send() -> anyhow::Result<()> {
    let started = Instant::now();
    let net = TestNet::start(1, 28400).await?;
    let rpc = net.client(0);
    let ports = net.net.state().nodes[0].ports;
    let port = ports.api;
    let alice = net.wallet("alice")?;
    let alice_addr = alice.address.to_string();

    // Node info and blocks.
    let info = ok(port, "/cosmos/base/tendermint/v1beta1/node_info").await?;
    assert_eq!(info["default_node_info"]["network"], net.chain_id());
    assert_eq!(info["application_version"]["app_name"], "coprod");
    let syncing = ok(port, "/cosmos/base/tendermint/v1beta1/syncing").await?;
    assert_ne!(syncing["syncing"], true);
    let latest = ok(port, "/cosmos/base/tendermint/v1beta1/blocks/latest").await?;
    assert_eq!(latest["block"]["header"]["chain_id"], net.chain_id());
    let first = ok(port, "/cosmos/base/tendermint/v1beta1/blocks/1").await?;
    assert_eq!(first["block"]["header"]["height"], "1");

    // auth: the account as gRPC has it, its Any unpacked, numbers as strings.
    let account = ok(port, &format!("/cosmos/auth/v1beta1/accounts/{alice_addr}")).await?;
    assert_eq!(
        account["account"]["@type"],
        "/cosmos.auth.v1beta1.BaseAccount"
    );
    assert_eq!(account["account"]["address"], alice_addr);
    let (number, _) = account_numbers(&rpc, &alice.address).await?;
    if number == 0 {
        // proto3 JSON leaves a zero out.
        assert!(account["account"]["account_number"].is_null());
    } else {
        assert_eq!(account["account"]["account_number"], number.to_string());
    }
    let listed = ok(port, "/cosmos/auth/v1beta1/accounts?pagination.limit=100").await?;
    assert!(
        listed["accounts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["address"] == alice_addr.as_str())),
        "{listed}"
    );
    let params = ok(port, "/cosmos/auth/v1beta1/params").await?;
    assert_eq!(params["params"]["max_memo_characters"], "256");

    // bank: every path, amounts agreeing with abci_query.
    let alice_balance = copro_integration::balance(&rpc, &alice.address).await?;
    let r = get(
        port,
        &format!("/cosmos/bank/v1beta1/balances/{alice_addr}/by_denom?denom={DENOM}"),
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["balance"]["amount"], alice_balance.to_string());
    assert!(
        r.header(HEIGHT)
            .and_then(|h| h.parse::<u64>().ok())
            .is_some_and(|h| h >= 1),
        "no height header: {:?}",
        r.headers
    );
    let all = ok(port, &format!("/cosmos/bank/v1beta1/balances/{alice_addr}")).await?;
    assert!(
        all["balances"].as_array().is_some_and(
            |b| b.contains(&json!({"denom": DENOM, "amount": alice_balance.to_string()}))
        ),
        "{all}"
    );
    let spendable = ok(
        port,
        &format!("/cosmos/bank/v1beta1/spendable_balances/{alice_addr}"),
    )
    .await?;
    assert_eq!(spendable["balances"], all["balances"]);
    let supply = ok(port, "/cosmos/bank/v1beta1/supply").await?;
    let supply_of = ok(
        port,
        &format!("/cosmos/bank/v1beta1/supply/by_denom?denom={DENOM}"),
    )
    .await?;
    assert!(
        supply["supply"]
            .as_array()
            .is_some_and(|s| s.contains(&supply_of["amount"])),
        "{supply} {supply_of}"
    );
    let bank_params = ok(port, "/cosmos/bank/v1beta1/params").await?;
    assert_eq!(bank_params["params"]["default_send_enabled"], true);

    // The coprocessor's routes, from its descriptors (defaults included).
    let copro = ok(port, "/copro/coprocessor/v1/params").await?;
    assert!(copro["params"].is_object(), "{copro}");
    let root = ok(port, "/copro/coprocessor/v1/root").await?;
    assert!(root["height"].as_str().is_some(), "{root}");
    // A root record: its 32-byte root as base64, defaults spelled out.
    let bytes = BASE64.decode(root["root"]["root"].as_str().unwrap_or_default())?;
    assert_eq!(bytes.len(), 32, "{root}");
    assert_eq!(root["root"]["set_height"], "0", "{root}");

    // A send signed with cosmrs, simulated, broadcast and found over REST.
    let bob = Wallet::random()?;
    let bob_addr = bob.address.to_string();
    let (number, sequence) = account_numbers(&rpc, &alice.address).await?;
    let tx = SendTx::new(&alice, &bob.address, 4321, net.chain_id(), number, sequence).sign()?;
    let body = json!({"tx_bytes": BASE64.encode(&tx)}).to_string();
    let sim = http(
        port,
        "POST",
        "/cosmos/tx/v1beta1/simulate",
        &[],
        body.as_bytes(),
    )
    .await?;
    assert_eq!(sim.status, 200, "{}", sim.json);
    assert!(
        sim.json["gas_info"]["gas_used"]
            .as_str()
            .and_then(|g| g.parse::<u64>().ok())
            .is_some_and(|g| g > 0),
        "{}",
        sim.json
    );
    let body = json!({"tx_bytes": BASE64.encode(&tx), "mode": "BROADCAST_MODE_SYNC"}).to_string();
    let sent = http(port, "POST", "/cosmos/tx/v1beta1/txs", &[], body.as_bytes()).await?;
    assert_eq!(sent.status, 200, "{}", sent.json);
    assert!(sent.json["tx_response"]["code"].is_null(), "{}", sent.json);
    let hash = sent.json["tx_response"]["txhash"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no txhash: {}", sent.json))?
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let r = get(port, &format!("/cosmos/tx/v1beta1/txs/{hash}")).await?;
        match r.status {
            200 => break r.json,
            404 if Instant::now() < deadline => {
                assert_eq!(r.json["code"], 5, "{}", r.json);
                assert!(
                    r.json["message"].as_str().is_some_and(|m| m.len() < 2048),
                    "{}",
                    r.json
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => anyhow::bail!("GET txs/{hash}: {} {}", r.status, r.json),
        }
    };
    let included = &found["tx_response"];
    assert!(included["code"].is_null(), "{included}");
    let h: u64 = included["height"].as_str().unwrap_or_default().parse()?;
    assert!(h >= 1);
    let msg = &found["tx"]["body"]["messages"][0];
    assert_eq!(msg["@type"], "/cosmos.bank.v1beta1.MsgSend");
    assert_eq!(msg["to_address"], bob_addr);
    assert_eq!(msg["amount"][0]["amount"], "4321");
    assert_eq!(included["tx"]["@type"], "/cosmos.tx.v1beta1.Tx");
    for by in [
        format!("query=tx.height={h}"),
        // The older form: repeated `events`, joined with AND.
        format!("events=tx.height={h}&events=message.sender='{alice_addr}'"),
    ] {
        let search = ok(port, &format!("/cosmos/tx/v1beta1/txs?{by}")).await?;
        assert!(
            search["tx_responses"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["txhash"] == hash.as_str())),
            "{by}: {search}"
        );
    }

    // The height header selects the state: bob had nothing before the block.
    let bob_balance = format!("/cosmos/bank/v1beta1/balances/{bob_addr}/by_denom?denom={DENOM}");
    let before = (h - 1).to_string();
    let r = http(port, "GET", &bob_balance, &[(HEIGHT, &before)], b"").await?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["balance"]["amount"] == "0", "{}", r.json);
    assert_eq!(r.header(HEIGHT), Some(before.as_str()));
    let r = http(port, "GET", &bob_balance, &[(HEIGHT, &h.to_string())], b"").await?;
    assert_eq!(r.json["balance"]["amount"], "4321");

    // CORS: a browser's preflight and its request are let in.
    let r = http(
        port,
        "OPTIONS",
        "/cosmos/tx/v1beta1/txs",
        &[
            ("Origin", "https://wallet.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
    .await?;
    assert!(r.status < 300, "preflight: {}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = http(
        port,
        "GET",
        &bob_balance,
        &[("Origin", "https://wallet.example")],
        b"",
    )
    .await?;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // Bad input: the gateway's error JSON with the matching status.
    assert_error(
        &get(port, "/cosmos/staking/v1beta1/validators").await?,
        501,
        12,
        "unknown path",
    );
    assert_error(
        &get(port, "/cosmos/bank/v1beta1/balances/cosmos1nope").await?,
        400,
        3,
        "bad address",
    );
    assert_error(
        &get(port, &format!("/cosmos/tx/v1beta1/txs/{}", "AB".repeat(32))).await?,
        404,
        5,
        "unknown tx",
    );
    assert_error(
        &get(port, "/cosmos/base/tendermint/v1beta1/blocks/abc").await?,
        400,
        3,
        "bad height",
    );
    assert_error(
        &http(port, "GET", &bob_balance, &[(HEIGHT, "1000000000000")], b"").await?,
        400,
        3,
        "future height",
    );
    assert_error(
        &get(port, "/cosmos/bank/v1beta1/supply/by_denom").await?,
        400,
        3,
        "missing denom",
    );
    assert_error(
        &get(port, "/cosmos/auth/v1beta1/accounts?pagination.limit=x").await?,
        400,
        3,
        "bad limit",
    );
    assert_error(
        &get(port, "/copro/coprocessor/v1/nope").await?,
        501,
        12,
        "unknown method",
    );
    assert_error(
        &get(port, "/copro/coprocessor/v1/result?bogus=1").await?,
        400,
        3,
        "unknown field",
    );
    assert_error(
        &http(port, "POST", "/cosmos/tx/v1beta1/txs", &[], b"not json").await?,
        400,
        3,
        "not json",
    );
    assert_error(
        &http(
            port,
            "POST",
            "/cosmos/tx/v1beta1/txs",
            &[],
            br#"{"tx_bytes":"AQID","mode":"BROADCAST_MODE_BLOCK"}"#,
        )
        .await?,
        400,
        3,
        "block mode",
    );
    let huge = vec![b'A'; coprod::rest::MAX_BODY_BYTES + 1];
    let r = http(port, "POST", "/cosmos/tx/v1beta1/txs", &[], &huge).await?;
    assert_eq!(r.status, 413, "an oversized body: {}", r.json);

    // Still serving after all of that.
    let r = get(port, &bob_balance).await?;
    assert_eq!(r.json["balance"]["amount"], "4321");

    // One figure per transport: the same balance query, median of 200.
    let target = format!("/cosmos/bank/v1beta1/balances/{alice_addr}/by_denom?denom={DENOM}");
    let req = QueryBalanceRequest {
        address: alice_addr.clone(),
        denom: DENOM.into(),
    };
    let channel = tonic::transport::Channel::from_shared(ports.grpc_url())?
        .connect()
        .await?;
    let mut grpc = QueryClient::new(channel);
    let (mut rest_t, mut grpc_t, mut abci_t) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = Instant::now();
        ok(port, &target).await?;
        rest_t.push(t.elapsed());
        let t = Instant::now();
        grpc.balance(req.clone()).await?;
        grpc_t.push(t.elapsed());
        let t = Instant::now();
        coprod::client::abci_query(
            &rpc,
            "/cosmos.bank.v1beta1.Query/Balance",
            req.encode_to_vec(),
            0,
            false,
        )
        .await?;
        abci_t.push(t.elapsed());
    }
    println!(
        "bank Balance, median of 200: REST {:?} (new connection each), gRPC {:?}, CometBFT abci_query {:?}",
        median(rest_t),
        median(grpc_t),
        median(abci_t)
    );
    println!("test took {:?}", started.elapsed());
    net.passed();
    Ok(())
}
