//! Issue #8: the prover trusts nothing it has not verified. Its RPC goes
//! through a small proxy in this test that forwards to a real node and, on
//! demand, lies: it changes the ledger root in the node's answers (the
//! ICS-23 proof no longer binds it to the verified app hash), or the app
//! hash in the headers it serves (the validators' signatures no longer
//! cover them). Each time the prover refuses to prove, says why in its
//! status and `/health`, and settles nothing; once the proxy is honest
//! again it settles what waited.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use copro_coprocessor::record::pb;
use copro_integration::{
    TestNet, any, copro_query, http_get, prover_jobs, prover_status, submit, wait_settled_up_to,
};
use copro_localnet::coprocessor::ensure_dev_keys;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy lies about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forge {
    Nothing,
    /// The `Root` query's root.
    Root,
    /// The app hash of every header above height 1 (`commit`).
    Header,
}

/// Reads one HTTP/1.1 message (head and a body of `Content-Length` or
/// chunked) from `s`; `None` at a clean end of stream.
async fn read_message(s: &mut TcpStream) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut body = buf[head_end..].to_vec();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "body cut short");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        s.read_to_end(&mut body).await?;
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| anyhow::anyhow!("bad chunk"))?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..line_end])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    } else {
        s.read_to_end(&mut body).await?;
    }
    Ok(Some((head, body)))
}

/// Changes a JSON-RPC answer according to `forge`.
fn forge_answer(forge: Forge, request: &serde_json::Value, answer: &mut serde_json::Value) {
    match forge {
        Forge::Nothing => {}
        Forge::Root => {
            if request["method"] != "abci_query"
                || request["params"]["path"] != "/copro.coprocessor.v1.Query/Root"
            {
                return;
            }
            let value = &mut answer["result"]["response"]["value"];
            let Some(Ok(bytes)) = value.as_str().map(|v| B64.decode(v)) else {
                return;
            };
            let Ok(mut resp) = pb::QueryRootResponse::decode(bytes.as_slice()) else {
                return;
            };
            if let Some(last) = resp.root.as_mut().and_then(|r| r.root.last_mut()) {
                *last ^= 1;
            }
            *value = B64.encode(resp.encode_to_vec()).into();
        }
        Forge::Header => {
            if request["method"] != "commit" {
                return;
            }
            let header = &mut answer["result"]["signed_header"]["header"];
            let above_trust_root = header["height"]
                .as_str()
                .and_then(|h| h.parse::<u64>().ok())
                .is_some_and(|h| h > 1);
            if let (true, Some(hash)) = (above_trust_root, header["app_hash"].as_str()) {
                let forged: String = hash
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == 0 && c != '0' {
                            '0'
                        } else if i == 0 {
                            '1'
                        } else {
                            c
                        }
                    })
                    .collect();
                header["app_hash"] = forged.into();
            }
        }
    }
}

/// Serves one client connection: each request is forwarded to the node
/// on a fresh connection, the answer possibly forged; one request per
/// connection (`Connection: close`).
async fn proxy_one(mut client: TcpStream, upstream: u16, forge: Forge) -> anyhow::Result<()> {
    let Some((head, body)) = read_message(&mut client).await? else {
        return Ok(());
    };
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let mut node = TcpStream::connect(("127.0.0.1", upstream)).await?;
    node.write_all(
        format!(
            "{request_line}\r\nHost: 127.0.0.1:{upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    node.write_all(&body).await?;
    let (answer_head, mut answer) = read_message(&mut node)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the node closed without answering"))?;
    if let (Ok(request), Ok(mut json)) = (
        serde_json::from_slice::<serde_json::Value>(&body),
        serde_json::from_slice::<serde_json::Value>(&answer),
    ) {
        forge_answer(forge, &request, &mut json);
        answer = serde_json::to_vec(&json)?;
    }
    let status_line = answer_head.lines().next().unwrap_or("HTTP/1.1 200 OK");
    client
        .write_all(
            format!(
                "{status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            )
            .as_bytes(),
        )
        .await?;
    client.write_all(&answer).await?;
    client.shutdown().await?;
    Ok(())
}

/// Starts the proxy in front of the node whose RPC is on `upstream`;
/// returns its port and the switch.
async fn start_proxy(upstream: u16) -> anyhow::Result<(u16, Arc<Mutex<Forge>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mode = Arc::new(Mutex::new(Forge::Nothing));
    let switch = Arc::clone(&mode);
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let forge = *mode.lock().unwrap_or_else(|p| p.into_inner());
            tokio::spawn(proxy_one(conn, upstream, forge));
        }
    });
    Ok((port, switch))
}

/// Waits until the prover's status says it refuses, with `why` in its
/// reason; returns the status.
async fn wait_refusing(net: &TestNet, why: &str) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = prover_status(net).await?;
        if s["state"] == "refusing" && s["reason"].as_str().is_some_and(|r| r.contains(why)) {
            return Ok(s);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the prover does not refuse with '{why}': {s:#}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn settled(client: &tendermint_rpc::HttpClient) -> anyhow::Result<u64> {
    let queue: pb::QueryQueueResponse =
        copro_query(client, "Queue", pb::QueryQueueRequest { pagination: None }).await?;
    Ok(queue.state.unwrap_or_default().settled_up_to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_fed_a_forged_root_or_header_refuses_to_prove() -> anyhow::Result<()> {
    ensure_dev_keys()?;
    let mut net = TestNet::start_with(1, 28000, true).await?;
    let client = net.client(0);
    let alice = net.wallet("alice")?;
    let deposit = |amount| {
        any(&pb::MsgDeposit {
            signer: alice.address.to_string(),
            amount,
        })
    };

    // The prover reads the chain through the proxy from now on.
    let (proxy, forge) = start_proxy(net.net.state().nodes[0].ports.rpc).await?;
    let prover = net
        .net
        .prover()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no prover"))?;
    net.net.stop_prover()?;
    let config = std::fs::read_to_string(prover.config())?;
    let node_rpc = format!("rpc = \"{}\"", net.net.rpc_url(0));
    anyhow::ensure!(config.contains(&node_rpc), "{config}");
    std::fs::write(
        prover.config(),
        config.replace(&node_rpc, &format!("rpc = \"http://127.0.0.1:{proxy}\"")),
    )?;
    net.net.start_prover().await?;

    // Honest proxy: a deposit settles through it.
    submit(&net, &client, &alice, deposit(100)).await?;
    wait_settled_up_to(&client, 1, Duration::from_secs(300)).await?;

    // A forged root: its proof does not bind it to the verified app hash.
    *forge.lock().unwrap_or_else(|p| p.into_inner()) = Forge::Root;
    submit(&net, &client, &alice, deposit(200)).await?;
    let status = wait_refusing(&net, "proof").await?;
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ledger/root"),
        "{status:#}"
    );
    let port = prover.api_port;
    let (code, body) = http_get(port, "/health").await?;
    assert_eq!(code, 503, "{body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(settled(&client).await?, 1, "nothing settled on forged data");

    // Forged headers: the light client refuses them.
    *forge.lock().unwrap_or_else(|p| p.into_inner()) = Forge::Header;
    wait_refusing(&net, "not verified by the light client").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        settled(&client).await?,
        1,
        "nothing settled on forged headers"
    );
    let jobs = prover_jobs(&net).await?;
    assert!(
        jobs.iter().all(|j| j["start"] == 0),
        "no batch was even planned on forged data: {jobs:#?}"
    );

    // Honest again: what waited settles.
    *forge.lock().unwrap_or_else(|p| p.into_inner()) = Forge::Nothing;
    wait_settled_up_to(&client, 2, Duration::from_secs(300)).await?;
    let metrics = http_get(port, "/metrics").await?.1;
    let chain_failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix("copro_prover_failures_total{reason=\"chain\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_default();
    assert!(chain_failures > 0, "{metrics}");
    net.passed();
    Ok(())
}
