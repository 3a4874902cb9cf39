//! The node's gRPC server (`[grpc] address` in app.toml), the endpoint the
//! Python and Go SDKs, wallets, explorers and `grpcurl` talk to.
//!
//! Every query method is the gRPC method path the [`crate::query`] route
//! of `abci_query` already answers: the request body goes, unchanged, to
//! [`query::handle`] on a snapshot of the store, so a query has one
//! implementation and the two transports differ only in framing. Bodies are
//! passed through as bytes ([`RawCodec`]); the modules decode and encode the
//! protobuf messages themselves.
//!
//! | service | methods | answered by |
//! |---|---|---|
//! | `cosmos.auth.v1beta1.Query` | `Account`, `Accounts` | the auth module |
//! | `cosmos.auth.v1beta1.Query` | `Params` | [`query`] |
//! | `cosmos.bank.v1beta1.Query` | `Balance`, `AllBalances`, `SpendableBalances`, `TotalSupply`, `SupplyOf`, `Params`, `DenomMetadata` | the bank module |
//! | `copro.coprocessor.v1.Query` | every method of `proto/copro/coprocessor/v1/query.proto` | the coprocessor module |
//! | `cosmos.tx.v1beta1.Service` | `Simulate` | [`query`] |
//! | `cosmos.tx.v1beta1.Service` | `BroadcastTx`, `GetTx`, `GetTxsEvent` | the node's CometBFT RPC |
//! | `cosmos.base.tendermint.v1beta1.Service` | `GetNodeInfo`, `GetSyncing`, `GetLatestBlock`, `GetBlockByHeight` | the node's CometBFT RPC |
//!
//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) describes
//! the services whose `.proto` descriptors this node has: the coprocessor's
//! and reflection's own (cosmos-sdk-proto ships no descriptors, so clients
//! such as grpcurl need the Cosmos `.proto` files for the Cosmos services).
//! Any other method answers `UNIMPLEMENTED`. The `x-cosmos-block-height`
//! request header selects the state a query reads (absent or `0`: the
//! latest committed state); the response carries the height actually read
//! in the same header. Failures are gRPC statuses ([`status_of`]); request
//! messages above [`MAX_REQUEST_BYTES`], header blocks above
//! [`MAX_HEADER_BYTES`], connections above [`MAX_CONNECTIONS`] and streams
//! above [`MAX_STREAMS_PER_CONNECTION`] are refused.

// tonic's handlers answer `Result<_, tonic::Status>` (176 bytes); the
// helpers here return the same, once per call, so boxing would buy nothing.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::{Buf, BufMut, Bytes};
use copro_module::{Code, Registry};
use copro_store::Storage;
use cosmrs::proto::cosmos::base::abci::v1beta1::TxResponse;
use cosmrs::proto::cosmos::base::query::v1beta1::PageResponse;
use cosmrs::proto::cosmos::base::tendermint::v1beta1::{
    Block as SdkBlock, GetBlockByHeightRequest, GetBlockByHeightResponse, GetLatestBlockResponse,
    GetNodeInfoResponse, GetSyncingResponse, Header as SdkHeader, VersionInfo,
};
use cosmrs::proto::cosmos::tx::v1beta1::{
    BroadcastMode, BroadcastTxRequest, BroadcastTxResponse, GetTxRequest, GetTxResponse,
    GetTxsEventRequest, GetTxsEventResponse, OrderBy, Tx, TxRaw,
};
use futures::future::BoxFuture;
use hyper::body::Incoming;
use prost::Message;
use tendermint::abci::Code as AbciCode;
use tendermint::block::Height;
use tendermint::v0_38::abci::request;
use tendermint_rpc::{Client, HttpClient};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::query;

/// The request header that selects the height a query reads (and the
/// response header that reports it), as in the Cosmos SDK.
pub const HEIGHT_HEADER: &str = "x-cosmos-block-height";
/// Largest request message accepted (a tx is at most
/// [`crate::tx::MAX_TX_BYTES`]; the rest is room for the envelope).
pub const MAX_REQUEST_BYTES: usize = 2 * crate::tx::MAX_TX_BYTES;
/// Largest response message sent (a block with its txs fits).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest HTTP/2 header block accepted.
pub const MAX_HEADER_BYTES: u32 = 16 * 1024;
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Concurrent calls on one connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Queries running on the store at once (each holds a blocking thread).
pub const MAX_CONCURRENT_QUERIES: usize = 16;
/// Most txs `GetTxsEvent` returns per page.
pub const MAX_PAGE_LIMIT: u64 = 100;
/// HTTP/2 ping interval on an open connection.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// A connection whose peer does not answer a ping within this is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call may wait for the node's CometBFT RPC.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

const TX_SERVICE: &str = "/cosmos.tx.v1beta1.Service/";
const TM_SERVICE: &str = "/cosmos.base.tendermint.v1beta1.Service/";
const TX_TYPE_URL: &str = "/cosmos.tx.v1beta1.Tx";

/// What one gRPC method is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A query path of [`query::handle`] (a module's or `Simulate`).
    Query(&'static str),
    /// `cosmos.tx.v1beta1.Service/BroadcastTx`.
    BroadcastTx,
    /// `cosmos.tx.v1beta1.Service/GetTx`.
    GetTx,
    /// `cosmos.tx.v1beta1.Service/GetTxsEvent`.
    GetTxsEvent,
    /// `cosmos.base.tendermint.v1beta1.Service/GetNodeInfo`.
    GetNodeInfo,
    /// `cosmos.base.tendermint.v1beta1.Service/GetSyncing`.
    GetSyncing,
    /// `cosmos.base.tendermint.v1beta1.Service/GetLatestBlock`.
    GetLatestBlock,
    /// `cosmos.base.tendermint.v1beta1.Service/GetBlockByHeight`.
    GetBlockByHeight,
}

impl Method {
    /// The method the HTTP/2 path `path` names, if this node serves it.
    pub fn resolve(registry: &Registry, path: &str) -> Option<Self> {
        for own in [query::SIMULATE_PATH, query::AUTH_PARAMS_PATH] {
            if path == own {
                return Some(Self::Query(own));
            }
        }
        if let Some(p) = registry.query_paths().find(|p| *p == path) {
            return Some(Self::Query(p));
        }
        if let Some(name) = path.strip_prefix(TX_SERVICE) {
            return match name {
                "BroadcastTx" => Some(Self::BroadcastTx),
                "GetTx" => Some(Self::GetTx),
                "GetTxsEvent" => Some(Self::GetTxsEvent),
                _ => None,
            };
        }
        match path.strip_prefix(TM_SERVICE)? {
            "GetNodeInfo" => Some(Self::GetNodeInfo),
            "GetSyncing" => Some(Self::GetSyncing),
            "GetLatestBlock" => Some(Self::GetLatestBlock),
            "GetBlockByHeight" => Some(Self::GetBlockByHeight),
            _ => None,
        }
    }
}

/// A whole gRPC service (reflection) behind one name.
type WholeService = Arc<
    dyn Fn(http::Request<Incoming>) -> BoxFuture<'static, http::Response<tonic::body::Body>>
        + Send
        + Sync,
>;

fn whole_service<S>(service: S) -> WholeService
where
    S: tonic::codegen::Service<
            http::Request<Incoming>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    Arc::new(move |req| {
        let mut service = service.clone();
        Box::pin(async move {
            match service.call(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            }
        })
    })
}

const REFLECTION_V1: &str = "/grpc.reflection.v1.ServerReflection/";
const REFLECTION_V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/";

/// What the server reads: the store, the modules and the node's CometBFT.
pub struct Node {
    storage: Storage,
    registry: Registry,
    rpc: HttpClient,
    queries: Semaphore,
    reflection_v1: WholeService,
    reflection_v1alpha: WholeService,
}

impl Node {
    /// A node over `storage`, with CometBFT RPC at `rpc`.
    pub fn new(storage: Storage, registry: Registry, rpc: HttpClient) -> anyhow::Result<Self> {
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(copro_proto::FILE_DESCRIPTOR_SET)
        };
        Ok(Self {
            storage,
            registry,
            rpc,
            queries: Semaphore::new(MAX_CONCURRENT_QUERIES),
            reflection_v1: whole_service(
                reflection()
                    .build_v1()
                    .context("gRPC reflection (v1) over the coprocessor's descriptors")?,
            ),
            reflection_v1alpha: whole_service(
                reflection()
                    .build_v1alpha()
                    .context("gRPC reflection (v1alpha) over the coprocessor's descriptors")?,
            ),
        })
    }
}

/// Binds the gRPC listener on `addr` (before CometBFT connects, so a
/// taken port stops the node at once).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen for gRPC on {addr}: change [grpc] address in app.toml")
    })?;
    tracing::info!(%addr, "gRPC server listening");
    Ok(listener)
}

/// Serves gRPC on an already bound `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        tracing::warn!(%peer, "refused a gRPC connection: {MAX_CONNECTIONS} are open");
                        continue;
                    };
                    let node = Arc::clone(&node);
                    tokio::spawn(async move {
                        connection(stream, node).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a gRPC connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => return,
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, node: Arc<Node>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let node = Arc::clone(&node);
        async move { Ok::<_, Infallible>(dispatch(node, req).await) }
    });
    let result = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        // Pings find peers that went away, so their slot is freed.
        .keep_alive_interval(Some(KEEPALIVE_INTERVAL))
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(MAX_HEADER_BYTES)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "gRPC connection ended");
    }
}

async fn dispatch(
    node: Arc<Node>,
    req: http::Request<Incoming>,
) -> http::Response<tonic::body::Body> {
    let path = req.uri().path();
    if path.starts_with(REFLECTION_V1) {
        return (node.reflection_v1)(req).await;
    }
    if path.starts_with(REFLECTION_V1ALPHA) {
        return (node.reflection_v1alpha)(req).await;
    }
    let Some(method) = Method::resolve(&node.registry, req.uri().path()) else {
        return Status::unimplemented(format!(
            "this node does not serve the gRPC method {}",
            req.uri().path()
        ))
        .into_http();
    };
    let mut grpc = tonic::server::Grpc::new(RawCodec)
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    grpc.unary(Handler { node, method }, req).await
}

/// Answers one call of `method`.
#[derive(Clone)]
struct Handler {
    node: Arc<Node>,
    method: Method,
}

impl tonic::codegen::Service<Request<Bytes>> for Handler {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<Response<Bytes>, Status>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Status>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let node = Arc::clone(&self.node);
        let method = self.method;
        Box::pin(async move { node.call(method, req).await })
    }
}

impl Node {
    /// The modules whose queries this node answers.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Answers one call of `method` (the gRPC and REST transports' one
    /// entry point).
    pub(crate) async fn call(
        self: Arc<Self>,
        method: Method,
        req: Request<Bytes>,
    ) -> Result<Response<Bytes>, Status> {
        let height = requested_height(req.metadata())?;
        let body = req.into_inner();
        match method {
            Method::Query(path) => {
                let _permit = self
                    .queries
                    .acquire()
                    .await
                    .map_err(|_| Status::unavailable("the node is shutting down"))?;
                let node = Arc::clone(&self);
                let (value, read) =
                    tokio::task::spawn_blocking(move || node.query(path, height, body))
                        .await
                        .map_err(|e| Status::internal(format!("query task failed: {e}")))??;
                let mut resp = Response::new(value);
                resp.metadata_mut()
                    .insert(HEIGHT_HEADER, MetadataValue::from(read));
                Ok(resp)
            }
            Method::BroadcastTx => self.broadcast_tx(&body).await.map(Response::new),
            Method::GetTx => self.get_tx(&body).await.map(Response::new),
            Method::GetTxsEvent => self.get_txs_event(&body).await.map(Response::new),
            Method::GetNodeInfo => self.node_info().await.map(Response::new),
            Method::GetSyncing => self.syncing().await.map(Response::new),
            Method::GetLatestBlock => self.block(None).await.map(Response::new),
            Method::GetBlockByHeight => {
                let req = decode::<GetBlockByHeightRequest>(&body)?;
                let h = u64::try_from(req.height)
                    .ok()
                    .filter(|h| *h > 0)
                    .and_then(|h| Height::try_from(h).ok())
                    .ok_or_else(|| {
                        Status::invalid_argument(format!(
                            "height {} is not a block height: ask for a height of 1 or more",
                            req.height
                        ))
                    })?;
                self.block(Some(h)).await.map(Response::new)
            }
        }
    }

    /// The shared query route, exactly as `abci_query` runs it.
    fn query(
        &self,
        path: &'static str,
        height: Height,
        data: Bytes,
    ) -> Result<(Bytes, u64), Status> {
        let resp = query::handle(
            &self.storage,
            &self.registry,
            request::Query {
                data,
                path: path.to_string(),
                height,
                prove: false,
            },
        );
        if resp.code.is_err() {
            return Err(status_of(&resp.codespace, resp.code, resp.log));
        }
        Ok((resp.value, resp.height.value()))
    }

    async fn rpc<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, tendermint_rpc::Error>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(RPC_TIMEOUT, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(rpc_status(
                what,
                &crate::report::report_head(&e.to_string()),
            )),
            Err(_) => Err(Status::unavailable(format!(
                "the node's CometBFT RPC did not answer {what} within {RPC_TIMEOUT:?}"
            ))),
        }
    }

    async fn broadcast_tx(&self, body: &[u8]) -> Result<Bytes, Status> {
        let req = decode::<BroadcastTxRequest>(body)?;
        if req.tx_bytes.is_empty() {
            return Err(Status::invalid_argument(
                "BroadcastTxRequest.tx_bytes is empty: send the encoded TxRaw",
            ));
        }
        let tx = req.tx_bytes;
        let r = match BroadcastMode::try_from(req.mode) {
            Ok(BroadcastMode::Sync) => {
                self.rpc("broadcast_tx_sync", self.rpc.broadcast_tx_sync(tx))
                    .await?
            }
            Ok(BroadcastMode::Async) => {
                let r = self
                    .rpc("broadcast_tx_async", self.rpc.broadcast_tx_async(tx))
                    .await?;
                tendermint_rpc::endpoint::broadcast::tx_sync::Response {
                    codespace: r.codespace,
                    code: r.code,
                    data: r.data,
                    log: r.log,
                    hash: r.hash,
                }
            }
            _ => {
                return Err(Status::invalid_argument(format!(
                    "broadcast mode {} is not supported: use BROADCAST_MODE_SYNC (2) or \
                     BROADCAST_MODE_ASYNC (3)",
                    req.mode
                )));
            }
        };
        Ok(BroadcastTxResponse {
            tx_response: Some(TxResponse {
                txhash: r.hash.to_string(),
                code: r.code.value(),
                codespace: r.codespace,
                raw_log: r.log,
                data: hex::encode_upper(&r.data),
                ..Default::default()
            }),
        }
        .encode_to_vec()
        .into())
    }

    async fn get_tx(&self, body: &[u8]) -> Result<Bytes, Status> {
        let req = decode::<GetTxRequest>(body)?;
        let hash = tendermint::Hash::from_str(&req.hash.to_uppercase())
            .ok()
            .filter(|h| !matches!(h, tendermint::Hash::None))
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "'{}' is not a tx hash: give the 64 hex digits of its SHA-256",
                    req.hash
                ))
            })?;
        let r = self.rpc("tx", self.rpc.tx(hash, false)).await?;
        let time = self.block_time(r.height).await?;
        let (tx, tx_response) = tx_response(r, time);
        Ok(GetTxResponse {
            tx,
            tx_response: Some(tx_response),
        }
        .encode_to_vec()
        .into())
    }

    async fn get_txs_event(&self, body: &[u8]) -> Result<Bytes, Status> {
        let req = decode::<GetTxsEventRequest>(body)?;
        #[allow(deprecated)]
        let query = if req.query.is_empty() {
            req.events.join(" AND ")
        } else {
            req.query.clone()
        };
        if query.is_empty() {
            return Err(Status::invalid_argument(
                "GetTxsEventRequest needs a query, e.g. \"message.sender='copro1...'\"",
            ));
        }
        let query = tendermint_rpc::query::Query::from_str(&query).map_err(|e| {
            Status::invalid_argument(format!("'{query}' is not a CometBFT event query: {e}"))
        })?;
        let limit = if req.limit == 0 {
            MAX_PAGE_LIMIT
        } else {
            req.limit
        };
        if limit > MAX_PAGE_LIMIT {
            return Err(Status::invalid_argument(format!(
                "limit {limit} is above the maximum of {MAX_PAGE_LIMIT}"
            )));
        }
        let page = if req.page == 0 { 1 } else { req.page };
        let page = u32::try_from(page)
            .map_err(|_| Status::invalid_argument(format!("page {page} is too large")))?;
        let order = match OrderBy::try_from(req.order_by) {
            Ok(OrderBy::Desc) => tendermint_rpc::Order::Descending,
            _ => tendermint_rpc::Order::Ascending,
        };
        let per_page = u8::try_from(limit).unwrap_or(u8::MAX);
        let r = self
            .rpc(
                "tx_search",
                self.rpc.tx_search(query, false, page, per_page, order),
            )
            .await?;
        let total = u64::from(r.total_count);
        let mut times = std::collections::BTreeMap::new();
        let mut txs = Vec::with_capacity(r.txs.len());
        let mut tx_responses = Vec::with_capacity(r.txs.len());
        for found in r.txs {
            let time = match times.get(&found.height) {
                Some(time) => String::clone(time),
                None => {
                    let time = self.block_time(found.height).await?;
                    times.insert(found.height, time.clone());
                    time
                }
            };
            let (tx, resp) = tx_response(found, time);
            txs.push(tx);
            tx_responses.push(resp);
        }
        #[allow(deprecated)]
        Ok(GetTxsEventResponse {
            txs: txs.into_iter().map(Option::unwrap_or_default).collect(),
            tx_responses,
            pagination: Some(PageResponse {
                next_key: Vec::new(),
                total,
            }),
            total,
        }
        .encode_to_vec()
        .into())
    }

    async fn node_info(&self) -> Result<Bytes, Status> {
        let s = self.rpc("status", self.rpc.status()).await?;
        let info = s.node_info;
        let node_info = tendermint_proto::p2p::DefaultNodeInfo {
            protocol_version: Some(tendermint_proto::p2p::ProtocolVersion {
                p2p: info.protocol_version.p2p,
                block: info.protocol_version.block,
                app: info.protocol_version.app,
            }),
            default_node_id: info.id.to_string(),
            listen_addr: info.listen_addr.to_string(),
            network: info.network.to_string(),
            version: info.version.to_string(),
            channels: info.channels.to_string().into_bytes(),
            moniker: info.moniker.to_string(),
            other: Some(tendermint_proto::p2p::DefaultNodeInfoOther {
                tx_index: match info.other.tx_index {
                    tendermint::node::info::TxIndexStatus::On => "on".into(),
                    tendermint::node::info::TxIndexStatus::Off => "off".into(),
                },
                rpc_address: info.other.rpc_address.to_string(),
            }),
        };
        Ok(GetNodeInfoResponse {
            default_node_info: Some(node_info),
            application_version: Some(VersionInfo {
                name: "copro".into(),
                app_name: "coprod".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
        }
        .encode_to_vec()
        .into())
    }

    async fn syncing(&self) -> Result<Bytes, Status> {
        let s = self.rpc("status", self.rpc.status()).await?;
        Ok(GetSyncingResponse {
            syncing: s.sync_info.catching_up,
        }
        .encode_to_vec()
        .into())
    }

    /// The time of block `height`, RFC 3339.
    async fn block_time(&self, height: Height) -> Result<String, Status> {
        let header = self.rpc("header", self.rpc.header(height)).await?;
        Ok(header.header.time.to_rfc3339())
    }

    async fn block(&self, height: Option<Height>) -> Result<Bytes, Status> {
        let r = match height {
            Some(h) => self.rpc("block", self.rpc.block(h)).await?,
            None => self.rpc("block", self.rpc.latest_block()).await?,
        };
        let block_id = Some(r.block_id.into());
        let raw: tendermint_proto::types::Block = r.block.into();
        let sdk_block = Some(sdk_block(raw.clone()));
        let block = Some(raw);
        Ok(match height {
            Some(_) => GetBlockByHeightResponse {
                block_id,
                block,
                sdk_block,
            }
            .encode_to_vec(),
            None => GetLatestBlockResponse {
                block_id,
                block,
                sdk_block,
            }
            .encode_to_vec(),
        }
        .into())
    }
}

/// The block as the SDK reports it since v0.47 (`sdk_block`): the proposer
/// as a bech32 consensus address (`coprovalcons1...`) instead of bytes.
fn sdk_block(raw: tendermint_proto::types::Block) -> SdkBlock {
    let header = raw.header.map(|h| {
        let proposer = cosmrs::AccountId::new(
            &format!("{}valcons", copro_module::address::BECH32_PREFIX),
            &h.proposer_address,
        )
        .map(|id| id.to_string())
        .unwrap_or_default();
        SdkHeader {
            version: h.version,
            chain_id: h.chain_id,
            height: h.height,
            time: h.time,
            last_block_id: h.last_block_id,
            last_commit_hash: h.last_commit_hash,
            data_hash: h.data_hash,
            validators_hash: h.validators_hash,
            next_validators_hash: h.next_validators_hash,
            consensus_hash: h.consensus_hash,
            app_hash: h.app_hash,
            last_results_hash: h.last_results_hash,
            evidence_hash: h.evidence_hash,
            proposer_address: proposer,
        }
    });
    SdkBlock {
        header,
        data: raw.data,
        evidence: raw.evidence,
        last_commit: raw.last_commit,
    }
}

/// The height a call asks for: the `x-cosmos-block-height` header, or the
/// latest (`0`) without it.
pub fn requested_height(metadata: &tonic::metadata::MetadataMap) -> Result<Height, Status> {
    let Some(value) = metadata.get(HEIGHT_HEADER) else {
        return Ok(Height::from(0u32));
    };
    value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .and_then(|h| Height::try_from(h).ok())
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "{HEIGHT_HEADER} header {value:?} is not a block height: give a decimal number \
                 (0 or absent for the latest)"
            ))
        })
}

/// The gRPC status for a query that failed with ABCI `code` in `codespace`
/// (the SDK's codes are in codespace `sdk`).
pub fn status_of(codespace: &str, code: AbciCode, log: String) -> Status {
    let log = bounded(log);
    let sdk = |c: Code| codespace == "sdk" && code.value() == c.value();
    if sdk(Code::KeyNotFound) || sdk(Code::UnknownAddress) {
        Status::not_found(log)
    } else if sdk(Code::Internal) {
        Status::internal(log)
    } else if sdk(Code::UnknownRequest) || sdk(Code::NotSupported) {
        Status::unimplemented(log)
    } else if sdk(Code::Unauthorized) {
        Status::permission_denied(log)
    } else if sdk(Code::InsufficientFunds) || sdk(Code::WrongSequence) || sdk(Code::OutOfGas) {
        Status::failed_precondition(log)
    } else {
        Status::invalid_argument(log)
    }
}

/// The gRPC status for a failed CometBFT RPC call.
fn rpc_status(what: &str, error: &str) -> Status {
    let message = bounded(format!("CometBFT RPC {what}: {error}"));
    if error.contains("not found") {
        Status::not_found(message)
    } else if error.contains("must be less than or equal to")
        || error.contains("height must be greater than")
        || error.contains("is not available")
    {
        Status::invalid_argument(message)
    } else if error.contains("connection refused") || error.contains("error trying to connect") {
        Status::unavailable(message)
    } else {
        Status::unknown(message)
    }
}

/// Longest status message sent, in bytes: `grpc-message` travels in a
/// header block, which clients cap at 16 KiB (hyper's default), and is
/// percent-encoded on the way (up to three bytes per byte).
pub const MAX_STATUS_MESSAGE_BYTES: usize = 1024;

/// `message` cut to [`MAX_STATUS_MESSAGE_BYTES`] at a character boundary.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_STATUS_MESSAGE_BYTES {
        let mut end = MAX_STATUS_MESSAGE_BYTES - "…".len();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

fn decode<M: Message + Default>(body: &[u8]) -> Result<M, Status> {
    M::decode(body).map_err(|e| {
        Status::invalid_argument(format!(
            "malformed {}: {e}",
            std::any::type_name::<M>()
                .rsplit("::")
                .next()
                .unwrap_or("request")
        ))
    })
}

/// A committed tx as the SDK reports it: the decoded `Tx` (absent when its
/// bytes are no `TxRaw`) and its `TxResponse`, stamped with the time of its
/// block (RFC 3339).
fn tx_response(
    r: tendermint_rpc::endpoint::tx::Response,
    timestamp: String,
) -> (Option<Tx>, TxResponse) {
    let raw = r.tx;
    let tx = TxRaw::decode(raw.as_slice()).ok().map(|raw| Tx {
        body: Message::decode(raw.body_bytes.as_slice()).ok(),
        auth_info: Message::decode(raw.auth_info_bytes.as_slice()).ok(),
        signatures: raw.signatures,
    });
    let result = r.tx_result;
    let events = result
        .events
        .iter()
        .map(|e| tendermint_proto::abci::Event {
            r#type: e.kind.clone(),
            attributes: e
                .attributes
                .iter()
                .map(|a| tendermint_proto::abci::EventAttribute {
                    key: a.key_str().unwrap_or_default().to_string(),
                    value: a.value_str().unwrap_or_default().to_string(),
                    index: a.index(),
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let resp = TxResponse {
        height: i64::try_from(r.height.value()).unwrap_or(i64::MAX),
        txhash: r.hash.to_string(),
        codespace: result.codespace,
        code: result.code.value(),
        data: hex::encode_upper(&result.data),
        raw_log: result.log,
        logs: Vec::new(),
        info: result.info,
        gas_wanted: result.gas_wanted,
        gas_used: result.gas_used,
        tx: tx.as_ref().map(|tx| cosmrs::Any {
            type_url: TX_TYPE_URL.to_string(),
            value: tx.encode_to_vec(),
        }),
        timestamp,
        events,
    };
    (tx, resp)
}

/// Passes message bodies through as bytes: the query route decodes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_path_and_the_rpc_methods_resolve_and_nothing_else() {
        let registry = crate::modules::registry();
        for path in registry.query_paths() {
            assert_eq!(Method::resolve(&registry, path), Some(Method::Query(path)));
        }
        assert_eq!(
            Method::resolve(&registry, "/cosmos.bank.v1beta1.Query/Balance"),
            Some(Method::Query("/cosmos.bank.v1beta1.Query/Balance"))
        );
        assert_eq!(
            Method::resolve(&registry, query::SIMULATE_PATH),
            Some(Method::Query(query::SIMULATE_PATH))
        );
        assert_eq!(
            Method::resolve(&registry, "/cosmos.tx.v1beta1.Service/GetTx"),
            Some(Method::GetTx)
        );
        assert_eq!(
            Method::resolve(
                &registry,
                "/cosmos.base.tendermint.v1beta1.Service/GetLatestBlock"
            ),
            Some(Method::GetLatestBlock)
        );
        for unknown in [
            query::STORE_KEY_PATH,
            "/cosmos.staking.v1beta1.Query/Validators",
            "/cosmos.tx.v1beta1.Service/GetBlockWithTxs",
            "/cosmos.base.tendermint.v1beta1.Service/ABCIQuery",
            "",
            "/",
        ] {
            assert_eq!(Method::resolve(&registry, unknown), None, "{unknown}");
        }
    }

    fn with_height(value: &str) -> tonic::metadata::MetadataMap {
        let mut m = tonic::metadata::MetadataMap::new();
        m.insert(HEIGHT_HEADER, value.parse().unwrap());
        m
    }

    #[test]
    fn the_height_header_is_a_decimal_height_or_absent() {
        let none = tonic::metadata::MetadataMap::new();
        assert_eq!(requested_height(&none).unwrap().value(), 0);
        assert_eq!(requested_height(&with_height("42")).unwrap().value(), 42);
        assert_eq!(requested_height(&with_height(" 7 ")).unwrap().value(), 7);
        for bad in [
            "-1",
            "abc",
            "1.5",
            "",
            "99999999999999999999",
            &u64::MAX.to_string(),
        ] {
            let e = requested_height(&with_height(bad)).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(e.message().contains(HEIGHT_HEADER), "{}", e.message());
        }
    }

    #[test]
    fn abci_codes_map_to_grpc_statuses() {
        let cases = [
            (Code::KeyNotFound, tonic::Code::NotFound),
            (Code::UnknownAddress, tonic::Code::NotFound),
            (Code::InvalidAddress, tonic::Code::InvalidArgument),
            (Code::InvalidHeight, tonic::Code::InvalidArgument),
            (Code::InvalidRequest, tonic::Code::InvalidArgument),
            (Code::UnknownRequest, tonic::Code::Unimplemented),
            (Code::Internal, tonic::Code::Internal),
            (Code::InsufficientFunds, tonic::Code::FailedPrecondition),
        ];
        let status = |space: &str, code: Code| {
            status_of(space, AbciCode::from(code.value()), "x".into()).code()
        };
        for (abci, grpc) in cases {
            assert_eq!(status("sdk", abci), grpc, "{abci:?}");
        }
        // Another codespace's 22 is not the SDK's NotFound.
        assert_eq!(
            status("coprocessor", Code::KeyNotFound),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            status_of("sdk", AbciCode::from(22), "why".into()).message(),
            "why"
        );
    }

    #[test]
    fn rpc_errors_map_to_statuses_that_say_what_failed() {
        let s = rpc_status("tx", "tx (AB) not found");
        assert_eq!(s.code(), tonic::Code::NotFound);
        assert!(s.message().starts_with("CometBFT RPC tx: "));
        assert_eq!(
            rpc_status(
                "block",
                "height 99 must be less than or equal to the current blockchain height 5"
            )
            .code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            rpc_status("status", "error trying to connect: tcp connect error").code(),
            tonic::Code::Unavailable
        );
        assert_eq!(rpc_status("status", "boom").code(), tonic::Code::Unknown);
    }

    #[test]
    fn an_rpc_error_report_loses_its_location_and_backtrace() {
        // tendermint-rpc's Display of a "tx not found", RUST_BACKTRACE=1.
        let mut report = String::from(
            "response error\n\nCaused by:\n    Internal error: tx (48A1) not found (code: -32603)\n\n\
             Location:\n    /registry/flex-error-0.4.4/src/tracer_impl/eyre.rs:10:9\n\n\
             Stack backtrace:\n",
        );
        for frame in 0..400 {
            report.push_str(&format!(
                "  {frame}: some::deep::frame\n      at /src/x.rs:1:1\n"
            ));
        }
        assert!(report.len() > 16 * 1024);
        let head = crate::report::report_head(&report);
        assert_eq!(
            head,
            "response error: Internal error: tx (48A1) not found (code: -32603)"
        );
        let s = rpc_status("tx", &head);
        assert_eq!(s.code(), tonic::Code::NotFound);
        assert!(!s.message().contains("backtrace") && !s.message().contains("Location"));
        // A report without a trace stays whole.
    }

    #[test]
    fn status_messages_are_cut_to_fit_a_header_block() {
        let long = "é".repeat(5_000);
        for s in [
            rpc_status("tx", &long),
            status_of("sdk", AbciCode::from(22), long.clone()),
        ] {
            assert!(
                s.message().len() <= MAX_STATUS_MESSAGE_BYTES,
                "{}",
                s.message().len()
            );
            assert!(s.message().ends_with('…'));
        }
        assert_eq!(bounded("short".into()), "short");
    }

    #[test]
    fn a_malformed_body_is_invalid_argument_naming_the_message() {
        let e = decode::<GetTxRequest>(&[0xff, 0xff]).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("GetTxRequest"), "{}", e.message());
    }

    #[test]
    fn a_committed_tx_is_reported_with_its_decoded_body() {
        use cosmrs::proto::cosmos::tx::v1beta1::TxBody;
        let body = TxBody {
            memo: "hi".into(),
            ..Default::default()
        };
        let raw = TxRaw {
            body_bytes: body.encode_to_vec(),
            auth_info_bytes: Vec::new(),
            signatures: vec![vec![1; 64]],
        };
        let r: tendermint_rpc::endpoint::tx::Response = serde_json::from_value(serde_json::json!({
            "hash": "AB".repeat(32),
            "height": "7",
            "index": 0,
            "tx_result": {"code": 5, "codespace": "sdk", "log": "insufficient funds",
                          "gas_wanted": "100", "gas_used": "60", "events": [
                              {"type": "tx", "attributes": [{"key": "fee", "value": "1ucopro", "index": true}]}]},
            "tx": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw.encode_to_vec()),
        }))
        .unwrap();
        let (tx, resp) = tx_response(r, "2026-01-02T03:04:05Z".into());
        assert_eq!(tx.unwrap().body.unwrap().memo, "hi");
        assert_eq!(resp.timestamp, "2026-01-02T03:04:05Z");
        assert_eq!((resp.height, resp.code, resp.gas_used), (7, 5, 60));
        assert_eq!(resp.txhash, "AB".repeat(32));
        assert_eq!(resp.raw_log, "insufficient funds");
        assert_eq!(resp.events[0].attributes[0].value, "1ucopro");
        assert_eq!(resp.tx.unwrap().type_url, TX_TYPE_URL);
    }

    #[test]
    fn the_sdk_block_names_the_proposer_by_its_consensus_address() {
        let raw = tendermint_proto::types::Block {
            header: Some(tendermint_proto::types::Header {
                chain_id: "c".into(),
                height: 9,
                app_hash: vec![7; 32],
                proposer_address: vec![1; 20],
                ..Default::default()
            }),
            ..Default::default()
        };
        let header = sdk_block(raw).header.unwrap();
        assert_eq!((header.chain_id.as_str(), header.height), ("c", 9));
        assert_eq!(header.app_hash, vec![7; 32]);
        let id: cosmrs::AccountId = header.proposer_address.parse().unwrap();
        assert_eq!(id.prefix(), "coprovalcons");
        assert_eq!(id.to_bytes(), vec![1; 20]);
    }
}
