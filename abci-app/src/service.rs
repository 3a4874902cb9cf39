//! What the app answers to each ABCI request: one [`AbciService`] owning the
//! [`App`], called by the [`server`](crate::server) for every request of
//! every connection, one at a time, in arrival order (so consensus requests
//! never run concurrently with CheckTx or queries).
//!
//! Failure policy:
//! - Nothing a client or a peer sends can make this service fail or
//!   panic: every handler turns failures into response codes, a panic in
//!   CheckTx or Query is caught and answered with code 1, and a request of
//!   a known kind that cannot be read ([`Incoming::Malformed`]) is answered
//!   in kind: a query or CheckTx gets an error code and a log, a proposal
//!   is rejected (or proposed empty), a vote extension or a snapshot is
//!   refused.
//! - Only local faults in consensus requests ([`Fatal`]: a store failure, a
//!   genesis the app cannot apply, a panic while executing a block, a
//!   FinalizeBlock or InitChain the app cannot read) end in an ABCI
//!   `exception`, on which CometBFT stops: halting is the only safe answer
//!   when this node can no longer compute the state. Under `coprod start`
//!   the process then exits with code 1 so a supervisor sees it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use copro_auth::{Code, TxError};
use tendermint::abci::response::ApplySnapshotChunkResult;
use tendermint::v0_38::abci::{Request, Response, request, response};
use tendermint_proto::v0_38::abci as pb;

use crate::app::{App, Fatal};
use crate::server::decode::{Incoming, Kind};

/// The whole ABCI application as one service.
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

    /// Answers one request. Always answers: a [`Fatal`] error becomes an
    /// ABCI exception (or ends the process, see [`Self::exit_on_fatal`]).
    pub fn call(&mut self, incoming: Incoming) -> pb::Response {
        let method = incoming.kind().label();
        let cpu_before = crate::metrics::thread_cpu_time();
        let response = self.answer(incoming);
        let cpu = crate::metrics::thread_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        crate::metrics::observe_abci(method, cpu);
        response
    }

    fn answer(&mut self, incoming: Incoming) -> pb::Response {
        // Queries, CheckTx and block execution catch their own panics; this
        // covers the rest (Info, Commit, ...), so no panic can leave a
        // process whose app thread is gone.
        let answer = catch_unwind(AssertUnwindSafe(|| match incoming {
            Incoming::Request(request) => self.handle(request),
            Incoming::Malformed { kind, reason } => self.handle_malformed(kind, &reason),
        }))
        .unwrap_or_else(|_| Err(Fatal("an ABCI handler panicked".into())));
        match answer {
            Ok(response) => response.into(),
            Err(fatal) => self.fatal(&fatal.0),
        }
    }

    /// The answer to a local fault: logged, then the process ends (under
    /// `coprod start`) or CometBFT is told with an exception.
    pub fn fatal(&self, reason: &str) -> pb::Response {
        tracing::error!(error = %reason, "fatal: stopping consensus");
        if self.exit_on_fatal {
            eprintln!("coprod: fatal: {reason}");
            std::process::exit(1);
        }
        exception(format!("fatal: {reason}"))
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
                    crate::query::error_response(TxError::internal("query handler panicked"))
                }),
            ),
            Request::CheckTx(r) => Response::CheckTx(
                catch_unwind(AssertUnwindSafe(|| app.check_tx(r)))
                    .unwrap_or_else(|_| app.refuse_tx(TxError::internal("CheckTx panicked"))),
            ),
            Request::Commit => Response::Commit(app.commit()?),
            Request::PrepareProposal(r) => {
                Response::PrepareProposal(guard(|| app.prepare_proposal(r))?)
            }
            Request::ProcessProposal(r) => {
                Response::ProcessProposal(guard(|| app.process_proposal(r))?)
            }
            Request::FinalizeBlock(r) => Response::FinalizeBlock(guard(|| app.finalize_block(r))?),
            Request::ExtendVote(_) => no_vote_extension(),
            Request::VerifyVoteExtension(r) => verify_vote_extension(Some(&r)),
            Request::ListSnapshots => Response::ListSnapshots(Default::default()),
            Request::OfferSnapshot(_) => refuse_snapshot(Kind::OfferSnapshot),
            Request::LoadSnapshotChunk(_) => refuse_snapshot(Kind::LoadSnapshotChunk),
            Request::ApplySnapshotChunk(_) => refuse_snapshot(Kind::ApplySnapshotChunk),
        })
    }

    /// Answers a request of `kind` whose contents could not be read.
    fn handle_malformed(&mut self, kind: Kind, reason: &str) -> Result<Response, Fatal> {
        let app = &mut self.app;
        Ok(match kind {
            // Clients' input: a code and a log for them, nothing to log here
            // beyond debug (anyone can send these).
            Kind::Query => {
                tracing::debug!(%reason, "answered a malformed query");
                Response::Query(crate::query::error_response(TxError::new(
                    Code::InvalidRequest,
                    format!("malformed query: {reason}"),
                )))
            }
            Kind::CheckTx => {
                tracing::debug!(%reason, "refused a malformed CheckTx");
                Response::CheckTx(app.refuse_tx(TxError::new(
                    Code::TxDecode,
                    format!("malformed CheckTx request: {reason}"),
                )))
            }
            // Requests whose contents the app does not use: answered as if
            // they were well-formed.
            Kind::Echo => Response::Echo(response::Echo {
                message: String::new(),
            }),
            Kind::Flush => Response::Flush,
            Kind::Info => Response::Info(app.info()?),
            Kind::Commit => Response::Commit(app.commit()?),
            Kind::ListSnapshots => Response::ListSnapshots(Default::default()),
            Kind::ExtendVote => no_vote_extension(),
            Kind::OfferSnapshot | Kind::LoadSnapshotChunk | Kind::ApplySnapshotChunk => {
                tracing::warn!(%kind, %reason, "refused a malformed snapshot request");
                refuse_snapshot(kind)
            }
            // Peers' data: refusing is safe and deterministic (every node
            // sees the same bytes).
            Kind::VerifyVoteExtension => {
                tracing::warn!(%reason, "rejected a malformed vote extension");
                verify_vote_extension(None)
            }
            Kind::ProcessProposal => {
                tracing::warn!(%reason, "rejected a proposal that cannot be read");
                Response::ProcessProposal(response::ProcessProposal::Reject)
            }
            Kind::PrepareProposal => {
                tracing::warn!(%reason, "proposing an empty block: the request cannot be read");
                Response::PrepareProposal(response::PrepareProposal { txs: vec![] })
            }
            // No safe answer: a decided block or a genesis the app cannot
            // read means this node cannot compute the state.
            Kind::FinalizeBlock | Kind::InitChain => {
                return Err(Fatal(format!(
                    "this app cannot read the {kind} request CometBFT sent ({reason})"
                )));
            }
        })
    }
}

/// An ABCI `exception` response, CometBFT's "the app cannot go on".
pub fn exception(error: impl Into<String>) -> pb::Response {
    pb::Response {
        value: Some(pb::response::Value::Exception(pb::ResponseException {
            error: error.into(),
        })),
    }
}

/// copro never extends votes.
fn no_vote_extension() -> Response {
    Response::ExtendVote(response::ExtendVote {
        vote_extension: Default::default(),
    })
}

/// copro's own extensions are always empty, so a non-empty (or unreadable)
/// one did not come from a correct copro validator.
fn verify_vote_extension(req: Option<&request::VerifyVoteExtension>) -> Response {
    Response::VerifyVoteExtension(match req {
        Some(r) if r.vote_extension.is_empty() => response::VerifyVoteExtension::Accept,
        _ => response::VerifyVoteExtension::Reject,
    })
}

/// copro serves no state-sync snapshots and takes none (state sync is not
/// supported yet).
fn refuse_snapshot(kind: Kind) -> Response {
    match kind {
        Kind::OfferSnapshot => Response::OfferSnapshot(response::OfferSnapshot::Reject),
        Kind::LoadSnapshotChunk => Response::LoadSnapshotChunk(Default::default()),
        _ => Response::ApplySnapshotChunk(response::ApplySnapshotChunk {
            result: ApplySnapshotChunkResult::Abort,
            refetch_chunks: vec![],
            reject_senders: vec![],
        }),
    }
}

fn guard<T>(f: impl FnOnce() -> Result<T, Fatal>) -> Result<T, Fatal> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Fatal("block execution panicked".into())))
}
