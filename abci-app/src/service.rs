//! The tower service CometBFT talks to: one [`AbciService`] owning the
//! [`App`], split by `tower_abci::v038::split` into the four connection
//! services. The split buffer serialises every request, so consensus
//! requests run in order and never concurrently with CheckTx or queries.
//!
//! Failure policy: transaction and query contents can never make the
//! service return `Err` or panic (every handler turns failures into response
//! codes, and a panic in CheckTx/Query is caught and answered with code 1).
//! Only local faults in consensus requests ([`Fatal`]: store failure,
//! genesis misconfiguration, a panic while executing a block) return `Err`,
//! which closes the connection and halts CometBFT — stopping is the only
//! safe answer when this node can no longer compute the state. Under
//! `coprod start` the process then exits with code 1.

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use tendermint::abci::Code as AbciCode;
use tendermint::v0_38::abci::{Request, Response, response};
use tower_abci::BoxError;

use crate::app::{App, Fatal};

/// The whole ABCI application as one tower service.
#[derive(Debug)]
pub struct AbciService {
    app: App,
    exit_on_fatal: bool,
}

impl AbciService {
    /// Wraps `app`.
    pub fn new(app: App) -> Self {
        Self {
            app,
            exit_on_fatal: false,
        }
    }

    /// Makes a [`Fatal`] error end the process (exit code 1) after logging
    /// it, so a supervisor sees the failure instead of a live process whose
    /// consensus connection is gone. Used by `coprod start`.
    pub fn exit_on_fatal(mut self) -> Self {
        self.exit_on_fatal = true;
        self
    }

    fn handle(&mut self, req: Request) -> Result<Response, Fatal> {
        let app = &mut self.app;
        Ok(match req {
            Request::Echo(echo) => Response::Echo(response::Echo {
                message: echo.message,
            }),
            Request::Flush => Response::Flush,
            Request::Info(_) => Response::Info(app.info()?),
            Request::InitChain(r) => Response::InitChain(app.init_chain(r)?),
            Request::Query(r) => Response::Query(
                catch_unwind(AssertUnwindSafe(|| app.query(r))).unwrap_or_else(|_| {
                    response::Query {
                        code: AbciCode::from(copro_auth::Code::Internal.value()),
                        log: "internal error: query handler panicked".into(),
                        codespace: "sdk".into(),
                        ..Default::default()
                    }
                }),
            ),
            Request::CheckTx(r) => Response::CheckTx(
                catch_unwind(AssertUnwindSafe(|| app.check_tx(r))).unwrap_or_else(|_| {
                    response::CheckTx {
                        code: AbciCode::from(copro_auth::Code::Internal.value()),
                        log: "internal error: CheckTx panicked".into(),
                        codespace: "sdk".into(),
                        ..Default::default()
                    }
                }),
            ),
            Request::Commit => Response::Commit(app.commit()?),
            Request::PrepareProposal(r) => {
                Response::PrepareProposal(guard(|| app.prepare_proposal(r))?)
            }
            Request::ProcessProposal(r) => {
                Response::ProcessProposal(guard(|| app.process_proposal(r))?)
            }
            Request::FinalizeBlock(r) => Response::FinalizeBlock(guard(|| app.finalize_block(r))?),
            Request::ExtendVote(_) => Response::ExtendVote(response::ExtendVote {
                vote_extension: Default::default(),
            }),
            Request::VerifyVoteExtension(_) => {
                Response::VerifyVoteExtension(response::VerifyVoteExtension::Accept)
            }
            Request::ListSnapshots => Response::ListSnapshots(Default::default()),
            Request::OfferSnapshot(_) => Response::OfferSnapshot(response::OfferSnapshot::Reject),
            Request::LoadSnapshotChunk(_) => Response::LoadSnapshotChunk(Default::default()),
            Request::ApplySnapshotChunk(_) => {
                Response::ApplySnapshotChunk(response::ApplySnapshotChunk {
                    result: tendermint::abci::response::ApplySnapshotChunkResult::Abort,
                    refetch_chunks: vec![],
                    reject_senders: vec![],
                })
            }
        })
    }
}

fn guard<T>(f: impl FnOnce() -> Result<T, Fatal>) -> Result<T, Fatal> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Fatal("block execution panicked".into())))
}

impl tower::Service<Request> for AbciService {
    type Response = Response;
    type Error = BoxError;
    type Future = Ready<Result<Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let exit = self.exit_on_fatal;
        ready(self.handle(req).map_err(|e| {
            tracing::error!(error = %e, "fatal: stopping consensus");
            if exit {
                eprintln!("coprod: fatal: {e}");
                std::process::exit(1);
            }
            BoxError::from(e)
        }))
    }
}

/// Serves `app` over ABCI on `addr` until `shutdown` resolves.
pub async fn serve(
    app: App,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (consensus, mempool, snapshot, info) =
        tower_abci::v038::split::service(AbciService::new(app).exit_on_fatal(), 16);
    let server = tower_abci::v038::Server::builder()
        .consensus(consensus)
        .mempool(mempool)
        .snapshot(snapshot)
        .info(info)
        .finish()
        .ok_or_else(|| anyhow::anyhow!("ABCI server is missing a service"))?;
    tokio::select! {
        res = server.listen_tcp(addr) => res.map_err(|e| anyhow::anyhow!("ABCI server failed: {e}")),
        () = shutdown => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}
