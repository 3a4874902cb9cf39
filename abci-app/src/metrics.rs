//! Prometheus metrics (`[metrics] address` in app.toml; off when empty).
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `coprod_committed_height` | gauge | last committed height |
//! | `coprod_check_tx_total{code}` | counter | CheckTx answers by result code |
//! | `coprod_block_txs_total{code}` | counter | executed block txs by result code |
//! | `coprod_finalize_block_seconds` | histogram | FinalizeBlock duration |
//! | `coprod_abci_cpu_seconds_total{method}` | counter | CPU time (user + system) of the thread that answered ABCI requests, by method (`check_tx`, `prepare_proposal`, `process_proposal`, `finalize_block`, `commit`, `query`, ...): what this node's app spent on each, apart from the other processes on the machine |
//! | `coprod_abci_requests_total{method}` | counter | ABCI requests answered, by method |
//! | `coprod_groth16_verifications_total{stage}` | counter | proofs whose pairing check ran, by ABCI step (`check_tx`, `simulate`, `prepare_proposal`, `process_proposal`, `finalize_block`); a remembered verdict is not counted, so on the normal path each proof counts once per node |
//!
//! Metrics only observe: nothing here feeds back into state or verdicts.

use std::net::SocketAddr;
use std::sync::OnceLock;

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The app's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Last committed height.
    pub committed_height: IntGauge,
    /// CheckTx answers by code.
    pub check_tx: IntCounterVec,
    /// Block txs by code.
    pub block_txs: IntCounterVec,
    /// FinalizeBlock duration.
    pub finalize_seconds: Histogram,
    /// Groth16 pairing checks by stage.
    pub groth16_verifications: IntCounterVec,
    /// Thread CPU seconds spent answering ABCI requests, by method.
    pub abci_cpu_seconds: CounterVec,
    /// ABCI requests answered, by method.
    pub abci_requests: IntCounterVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let committed_height = IntGauge::new("coprod_committed_height", "last committed height")?;
    let check_tx = IntCounterVec::new(
        Opts::new("coprod_check_tx_total", "CheckTx answers by result code"),
        &["code"],
    )?;
    let block_txs = IntCounterVec::new(
        Opts::new(
            "coprod_block_txs_total",
            "executed block txs by result code",
        ),
        &["code"],
    )?;
    let finalize_seconds = Histogram::with_opts(HistogramOpts::new(
        "coprod_finalize_block_seconds",
        "FinalizeBlock duration in seconds",
    ))?;
    registry.register(Box::new(committed_height.clone()))?;
    registry.register(Box::new(check_tx.clone()))?;
    registry.register(Box::new(block_txs.clone()))?;
    let groth16_verifications = IntCounterVec::new(
        Opts::new(
            "coprod_groth16_verifications_total",
            "Groth16 proofs whose pairing check ran, by ABCI step",
        ),
        &["stage"],
    )?;
    let abci_cpu_seconds = CounterVec::new(
        Opts::new(
            "coprod_abci_cpu_seconds_total",
            "CPU seconds of the app thread answering ABCI requests, by method",
        ),
        &["method"],
    )?;
    let abci_requests = IntCounterVec::new(
        Opts::new(
            "coprod_abci_requests_total",
            "ABCI requests answered, by method",
        ),
        &["method"],
    )?;
    registry.register(Box::new(finalize_seconds.clone()))?;
    registry.register(Box::new(groth16_verifications.clone()))?;
    registry.register(Box::new(abci_cpu_seconds.clone()))?;
    registry.register(Box::new(abci_requests.clone()))?;
    Ok(Metrics {
        registry,
        committed_height,
        check_tx,
        block_txs,
        finalize_seconds,
        groth16_verifications,
        abci_cpu_seconds,
        abci_requests,
    })
}

/// CPU time the calling thread has used (user + system), or `None` where
/// the clock is missing. Measures the app's own work on its thread: unlike
/// wall time it does not grow when other processes (a prover, the other
/// nodes of a localnet) take the cores.
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call writes only it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(std::time::Duration::new(secs, nanos))
}

/// Counts one ABCI request of `method` that took `cpu` of its thread.
pub fn observe_abci(method: &str, cpu: Option<std::time::Duration>) {
    let Some(m) = metrics() else {
        return;
    };
    m.abci_requests.with_label_values(&[method]).inc();
    if let Some(cpu) = cpu {
        m.abci_cpu_seconds
            .with_label_values(&[method])
            .inc_by(cpu.as_secs_f64());
    }
}

/// The process-wide metrics (`None` only if registration failed, which
/// cannot happen with these static names).
pub fn metrics() -> Option<&'static Metrics> {
    static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();
    METRICS.get_or_init(|| build().ok()).as_ref()
}

/// Text exposition of every metric.
pub fn render() -> String {
    let Some(m) = metrics() else {
        return String::new();
    };
    let mut buf = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut buf)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Largest request head read from a metrics client.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// How long a metrics client may take to send its request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves Prometheus' scrape endpoint on `addr` forever: `GET /metrics`
/// (or `HEAD`) answers the text exposition, any other path 404, any other
/// method 405, anything that is not an HTTP request 400. The answer is
/// decided by the request line alone; one request per connection.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a metrics connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(answer_scrape(socket));
    }
}

async fn answer_scrape(mut socket: tokio::net::TcpStream) {
    let head = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut socket)).await;
    let (status, body) = match head.ok().and_then(|h| h.ok()) {
        Some(head) => route(&head),
        None => return,
    };
    let (content_type, body) = match body {
        Some(text) => ("text/plain; version=0.0.4", text),
        None => ("text/plain", format!("{status}\n")),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Reads until the end of the request head (a blank line), the end of the
/// stream or [`MAX_REQUEST_HEAD`] bytes.
async fn read_head(socket: &mut tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while head.len() < MAX_REQUEST_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// Status line and body (None: a short text naming the status) for a
/// request head.
fn route(head: &[u8]) -> (&'static str, Option<String>) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return ("400 Bad Request", None);
    };
    if !version.starts_with("HTTP/") {
        return ("400 Bad Request", None);
    }
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => ("200 OK", Some(render())),
        ("HEAD", "/metrics") => ("200 OK", Some(String::new())),
        (_, "/metrics") => ("405 Method Not Allowed", None),
        _ => ("404 Not Found", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut body = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                s.write_all(request).await.unwrap();
                s.read_to_string(&mut body).await.unwrap();
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("metrics server did not start");
    }

    #[tokio::test]
    async fn metrics_are_served_on_slash_metrics_and_nothing_else() {
        metrics().unwrap().check_tx.with_label_values(&["0"]).inc();
        assert!(render().contains("coprod_check_tx_total{code=\"0\"}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        tokio::spawn(serve(addr));
        let body = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("coprod_committed_height"));
        let body = get(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        for (request, status) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], "404"),
            (b"GET /metricsX HTTP/1.1\r\n\r\n", "404"),
            (b"GET /abci_query?path=0x2FFF HTTP/1.1\r\n\r\n", "404"),
            (b"POST /metrics HTTP/1.1\r\n\r\n", "405"),
            (b"\x00\xff\xfe garbage\r\n\r\n", "400"),
            (b"GET\r\n\r\n", "400"),
        ] {
            let body = get(addr, request).await;
            assert!(
                body.starts_with(&format!("HTTP/1.1 {status}")),
                "{request:?} -> {body}"
            );
            assert!(!body.contains("coprod_committed_height"), "{body}");
        }
        // A client that sends an endless head gets an answer after the cap.
        let endless = vec![b'a'; 3 * MAX_REQUEST_HEAD];
        let body = get(addr, &endless).await;
        assert!(body.starts_with("HTTP/1.1 400"), "{body}");
    }
}
