//! Prometheus metrics (`[metrics] address` in app.toml; off when empty).
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `coprod_committed_height` | gauge | last committed height |
//! | `coprod_check_tx_total{code}` | counter | CheckTx answers by result code |
//! | `coprod_block_txs_total{code}` | counter | executed block txs by result code |
//! | `coprod_finalize_block_seconds` | histogram | FinalizeBlock duration |
//!
//! Metrics only observe: nothing here feeds back into state or verdicts.

use std::net::SocketAddr;
use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
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
    registry.register(Box::new(finalize_seconds.clone()))?;
    Ok(Metrics {
        registry,
        committed_height,
        check_tx,
        block_txs,
        finalize_seconds,
    })
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

/// Serves `GET /metrics` (any path, in fact) on `addr` forever.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving Prometheus metrics");
    loop {
        let (mut socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            // The request is not interpreted; read what arrived and answer.
            let _ = socket.read(&mut request).await;
            let body = render();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metrics_are_rendered_and_served_over_http() {
        metrics().unwrap().check_tx.with_label_values(&["0"]).inc();
        assert!(render().contains("coprod_check_tx_total{code=\"0\"}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        tokio::spawn(serve(addr));
        let mut body = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
                s.read_to_string(&mut body).await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("coprod_committed_height"));
    }
}
