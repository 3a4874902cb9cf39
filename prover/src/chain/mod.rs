//! Chain data the prover may act on: only what it verified itself.
//!
//! [`VerifiedChain`] follows the chain over CometBFT RPC. Headers are
//! verified by `tendermint-light-client` (validator signatures, voting power,
//! validator-set hand-over) starting from a trusted height and header hash
//! the operator configures; nothing the RPC node says is taken on its word.
//! A state value read at height `h` is then checked with ICS-23 against the
//! app hash of the verified header `h + 1` (CometBFT puts the app hash of the
//! state after block `h` into header `h + 1`).
//!
//! The pure checks (a proof against an app hash, the queue's hash chain) are
//! in [`proof`] and [`queue`] so they are tested without a network.

pub mod proof;
pub mod queue;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use copro_coprocessor::query::PREFIX;
use copro_coprocessor::record::pb;
use copro_coprocessor::state_key;
use prost::Message;
use tendermint::block::Height;
use tendermint_light_client::builder::LightClientBuilder;
use tendermint_light_client::instance::Instance;
use tendermint_light_client::store::memory::MemoryStore;
use tendermint_light_client::verifier::options::Options;
use tendermint_light_client::verifier::types::TrustThreshold;
use tendermint_rpc::client::CompatMode;
use tendermint_rpc::{Client, HttpClient};

pub use proof::ProofError;
pub use queue::QueueError;

/// ABCI path of coprod's raw store reads (`abci-app/src/query.rs`).
const STORE_KEY_PATH: &str = "/store/key";
/// Page size when reading the pending queue (the module allows 1000).
const QUEUE_PAGE: u64 = 500;

/// Where trust starts: a header the operator checked out of band.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    /// Height of the trusted header.
    pub height: u64,
    /// Its hash (the block hash, as `coprod status`/the block explorer show it).
    pub hash: tendermint::Hash,
    /// How long a verified validator set is trusted (below the unbonding
    /// period of the chain).
    pub trusting_period: Duration,
    /// Largest accepted difference between our clock and a header's time.
    pub clock_drift: Duration,
}

/// What went wrong while reading the chain. Each one is a reason to refuse
/// to prove, and says so.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC node could not be reached or answered garbage.
    #[error("RPC to {url} failed: {reason}")]
    Rpc {
        /// The node.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The light client could not be set up from the trust root.
    #[error("cannot trust header {height} (hash {hash}): {reason}")]
    TrustRoot {
        /// Trusted height from the config.
        height: u64,
        /// Trusted hash from the config.
        hash: String,
        /// Why the light client refused.
        reason: String,
    },
    /// A header could not be verified: not signed by enough of the trusted
    /// validators, outside the trusting period, or not produced yet.
    #[error("header {height} is not verified by the light client: {reason}")]
    UnverifiedHeader {
        /// The header's height.
        height: u64,
        /// The light client's reason.
        reason: String,
    },
    /// The node refused a query.
    #[error("query {path} at height {height} failed with code {code}: {log}")]
    Query {
        /// ABCI path.
        path: String,
        /// Height asked for.
        height: u64,
        /// ABCI code.
        code: u32,
        /// The node's log.
        log: String,
    },
    /// The node answered for another height than asked.
    #[error("asked {path} at height {asked}, the node answered for height {answered}")]
    HeightMismatch {
        /// ABCI path.
        path: String,
        /// Asked.
        asked: u64,
        /// Answered.
        answered: u64,
    },
    /// The answer does not decode.
    #[error("undecodable answer to {path}: {reason}")]
    Decode {
        /// ABCI path.
        path: String,
        /// Decoder message.
        reason: String,
    },
    /// A value the chain must hold is absent (proven absent).
    #[error("{what} is absent from the chain state at height {height} (proven)")]
    Absent {
        /// What was missing.
        what: String,
        /// Height read.
        height: u64,
    },
    /// The ICS-23 proof does not bind the answer to the verified app hash.
    #[error("at height {height}: {source}")]
    Proof {
        /// Height read.
        height: u64,
        /// What is wrong with the proof.
        source: ProofError,
    },
    /// The pending queue does not match its proven state.
    #[error("at height {height}: {source}")]
    Queue {
        /// Height read.
        height: u64,
        /// What is wrong with the queue.
        source: QueueError,
    },
}

/// A value checked against the app hash of a verified header.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified<T> {
    /// The state height the value was read at.
    pub height: u64,
    /// The verified app hash it was checked against (from header `height + 1`).
    pub app_hash: [u8; 32],
    /// The value.
    pub value: T,
}

/// The pending queue at one height: its proven state and every pending
/// entry, checked through the hash chain ([`queue`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingQueue {
    /// The proven queue state.
    pub state: pb::QueueState,
    /// Entries `settled_up_to .. next_sequence`, in order.
    pub entries: Vec<pb::QueueEntry>,
}

/// RPC client plus light client: the prover's only way to read the chain.
pub struct VerifiedChain {
    url: String,
    rpc: HttpClient,
    // The light client is synchronous (it runs each fetch on its own
    // runtime); it is driven from `spawn_blocking`, one call at a time.
    light: Arc<Mutex<Instance>>,
}

impl std::fmt::Debug for VerifiedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedChain")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn height(h: u64) -> Result<Height, String> {
    Height::try_from(h).map_err(|e| e.to_string())
}

impl VerifiedChain {
    /// Connects to the CometBFT RPC at `url` and sets up the light client
    /// from `trust`: the header at `trust.height` is fetched and must hash
    /// to `trust.hash`, and be within the trusting period.
    pub async fn connect(url: &str, trust: TrustRoot) -> Result<Self, ChainError> {
        let rpc_err = |e: &dyn std::fmt::Display| ChainError::Rpc {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let parsed: tendermint_rpc::Url = url.parse().map_err(|e| rpc_err(&e))?;
        let build = || -> Result<HttpClient, tendermint_rpc::Error> {
            HttpClient::builder(parsed.clone().try_into()?)
                .compat_mode(CompatMode::V0_38)
                .build()
        };
        let rpc = build().map_err(|e| rpc_err(&e))?;
        let light_rpc = build().map_err(|e| rpc_err(&e))?;
        let peer = rpc.status().await.map_err(|e| rpc_err(&e))?.node_info.id;
        let trust_err = |reason: String| ChainError::TrustRoot {
            height: trust.height,
            hash: trust.hash.to_string(),
            reason,
        };
        let trusted_height = height(trust.height).map_err(trust_err)?;
        let options = Options {
            trust_threshold: TrustThreshold::ONE_THIRD,
            trusting_period: trust.trusting_period,
            clock_drift: trust.clock_drift,
        };
        let hash = trust.hash;
        let instance = tokio::task::spawn_blocking(move || {
            LightClientBuilder::prod(
                peer,
                light_rpc,
                Box::new(MemoryStore::new()),
                options,
                Some(Duration::from_secs(10)),
            )
            .trust_primary_at(trusted_height, hash)
            .map(|b| b.build())
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| trust_err(e.to_string()))?
        .map_err(trust_err)?;
        Ok(VerifiedChain {
            url: url.to_string(),
            rpc,
            light: Arc::new(Mutex::new(instance)),
        })
    }

    /// The app hash of the state after block `height`, from header
    /// `height + 1` as verified by the light client (bisection from the
    /// highest verified header below it, or backwards hash links from the
    /// trust root). Fails while header `height + 1` does not exist yet.
    pub async fn verified_app_hash(&self, height: u64) -> Result<[u8; 32], ChainError> {
        let header_height = height.saturating_add(1);
        let unverified = |reason: String| ChainError::UnverifiedHeader {
            height: header_height,
            reason,
        };
        let target = self::height(header_height).map_err(unverified)?;
        let light = Arc::clone(&self.light);
        let block = tokio::task::spawn_blocking(move || {
            let mut guard = light
                .lock()
                .map_err(|_| "light client poisoned".to_string())?;
            let instance = &mut *guard;
            instance
                .light_client
                .verify_to_target(target, &mut instance.state)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| unverified(e.to_string()))?
        .map_err(unverified)?;
        <[u8; 32]>::try_from(block.signed_header.header.app_hash.as_bytes()).map_err(|_| {
            unverified(format!(
                "its app hash has {} bytes, not 32",
                block.signed_header.header.app_hash.as_bytes().len()
            ))
        })
    }

    /// The highest height whose state can be verified now: the light client
    /// verifies the node's latest header `H`, which commits the state of `H - 1`.
    pub async fn latest_provable_height(&self) -> Result<u64, ChainError> {
        let light = Arc::clone(&self.light);
        let block = tokio::task::spawn_blocking(move || {
            let mut guard = light
                .lock()
                .map_err(|_| "light client poisoned".to_string())?;
            let instance = &mut *guard;
            instance
                .light_client
                .verify_to_highest(&mut instance.state)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|reason| ChainError::UnverifiedHeader { height: 0, reason })?;
        Ok(block.height().value().saturating_sub(1))
    }

    /// The highest header the light client has verified so far, as
    /// `(height, hash)`: a trust root for the next start (the daemon stores
    /// it, so a restart does not go back to the configured one).
    pub fn latest_verified_header(&self) -> Option<(u64, [u8; 32])> {
        let guard = self.light.lock().ok()?;
        let block = guard.state.light_store.highest_trusted_or_verified()?;
        let hash = block.signed_header.header.hash();
        let hash = <[u8; 32]>::try_from(hash.as_bytes()).ok()?;
        Some((block.height().value(), hash))
    }

    /// The RPC endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One ABCI query at `at`; a non-zero code is an error.
    async fn abci(
        &self,
        path: &str,
        data: Vec<u8>,
        at: u64,
        prove: bool,
    ) -> Result<tendermint_rpc::endpoint::abci_query::AbciQuery, ChainError> {
        let h = height(at).map_err(|reason| ChainError::Rpc {
            url: self.url.clone(),
            reason,
        })?;
        let resp = self
            .rpc
            .abci_query(Some(path.to_string()), data, Some(h), prove)
            .await
            .map_err(|e| ChainError::Rpc {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        if resp.code.is_err() {
            return Err(ChainError::Query {
                path: path.to_string(),
                height: at,
                code: resp.code.value(),
                log: resp.log,
            });
        }
        if resp.height.value() != at {
            return Err(ChainError::HeightMismatch {
                path: path.to_string(),
                asked: at,
                answered: resp.height.value(),
            });
        }
        Ok(resp)
    }

    /// A module query at `at`, decoded.
    async fn module_query<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
        at: u64,
    ) -> Result<Resp, ChainError> {
        let path = format!("{PREFIX}{method}");
        let resp = self.abci(&path, request.encode_to_vec(), at, false).await?;
        Resp::decode(resp.value.as_slice()).map_err(|e| ChainError::Decode {
            path,
            reason: e.to_string(),
        })
    }

    /// Checks a module answer's own height field and its proof; the
    /// answer's value (`None`: a claimed absence) comes back verified.
    async fn check_proven<M: Message>(
        &self,
        path: &str,
        at: u64,
        answered: u64,
        key: &[u8],
        message: Option<M>,
        merkle_proof: &[u8],
    ) -> Result<Verified<Option<M>>, ChainError> {
        if answered != at {
            return Err(ChainError::HeightMismatch {
                path: path.to_string(),
                asked: at,
                answered,
            });
        }
        let app_hash = self.verified_app_hash(at).await?;
        proof::verify_message(&app_hash, key, message.as_ref(), merkle_proof)
            .map_err(|source| ChainError::Proof { height: at, source })?;
        Ok(Verified {
            height: at,
            app_hash,
            value: message,
        })
    }

    /// The ledger root record at height `at`, proven.
    pub async fn root(&self, at: u64) -> Result<Verified<pb::RootRecord>, ChainError> {
        let resp: pb::QueryRootResponse = self
            .module_query(
                "Root",
                &pb::QueryRootRequest {
                    height: 0,
                    prove: true,
                },
                at,
            )
            .await?;
        let proven = self
            .check_proven(
                "Root",
                at,
                resp.height,
                &state_key::ledger_root(),
                resp.root,
                &resp.proof,
            )
            .await?;
        let value = proven.value.ok_or_else(|| ChainError::Absent {
            what: "the ledger root".into(),
            height: at,
        })?;
        Ok(Verified {
            height: proven.height,
            app_hash: proven.app_hash,
            value,
        })
    }

    /// The ledger account of `address` at height `at`, proven (`None` is a
    /// proven absence).
    pub async fn ledger_account(
        &self,
        address: &str,
        at: u64,
    ) -> Result<Verified<Option<pb::LedgerAccount>>, ChainError> {
        let resp: pb::QueryLedgerAccountResponse = self
            .module_query(
                "LedgerAccount",
                &pb::QueryLedgerAccountRequest {
                    address: address.to_string(),
                    prove: true,
                },
                at,
            )
            .await?;
        self.check_proven(
            "LedgerAccount",
            at,
            resp.height,
            &state_key::ledger_account(address),
            resp.account,
            &resp.proof,
        )
        .await
    }

    /// Verified result `id` at height `at`, proven (`None` is a proven
    /// absence).
    pub async fn result(
        &self,
        id: u64,
        at: u64,
    ) -> Result<Verified<Option<pb::VerifiedResult>>, ChainError> {
        let resp: pb::QueryResultResponse = self
            .module_query("Result", &pb::QueryResultRequest { id, prove: true }, at)
            .await?;
        self.check_proven(
            "Result",
            at,
            resp.height,
            &state_key::result(id),
            resp.result,
            &resp.proof,
        )
        .await
    }

    /// The raw value of store key `key` at height `at`, proven through
    /// coprod's `/store/key` (for state the module queries do not prove).
    pub async fn store_value(
        &self,
        key: &[u8],
        at: u64,
    ) -> Result<Verified<Option<Vec<u8>>>, ChainError> {
        let resp = self.abci(STORE_KEY_PATH, key.to_vec(), at, true).await?;
        let app_hash = self.verified_app_hash(at).await?;
        let value = (!resp.value.is_empty()).then_some(resp.value);
        proof::from_proof_ops(key, resp.proof.as_ref())
            .and_then(|p| proof::verify(&p, &app_hash, key, value.as_deref()))
            .map_err(|source| ChainError::Proof { height: at, source })?;
        Ok(Verified {
            height: at,
            app_hash,
            value,
        })
    }

    /// A stored record at `key`, proven, decoded; absence is an error.
    async fn proven_record<M: Message + Default>(
        &self,
        key: &[u8],
        what: &str,
        at: u64,
    ) -> Result<Verified<M>, ChainError> {
        let raw = self.store_value(key, at).await?;
        let bytes = raw.value.ok_or_else(|| ChainError::Absent {
            what: what.to_string(),
            height: at,
        })?;
        let value = M::decode(bytes.as_slice()).map_err(|e| ChainError::Decode {
            path: format!("{STORE_KEY_PATH} {what}"),
            reason: e.to_string(),
        })?;
        Ok(Verified {
            height: at,
            app_hash: raw.app_hash,
            value,
        })
    }

    /// Program `id` version `version` at height `at`, proven (the `Program`
    /// query has no proof, so the record is read by store key).
    pub async fn program(
        &self,
        id: &str,
        version: u32,
        at: u64,
    ) -> Result<Verified<pb::Program>, ChainError> {
        self.proven_record(
            &state_key::program(id, version),
            &format!("program {id} version {version}"),
            at,
        )
        .await
    }

    /// The pending queue at height `at`: the `QueueState` proven by store
    /// key, then every pending entry from the `Queue` query, checked against
    /// it through the hash chain (see [`queue`] for why not one proof per
    /// entry).
    pub async fn pending_queue(&self, at: u64) -> Result<Verified<PendingQueue>, ChainError> {
        let state: Verified<pb::QueueState> = self
            .proven_record(&state_key::queue_state(), "the queue state", at)
            .await?;
        let queue_err = |source| ChainError::Queue { height: at, source };
        let mut checker = queue::QueueChecker::new(state.value.clone()).map_err(queue_err)?;
        let mut key = Vec::new();
        loop {
            let page: pb::QueryQueueResponse = self
                .module_query(
                    "Queue",
                    &pb::QueryQueueRequest {
                        pagination: Some(pb::PageRequest {
                            key: key.clone(),
                            limit: QUEUE_PAGE,
                        }),
                    },
                    at,
                )
                .await?;
            checker
                .page(at, page.state.as_ref(), &page.entries)
                .map_err(queue_err)?;
            key = page.pagination.map(|p| p.next_key).unwrap_or_default();
            // An empty page that promises more would page for ever: stop,
            // and let `finish` report the entries that are missing.
            if key.is_empty() || page.entries.is_empty() {
                break;
            }
        }
        let entries = checker.finish().map_err(queue_err)?;
        Ok(Verified {
            height: at,
            app_hash: state.app_hash,
            value: PendingQueue {
                state: state.value,
                entries,
            },
        })
    }
}
