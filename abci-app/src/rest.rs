//! The node's REST (LCD) endpoint (`[api] address` in app.toml, port 1317
//! by Cosmos custom): the gRPC-gateway paths that wallets, explorers and the
//! Python and Go SDKs call over plain HTTP.
//!
//! A REST call is a gRPC call in other clothes: the path and query string
//! become the request message, which goes to the same [`grpc::Node`] (so to
//! the same `query::handle` as `abci_query`, or the same CometBFT RPC call),
//! and the response message comes back as JSON. The JSON follows the
//! gRPC-gateway conventions: proto field names, 64-bit integers as strings,
//! bytes as base64, enums by name, and `google.protobuf.Any` as
//! `{"@type": URL, ...fields}` when the node knows the type. Fields at their
//! default value are left out (proto3 JSON); a client reads a missing
//! number as 0.
//!
//! | path | gRPC method |
//! |---|---|
//! | `GET /cosmos/auth/v1beta1/accounts/:address` | `auth Query/Account` |
//! | `GET /cosmos/auth/v1beta1/accounts` | `auth Query/Accounts` |
//! | `GET /cosmos/auth/v1beta1/params` | `auth Query/Params` |
//! | `GET /cosmos/bank/v1beta1/balances/:address` | `bank Query/AllBalances` |
//! | `GET /cosmos/bank/v1beta1/balances/:address/by_denom?denom=` | `bank Query/Balance` |
//! | `GET /cosmos/bank/v1beta1/spendable_balances/:address` | `bank Query/SpendableBalances` |
//! | `GET /cosmos/bank/v1beta1/supply` | `bank Query/TotalSupply` |
//! | `GET /cosmos/bank/v1beta1/supply/by_denom?denom=` | `bank Query/SupplyOf` |
//! | `GET /cosmos/bank/v1beta1/params` | `bank Query/Params` |
//! | `GET /cosmos/bank/v1beta1/denoms_metadata/:denom` | `bank Query/DenomMetadata` |
//! | `POST /cosmos/tx/v1beta1/simulate` | `tx Service/Simulate` |
//! | `POST /cosmos/tx/v1beta1/txs` | `tx Service/BroadcastTx` |
//! | `GET /cosmos/tx/v1beta1/txs/:hash` | `tx Service/GetTx` |
//! | `GET /cosmos/tx/v1beta1/txs?query=` (or `events=`, repeated) | `tx Service/GetTxsEvent` |
//! | `GET /cosmos/base/tendermint/v1beta1/node_info` | `GetNodeInfo` |
//! | `GET /cosmos/base/tendermint/v1beta1/syncing` | `GetSyncing` |
//! | `GET /cosmos/base/tendermint/v1beta1/blocks/latest` | `GetLatestBlock` |
//! | `GET /cosmos/base/tendermint/v1beta1/blocks/:height` | `GetBlockByHeight` |
//! | `GET /copro/coprocessor/v1/{method}?field=value` | `copro.coprocessor.v1.Query/{Method}` |
//!
//! The coprocessor's routes are derived from its `.proto` descriptors: the
//! method name in snake case (`ledger_account`, `results`, ...), each query
//! parameter a field of the request message by its proto name.
//!
//! `x-cosmos-block-height` selects the height as over gRPC, and the
//! response reports the height read in the same header. Errors are the
//! gateway's `{"code": GRPC_CODE, "message": ..., "details": []}` with the
//! matching HTTP status. CORS is open (any origin), so a browser wallet can
//! call the node. Bodies above [`MAX_BODY_BYTES`] and more than
//! [`MAX_CONCURRENT_REQUESTS`] calls at once are refused.

// The helpers answer tonic's `Status` (176 bytes), as the gRPC handlers do,
// once per call: boxing would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use cosmos_sdk_proto::cosmos;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status};

use crate::grpc::{self, HEIGHT_HEADER, Method};

/// Largest request body: a base64 tx of [`crate::tx::MAX_TX_BYTES`] in its
/// JSON envelope.
pub const MAX_BODY_BYTES: usize = crate::tx::MAX_TX_BYTES * 4 / 3 + 4096;
/// REST calls served at once; more wait their turn.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// A call that takes longer is answered 504 (the gRPC side has its own
/// limits; this bounds a slow client holding a slot).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const COPRO_QUERY_SERVICE: &str = "copro.coprocessor.v1.Query";
const COPRO_PREFIX: &str = "/copro/coprocessor/v1/";

/// What the handlers share: the gRPC node and the coprocessor's descriptors.
#[derive(Clone)]
struct Api {
    node: Arc<grpc::Node>,
    pool: DescriptorPool,
}

/// The REST router over `node` (public for tests that serve it themselves).
pub fn router(node: Arc<grpc::Node>) -> anyhow::Result<Router> {
    let pool = DescriptorPool::decode(copro_proto::FILE_DESCRIPTOR_SET)
        .context("the coprocessor's proto descriptors")?;
    let api = Api { node, pool };
    let cosmos_routes = Router::new()
        .route("/cosmos/auth/v1beta1/accounts/:address", get(auth_account))
        .route("/cosmos/auth/v1beta1/accounts", get(auth_accounts))
        .route("/cosmos/auth/v1beta1/params", get(auth_params))
        .route("/cosmos/bank/v1beta1/balances/:address", get(bank_balances))
        .route(
            "/cosmos/bank/v1beta1/balances/:address/by_denom",
            get(bank_balance),
        )
        .route(
            "/cosmos/bank/v1beta1/spendable_balances/:address",
            get(bank_spendable),
        )
        .route("/cosmos/bank/v1beta1/supply", get(bank_supply))
        .route("/cosmos/bank/v1beta1/supply/by_denom", get(bank_supply_of))
        .route("/cosmos/bank/v1beta1/params", get(bank_params))
        .route(
            "/cosmos/bank/v1beta1/denoms_metadata/:denom",
            get(bank_denom_metadata),
        )
        .route("/cosmos/tx/v1beta1/simulate", post(tx_simulate))
        .route("/cosmos/tx/v1beta1/txs", post(tx_broadcast).get(tx_search))
        .route("/cosmos/tx/v1beta1/txs/:hash", get(tx_get))
        .route("/cosmos/base/tendermint/v1beta1/node_info", get(node_info))
        .route("/cosmos/base/tendermint/v1beta1/syncing", get(syncing))
        .route(
            "/cosmos/base/tendermint/v1beta1/blocks/latest",
            get(latest_block),
        )
        .route(
            "/cosmos/base/tendermint/v1beta1/blocks/:height",
            get(block_at),
        )
        .route("/copro/coprocessor/v1/:method", get(copro_query));
    Ok(cosmos_routes
        .fallback(not_found)
        .with_state(api)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::cors::CorsLayer::permissive())
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(timed_out))
                .layer(tower::limit::ConcurrencyLimitLayer::new(
                    MAX_CONCURRENT_REQUESTS,
                ))
                .layer(tower::timeout::TimeoutLayer::new(REQUEST_TIMEOUT)),
        ))
}

/// Binds the REST listener on `addr` (before CometBFT connects, so a taken
/// port stops the node at once).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen for REST on {addr}: change [api] address in app.toml")
    })?;
    tracing::info!(%addr, "REST server listening");
    Ok(listener)
}

/// Serves `router` on an already bound `listener`.
pub async fn run(listener: tokio::net::TcpListener, router: Router) {
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "REST server stopped");
    }
}

async fn timed_out(_: tower::BoxError) -> Response {
    error_response(&Status::deadline_exceeded(format!(
        "the call took longer than {REQUEST_TIMEOUT:?}"
    )))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error_response(&Status::unimplemented(format!(
        "this node serves no REST path {}: see docs/running.md for the paths served",
        uri.path()
    )))
}

/// The HTTP status the gRPC-gateway gives a gRPC code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(status: &Status) -> Response {
    let body = json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": [],
    });
    (http_status(status.code()), axum::Json(body)).into_response()
}

/// Calls `method` with `request` on the gRPC node and answers its response,
/// decoded as `Resp`, in gateway JSON.
async fn answer<Resp>(api: &Api, headers: &HeaderMap, method: Method, request: Vec<u8>) -> Response
where
    Resp: Message + Default + Serialize,
{
    match call(api, headers, method, request).await {
        Ok((body, height)) => match Resp::decode(body.as_ref()) {
            Ok(resp) => json_response(gateway_json(to_value(&resp), &api.pool), height),
            Err(e) => error_response(&Status::internal(format!(
                "the node's answer is not a {}: {e}",
                std::any::type_name::<Resp>()
            ))),
        },
        Err(status) => error_response(&status),
    }
}

async fn call(
    api: &Api,
    headers: &HeaderMap,
    method: Method,
    request: Vec<u8>,
) -> Result<(Bytes, Option<HeaderValue>), Status> {
    let mut req = Request::new(Bytes::from(request));
    if let Some(h) = headers.get(HEIGHT_HEADER) {
        let value = h
            .to_str()
            .ok()
            .and_then(|s| MetadataValue::try_from(s).ok())
            .ok_or_else(|| {
                Status::invalid_argument(format!("{HEIGHT_HEADER} is not a decimal height"))
            })?;
        req.metadata_mut().insert(HEIGHT_HEADER, value);
    }
    let resp = Arc::clone(&api.node).call(method, req).await?;
    let height = resp
        .metadata()
        .get(HEIGHT_HEADER)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    Ok((resp.into_inner(), height))
}

fn json_response(body: Value, height: Option<HeaderValue>) -> Response {
    let mut resp = axum::Json(body).into_response();
    if let Some(h) = height {
        resp.headers_mut().insert(HEIGHT_HEADER, h);
    }
    resp
}

fn to_value<T: Serialize>(message: &T) -> Value {
    serde_json::to_value(message).unwrap_or(Value::Null)
}

fn query_method(path: &'static str) -> Method {
    Method::Query(path)
}

type Params = Query<BTreeMap<String, String>>;

/// `pagination.*` query parameters as a `PageRequest`.
fn page_request(
    params: &BTreeMap<String, String>,
) -> Result<Option<cosmos::base::query::v1beta1::PageRequest>, Status> {
    let mut page = cosmos::base::query::v1beta1::PageRequest::default();
    let mut any = false;
    for (name, value) in params {
        let Some(field) = name.strip_prefix("pagination.") else {
            continue;
        };
        any = true;
        let bad = |what: &str| {
            Status::invalid_argument(format!("pagination.{field}={value:?} is not {what}"))
        };
        match field {
            "key" => page.key = BASE64.decode(value).map_err(|_| bad("base64"))?,
            "offset" => page.offset = value.parse().map_err(|_| bad("a number"))?,
            "limit" => page.limit = value.parse().map_err(|_| bad("a number"))?,
            "count_total" => page.count_total = value.parse().map_err(|_| bad("true or false"))?,
            "reverse" => page.reverse = value.parse().map_err(|_| bad("true or false"))?,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "unknown parameter {name}"
                )));
            }
        }
    }
    Ok(any.then_some(page))
}

fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, Status> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Status::invalid_argument(format!("the query parameter {name} is required")))
}

macro_rules! try_status {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return error_response(&status),
        }
    };
}

async fn auth_account(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(address): Path<String>,
) -> Response {
    let req = cosmos::auth::v1beta1::QueryAccountRequest { address };
    answer::<cosmos::auth::v1beta1::QueryAccountResponse>(
        &api,
        &headers,
        query_method("/cosmos.auth.v1beta1.Query/Account"),
        req.encode_to_vec(),
    )
    .await
}

async fn auth_accounts(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let req = cosmos::auth::v1beta1::QueryAccountsRequest {
        pagination: try_status!(page_request(&params)),
    };
    answer::<cosmos::auth::v1beta1::QueryAccountsResponse>(
        &api,
        &headers,
        query_method("/cosmos.auth.v1beta1.Query/Accounts"),
        req.encode_to_vec(),
    )
    .await
}

async fn auth_params(State(api): State<Api>, headers: HeaderMap) -> Response {
    answer::<cosmos::auth::v1beta1::QueryParamsResponse>(
        &api,
        &headers,
        query_method(crate::query::AUTH_PARAMS_PATH),
        Vec::new(),
    )
    .await
}

async fn bank_balances(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(address): Path<String>,
    Query(params): Params,
) -> Response {
    let req = cosmos::bank::v1beta1::QueryAllBalancesRequest {
        address,
        pagination: try_status!(page_request(&params)),
        resolve_denom: false,
    };
    answer::<cosmos::bank::v1beta1::QueryAllBalancesResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/AllBalances"),
        req.encode_to_vec(),
    )
    .await
}

async fn bank_balance(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(address): Path<String>,
    Query(params): Params,
) -> Response {
    let req = cosmos::bank::v1beta1::QueryBalanceRequest {
        address,
        denom: try_status!(required(&params, "denom")).to_string(),
    };
    answer::<cosmos::bank::v1beta1::QueryBalanceResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/Balance"),
        req.encode_to_vec(),
    )
    .await
}

async fn bank_spendable(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(address): Path<String>,
    Query(params): Params,
) -> Response {
    let req = cosmos::bank::v1beta1::QuerySpendableBalancesRequest {
        address,
        pagination: try_status!(page_request(&params)),
    };
    answer::<cosmos::bank::v1beta1::QuerySpendableBalancesResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/SpendableBalances"),
        req.encode_to_vec(),
    )
    .await
}

async fn bank_supply(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let req = cosmos::bank::v1beta1::QueryTotalSupplyRequest {
        pagination: try_status!(page_request(&params)),
    };
    answer::<cosmos::bank::v1beta1::QueryTotalSupplyResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/TotalSupply"),
        req.encode_to_vec(),
    )
    .await
}

async fn bank_supply_of(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let req = cosmos::bank::v1beta1::QuerySupplyOfRequest {
        denom: try_status!(required(&params, "denom")).to_string(),
    };
    answer::<cosmos::bank::v1beta1::QuerySupplyOfResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/SupplyOf"),
        req.encode_to_vec(),
    )
    .await
}

async fn bank_params(State(api): State<Api>, headers: HeaderMap) -> Response {
    answer::<cosmos::bank::v1beta1::QueryParamsResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/Params"),
        Vec::new(),
    )
    .await
}

async fn bank_denom_metadata(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(denom): Path<String>,
) -> Response {
    let req = cosmos::bank::v1beta1::QueryDenomMetadataRequest { denom };
    answer::<cosmos::bank::v1beta1::QueryDenomMetadataResponse>(
        &api,
        &headers,
        query_method("/cosmos.bank.v1beta1.Query/DenomMetadata"),
        req.encode_to_vec(),
    )
    .await
}

/// The JSON body of `POST .../simulate` and `POST .../txs`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TxBody {
    /// The encoded `TxRaw`, base64.
    tx_bytes: String,
    /// `BROADCAST_MODE_SYNC` (default) or `BROADCAST_MODE_ASYNC`, or its
    /// number.
    #[serde(default)]
    mode: Option<Value>,
}

fn tx_body(body: &[u8]) -> Result<(Vec<u8>, i32), Status> {
    let body: TxBody = serde_json::from_slice(body).map_err(|e| {
        Status::invalid_argument(format!(
            "the body is not {{\"tx_bytes\": BASE64, \"mode\": MODE}}: {e}"
        ))
    })?;
    let tx = BASE64
        .decode(body.tx_bytes.trim())
        .map_err(|_| Status::invalid_argument("tx_bytes is not base64"))?;
    use cosmos::tx::v1beta1::BroadcastMode;
    let mode = match body.mode {
        None => BroadcastMode::Sync as i32,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| Status::invalid_argument(format!("mode {n} is not a broadcast mode")))?,
        Some(Value::String(name)) => BroadcastMode::from_str_name(&name)
            .map(|m| m as i32)
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "mode {name:?} is not a broadcast mode: use BROADCAST_MODE_SYNC or \
                     BROADCAST_MODE_ASYNC"
                ))
            })?,
        Some(other) => {
            return Err(Status::invalid_argument(format!(
                "mode {other} is not a broadcast mode"
            )));
        }
    };
    Ok((tx, mode))
}

async fn tx_simulate(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let (tx_bytes, _) = try_status!(tx_body(&body));
    #[allow(deprecated)]
    let req = cosmos::tx::v1beta1::SimulateRequest { tx: None, tx_bytes };
    answer::<cosmos::tx::v1beta1::SimulateResponse>(
        &api,
        &headers,
        query_method(crate::query::SIMULATE_PATH),
        req.encode_to_vec(),
    )
    .await
}

async fn tx_broadcast(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let (tx_bytes, mode) = try_status!(tx_body(&body));
    let req = cosmos::tx::v1beta1::BroadcastTxRequest { tx_bytes, mode };
    answer::<cosmos::tx::v1beta1::BroadcastTxResponse>(
        &api,
        &headers,
        Method::BroadcastTx,
        req.encode_to_vec(),
    )
    .await
}

async fn tx_get(State(api): State<Api>, headers: HeaderMap, Path(hash): Path<String>) -> Response {
    let req = cosmos::tx::v1beta1::GetTxRequest { hash };
    answer::<cosmos::tx::v1beta1::GetTxResponse>(&api, &headers, Method::GetTx, req.encode_to_vec())
        .await
}

async fn tx_search(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    // `events` may repeat (the SDK's older form, joined with AND).
    let events: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let params: BTreeMap<String, String> = pairs.into_iter().collect();
    let number = |name: &str| -> Result<u64, Status> {
        params.get(name).map_or(Ok(0), |v| {
            v.parse()
                .map_err(|_| Status::invalid_argument(format!("{name}={v:?} is not a number")))
        })
    };
    let order_by = match params.get("order_by").map(String::as_str) {
        None | Some("") | Some("ORDER_BY_UNSPECIFIED") | Some("ORDER_BY_ASC") => 0,
        Some("ORDER_BY_DESC") => 2,
        Some(other) => {
            return error_response(&Status::invalid_argument(format!(
                "order_by={other:?}: use ORDER_BY_ASC or ORDER_BY_DESC"
            )));
        }
    };
    #[allow(deprecated)]
    let req = cosmos::tx::v1beta1::GetTxsEventRequest {
        events,
        pagination: None,
        order_by,
        page: try_status!(number("page")),
        limit: try_status!(number("limit")),
        query: params.get("query").cloned().unwrap_or_default(),
    };
    answer::<cosmos::tx::v1beta1::GetTxsEventResponse>(
        &api,
        &headers,
        Method::GetTxsEvent,
        req.encode_to_vec(),
    )
    .await
}

async fn node_info(State(api): State<Api>, headers: HeaderMap) -> Response {
    answer::<cosmos::base::tendermint::v1beta1::GetNodeInfoResponse>(
        &api,
        &headers,
        Method::GetNodeInfo,
        Vec::new(),
    )
    .await
}

async fn syncing(State(api): State<Api>, headers: HeaderMap) -> Response {
    answer::<cosmos::base::tendermint::v1beta1::GetSyncingResponse>(
        &api,
        &headers,
        Method::GetSyncing,
        Vec::new(),
    )
    .await
}

async fn latest_block(State(api): State<Api>, headers: HeaderMap) -> Response {
    answer::<cosmos::base::tendermint::v1beta1::GetLatestBlockResponse>(
        &api,
        &headers,
        Method::GetLatestBlock,
        Vec::new(),
    )
    .await
}

async fn block_at(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(height): Path<String>,
) -> Response {
    let height =
        try_status!(height.parse::<i64>().map_err(|_| {
            Status::invalid_argument(format!("{height:?} is not a block height"))
        }));
    let req = cosmos::base::tendermint::v1beta1::GetBlockByHeightRequest { height };
    answer::<cosmos::base::tendermint::v1beta1::GetBlockByHeightResponse>(
        &api,
        &headers,
        Method::GetBlockByHeight,
        req.encode_to_vec(),
    )
    .await
}

/// `GET /copro/coprocessor/v1/{method}`: the request built field by field
/// from the query string with the method's descriptor, the answer printed
/// from the response's descriptor.
async fn copro_query(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(method): Path<String>,
    Query(params): Params,
) -> Response {
    let (path, input, output) = try_status!(copro_method(&api, &method));
    let request = try_status!(copro_request(&input, &params));
    match call(&api, &headers, Method::Query(path), request.encode_to_vec()).await {
        Ok((body, height)) => match DynamicMessage::decode(output, body) {
            Ok(resp) => json_response(dynamic_json(&resp, &api.pool), height),
            Err(e) => error_response(&Status::internal(format!(
                "the node's answer does not decode: {e}"
            ))),
        },
        Err(status) => error_response(&status),
    }
}

/// The registered query path and request and response descriptors of the
/// coprocessor method `snake` (e.g. `ledger_account`).
fn copro_method(
    api: &Api,
    snake: &str,
) -> Result<(&'static str, MessageDescriptor, MessageDescriptor), Status> {
    let service = api
        .pool
        .get_service_by_name(COPRO_QUERY_SERVICE)
        .ok_or_else(|| Status::internal("the coprocessor's query service has no descriptor"))?;
    let known = || {
        service
            .methods()
            .map(|m| snake_case(m.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let m = service
        .methods()
        .find(|m| snake_case(m.name()) == snake)
        .ok_or_else(|| {
            Status::unimplemented(format!(
                "{COPRO_PREFIX}{snake} is not a coprocessor query: use one of {}",
                known()
            ))
        })?;
    let full = format!("/{COPRO_QUERY_SERVICE}/{}", m.name());
    let Some(Method::Query(path)) = Method::resolve(api.node.registry(), &full) else {
        return Err(Status::unimplemented(format!(
            "this node does not serve {full}"
        )));
    };
    Ok((path, m.input(), m.output()))
}

/// A request message of type `desc` from query parameters named after its
/// fields (scalars only: the coprocessor's requests have no others).
fn copro_request(
    desc: &MessageDescriptor,
    params: &BTreeMap<String, String>,
) -> Result<DynamicMessage, Status> {
    use prost_reflect::Value as V;
    let mut msg = DynamicMessage::new(desc.clone());
    for (name, text) in params {
        let field = desc.get_field_by_name(name).ok_or_else(|| {
            let fields: Vec<String> = desc.fields().map(|f| f.name().to_string()).collect();
            Status::invalid_argument(format!(
                "{} has no field {name}: its fields are {}",
                desc.name(),
                fields.join(", ")
            ))
        })?;
        let bad = |what: &str| Status::invalid_argument(format!("{name}={text:?} is not {what}"));
        let value = match field.kind() {
            Kind::String if !field.is_list() => V::String(text.clone()),
            Kind::Bool => V::Bool(text.parse().map_err(|_| bad("true or false"))?),
            Kind::Uint64 | Kind::Fixed64 => V::U64(text.parse().map_err(|_| bad("a number"))?),
            Kind::Uint32 | Kind::Fixed32 => V::U32(text.parse().map_err(|_| bad("a number"))?),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                V::I64(text.parse().map_err(|_| bad("a number"))?)
            }
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                V::I32(text.parse().map_err(|_| bad("a number"))?)
            }
            Kind::Bytes => V::Bytes(BASE64.decode(text).map_err(|_| bad("base64"))?.into()),
            _ => {
                return Err(Status::invalid_argument(format!(
                    "{name} cannot be given as a query parameter: use gRPC"
                )));
            }
        };
        msg.try_set_field(&field, value)
            .map_err(|e| Status::invalid_argument(format!("{name}: {e}")))?;
    }
    Ok(msg)
}

fn dynamic_json(msg: &DynamicMessage, pool: &DescriptorPool) -> Value {
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(true)
        .skip_default_fields(false);
    let value = msg
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(Value::Null);
    gateway_json(value, pool)
}

/// `CamelCase` or `lowerCamel` as `snake_case`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// pbjson's proto3 JSON turned into the gateway's: proto field names, and
/// every `Any` (`{"typeUrl", "value"}`) unpacked as `{"@type", ...}` when
/// the node knows its type.
pub fn gateway_json(value: Value, pool: &DescriptorPool) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| gateway_json(v, pool)).collect())
        }
        Value::Object(fields) => {
            let is_any = fields.contains_key("typeUrl")
                && fields.keys().all(|k| k == "typeUrl" || k == "value");
            if is_any {
                let url = fields
                    .get("typeUrl")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let raw = fields
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(|v| BASE64.decode(v).ok())
                    .unwrap_or_default();
                return unpack_any(url, &raw, pool);
            }
            // Already gateway JSON (prost-reflect's `@type` objects).
            if fields.contains_key("@type") {
                return Value::Object(fields);
            }
            Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (snake_case(&k), gateway_json(v, pool)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// An `Any` as `{"@type": url, ...fields}`; a type the node does not know
/// stays `{"@type": url, "value": base64}`.
fn unpack_any(url: &str, raw: &[u8], pool: &DescriptorPool) -> Value {
    let fields = known_any(url, raw, pool);
    let mut out = Map::new();
    out.insert("@type".into(), Value::String(url.to_string()));
    match fields {
        Some(Value::Object(fields)) => out.extend(fields),
        _ => {
            out.insert("value".into(), Value::String(BASE64.encode(raw)));
        }
    }
    Value::Object(out)
}

fn known_any(url: &str, raw: &[u8], pool: &DescriptorPool) -> Option<Value> {
    fn typed<T: Message + Default + Serialize>(raw: &[u8], pool: &DescriptorPool) -> Option<Value> {
        T::decode(raw)
            .ok()
            .map(|m| gateway_json(to_value(&m), pool))
    }
    match url {
        "/cosmos.auth.v1beta1.BaseAccount" => {
            typed::<cosmos::auth::v1beta1::BaseAccount>(raw, pool)
        }
        "/cosmos.auth.v1beta1.ModuleAccount" => {
            typed::<cosmos::auth::v1beta1::ModuleAccount>(raw, pool)
        }
        "/cosmos.crypto.secp256k1.PubKey" => typed::<cosmos::crypto::secp256k1::PubKey>(raw, pool),
        "/cosmos.crypto.ed25519.PubKey" => typed::<cosmos::crypto::ed25519::PubKey>(raw, pool),
        "/cosmos.tx.v1beta1.Tx" => typed::<cosmos::tx::v1beta1::Tx>(raw, pool),
        "/cosmos.bank.v1beta1.MsgSend" => typed::<cosmos::bank::v1beta1::MsgSend>(raw, pool),
        _ => {
            let desc = pool.get_message_by_name(url.strip_prefix('/')?)?;
            let msg = DynamicMessage::decode(desc, raw).ok()?;
            Some(dynamic_json(&msg, pool))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(copro_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn names_turn_snake_case() {
        assert_eq!(snake_case("LedgerAccount"), "ledger_account");
        assert_eq!(snake_case("accountNumber"), "account_number");
        assert_eq!(snake_case("address"), "address");
    }

    #[test]
    fn an_account_answer_is_gateway_json() {
        let account = cosmos::auth::v1beta1::BaseAccount {
            address: "copro1xyz".into(),
            pub_key: Some(cosmos_sdk_proto::Any {
                type_url: "/cosmos.crypto.secp256k1.PubKey".into(),
                value: cosmos::crypto::secp256k1::PubKey { key: vec![2; 33] }.encode_to_vec(),
            }),
            account_number: 7,
            sequence: u64::MAX,
        };
        let resp = cosmos::auth::v1beta1::QueryAccountResponse {
            account: Some(cosmos_sdk_proto::Any {
                type_url: "/cosmos.auth.v1beta1.BaseAccount".into(),
                value: account.encode_to_vec(),
            }),
        };
        let v = gateway_json(to_value(&resp), &pool());
        assert_eq!(v["account"]["@type"], "/cosmos.auth.v1beta1.BaseAccount");
        assert_eq!(v["account"]["address"], "copro1xyz");
        // 64-bit integers as strings, proto field names.
        assert_eq!(v["account"]["account_number"], "7");
        assert_eq!(v["account"]["sequence"], u64::MAX.to_string());
        // A nested Any is unpacked too, its bytes base64.
        assert_eq!(
            v["account"]["pub_key"]["@type"],
            "/cosmos.crypto.secp256k1.PubKey"
        );
        assert_eq!(v["account"]["pub_key"]["key"], BASE64.encode([2u8; 33]));
    }

    #[test]
    fn an_unknown_any_keeps_its_bytes_and_a_coprocessor_one_is_unpacked() {
        let pool = pool();
        let v = unpack_any("/x.y.Unknown", &[1, 2, 3], &pool);
        assert_eq!(v, json!({"@type": "/x.y.Unknown", "value": "AQID"}));
        let desc = pool
            .get_message_by_name("copro.coprocessor.v1.QueryRootRequest")
            .unwrap();
        let mut msg = DynamicMessage::new(desc);
        msg.set_field_by_name("height", prost_reflect::Value::U64(9));
        let v = unpack_any(
            "/copro.coprocessor.v1.QueryRootRequest",
            &msg.encode_to_vec(),
            &pool,
        );
        assert_eq!(
            v,
            json!({"@type": "/copro.coprocessor.v1.QueryRootRequest", "height": "9", "prove": false})
        );
    }

    #[test]
    fn query_parameters_fill_a_coprocessor_request_by_field_name() {
        let pool = pool();
        let desc = pool
            .get_message_by_name("copro.coprocessor.v1.QueryResultRequest")
            .unwrap();
        let params = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let msg = copro_request(&desc, &params(&[("id", "12"), ("prove", "true")])).unwrap();
        assert_eq!(msg.get_field_by_name("id").unwrap().as_u64(), Some(12));
        assert_eq!(
            msg.get_field_by_name("prove").unwrap().as_bool(),
            Some(true)
        );
        for (bad, says) in [
            (params(&[("nope", "1")]), "has no field nope"),
            (params(&[("id", "-1")]), "is not a number"),
            (params(&[("prove", "yes")]), "true or false"),
        ] {
            let e = copro_request(&desc, &bad).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument);
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    #[test]
    fn pagination_parameters_and_tx_bodies_are_checked() {
        let mut p = BTreeMap::new();
        assert_eq!(page_request(&p).unwrap(), None);
        p.insert("pagination.limit".to_string(), "5".to_string());
        p.insert("pagination.key".to_string(), "AQI=".to_string());
        let page = page_request(&p).unwrap().unwrap();
        assert_eq!((page.limit, page.key), (5, vec![1, 2]));
        p.insert("pagination.bogus".to_string(), "1".to_string());
        assert_eq!(page_request(&p).unwrap_err().code(), Code::InvalidArgument);

        assert_eq!(tx_body(br#"{"tx_bytes":"AQI="}"#).unwrap(), (vec![1, 2], 2));
        assert_eq!(
            tx_body(br#"{"tx_bytes":"AQI=","mode":"BROADCAST_MODE_ASYNC"}"#).unwrap(),
            (vec![1, 2], 3)
        );
        for bad in [
            &br#"{"tx_bytes":"%%%"}"#[..],
            br#"{"tx_bytes":"AQI=","mode":"BROADCAST_MODE_FAST"}"#,
            br#"{"tx":"AQI="}"#,
            b"not json",
        ] {
            assert_eq!(tx_body(bad).unwrap_err().code(), Code::InvalidArgument);
        }
    }

    #[test]
    fn grpc_codes_map_to_the_gateways_http_statuses() {
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(
            http_status(Code::Unimplemented),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            http_status(Code::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
