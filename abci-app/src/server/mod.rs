//! The ABCI socket server CometBFT connects to (`proxy_app`).
//!
//! CometBFT opens four connections (consensus, mempool, query, snapshot)
//! and writes length-prefixed protobuf requests on each; every request gets
//! exactly one response, in order, on its connection. Every frame takes the
//! same path:
//!
//! 1. [`frame::read_length`]: the frame's length, refused above
//!    [`frame::MAX_FRAME_BYTES`]; then its first bytes, which must open an
//!    ABCI request ([`decode::check_head`], so that an HTTP client is
//!    refused at once rather than left waiting); then the rest, read as it
//!    arrives;
//! 2. [`decode::incoming`]: never fails: a domain request, or a request of a
//!    known kind that cannot be read (answered in kind), or bytes that are
//!    no ABCI request at all;
//! 3. the app worker: one thread owning the [`AbciService`], which answers
//!    requests one at a time in arrival order across all connections;
//! 4. [`frame::write`] of the answer; the socket is flushed whenever no
//!    further request is already buffered (CometBFT pipelines CheckTx).
//!
//! A connection ends only when the peer closes it, when its byte stream has
//! no frame boundary any more (a length prefix that is not a varint, a
//! frame over [`frame::MAX_FRAME_BYTES`], a cut frame), or when its bytes are
//! no ABCI request (an HTTP client on the ABCI port): those are logged and
//! that one connection is closed; the others go on. Why our own server and
//! not tower-abci 0.19: its connection loop turns any decode or conversion
//! error into a panic of the connection task (`conn.run(..).await.unwrap()`),
//! which CometBFT sees as a crashed app, and exits. See `docs/architecture.md`.

pub mod decode;
pub mod frame;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tendermint_proto::v0_38::abci as pb;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::app::App;
use crate::service::{AbciService, exception};
use decode::Incoming;

/// Connections served at once. CometBFT needs four; the rest of the room is
/// for restarts (CometBFT reconnecting before the old sockets are gone) and
/// operators' probes. Connections beyond it are closed at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Requests queued for the app worker before connections wait.
const WORKER_QUEUE: usize = 64;

const READ_BUFFER: usize = 64 * 1024;
const WRITE_BUFFER: usize = 64 * 1024;

/// Serves `app` over ABCI on `addr` until `shutdown` resolves. A local
/// fault in consensus ends the process (see [`crate::service`]).
pub async fn serve(
    app: App,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for ABCI on {addr}: is another coprod running?"))?;
    tracing::info!(%addr, "ABCI server listening");
    run(listener, AbciService::new(app).exit_on_fatal(), shutdown).await
}

/// Serves `service` on an already bound `listener` until `shutdown`
/// resolves.
pub async fn run(
    listener: TcpListener,
    service: AbciService,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let worker = Worker::spawn(service)?;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        let worker = worker.clone();
                        tokio::spawn(async move {
                            connection(stream, peer, worker).await;
                            drop(slot);
                        });
                    }
                    Err(_) => tracing::warn!(
                        %peer,
                        "refused an ABCI connection: {MAX_CONNECTIONS} are open already"
                    ),
                },
                Err(e) => {
                    // Out of file descriptors, say: retry, without spinning.
                    tracing::warn!(error = %e, "accepting an ABCI connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => {
                tracing::info!("shutting down");
                return Ok(());
            }
        }
    }
}

/// One request for the app thread and where its answer goes.
struct Job {
    incoming: Incoming,
    reply: oneshot::Sender<pb::Response>,
}

/// Handle on the thread that owns the service. The app's handlers are
/// synchronous and CPU-bound (signature checks, hashing, later proof
/// verification), so they run on a thread of their own, not on the async
/// runtime that moves the bytes.
#[derive(Clone)]
struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn spawn(mut service: AbciService) -> anyhow::Result<Self> {
        let (jobs, mut queue) = mpsc::channel::<Job>(WORKER_QUEUE);
        std::thread::Builder::new()
            .name("abci-app".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    // The connection may be gone; the answer is then dropped.
                    let _ = job.reply.send(service.call(job.incoming));
                }
            })
            .context("cannot start the application thread")?;
        Ok(Self { jobs })
    }

    async fn call(&self, incoming: Incoming) -> pb::Response {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job { incoming, reply }).await.is_err() {
            return exception("the application thread has stopped");
        }
        answer
            .await
            .unwrap_or_else(|_| exception("the application thread has stopped"))
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnectionEnd {
    #[error(transparent)]
    Frame(#[from] frame::FrameError),
    #[error("not an ABCI client: {0}")]
    NotAbci(#[from] decode::NotAbci),
    #[error("write failed: {0}")]
    Write(#[from] std::io::Error),
}

async fn connection(stream: TcpStream, peer: SocketAddr, worker: Worker) {
    tracing::debug!(%peer, "ABCI connection opened");
    // Responses are small and CometBFT waits for some of them one by one.
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, read);
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, write);
    match serve_requests(&mut reader, &mut writer, &worker).await {
        Ok(()) => tracing::debug!(%peer, "ABCI connection closed by the peer"),
        Err(e) => tracing::warn!(%peer, reason = %e, "closed an ABCI connection"),
    }
}

async fn serve_requests(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    worker: &Worker,
) -> Result<(), ConnectionEnd> {
    loop {
        let Some(len) = frame::read_length(reader, frame::MAX_FRAME_BYTES).await? else {
            return Ok(());
        };
        let mut body = frame::body_buffer(len);
        let head = len.min(decode::HEAD_BYTES);
        frame::read_into(reader, &mut body, head).await?;
        let incoming = match decode::check_head(&body) {
            Ok(()) => {
                frame::read_into(reader, &mut body, len - head).await?;
                decode::incoming(&body)
            }
            Err(not_abci) => Err(not_abci),
        };
        let response = match incoming {
            Ok(incoming) => worker.call(incoming).await,
            Err(not_abci) => {
                // Tell the peer why before closing; it may be a person.
                frame::write(
                    writer,
                    &exception(format!("not an ABCI request: {not_abci}")),
                )
                .await?;
                writer.flush().await?;
                return Err(not_abci.into());
            }
        };
        frame::write(writer, &response).await?;
        if reader.buffer().is_empty() {
            writer.flush().await?;
        }
    }
}
