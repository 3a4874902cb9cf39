//! `copro-prover status` and `copro-prover jobs`: the running daemon's view,
//! read from its HTTP API (the daemon holds its files open).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use copro_prover::daemon::api::{JobSummary, Status, http_get};
use copro_prover::daemon::config::Config;

fn get_ok(addr: SocketAddr, path: &str) -> Result<String> {
    let (code, body) = http_get(addr, path).with_context(|| {
        format!(
            "cannot reach the prover API at {addr}: is `copro-prover run` running with this config?"
        )
    })?;
    if code != 200 {
        bail!("the prover API answered {code} to {path}: {body}");
    }
    Ok(body)
}

/// Prints the daemon's status.
pub fn status(config: &Path, json: bool) -> Result<()> {
    let config = Config::load(config)?;
    let body = get_ok(config.api.listen, "/status")?;
    if json {
        println!("{body}");
        return Ok(());
    }
    let s: Status = serde_json::from_str(&body).context("undecodable /status")?;
    println!("state       {}", s.state);
    if !s.reason.is_empty() {
        println!("reason      {}", s.reason);
    }
    println!(
        "program     {} (B = {}), {} proving worker(s)",
        s.program, s.batch_size, s.workers
    );
    println!("prover      {}", s.prover_address);
    println!(
        "chain       {} via {}, verified height {}",
        s.chain_id, s.rpc, s.verified_height
    );
    println!("root        {}", s.chain_root);
    println!(
        "queue       next {}, settled up to {} ({} waiting)",
        s.queue_next,
        s.queue_settled,
        s.queue_next.saturating_sub(s.queue_settled)
    );
    println!(
        "replica     height {}, settled up to {}, root {}",
        s.replica_height, s.replica_settled, s.replica_root
    );
    let jobs: Vec<String> = s.jobs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("jobs        {}", jobs.join(", "));
    println!("settled     {} requests since start", s.settled_entries);
    if !s.last_error.is_empty() {
        println!("last error  {}", s.last_error);
    }
    Ok(())
}

/// Prints jobs, or one job in full.
pub fn jobs(
    config: &Path,
    state: Option<&str>,
    id: Option<u64>,
    limit: usize,
    json: bool,
) -> Result<()> {
    let config = Config::load(config)?;
    if let Some(id) = id {
        let body = get_ok(config.api.listen, &format!("/jobs/{id}"))?;
        let value: serde_json::Value = serde_json::from_str(&body)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let mut path = format!("/jobs?limit={limit}");
    if let Some(s) = state {
        if !s.chars().all(|c| c.is_ascii_lowercase()) {
            bail!(
                "--state {s:?}: use one of pending, witness, proving, proved, submitted, committed, failed"
            );
        }
        path.push_str(&format!("&state={s}"));
    }
    let body = get_ok(config.api.listen, &path)?;
    if json {
        println!("{body}");
        return Ok(());
    }
    let jobs: Vec<JobSummary> = serde_json::from_str(&body).context("undecodable /jobs")?;
    println!(
        "{:>6}  {:>15}  {:<10} {:>8} {:>10} {:>10}  {:<12} reason",
        "id", "requests", "state", "attempts", "witness_ms", "proving_ms", "height"
    );
    for j in jobs {
        println!(
            "{:>6}  {:>15}  {:<10} {:>8} {:>10} {:>10}  {:<12} {}",
            j.id,
            format!("{}..{}", j.start, j.end),
            j.state.as_str(),
            j.attempts,
            j.witness_ms,
            j.proving_ms,
            j.committed_height,
            j.reason
        );
    }
    Ok(())
}
