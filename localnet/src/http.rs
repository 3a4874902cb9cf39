//! A minimal HTTP/1.1 `GET` and `POST` on loopback, for the localnet's own
//! tools and tests (metrics, the prover's API): one request per connection.

/// A plain HTTP/1.1 GET of `target` (sent exactly as given, like `curl`)
/// on `127.0.0.1:port`; returns the status code and the body.
pub async fn get(port: u16, target: &str) -> anyhow::Result<(u16, String)> {
    exchange(
        port,
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// A plain HTTP/1.1 POST of the JSON `body` to `target` on
/// `127.0.0.1:port`; returns the status code and the body.
pub async fn post_json(port: u16, target: &str, body: &str) -> anyhow::Result<(u16, String)> {
    exchange(
        port,
        format!(
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

async fn exchange(port: u16, request: String) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut reply),
    )
    .await??;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {reply:?}"))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
