//! Issue #6: two HTTP requests used to halt the chain. Each panicked the
//! ABCI query connection of the node it was sent to (tower-abci unwrapped
//! the conversion of a negative height and of a path that is not UTF-8),
//! CometBFT exited, and with two of four validators down no block came.
//!
//! Here those two requests, a batch of other malformed queries and txs
//! through CometBFT's RPC, and non-ABCI clients on the ABCI ports, go to a
//! real 4-validator localnet. Afterwards every process is still running and
//! every node keeps producing blocks with the same app hash.

use std::time::Duration;

use copro_integration::{TestNet, assert_same_app_hashes, height, http_get};
use copro_localnet::Proc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `abci_query` targets, as a person would type them into curl.
fn malformed_queries() -> Vec<String> {
    let big = format!("0x{}", "ab".repeat(50_000));
    let mut queries: Vec<String> = [
        "path=0xFF&data=0x00",
        "path=0x00&data=0x00&prove=true",
        "path=0x&data=0x",
        "path=0xC328A0A1&data=0x00&height=1",
        "path=%22/store/key%22&data=0x00&height=-1",
        "path=%22/store/key%22&data=0x00&height=9223372036854775807&prove=true",
        "path=%22/store/key%22&data=0x00&height=1000000",
        "path=%22/store/key%22&data=0x&prove=true",
        "path=%22/cosmos.bank.v1beta1.Query/Balance%22&data=0xDEADBEEF",
        "path=%22/cosmos.bank.v1beta1.Query/AllBalances%22&data=0xFFFFFFFF&prove=true",
        "path=%22/cosmos.auth.v1beta1.Query/Account%22&data=0x0a0a636f70726f31787878",
        "path=%22/cosmos.tx.v1beta1.Service/Simulate%22&data=0x0a03010203",
        "path=%22/no/such/path%22&data=0x00&prove=true",
    ]
    .iter()
    .map(|q| format!("/abci_query?{q}"))
    .collect();
    queries.push(format!(
        "/abci_query?path=%22/store/key%22&data={big}&prove=true"
    ));
    queries.push("/broadcast_tx_sync?tx=0x0102030405060708".into());
    queries.push("/broadcast_tx_sync?tx=0x".into());
    queries
}

/// The `response` object of an `abci_query` result.
fn query_response(body: &str) -> anyhow::Result<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_str(body)?;
    json["result"]["response"]
        .as_object()
        .map(|o| serde_json::Value::Object(o.clone()))
        .ok_or_else(|| anyhow::anyhow!("no result.response in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_and_abci_probes_never_stop_a_node() -> anyhow::Result<()> {
    let mut net = TestNet::start(4, 27500).await?;
    net.net
        .wait_for_height(0, 2, Duration::from_secs(60))
        .await?;
    let ports: Vec<_> = net.net.state().nodes.iter().map(|n| n.ports).collect();

    // The two requests of the issue, to node3 and node1.
    let (status, body) = http_get(
        ports[3].rpc,
        "/abci_query?path=%22/store/key%22&data=0x00&height=-5",
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let response = query_response(&body)?;
    assert_eq!(response["code"], 18, "{body}");
    assert!(
        response["log"]
            .as_str()
            .unwrap_or("")
            .contains("height -5 is negative"),
        "{body}"
    );
    let (status, body) = http_get(ports[1].rpc, "/abci_query?path=0x2FFF&data=0x00").await?;
    assert_eq!(status, 200, "{body}");
    let response = query_response(&body)?;
    assert_eq!(response["code"], 18, "{body}");
    assert!(
        response["log"].as_str().unwrap_or("").contains("not UTF-8"),
        "{body}"
    );

    // The batch, to every node: each gets an answer (a code, or CometBFT's
    // own refusal of a parameter it cannot parse).
    for (i, p) in ports.iter().enumerate() {
        for target in malformed_queries() {
            let (status, body) = http_get(p.rpc, &target).await?;
            assert!(
                status == 200 || status == 500,
                "node{i} {target}: HTTP {status} {body}"
            );
            assert!(!body.contains("panicked"), "node{i} {target}: {body}");
        }
    }

    // Non-ABCI clients on the ABCI ports: refused, logged, nothing else.
    let mut http = tokio::net::TcpStream::connect(("127.0.0.1", ports[2].abci)).await?;
    http.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), http.read_to_end(&mut reply)).await??;
    assert!(
        String::from_utf8_lossy(&reply).contains("not an ABCI request"),
        "{reply:?}"
    );
    let mut junk = tokio::net::TcpStream::connect(("127.0.0.1", ports[3].abci)).await?;
    junk.write_all(&[0xff; 12]).await?;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), junk.read_to_end(&mut reply)).await??;

    // The metrics listener answers /metrics and nothing else.
    let (status, body) = http_get(ports[0].app_metrics, "/metrics").await?;
    assert_eq!(status, 200);
    assert!(body.contains("coprod_committed_height"), "{body}");
    let (status, _) = http_get(ports[0].app_metrics, "/abci_query?path=0x2FFF").await?;
    assert_eq!(status, 404);

    // Every node keeps producing blocks, with the same app hash.
    let start = height(&net.client(0)).await?;
    for i in 0..4 {
        net.net
            .wait_for_height(i, start + 3, Duration::from_secs(60))
            .await?;
    }
    for i in 0..4 {
        assert!(
            net.net.is_running(i, Proc::Coprod),
            "coprod of node{i} died"
        );
        assert!(
            net.net.is_running(i, Proc::Cometbft),
            "CometBFT of node{i} died"
        );
    }
    assert_same_app_hashes(&net, 1, start + 3).await?;
    net.passed();
    Ok(())
}
