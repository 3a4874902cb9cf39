//! The ABCI server, over real sockets, under arbitrary requests: every
//! request of a known kind is answered in kind (an exception only where a
//! consensus request has no safe answer), no handler panics, and the
//! connection stays usable; bytes that are no ABCI request close only
//! their own connection.
//!
//! Requests are generated as protobuf "field soup": for each of the 16
//! request kinds, a message of random fields (numbers 1..=12, every wire
//! type, values at the edges: negative and extreme integers, strings that
//! are not UTF-8, hashes and addresses of every length, nested messages),
//! so every field of every request gets values the conversion refuses.
//! `COPRO_FUZZ_CASES` sets the number of cases (default 2000, about 2 s).

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use coprod::server::decode::Kind;
use coprod::service::AbciService;
use proptest::prelude::*;
use prost::Message;
use tendermint::v0_38::abci::Request;
use tendermint_proto::v0_38::abci as pb;

use common::*;

/// A server over an app at height 1, on a random local port.
struct Harness {
    addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let service = AbciService::new(app_in(dir.path()));
        runtime.spawn(coprod::server::run(
            listener,
            service,
            std::future::pending(),
        ));
        let harness = Self {
            addr,
            _runtime: runtime,
            _dir: dir,
        };
        // Genesis and one block, through the server, as CometBFT does it.
        let mut consensus = harness.connect();
        let alice = Signer::new(1);
        let genesis = genesis(&[(&alice, 1_000_000)]);
        for request in [
            Request::InitChain(init_chain_req(genesis)),
            Request::FinalizeBlock(finalize_req(1, vec![])),
            Request::Commit,
        ] {
            let kind = kind_of_request(&request);
            let answer = consensus.call(&pb::Request::from(request).encode_to_vec());
            assert_eq!(answer_kind(&answer), Answer::InKind(kind), "{answer:?}");
        }
        harness
    }

    fn connect(&self) -> Conn {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn { stream }
    }
}

struct Conn {
    stream: TcpStream,
}

impl Conn {
    fn send(&mut self, body: &[u8]) {
        let mut frame = Vec::with_capacity(body.len() + 10);
        prost::encoding::encode_varint(body.len() as u64, &mut frame);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame).unwrap();
    }

    /// The next response, or `None` when the server closed the connection.
    fn receive(&mut self) -> Option<pb::Response> {
        let mut len = 0u64;
        for i in 0..10 {
            let mut byte = [0u8];
            match self.stream.read(&mut byte) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("no answer from the server: {e}"),
            }
            len |= u64::from(byte[0] & 0x7f) << (7 * i);
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; usize::try_from(len).unwrap()];
        self.stream.read_exact(&mut body).unwrap();
        Some(pb::Response::decode(body.as_slice()).unwrap())
    }

    fn call(&mut self, body: &[u8]) -> pb::Response {
        self.send(body);
        self.receive().expect("the server closed the connection")
    }

    /// Whether the connection still answers an Echo with its message.
    fn echoes(&mut self, message: &str) -> bool {
        let echo = pb::Request {
            value: Some(pb::request::Value::Echo(pb::RequestEcho {
                message: message.to_string(),
            })),
        };
        self.send(&echo.encode_to_vec());
        matches!(
            self.receive(),
            Some(pb::Response { value: Some(pb::response::Value::Echo(e)) }) if e.message == message
        )
    }
}

#[derive(Debug, PartialEq)]
enum Answer {
    InKind(Kind),
    Exception(String),
    Nothing,
}

fn kind_of_request(request: &Request) -> Kind {
    let bytes = pb::Request::from(request.clone()).encode_to_vec();
    let field = prost::encoding::decode_key(&mut bytes.as_slice())
        .unwrap()
        .0;
    Kind::ALL
        .into_iter()
        .find(|k| k.field_number() == field)
        .unwrap()
}

/// The kind a response answers: its oneof field number is the request's
/// plus one (`exception = 1` comes first in `Response`).
fn answer_kind(response: &pb::Response) -> Answer {
    match &response.value {
        None => Answer::Nothing,
        Some(pb::response::Value::Exception(e)) => Answer::Exception(e.error.clone()),
        Some(_) => {
            let bytes = response.encode_to_vec();
            let field = if bytes.is_empty() {
                0
            } else {
                prost::encoding::decode_key(&mut bytes.as_slice())
                    .unwrap()
                    .0
            };
            Kind::ALL
                .into_iter()
                .find(|k| k.field_number() + 1 == field)
                .map_or(Answer::Nothing, Answer::InKind)
        }
    }
}

/// Consensus requests the app may refuse with an exception when their
/// contents make no sense for its state (a block at the wrong height, a
/// Commit without a block, a second genesis): CometBFT never sends those.
fn may_be_fatal(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::InitChain
            | Kind::FinalizeBlock
            | Kind::Commit
            | Kind::PrepareProposal
            | Kind::ProcessProposal
    )
}

/// One protobuf field with an arbitrary value.
#[derive(Clone, Debug)]
enum Field {
    Varint(u32, u64),
    Fixed32(u32, u32),
    Fixed64(u32, u64),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Field>),
}

fn encode(fields: &[Field], out: &mut Vec<u8>) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    for f in fields {
        match f {
            Field::Varint(n, v) => {
                encode_key(*n, WireType::Varint, out);
                encode_varint(*v, out);
            }
            Field::Fixed32(n, v) => {
                encode_key(*n, WireType::ThirtyTwoBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Fixed64(n, v) => {
                encode_key(*n, WireType::SixtyFourBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Bytes(n, b) => {
                encode_key(*n, WireType::LengthDelimited, out);
                encode_varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
            Field::Message(n, inner) => {
                let mut body = Vec::new();
                encode(inner, &mut body);
                encode_key(*n, WireType::LengthDelimited, out);
                encode_varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
        }
    }
}

fn edge_varint() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..4,
        Just(u64::MAX),
        Just(i64::MAX as u64),
        Just(i64::MIN as u64),
        Just((-1i64) as u64),
        Just((-5i64) as u64),
        Just(u64::from(u32::MAX)),
        Just(1u64 << 40),
        any::<u64>(),
    ]
}

fn edge_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![]),
        Just(b"/store/key".to_vec()),
        Just(b"/cosmos.bank.v1beta1.Query/Balance".to_vec()),
        Just(b"/cosmos.bank.v1beta1.Query/AllBalances".to_vec()),
        Just(b"/cosmos.auth.v1beta1.Query/Account".to_vec()),
        Just(b"/cosmos.tx.v1beta1.Service/Simulate".to_vec()),
        Just(vec![0x2f, 0xff]),
        Just(vec![0xc3, 0x28, 0xa0, 0xa1]),
        proptest::collection::vec(any::<u8>(), 20),
        proptest::collection::vec(any::<u8>(), 32),
        proptest::collection::vec(any::<u8>(), 0..96),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    let number = 1u32..=12;
    let leaf = prop_oneof![
        (number.clone(), edge_varint()).prop_map(|(n, v)| Field::Varint(n, v)),
        (number.clone(), any::<u32>()).prop_map(|(n, v)| Field::Fixed32(n, v)),
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
        (number.clone(), edge_bytes()).prop_map(|(n, b)| Field::Bytes(n, b)),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        (1u32..=12, proptest::collection::vec(inner, 0..6))
            .prop_map(|(n, fields)| Field::Message(n, fields))
    })
}

/// One frame to send: a request of `kind` made of `fields`, or raw bytes.
#[derive(Clone, Debug)]
enum Frame {
    Request { kind: Kind, fields: Vec<Field> },
    Raw(Vec<u8>),
}

/// A query that passes decoding (a real path, a height that is not
/// negative), so it reaches the query handlers, with data that is field
/// soup or random bytes.
fn handled_query() -> impl Strategy<Value = Frame> {
    let data = prop_oneof![
        proptest::collection::vec(field(), 0..6).prop_map(|fields| {
            let mut out = Vec::new();
            encode(&fields, &mut out);
            out
        }),
        edge_bytes(),
    ];
    let height = prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(i64::MAX as u64),
        0u64..10
    ];
    (edge_bytes(), data, height, any::<bool>()).prop_map(|(path, data, height, prove)| {
        Frame::Request {
            kind: Kind::Query,
            fields: vec![
                Field::Bytes(1, data),
                Field::Bytes(2, path),
                Field::Varint(3, height),
                Field::Varint(4, u64::from(prove)),
            ],
        }
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        12 => (0..Kind::ALL.len(), proptest::collection::vec(field(), 0..8))
            .prop_map(|(k, fields)| Frame::Request { kind: Kind::ALL[k], fields }),
        4 => handled_query(),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Raw),
    ]
}

impl Frame {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Frame::Request { kind, fields } => {
                let mut out = Vec::new();
                encode(
                    &[Field::Message(kind.field_number(), fields.clone())],
                    &mut out,
                );
                out
            }
            Frame::Raw(bytes) => bytes.clone(),
        }
    }
}

fn cases() -> u32 {
    std::env::var("COPRO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn arbitrary_requests_on_all_four_connections_are_answered_in_kind() {
    let harness = Harness::start();
    // consensus, mempool, query, snapshot: CometBFT's four connections.
    // proptest's closure is `Fn`: the connections live in a RefCell.
    let conns: RefCell<Vec<Conn>> = RefCell::new((0..4).map(|_| harness.connect()).collect());
    let counter = Cell::new(0u64);
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(frames in proptest::collection::vec((frame(), 0usize..4), 1..6))| {
        let mut conns = conns.borrow_mut();
        for (frame, conn) in frames {
            counter.set(counter.get() + 1);
            let ping = format!("ping {}", counter.get());
            let conn = &mut conns[conn];
            conn.send(&frame.bytes());
            let answer = conn.receive().map(|r| (answer_kind(&r), r));
            match (&frame, answer) {
                (_, None) => prop_assert!(false, "the server closed the connection on {frame:?}"),
                (_, Some((Answer::Exception(e), _))) if e.contains("panicked") => {
                    prop_assert!(false, "a handler panicked on {frame:?}: {e}")
                }
                (Frame::Request { kind, .. }, Some((answer, response))) => {
                    match answer {
                        Answer::InKind(k) => prop_assert_eq!(k, *kind, "{:?}", response),
                        Answer::Exception(e) => prop_assert!(
                            may_be_fatal(*kind),
                            "{kind} answered with an exception: {e}"
                        ),
                        Answer::Nothing => prop_assert!(false, "empty answer to {kind}"),
                    }
                    if let Some(pb::response::Value::Query(q)) = &response.value {
                        prop_assert!(!q.log.contains("panicked"), "{}", q.log);
                    }
                    if let Some(pb::response::Value::CheckTx(c)) = &response.value {
                        prop_assert!(!c.log.contains("panicked"), "{}", c.log);
                    }
                    prop_assert!(conn.echoes(&ping), "connection unusable after {frame:?}");
                }
                (Frame::Raw(_), Some((Answer::Exception(e), _))) => {
                    // Not an ABCI request: this one connection is closed,
                    // and a new one is served.
                    prop_assert!(e.starts_with("not an ABCI request"), "{e}");
                    prop_assert!(conn.receive().is_none(), "kept a non-ABCI connection open");
                    *conn = harness.connect();
                    prop_assert!(conn.echoes(&ping));
                }
                (Frame::Raw(_), Some(_)) => {
                    // Random bytes that happen to decode as a request.
                    prop_assert!(conn.echoes(&ping), "connection unusable after {frame:?}");
                }
            }
        }
    });
    // The app behind the server is intact: Info answers on every connection.
    for conn in conns.borrow_mut().iter_mut() {
        let info = conn.call(
            &pb::Request {
                value: Some(pb::request::Value::Info(Default::default())),
            }
            .encode_to_vec(),
        );
        assert_eq!(answer_kind(&info), Answer::InKind(Kind::Info));
    }
}

fn query(path: &[u8], height: i64, prove: bool) -> Vec<u8> {
    let mut body = Vec::new();
    prost::encoding::bytes::encode(1, &vec![0u8], &mut body);
    prost::encoding::bytes::encode(2, &path.to_vec(), &mut body);
    prost::encoding::int64::encode(3, &height, &mut body);
    prost::encoding::bool::encode(4, &prove, &mut body);
    let mut out = Vec::new();
    encode(&[Field::Bytes(Kind::Query.field_number(), body)], &mut out);
    out
}

#[test]
fn the_two_queries_that_halted_the_chain_get_error_codes() {
    let harness = Harness::start();
    let mut conn = harness.connect();
    for (bytes, code, words) in [
        (query(b"/store/key", -5, false), 18, "height -5 is negative"),
        (query(&[0x2f, 0xff], 0, false), 18, "not UTF-8 (0x2fff)"),
        (query(b"/store/key", i64::MAX, true), 26, "not available"),
        (query(b"/store/key", 1_000, false), 26, "not available"),
        (query(b"/no/such/path", 0, true), 6, "unknown query path"),
    ] {
        match conn.call(&bytes).value {
            Some(pb::response::Value::Query(q)) => {
                assert_eq!(q.code, code, "{}", q.log);
                assert!(q.log.contains(words), "{}", q.log);
                assert_eq!(q.codespace, "sdk");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(conn.echoes("still here"));
}

#[test]
fn a_non_abci_client_is_refused_and_the_others_go_on() {
    let harness = Harness::start();
    let mut cometbft = harness.connect();
    let mut http = TcpStream::connect(harness.addr).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    // The server explains and closes: read to the end.
    http.read_to_end(&mut reply).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("not an ABCI request"),
        "{reply:?}"
    );
    // A length prefix announcing far more than the limit is refused too.
    let mut huge = harness.connect();
    huge.stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
        .unwrap();
    assert!(huge.receive().is_none());
    assert!(cometbft.echoes("unaffected"));
}
