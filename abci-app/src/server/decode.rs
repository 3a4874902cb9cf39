//! From one frame's bytes to what the application is asked, without ever
//! failing: a well-formed request becomes a tendermint-rs domain
//! [`Request`]; a request of a known kind whose contents cannot be decoded or
//! converted becomes [`Incoming::Malformed`], which the service answers in
//! kind (a query gets an error code, a proposal is rejected, ...); bytes
//! that name no ABCI request at all are [`NotAbci`].
//!
//! Why not `Request::try_from(pb::Request::decode(..)?)` and be done: a
//! decode or conversion failure there has no request kind attached, so
//! nobody can answer it, and tower-abci turned it into a dead connection.
//! Here the kind is found first, from the envelope's oneof field number,
//! even when the message inside it does not decode (a query path that is
//! not UTF-8 fails prost's decoding of the whole envelope).

use std::fmt;

use bytes::Bytes;
use prost::Message;
use tendermint::v0_38::abci::{Request, request};
use tendermint_proto::v0_38::abci as pb;

/// The kinds of ABCI 2.0 request, numbered as the fields of the
/// `tendermint.abci.Request` oneof (v0.38).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `echo = 1`.
    Echo,
    /// `flush = 2`.
    Flush,
    /// `info = 3`.
    Info,
    /// `init_chain = 5`.
    InitChain,
    /// `query = 6`.
    Query,
    /// `check_tx = 8`.
    CheckTx,
    /// `commit = 11`.
    Commit,
    /// `list_snapshots = 12`.
    ListSnapshots,
    /// `offer_snapshot = 13`.
    OfferSnapshot,
    /// `load_snapshot_chunk = 14`.
    LoadSnapshotChunk,
    /// `apply_snapshot_chunk = 15`.
    ApplySnapshotChunk,
    /// `prepare_proposal = 16`.
    PrepareProposal,
    /// `process_proposal = 17`.
    ProcessProposal,
    /// `extend_vote = 18`.
    ExtendVote,
    /// `verify_vote_extension = 19`.
    VerifyVoteExtension,
    /// `finalize_block = 20`.
    FinalizeBlock,
}

impl Kind {
    /// Every kind, in field-number order.
    pub const ALL: [Kind; 16] = [
        Kind::Echo,
        Kind::Flush,
        Kind::Info,
        Kind::InitChain,
        Kind::Query,
        Kind::CheckTx,
        Kind::Commit,
        Kind::ListSnapshots,
        Kind::OfferSnapshot,
        Kind::LoadSnapshotChunk,
        Kind::ApplySnapshotChunk,
        Kind::PrepareProposal,
        Kind::ProcessProposal,
        Kind::ExtendVote,
        Kind::VerifyVoteExtension,
        Kind::FinalizeBlock,
    ];

    /// The field number of this kind in the `Request` oneof (the same
    /// number carries its answer in the `Response` oneof, plus one for
    /// `exception = 1`).
    pub fn field_number(self) -> u32 {
        match self {
            Kind::Echo => 1,
            Kind::Flush => 2,
            Kind::Info => 3,
            Kind::InitChain => 5,
            Kind::Query => 6,
            Kind::CheckTx => 8,
            Kind::Commit => 11,
            Kind::ListSnapshots => 12,
            Kind::OfferSnapshot => 13,
            Kind::LoadSnapshotChunk => 14,
            Kind::ApplySnapshotChunk => 15,
            Kind::PrepareProposal => 16,
            Kind::ProcessProposal => 17,
            Kind::ExtendVote => 18,
            Kind::VerifyVoteExtension => 19,
            Kind::FinalizeBlock => 20,
        }
    }

    /// The request's name in the ABCI spec (`check_tx`, `finalize_block`,
    /// ...): the `method` label of the app's metrics.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::Flush => "flush",
            Kind::Info => "info",
            Kind::InitChain => "init_chain",
            Kind::Query => "query",
            Kind::CheckTx => "check_tx",
            Kind::Commit => "commit",
            Kind::ListSnapshots => "list_snapshots",
            Kind::OfferSnapshot => "offer_snapshot",
            Kind::LoadSnapshotChunk => "load_snapshot_chunk",
            Kind::ApplySnapshotChunk => "apply_snapshot_chunk",
            Kind::PrepareProposal => "prepare_proposal",
            Kind::ProcessProposal => "process_proposal",
            Kind::ExtendVote => "extend_vote",
            Kind::VerifyVoteExtension => "verify_vote_extension",
            Kind::FinalizeBlock => "finalize_block",
        }
    }

    fn from_field_number(n: u64) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| u64::from(k.field_number()) == n)
    }

    fn of(value: &pb::request::Value) -> Kind {
        use pb::request::Value as V;
        match value {
            V::Echo(_) => Kind::Echo,
            V::Flush(_) => Kind::Flush,
            V::Info(_) => Kind::Info,
            V::InitChain(_) => Kind::InitChain,
            V::Query(_) => Kind::Query,
            V::CheckTx(_) => Kind::CheckTx,
            V::Commit(_) => Kind::Commit,
            V::ListSnapshots(_) => Kind::ListSnapshots,
            V::OfferSnapshot(_) => Kind::OfferSnapshot,
            V::LoadSnapshotChunk(_) => Kind::LoadSnapshotChunk,
            V::ApplySnapshotChunk(_) => Kind::ApplySnapshotChunk,
            V::PrepareProposal(_) => Kind::PrepareProposal,
            V::ProcessProposal(_) => Kind::ProcessProposal,
            V::ExtendVote(_) => Kind::ExtendVote,
            V::VerifyVoteExtension(_) => Kind::VerifyVoteExtension,
            V::FinalizeBlock(_) => Kind::FinalizeBlock,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What one frame asks of the application.
#[derive(Debug)]
pub enum Incoming {
    /// A well-formed request.
    Request(Request),
    /// A request of a known kind whose contents cannot be read; `reason`
    /// says what is wrong, for the response's log.
    Malformed {
        /// The request's kind.
        kind: Kind,
        /// What is wrong with it.
        reason: String,
    },
}

impl Incoming {
    /// The kind of request this frame carries, read or not.
    pub fn kind(&self) -> Kind {
        match self {
            Incoming::Malformed { kind, .. } => *kind,
            Incoming::Request(request) => match request {
                Request::Echo(_) => Kind::Echo,
                Request::Flush => Kind::Flush,
                Request::Info(_) => Kind::Info,
                Request::InitChain(_) => Kind::InitChain,
                Request::Query(_) => Kind::Query,
                Request::CheckTx(_) => Kind::CheckTx,
                Request::Commit => Kind::Commit,
                Request::ListSnapshots => Kind::ListSnapshots,
                Request::OfferSnapshot(_) => Kind::OfferSnapshot,
                Request::LoadSnapshotChunk(_) => Kind::LoadSnapshotChunk,
                Request::ApplySnapshotChunk(_) => Kind::ApplySnapshotChunk,
                Request::PrepareProposal(_) => Kind::PrepareProposal,
                Request::ProcessProposal(_) => Kind::ProcessProposal,
                Request::ExtendVote(_) => Kind::ExtendVote,
                Request::VerifyVoteExtension(_) => Kind::VerifyVoteExtension,
                Request::FinalizeBlock(_) => Kind::FinalizeBlock,
            },
        }
    }
}

/// Bytes that name no ABCI request: the peer is not CometBFT.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotAbci(pub String);

/// Classifies one frame body. Never panics, whatever the bytes.
pub fn incoming(frame: &[u8]) -> Result<Incoming, NotAbci> {
    match pb::Request::decode(frame) {
        Ok(pb::Request { value: Some(value) }) => Ok(convert(value)),
        Ok(pb::Request { value: None }) => {
            Err(NotAbci("the message carries no ABCI request".into()))
        }
        Err(envelope_error) => match find_kind(frame) {
            Some((kind, body)) => Ok(Incoming::Malformed {
                kind,
                reason: describe_undecodable(kind, body, &envelope_error),
            }),
            None => Err(NotAbci(envelope_error.to_string())),
        },
    }
}

/// Bytes of a frame needed by [`check_head`]: the envelope's first key,
/// one byte for request kinds 1..=15, two for 16..=20.
pub const HEAD_BYTES: u64 = 2;

/// Checks the first bytes of a frame (up to [`HEAD_BYTES`]) before the rest
/// arrives. A `tendermint.abci.Request` is a oneof of messages, so its
/// encoding opens with the key of a known request field and wire type 2.
/// Anything else is no ABCI request, and is refused at once instead of
/// waiting for a body that will never come: an HTTP client's `GET / ...`
/// reads as a 71-byte frame opening with `E` (field 8, wire type 5).
pub fn check_head(head: &[u8]) -> Result<(), NotAbci> {
    let refuse = || {
        NotAbci(format!(
            "its first bytes (0x{}) open no ABCI request",
            hex::encode(head)
        ))
    };
    let key = match head {
        [] => return Ok(()),
        [b, ..] if *b < 0x80 => u64::from(*b),
        [b0, b1] if *b1 < 0x80 => u64::from(b0 & 0x7f) | (u64::from(*b1) << 7),
        _ => return Err(refuse()),
    };
    if key & 7 == 2 && Kind::from_field_number(key >> 3).is_some() {
        Ok(())
    } else {
        Err(refuse())
    }
}

fn convert(value: pb::request::Value) -> Incoming {
    use pb::request::Value as V;
    let kind = Kind::of(&value);
    let converted = match value {
        // Say what the client should have sent (the conversion's own error
        // only says "negative height").
        V::Query(q) if q.height < 0 => Err(format!(
            "height {} is negative: ask for 0 (the latest state) or a committed height",
            q.height
        )),
        V::PrepareProposal(p) => convert_block(p).map(Request::PrepareProposal),
        V::ProcessProposal(p) => convert_block(p).map(Request::ProcessProposal),
        V::FinalizeBlock(p) => convert_block(p).map(Request::FinalizeBlock),
        other => Request::try_from(pb::Request { value: Some(other) }).map_err(|e| e.to_string()),
    };
    match converted {
        Ok(request) => Incoming::Request(request),
        Err(reason) => Incoming::Malformed { kind, reason },
    }
}

/// The block requests (PrepareProposal, ProcessProposal, FinalizeBlock):
/// the fields the app reads, and the ones it does not.
///
/// The app reads only the height, the block hash, `max_tx_bytes` and the
/// txs. Evidence, commit info, the next validators' hash and the proposer
/// address are CometBFT's business; tendermint-rs validates them strictly
/// (a misbehavior type it does not know, a validator address that is not
/// 20 bytes), and a block must not become unexecutable because of a field
/// the app never looks at. So when the strict conversion fails, it is
/// retried with those fields reset. If the app ever starts reading one of
/// them, remove it from `reset_unread_fields`.
trait BlockRequest: Clone + Sized {
    type Domain: TryFrom<Self, Error = tendermint::Error>;
    fn take_txs(&mut self) -> Vec<Bytes>;
    fn put_txs(domain: &mut Self::Domain, txs: Vec<Bytes>);
    fn reset_unread_fields(&mut self);
}

/// A proposer address that converts (tendermint-rs wants exactly 20 bytes).
fn placeholder_address() -> Bytes {
    Bytes::from_static(&[0u8; 20])
}

impl BlockRequest for pb::RequestPrepareProposal {
    type Domain = request::PrepareProposal;
    fn take_txs(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.txs)
    }
    fn put_txs(domain: &mut Self::Domain, txs: Vec<Bytes>) {
        domain.txs = txs;
    }
    fn reset_unread_fields(&mut self) {
        self.local_last_commit = None;
        self.misbehavior.clear();
        self.next_validators_hash = Bytes::new();
        self.proposer_address = placeholder_address();
    }
}

impl BlockRequest for pb::RequestProcessProposal {
    type Domain = request::ProcessProposal;
    fn take_txs(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.txs)
    }
    fn put_txs(domain: &mut Self::Domain, txs: Vec<Bytes>) {
        domain.txs = txs;
    }
    fn reset_unread_fields(&mut self) {
        self.proposed_last_commit = Some(Default::default());
        self.misbehavior.clear();
        self.next_validators_hash = Bytes::new();
        self.proposer_address = placeholder_address();
    }
}

impl BlockRequest for pb::RequestFinalizeBlock {
    type Domain = request::FinalizeBlock;
    fn take_txs(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.txs)
    }
    fn put_txs(domain: &mut Self::Domain, txs: Vec<Bytes>) {
        domain.txs = txs;
    }
    fn reset_unread_fields(&mut self) {
        self.decided_last_commit = Some(Default::default());
        self.misbehavior.clear();
        self.next_validators_hash = Bytes::new();
        self.proposer_address = placeholder_address();
    }
}

fn convert_block<P: BlockRequest>(mut message: P) -> Result<P::Domain, String> {
    // The txs convert as they are; moving them out keeps the fallback copy
    // cheap however large the block.
    let txs = message.take_txs();
    let mut fallback = message.clone();
    let mut domain = match P::Domain::try_from(message) {
        Ok(domain) => domain,
        Err(strict) => {
            fallback.reset_unread_fields();
            let domain = P::Domain::try_from(fallback).map_err(|_| strict.to_string())?;
            tracing::warn!(error = %strict, "ignored block fields the app does not read");
            domain
        }
    };
    P::put_txs(&mut domain, txs);
    Ok(domain)
}

/// Finds the request kind in an envelope that did not decode: the last
/// oneof field with a length-delimited value (protobuf's rule for a oneof
/// seen twice), provided the envelope is well-formed at the wire level.
/// Returns the kind and the bytes of its message.
fn find_kind(frame: &[u8]) -> Option<(Kind, &[u8])> {
    let mut rest = frame;
    let mut found = None;
    while !rest.is_empty() {
        let key = take_varint(&mut rest)?;
        let field = key >> 3;
        if field == 0 {
            return None;
        }
        match key & 7 {
            0 => {
                take_varint(&mut rest)?;
            }
            1 => rest = rest.get(8..)?,
            2 => {
                let len = usize::try_from(take_varint(&mut rest)?).ok()?;
                let body = rest.get(..len)?;
                rest = rest.get(len..)?;
                if let Some(kind) = Kind::from_field_number(field) {
                    found = Some((kind, body));
                }
            }
            5 => rest = rest.get(4..)?,
            // Groups (3, 4) are not proto3; 6 and 7 are not wire types.
            _ => return None,
        }
    }
    found
}

fn take_varint(buf: &mut &[u8]) -> Option<u64> {
    prost::encoding::decode_varint(buf).ok()
}

/// A query as raw bytes: the one request whose string field carries user
/// input (the path, from the RPC `abci_query`), decoded leniently to say
/// what is wrong with it.
#[derive(Clone, PartialEq, prost::Message)]
struct LenientQuery {
    #[prost(bytes = "vec", tag = "2")]
    path: Vec<u8>,
}

fn describe_undecodable(kind: Kind, body: &[u8], envelope_error: &prost::DecodeError) -> String {
    if kind == Kind::Query
        && let Ok(q) = LenientQuery::decode(body)
        && std::str::from_utf8(&q.path).is_err()
    {
        return format!(
            "the query path is not UTF-8 (0x{}); paths are names such as \
             /cosmos.bank.v1beta1.Query/Balance or /store/key",
            hex::encode(&q.path[..q.path.len().min(64)])
        );
    }
    format!("the {kind} request does not decode: {envelope_error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(field: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    fn query(path: &[u8], height: i64) -> Vec<u8> {
        let mut body = Vec::new();
        prost::encoding::bytes::encode(2, &path.to_vec(), &mut body);
        prost::encoding::int64::encode(3, &height, &mut body);
        envelope(Kind::Query.field_number(), &body)
    }

    fn malformed(incoming: Result<Incoming, NotAbci>) -> (Kind, String) {
        match incoming {
            Ok(Incoming::Malformed { kind, reason }) => (kind, reason),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn field_numbers_match_the_generated_oneof() {
        use pb::request::Value as V;
        let samples = [
            V::Echo(Default::default()),
            V::Flush(Default::default()),
            V::Info(Default::default()),
            V::InitChain(Default::default()),
            V::Query(Default::default()),
            V::CheckTx(Default::default()),
            V::Commit(Default::default()),
            V::ListSnapshots(Default::default()),
            V::OfferSnapshot(Default::default()),
            V::LoadSnapshotChunk(Default::default()),
            V::ApplySnapshotChunk(Default::default()),
            V::PrepareProposal(Default::default()),
            V::ProcessProposal(Default::default()),
            V::ExtendVote(Default::default()),
            V::VerifyVoteExtension(Default::default()),
            V::FinalizeBlock(Default::default()),
        ];
        for value in samples {
            let kind = Kind::of(&value);
            let bytes = pb::Request { value: Some(value) }.encode_to_vec();
            let (found, _) = find_kind(&bytes).unwrap();
            assert_eq!(found, kind);
        }
    }

    #[test]
    fn every_request_opens_with_a_head_that_passes_and_other_protocols_fail() {
        for kind in Kind::ALL {
            let bytes = envelope(kind.field_number(), &[]);
            let head = &bytes[..bytes.len().min(HEAD_BYTES as usize)];
            assert!(check_head(head).is_ok(), "{kind}");
        }
        for probe in [
            &b"GET / HTTP/1.1"[..],
            b"POST /",
            b"HEAD /",
            b"PUT /",
            b"OPTIONS",
            b"PRI * HTTP/2.0",
            b"SSH-2.0",
            &[0x16, 0x03, 0x01], // TLS ClientHello
        ] {
            // The first byte is the length prefix; the head follows.
            let head = &probe[1..3];
            assert!(check_head(head).is_err(), "{probe:?}");
        }
        // Field 4 (set_option, reserved) and a key of three bytes.
        assert!(check_head(&[0x22]).is_err());
        assert!(check_head(&[0x82]).is_err());
        assert!(check_head(&[0x82, 0x81]).is_err());
    }

    #[test]
    fn a_negative_query_height_is_malformed_with_advice() {
        let (kind, reason) = malformed(incoming(&query(b"/store/key", -5)));
        assert_eq!(kind, Kind::Query);
        assert!(reason.contains("height -5 is negative"), "{reason}");
    }

    #[test]
    fn a_query_path_that_is_not_utf8_is_malformed_and_named() {
        let (kind, reason) = malformed(incoming(&query(&[0x2f, 0xff], 0)));
        assert_eq!(kind, Kind::Query);
        assert!(reason.contains("not UTF-8 (0x2fff)"), "{reason}");
    }

    #[test]
    fn a_well_formed_query_converts() {
        match incoming(&query(b"/store/key", i64::MAX)) {
            Ok(Incoming::Request(Request::Query(q))) => {
                assert_eq!(q.path, "/store/key");
                assert_eq!(q.height.value(), i64::MAX as u64);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_check_tx_type_is_malformed() {
        let mut body = Vec::new();
        prost::encoding::bytes::encode(1, &vec![1u8, 2, 3], &mut body);
        prost::encoding::int32::encode(2, &7, &mut body);
        let (kind, _) = malformed(incoming(&envelope(Kind::CheckTx.field_number(), &body)));
        assert_eq!(kind, Kind::CheckTx);
    }

    #[test]
    fn bytes_that_name_no_request_are_not_abci() {
        for bytes in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &[],
            &[0x08, 0x01],             // a varint field 1: no request in it
            &[0x32, 0x05, 0x01],       // query whose body is cut
            &[0xff, 0xff, 0xff, 0xff], // not even a key
        ] {
            assert!(
                incoming(bytes).is_err(),
                "{bytes:?} was taken for a request"
            );
        }
    }

    fn finalize_block(misbehavior_type: i32, proposer: &[u8]) -> pb::RequestFinalizeBlock {
        pb::RequestFinalizeBlock {
            txs: vec![Bytes::from_static(b"tx1"), Bytes::from_static(b"tx2")],
            decided_last_commit: Some(Default::default()),
            misbehavior: vec![pb::Misbehavior {
                r#type: misbehavior_type,
                validator: Some(pb::Validator {
                    address: vec![1u8; 20].into(),
                    power: 1,
                }),
                height: 1,
                time: Some(Default::default()),
                total_voting_power: 1,
            }],
            hash: vec![9u8; 32].into(),
            height: 7,
            time: Some(Default::default()),
            next_validators_hash: vec![3u8; 32].into(),
            proposer_address: proposer.to_vec().into(),
        }
    }

    #[test]
    fn block_fields_the_app_does_not_read_cannot_stop_a_block() {
        // A misbehavior type tendermint-rs does not know, and a proposer
        // address of the wrong length: the strict conversion fails, the
        // block still converts with its txs, hash and height intact.
        let msg = finalize_block(99, &[1, 2, 3]);
        let bytes = pb::Request {
            value: Some(pb::request::Value::FinalizeBlock(msg)),
        }
        .encode_to_vec();
        match incoming(&bytes) {
            Ok(Incoming::Request(Request::FinalizeBlock(b))) => {
                assert_eq!(b.txs.len(), 2);
                assert_eq!(b.txs[1].as_ref(), b"tx2");
                assert_eq!(b.height.value(), 7);
                assert_eq!(b.hash.as_bytes(), &[9u8; 32]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_well_formed_block_keeps_every_field() {
        let msg = finalize_block(1, &[5u8; 20]);
        let bytes = pb::Request {
            value: Some(pb::request::Value::FinalizeBlock(msg)),
        }
        .encode_to_vec();
        match incoming(&bytes) {
            Ok(Incoming::Request(Request::FinalizeBlock(b))) => {
                assert_eq!(b.misbehavior.len(), 1);
                assert_eq!(b.proposer_address.as_bytes(), &[5u8; 20]);
                assert_eq!(b.txs.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_block_whose_read_fields_are_bad_is_malformed() {
        let mut msg = finalize_block(1, &[5u8; 20]);
        msg.height = -1;
        let bytes = pb::Request {
            value: Some(pb::request::Value::FinalizeBlock(msg)),
        }
        .encode_to_vec();
        let (kind, _) = malformed(incoming(&bytes));
        assert_eq!(kind, Kind::FinalizeBlock);
    }
}
