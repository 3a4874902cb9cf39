//! The prover's HTTP API (axum): `GET /status`, `/jobs`, `/jobs/{id}`,
//! `/health` and Prometheus `/metrics`, which only read; and, for
//! `transfer` version 2, `POST /transfers` (a signed off-chain transfer,
//! checked natively before it is accepted: the signature is its own
//! authentication) and `GET /transfers/{id}`. Keep the read-only routes on
//! loopback or behind a proxy if the job list is not for everyone.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::jobs::{Job, JobState, JobStore};
use super::metrics::Metrics;

/// Largest `limit` of `/jobs`.
pub const MAX_JOBS_PAGE: usize = 1000;

/// What the daemon is doing, as `/status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `starting`, `syncing` (replica catching up), `idle`, `proving`, or
    /// `refusing` (see `reason`).
    pub state: String,
    /// Why the prover refuses to prove (empty otherwise).
    pub reason: String,
    /// Chain id.
    pub chain_id: String,
    /// RPC endpoint followed.
    pub rpc: String,
    /// The prover's account.
    pub prover_address: String,
    /// Program id and version.
    pub program: String,
    /// Program batch size `B`.
    pub batch_size: usize,
    /// Proving workers.
    pub workers: usize,
    /// Latest state height verified through the light client.
    pub verified_height: u64,
    /// Ledger root at that height (0x-hex), proven.
    pub chain_root: String,
    /// Queue: next sequence at that height.
    pub queue_next: u64,
    /// Queue: settled up to, at that height.
    pub queue_settled: u64,
    /// Height whose state the ledger replica last agreed with.
    pub replica_height: u64,
    /// The replica's root there (0x-hex).
    pub replica_root: String,
    /// Queue position the replica is settled up to.
    pub replica_settled: u64,
    /// Jobs by state.
    pub jobs: BTreeMap<String, u64>,
    /// Requests settled by this prover since it started.
    pub settled_entries: u64,
    /// The last error, if any (kept after recovery, for the operator).
    pub last_error: String,
}

/// What the API reads.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The daemon's status.
    pub status: Arc<RwLock<Status>>,
    /// The job store.
    pub jobs: Arc<JobStore>,
    /// Metrics.
    pub metrics: Metrics,
    /// What `POST /transfers` checks against.
    pub intake: Arc<RwLock<super::v2::IntakeView>>,
    /// Serialises intake, so two transfers of one sender never take the
    /// same nonce.
    pub intake_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Largest `POST /transfers` body: a transfer is about 250 bytes of JSON.
pub const MAX_TRANSFER_BODY: usize = 2048;

/// A job as listed by `/jobs` (without its proof bytes; `/jobs/{id}` has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Id.
    pub id: u64,
    /// Queue range start.
    pub start: u64,
    /// Queue range end.
    pub end: u64,
    /// State.
    pub state: JobState,
    /// Attempts.
    pub attempts: u32,
    /// Last failure reason.
    pub reason: String,
    /// Tx hash.
    pub tx_hash: String,
    /// Inclusion height.
    pub committed_height: u64,
    /// Witness time, ms.
    pub witness_ms: u64,
    /// Proving time, ms.
    pub proving_ms: u64,
}

impl From<&Job> for JobSummary {
    fn from(j: &Job) -> Self {
        JobSummary {
            id: j.id,
            start: j.start,
            end: j.end,
            state: j.state,
            attempts: j.attempts,
            reason: j.reason.clone(),
            tx_hash: j.tx_hash.clone(),
            committed_height: j.committed_height,
            witness_ms: j.witness_ms,
            proving_ms: j.proving_ms,
        }
    }
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    state: Option<String>,
    limit: Option<usize>,
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn read_status(state: &ApiState) -> Status {
    state
        .status
        .read()
        .map(|s| s.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

async fn status(State(state): State<ApiState>) -> Response {
    axum::Json(read_status(&state)).into_response()
}

async fn health(State(state): State<ApiState>) -> Response {
    let s = read_status(&state);
    if s.state == "refusing" || s.state == "starting" {
        let why = if s.reason.is_empty() {
            s.state.clone()
        } else {
            s.reason.clone()
        };
        return error(StatusCode::SERVICE_UNAVAILABLE, why);
    }
    axum::Json(serde_json::json!({ "ok": true, "state": s.state })).into_response()
}

async fn jobs(State(state): State<ApiState>, Query(q): Query<JobsQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(MAX_JOBS_PAGE);
    let wanted: Vec<JobSummary> = match state.jobs.recent(limit, q.state.as_deref()) {
        Ok(j) => j.iter().map(JobSummary::from).collect(),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    axum::Json(wanted).into_response()
}

async fn job(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("job id '{id}' is not a number"),
        );
    };
    match state.jobs.job(id) {
        Ok(Some(j)) => axum::Json(j).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no job {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn post_transfer(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    use super::v2::IntakeError as E;
    let req: super::pool::TransferRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "not a transfer (from_index, to_index, to_address, amount, nonce, signature): {e}"
                ),
            );
        }
    };
    let _serial = state.intake_lock.lock().await;
    let view = state
        .intake
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let jobs = Arc::clone(&state.jobs);
    let accepted =
        tokio::task::spawn_blocking(move || super::v2::accept_transfer(&view, &jobs, &req))
            .await
            .unwrap_or_else(|e| Err(E::Store(e.to_string())));
    match accepted {
        Ok(t) => (StatusCode::ACCEPTED, axum::Json(t)).into_response(),
        Err(E::Invalid(m)) => error(StatusCode::BAD_REQUEST, m),
        Err(E::Nonce(m, expected)) => (
            StatusCode::CONFLICT,
            axum::Json(serde_json::json!({ "error": m, "expected_nonce": expected.to_string() })),
        )
            .into_response(),
        Err(E::SenderBusy(m)) => error(StatusCode::TOO_MANY_REQUESTS, m),
        Err(E::PoolFull(m)) => error(StatusCode::SERVICE_UNAVAILABLE, m),
        Err(E::Disabled) => error(
            StatusCode::NOT_IMPLEMENTED,
            "this prover proves a program without off-chain transfers (transfer version 1), or has not synced yet".into(),
        ),
        Err(E::Store(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

async fn transfer(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("transfer id '{id}' is not a number"),
        );
    };
    match state.jobs.transfer(id) {
        Ok(Some(t)) => axum::Json(t).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no transfer {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// One `GET` to a prover API (HTTP/1.1, `Connection: close`): the status
/// code and the body. For the operator commands, which talk to a daemon
/// that holds its files open.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("not an HTTP answer"))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("an HTTP answer without a status code"))?;
    Ok((code, body.to_string()))
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/health", get(health))
        .route("/jobs", get(jobs))
        .route("/jobs/:id", get(job))
        .route("/metrics", get(metrics))
        .route(
            "/transfers",
            axum::routing::post(post_transfer)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_TRANSFER_BODY)),
        )
        .route("/transfers/:id", get(transfer))
        .with_state(state)
}

/// Binds `addr` (an error names the address) and serves until the task is
/// dropped.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} for the prover API: {e} (change [api] listen)")
    })
}

/// Serves the API on `listener`.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) -> anyhow::Result<()> {
    axum::serve(listener, router(state)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get_text(addr: SocketAddr, path: &str) -> (u16, String) {
        let path = path.to_string();
        tokio::task::spawn_blocking(move || http_get(addr, &path).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_route_answers_and_bad_input_gets_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(JobStore::open(dir.path().join("jobs.redb")).unwrap());
        store
            .put(&Job {
                state: JobState::Committed,
                msg: "abcd".into(),
                tx_hash: "FF".into(),
                submitted_height: 5,
                committed_height: 6,
                attempts: 1,
                witness_ms: 3,
                proving_ms: 900,
                ..Job::new(1, 0, 3, 1)
            })
            .unwrap();
        let status = Arc::new(RwLock::new(Status {
            state: "refusing".into(),
            reason: "header 9 is not verified".into(),
            ..Status::default()
        }));
        let state = ApiState {
            status: Arc::clone(&status),
            jobs: store,
            metrics: Metrics::new().unwrap(),
            intake: Arc::default(),
            intake_lock: Arc::default(),
        };
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, state));

        let (code, body) = get_text(addr, "/health").await;
        assert_eq!(code, 503);
        assert!(body.contains("header 9 is not verified"), "{body}");
        status.write().unwrap().state = "idle".into();
        assert_eq!(get_text(addr, "/health").await.0, 200);

        let (code, body) = get_text(addr, "/status").await;
        assert_eq!(code, 200);
        let parsed: Status = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.state, "idle");

        let (code, body) = get_text(addr, "/jobs").await;
        assert_eq!(code, 200);
        let list: Vec<JobSummary> = serde_json::from_str(&body).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].proving_ms, 900);
        assert!(!body.contains("abcd"), "the list leaves the proof out");
        let (_, body) = get_text(addr, "/jobs?state=failed").await;
        assert_eq!(body, "[]");

        let (code, body) = get_text(addr, "/jobs/1").await;
        assert_eq!(code, 200);
        assert!(body.contains("\"msg\":\"abcd\""), "{body}");
        assert_eq!(get_text(addr, "/jobs/2").await.0, 404);
        let (code, body) = get_text(addr, "/jobs/x%00y").await;
        assert_eq!(code, 400);
        assert!(body.contains("not a number"), "{body}");
        assert_eq!(get_text(addr, "/nothing").await.0, 404);

        let (code, body) = get_text(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(body.contains("copro_prover_refusing"), "{body}");

        // The transfer routes: a version-1 prover takes none, bodies are
        // capped before parsing, bad ids and unknown transfers are named.
        let post = |body: String| {
            tokio::task::spawn_blocking(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                write!(
                    s,
                    "POST /transfers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut raw = String::new();
                s.read_to_string(&mut raw).unwrap();
                let code: u16 = raw.split(' ').nth(1).unwrap().parse().unwrap();
                (code, raw)
            })
        };
        let transfer = r#"{"from_index":0,"to_index":1,"to_address":"x","amount":"1","nonce":"0","signature":"00"}"#;
        let (code, raw) = post(transfer.to_string()).await.unwrap();
        assert_eq!(code, 400, "a bad address is refused: {raw}");
        let key = copro_circuits::spend_auth::SpendingKey::from_seed(&[1; 32]).unwrap();
        let to = copro_module::Address::from_bytes(&[2; 20]).unwrap();
        let signed = copro_coprocessor::wallet::sign_transfer(&key, "c", 0, 1, &to, 1, 0).unwrap();
        let (code, raw) = post(serde_json::to_string(&signed).unwrap()).await.unwrap();
        assert_eq!(code, 501, "version 1 takes no transfers: {raw}");
        let (code, _) = post(format!("{{\"pad\":\"{}\"}}", "a".repeat(MAX_TRANSFER_BODY)))
            .await
            .unwrap();
        assert_eq!(code, 413, "an oversized body is refused before parsing");
        let (code, raw) = post("not json".into()).await.unwrap();
        assert_eq!(code, 400, "{raw}");
        assert_eq!(get_text(addr, "/transfers/1").await.0, 404);
        assert_eq!(get_text(addr, "/transfers/x").await.0, 400);
    }
}
