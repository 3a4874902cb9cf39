//! The prover's Prometheus metrics, served at `/metrics` of the HTTP API.
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `copro_prover_witness_seconds` | histogram | native execution and witness of one batch |
//! | `copro_prover_proving_seconds` | histogram | Groth16 proving of one batch (synthesis, FFTs, multi-exponentiations) |
//! | `copro_prover_settle_seconds` | histogram | a request, from when the prover first saw it to when the chain settled it |
//! | `copro_prover_queue_lag_entries` | gauge | requests on the chain not settled yet |
//! | `copro_prover_queue_lag_blocks` | gauge | blocks since the oldest unsettled request was queued |
//! | `copro_prover_verified_height` | gauge | latest state height verified through the light client |
//! | `copro_prover_settled_entries_total` | counter | requests settled by this prover's proofs |
//! | `copro_prover_settled_batches_total` | counter | batches settled |
//! | `copro_prover_failures_total{reason}` | counter | failures, by reason (see docs/prover.md) |
//! | `copro_prover_jobs{state}` | gauge | jobs in the job store, by state |
//! | `copro_prover_refusing` | gauge | 1 while the prover refuses to prove (see /status for why) |

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Failure reasons, as the `reason` label (a fixed set: no unbounded labels).
pub mod reason {
    /// Reading or verifying the chain failed (RPC down, unverified header, bad proof).
    pub const CHAIN: &str = "chain";
    /// Native execution or witness generation failed.
    pub const WITNESS: &str = "witness";
    /// The prover itself failed.
    pub const PROVING: &str = "proving";
    /// Broadcast failed (node unreachable, mempool full).
    pub const BROADCAST: &str = "broadcast";
    /// The account sequence moved (another tx by the same key).
    pub const SEQUENCE: &str = "sequence";
    /// The chain refused the proof in CheckTx or in its block.
    pub const REJECTED: &str = "rejected";
    /// The chain moved on without this batch (root or queue changed).
    pub const SUPERSEDED: &str = "superseded";
    /// Not in a block after `rebroadcast_after_blocks`.
    pub const NOT_INCLUDED: &str = "not_included";
    /// The ledger replica disagrees with the chain.
    pub const REPLICA: &str = "replica";
}

/// The metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Witness time.
    pub witness_seconds: Histogram,
    /// Proving time.
    pub proving_seconds: Histogram,
    /// Seen-to-settled time of a request.
    pub settle_seconds: Histogram,
    /// Unsettled requests.
    pub queue_lag_entries: IntGauge,
    /// Age of the oldest unsettled request, blocks.
    pub queue_lag_blocks: IntGauge,
    /// Latest verified height.
    pub verified_height: IntGauge,
    /// Settled requests.
    pub settled_entries: IntCounter,
    /// Settled batches.
    pub settled_batches: IntCounter,
    /// Failures by reason.
    pub failures: IntCounterVec,
    /// Jobs by state.
    pub jobs: IntGaugeVec,
    /// 1 while refusing to prove.
    pub refusing: IntGauge,
}

impl Metrics {
    /// Builds the registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let seconds = |name: &str, help: &str, buckets: Vec<f64>| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        };
        let m = Metrics {
            witness_seconds: seconds(
                "copro_prover_witness_seconds",
                "native execution and witness generation of one batch",
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            )?,
            proving_seconds: seconds(
                "copro_prover_proving_seconds",
                "Groth16 proving of one batch",
                vec![0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            )?,
            settle_seconds: seconds(
                "copro_prover_settle_seconds",
                "a request from first seen by the prover to settled on chain",
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            )?,
            queue_lag_entries: IntGauge::new(
                "copro_prover_queue_lag_entries",
                "requests on the chain not settled yet",
            )?,
            queue_lag_blocks: IntGauge::new(
                "copro_prover_queue_lag_blocks",
                "blocks since the oldest unsettled request was queued",
            )?,
            verified_height: IntGauge::new(
                "copro_prover_verified_height",
                "latest state height verified through the light client",
            )?,
            settled_entries: IntCounter::new(
                "copro_prover_settled_entries_total",
                "requests settled by this prover's proofs",
            )?,
            settled_batches: IntCounter::new(
                "copro_prover_settled_batches_total",
                "batches settled by this prover's proofs",
            )?,
            failures: IntCounterVec::new(
                Opts::new("copro_prover_failures_total", "failures by reason"),
                &["reason"],
            )?,
            jobs: IntGaugeVec::new(
                Opts::new("copro_prover_jobs", "jobs in the job store by state"),
                &["state"],
            )?,
            refusing: IntGauge::new(
                "copro_prover_refusing",
                "1 while the prover refuses to prove",
            )?,
            registry,
        };
        m.registry.register(Box::new(m.witness_seconds.clone()))?;
        m.registry.register(Box::new(m.proving_seconds.clone()))?;
        m.registry.register(Box::new(m.settle_seconds.clone()))?;
        m.registry.register(Box::new(m.queue_lag_entries.clone()))?;
        m.registry.register(Box::new(m.queue_lag_blocks.clone()))?;
        m.registry.register(Box::new(m.verified_height.clone()))?;
        m.registry.register(Box::new(m.settled_entries.clone()))?;
        m.registry.register(Box::new(m.settled_batches.clone()))?;
        m.registry.register(Box::new(m.failures.clone()))?;
        m.registry.register(Box::new(m.jobs.clone()))?;
        m.registry.register(Box::new(m.refusing.clone()))?;
        for r in [
            reason::CHAIN,
            reason::WITNESS,
            reason::PROVING,
            reason::BROADCAST,
            reason::SEQUENCE,
            reason::REJECTED,
            reason::SUPERSEDED,
            reason::NOT_INCLUDED,
            reason::REPLICA,
        ] {
            m.failures.with_label_values(&[r]);
        }
        Ok(m)
    }

    /// Counts one failure.
    pub fn fail(&self, reason: &str) {
        self.failures.with_label_values(&[reason]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding our own registry into a Vec cannot fail in practice; an
        // error leaves the output empty rather than taking the API down.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_with_its_name() {
        let m = Metrics::new().unwrap();
        m.proving_seconds.observe(3.0);
        m.fail(reason::SEQUENCE);
        m.jobs.with_label_values(&["committed"]).set(2);
        let text = m.render();
        for name in [
            "copro_prover_witness_seconds",
            "copro_prover_proving_seconds_count 1",
            "copro_prover_settle_seconds",
            "copro_prover_queue_lag_entries",
            "copro_prover_queue_lag_blocks",
            "copro_prover_verified_height",
            "copro_prover_settled_entries_total",
            "copro_prover_settled_batches_total",
            "copro_prover_failures_total{reason=\"sequence\"} 1",
            "copro_prover_failures_total{reason=\"replica\"} 0",
            "copro_prover_jobs{state=\"committed\"} 2",
            "copro_prover_refusing",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
