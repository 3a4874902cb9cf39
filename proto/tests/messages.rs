//! Every message round-trips with every field set; type URLs and the `Msg` and
//! `Query` services are exactly the protocol's.

use std::collections::BTreeSet;

use copro_proto::FILE_DESCRIPTOR_SET;
use copro_proto::coprocessor::v1::*;
use prost::{Message, Name};
use prost_types::{DescriptorProto, FileDescriptorSet};

const PACKAGE: &str = "copro.coprocessor.v1";

fn descriptor() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set decodes")
}

fn message_descriptor(name: &str) -> DescriptorProto {
    descriptor()
        .file
        .into_iter()
        .filter(|f| f.package() == PACKAGE)
        .flat_map(|f| f.message_type)
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("{name} is not in the descriptor set"))
}

/// Reads one varint; `None` at a truncated or over-long one.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The field numbers present at the top level of an encoded message.
fn top_level_fields(mut bytes: &[u8]) -> BTreeSet<u32> {
    let mut fields = BTreeSet::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes).expect("field key");
        let number = u32::try_from(key >> 3).expect("field number fits u32");
        let skip = match key & 7 {
            0 => {
                varint(&mut bytes).expect("varint value");
                0
            }
            1 => 8,
            2 => usize::try_from(varint(&mut bytes).expect("length")).expect("length fits"),
            5 => 4,
            other => panic!("unexpected wire type {other}"),
        };
        bytes = &bytes[skip..];
        fields.insert(number);
    }
    fields
}

/// Encodes `msg`, decodes it back, and checks it is unchanged and that the
/// encoding carries every field the descriptor declares (so the sample sets
/// every field and none is lost). Returns the message name.
fn check_round_trip<M: Message + Name + Default + PartialEq + std::fmt::Debug>(msg: M) -> String {
    let bytes = msg.encode_to_vec();
    let back = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(back, msg, "{} changed in a round trip", M::NAME);
    let declared: BTreeSet<u32> = message_descriptor(M::NAME)
        .field
        .iter()
        .map(|f| u32::try_from(f.number()).expect("positive field number"))
        .collect();
    assert_eq!(
        top_level_fields(&bytes),
        declared,
        "the {} sample must set every declared field",
        M::NAME
    );
    M::NAME.to_owned()
}

/// A field element's 32 big-endian bytes, distinct per `n`.
fn fe(n: u8) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b[0] = 0x11;
    b[31] = n;
    b
}

/// An off-chain entry: recipient by index (`which` odd) or a new address.
fn offchain_entry(which: u8) -> OffchainEntry {
    OffchainEntry {
        from_index: 1,
        amount: 30,
        recipient: Some(if which % 2 == 1 {
            offchain_entry::Recipient::ToIndex(2)
        } else {
            offchain_entry::Recipient::ToAddress(vec![7; 20])
        }),
    }
}

fn params() -> Params {
    Params {
        ledger_denom: "ucopro".into(),
        tree_arity: 4,
        tree_depth: 16,
        inclusion_delay_blocks: 10,
    }
}

fn program() -> Program {
    Program {
        id: "transfer".into(),
        version: 2,
        verifying_key: vec![0xaa; 532],
        vk_hash: fe(9),
        batch_size: 8,
        tree_arity: 4,
        tree_depth: 16,
        status: ProgramStatus::Frozen.into(),
        registered_height: 77,
        offchain_batch_size: 2,
    }
}

fn queue_entry() -> QueueEntry {
    QueueEntry {
        sequence: 5,
        kind: EntryKind::Transfer.into(),
        from_address: "copro1from".into(),
        from_index: 3,
        from_key: fe(1),
        to_address: "copro1to".into(),
        to_index: 4,
        to_key: fe(2),
        amount: 1_000,
        nonce: 6,
        enqueue_height: 40,
        chain_hash: fe(3),
        spending_key: vec![0x5a; 32],
    }
}

fn queue_state() -> QueueState {
    QueueState {
        next_sequence: 12,
        settled_up_to: 5,
        head_hash: fe(4),
        settled_hash: fe(5),
    }
}

fn payout(sequence: u64) -> Payout {
    Payout {
        sequence,
        recipient: "copro1payee".into(),
        ledger_index: 3,
        amount: 250,
    }
}

fn result() -> VerifiedResult {
    VerifiedResult {
        id: 3,
        program_id: "transfer".into(),
        program_version: 1,
        start_sequence: 5,
        end_sequence: 9,
        old_root: fe(6),
        new_root: fe(7),
        queue_before: fe(5),
        queue_after: fe(8),
        deltas_commitment: fe(10),
        withdrawals: vec![payout(6)],
        refunds: vec![payout(7)],
        height: 50,
        tx_hash: fe(11),
        offchain_count: 2,
        alloc_start: 4,
        created: 1,
    }
}

fn ledger_account() -> LedgerAccount {
    LedgerAccount {
        address: "copro1owner".into(),
        ledger_index: 3,
        key: fe(1),
        balance: 900,
        nonce: 7,
        spending_key: vec![0x5a; 32],
    }
}

fn root_record() -> RootRecord {
    RootRecord {
        set_height: 50,
        root: fe(7),
        history_index: 3,
        history_root: fe(12),
    }
}

fn page_request() -> Option<PageRequest> {
    Some(PageRequest {
        key: 5u64.to_be_bytes().to_vec(),
        limit: 10,
    })
}

fn page_response() -> Option<PageResponse> {
    Some(PageResponse {
        next_key: 15u64.to_be_bytes().to_vec(),
    })
}

#[test]
fn every_message_round_trips_with_every_field_set() {
    // `OffchainEntry` has a oneof: each recipient in its own sample.
    for e in [offchain_entry(1), offchain_entry(2)] {
        let back = OffchainEntry::decode(e.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(back, e);
    }
    let to_index = top_level_fields(&offchain_entry(1).encode_to_vec());
    let to_address = top_level_fields(&offchain_entry(2).encode_to_vec());
    let declared: BTreeSet<u32> = message_descriptor("OffchainEntry")
        .field
        .iter()
        .map(|f| u32::try_from(f.number()).expect("positive"))
        .collect();
    assert_eq!(
        to_index
            .union(&to_address)
            .copied()
            .collect::<BTreeSet<_>>(),
        declared
    );
    let checked: BTreeSet<String> = [
        // coprocessor.proto
        check_round_trip(params()),
        check_round_trip(program()),
        check_round_trip(queue_entry()),
        check_round_trip(queue_state()),
        check_round_trip(EntryEffect {
            status: EntryStatus::Rejected.into(),
            from_balance: 1,
            from_nonce: 2,
            to_balance: 3,
        }),
        check_round_trip(payout(1)),
        check_round_trip(result()),
        check_round_trip(ledger_account()),
        check_round_trip(root_record()),
        check_round_trip(page_request().unwrap()),
        check_round_trip(page_response().unwrap()),
        // tx.proto
        check_round_trip(MsgDeposit {
            signer: "copro1alice".into(),
            amount: 500,
        }),
        check_round_trip(MsgDepositResponse {
            sequence: 8,
            ledger_index: 2,
        }),
        check_round_trip(MsgTransfer {
            signer: "copro1alice".into(),
            recipient: "copro1bob".into(),
            amount: 20,
        }),
        check_round_trip(MsgTransferResponse { sequence: 9 }),
        check_round_trip(MsgWithdraw {
            signer: "copro1alice".into(),
            amount: 30,
        }),
        check_round_trip(MsgWithdrawResponse { sequence: 10 }),
        check_round_trip(MsgSubmitProof {
            signer: "copro1prover".into(),
            program_id: "transfer".into(),
            program_version: 1,
            old_root: fe(6),
            new_root: fe(7),
            start_sequence: 5,
            end_sequence: 7,
            effects: vec![
                EntryEffect {
                    status: EntryStatus::Applied.into(),
                    from_balance: 80,
                    from_nonce: 5,
                    to_balance: 20,
                },
                EntryEffect {
                    status: EntryStatus::Rejected.into(),
                    ..EntryEffect::default()
                },
            ],
            proof: vec![0xbb; 192],
            offchain: vec![offchain_entry(3)],
            alloc_start: 4,
        }),
        check_round_trip(MsgSubmitProofResponse { result_id: 3 }),
        check_round_trip(MsgRegisterProgram {
            authority: "copro1gov".into(),
            program_id: "transfer".into(),
            version: 1,
            verifying_key: vec![0xaa; 532],
            vk_hash: fe(9),
            batch_size: 8,
            tree_arity: 4,
            tree_depth: 16,
            offchain_batch_size: 2,
        }),
        check_round_trip(MsgRegisterProgramResponse {}),
        check_round_trip(MsgUpdateProgram {
            authority: "copro1gov".into(),
            program_id: "transfer".into(),
            version: 2,
            verifying_key: vec![0xcc; 532],
            vk_hash: fe(13),
            batch_size: 32,
            tree_arity: 4,
            tree_depth: 16,
            offchain_batch_size: 2,
        }),
        check_round_trip(MsgUpdateProgramResponse { frozen_version: 1 }),
        check_round_trip(MsgSetProver {
            authority: "copro1gov".into(),
            prover: "copro1prover2".into(),
        }),
        check_round_trip(MsgSetProverResponse {}),
        // query.proto
        check_round_trip(QueryParamsRequest {}),
        check_round_trip(QueryParamsResponse {
            params: Some(params()),
            authority: "copro1gov".into(),
            prover: "copro1prover".into(),
        }),
        check_round_trip(QueryRootRequest {
            height: 50,
            prove: true,
        }),
        check_round_trip(QueryRootResponse {
            height: 50,
            root: Some(root_record()),
            proof: vec![1, 2, 3],
        }),
        check_round_trip(QueryLedgerAccountRequest {
            address: "copro1owner".into(),
            prove: true,
        }),
        check_round_trip(QueryLedgerAccountResponse {
            height: 51,
            account: Some(ledger_account()),
            proof: vec![4, 5],
        }),
        check_round_trip(QueryQueueRequest {
            pagination: page_request(),
        }),
        check_round_trip(QueryQueueResponse {
            state: Some(queue_state()),
            entries: vec![queue_entry()],
            pagination: page_response(),
        }),
        check_round_trip(QueryProgramRequest {
            program_id: "transfer".into(),
            version: 2,
        }),
        check_round_trip(QueryProgramResponse {
            program: Some(program()),
        }),
        check_round_trip(QueryResultRequest { id: 3, prove: true }),
        check_round_trip(QueryResultResponse {
            height: 52,
            result: Some(result()),
            proof: vec![6],
        }),
        check_round_trip(QueryCallbackRequest {
            sequence: 7,
            prove: true,
        }),
        check_round_trip(QueryCallbackResponse {
            height: 53,
            callback: Some(CallbackRecord {
                sequence: 7,
                contract: "copro1contract".into(),
                gas_limit: 300_000,
                status: CallbackStatus::Succeeded as i32,
                result_id: 2,
                gas_used: 76_544,
                error: "e".into(),
            }),
            proof: vec![7],
        }),
        check_round_trip(QueryResultsRequest {
            from_height: 40,
            pagination: page_request(),
        }),
        check_round_trip(QueryResultsResponse {
            results: vec![result(), result()],
            pagination: page_response(),
        }),
        // genesis.proto
        check_round_trip(GenesisState {
            params: Some(params()),
            authority: "copro1gov".into(),
            prover: "copro1prover".into(),
            programs: vec![program()],
        }),
        // events.proto
        check_round_trip(EventDepositEnqueued {
            sequence: 1,
            depositor: "copro1alice".into(),
            ledger_index: 2,
            amount: 500,
            chain_hash: fe(14),
        }),
        check_round_trip(EventTransferEnqueued {
            sequence: 2,
            sender: "copro1alice".into(),
            sender_index: 2,
            recipient: "copro1bob".into(),
            recipient_index: 3,
            amount: 20,
            nonce: 4,
            chain_hash: fe(15),
        }),
        check_round_trip(EventWithdrawEnqueued {
            sequence: 3,
            sender: "copro1alice".into(),
            sender_index: 2,
            amount: 30,
            nonce: 5,
            chain_hash: fe(16),
        }),
        check_round_trip(EventProofAccepted {
            result_id: 3,
            program_id: "transfer".into(),
            program_version: 1,
            start_sequence: 5,
            end_sequence: 9,
            old_root: fe(6),
            new_root: fe(7),
        }),
        check_round_trip(EventWithdrawalPaid {
            result_id: 3,
            sequence: 6,
            recipient: "copro1alice".into(),
            ledger_index: 2,
            amount: 30,
        }),
        check_round_trip(EventDepositRefunded {
            result_id: 3,
            sequence: 7,
            recipient: "copro1carol".into(),
            ledger_index: 4,
            amount: 40,
        }),
        check_round_trip(EventProgramRegistered {
            program_id: "transfer".into(),
            version: 1,
            vk_hash: fe(9),
            batch_size: 8,
        }),
        check_round_trip(EventProgramUpdated {
            program_id: "transfer".into(),
            version: 2,
            frozen_version: 1,
            vk_hash: fe(13),
            batch_size: 32,
        }),
        check_round_trip(EventProverSet {
            previous_prover: "copro1prover".into(),
            prover: "copro1prover2".into(),
        }),
        check_round_trip(MsgSetLedgerKey {
            signer: "copro1alice".into(),
            spending_key: vec![0x5a; 32],
        }),
        check_round_trip(MsgSetLedgerKeyResponse { sequence: 11 }),
        check_round_trip(EventLedgerKeyEnqueued {
            sequence: 11,
            owner: "copro1alice".into(),
            ledger_index: 2,
            spending_key: vec![0x5a; 32],
            chain_hash: fe(9),
        }),
        check_round_trip(EventLedgerAccountCreated {
            result_id: 3,
            address: "copro1carol".into(),
            ledger_index: 4,
        }),
        check_round_trip(CallbackRecord {
            sequence: 7,
            contract: "copro1contract".into(),
            gas_limit: 300_000,
            status: CallbackStatus::Failed as i32,
            result_id: 2,
            gas_used: 1_000,
            error: "code 11 (sdk): out of gas".into(),
        }),
        check_round_trip(EventCallbackRun {
            result_id: 2,
            sequence: 7,
            contract: "copro1contract".into(),
            success: true,
            gas_used: 76_544,
            error: "code 5 (wasm): sudo failed".into(),
        }),
        "OffchainEntry".to_string(),
    ]
    .into_iter()
    .collect();

    let declared: BTreeSet<String> = descriptor()
        .file
        .into_iter()
        .filter(|f| f.package() == PACKAGE)
        .flat_map(|f| f.message_type)
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(
        checked, declared,
        "every declared message has a round-trip sample"
    );
}

#[test]
fn type_urls_are_the_package_path() {
    macro_rules! assert_type_url {
        ($($ty:ident => $url:literal),* $(,)?) => {$(
            assert_eq!($ty::type_url(), $url);
            assert_eq!(format!("/{}", $ty::full_name()), $url);
        )*};
    }
    assert_type_url!(
        MsgDeposit => "/copro.coprocessor.v1.MsgDeposit",
        MsgDepositResponse => "/copro.coprocessor.v1.MsgDepositResponse",
        MsgTransfer => "/copro.coprocessor.v1.MsgTransfer",
        MsgTransferResponse => "/copro.coprocessor.v1.MsgTransferResponse",
        MsgWithdraw => "/copro.coprocessor.v1.MsgWithdraw",
        MsgWithdrawResponse => "/copro.coprocessor.v1.MsgWithdrawResponse",
        MsgSubmitProof => "/copro.coprocessor.v1.MsgSubmitProof",
        MsgSubmitProofResponse => "/copro.coprocessor.v1.MsgSubmitProofResponse",
        MsgRegisterProgram => "/copro.coprocessor.v1.MsgRegisterProgram",
        MsgRegisterProgramResponse => "/copro.coprocessor.v1.MsgRegisterProgramResponse",
        MsgUpdateProgram => "/copro.coprocessor.v1.MsgUpdateProgram",
        MsgUpdateProgramResponse => "/copro.coprocessor.v1.MsgUpdateProgramResponse",
        MsgSetProver => "/copro.coprocessor.v1.MsgSetProver",
        MsgSetProverResponse => "/copro.coprocessor.v1.MsgSetProverResponse",
        MsgSetLedgerKey => "/copro.coprocessor.v1.MsgSetLedgerKey",
        MsgSetLedgerKeyResponse => "/copro.coprocessor.v1.MsgSetLedgerKeyResponse",
        EventProofAccepted => "/copro.coprocessor.v1.EventProofAccepted",
        GenesisState => "/copro.coprocessor.v1.GenesisState",
    );
}

/// `(method, input, output)` of a service in the descriptor set.
fn service_methods(service: &str) -> Vec<(String, String, String)> {
    let file = descriptor()
        .file
        .into_iter()
        .find(|f| f.package() == PACKAGE && f.service.iter().any(|s| s.name() == service))
        .unwrap_or_else(|| panic!("service {service} is not declared"));
    let service = file
        .service
        .into_iter()
        .find(|s| s.name() == service)
        .expect("found above");
    service
        .method
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.input_type().to_owned(),
                m.output_type().to_owned(),
            )
        })
        .collect()
}

fn expected(methods: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    methods
        .iter()
        .map(|(m, i, o)| {
            (
                (*m).to_owned(),
                format!(".{PACKAGE}.{i}"),
                format!(".{PACKAGE}.{o}"),
            )
        })
        .collect()
}

#[test]
fn msg_service_routes_each_message_to_its_response() {
    assert_eq!(
        service_methods("Msg"),
        expected(&[
            ("Deposit", "MsgDeposit", "MsgDepositResponse"),
            ("Transfer", "MsgTransfer", "MsgTransferResponse"),
            ("Withdraw", "MsgWithdraw", "MsgWithdrawResponse"),
            ("SubmitProof", "MsgSubmitProof", "MsgSubmitProofResponse"),
            (
                "RegisterProgram",
                "MsgRegisterProgram",
                "MsgRegisterProgramResponse"
            ),
            (
                "UpdateProgram",
                "MsgUpdateProgram",
                "MsgUpdateProgramResponse"
            ),
            ("SetProver", "MsgSetProver", "MsgSetProverResponse"),
            ("SetLedgerKey", "MsgSetLedgerKey", "MsgSetLedgerKeyResponse"),
        ])
    );
}

#[test]
fn query_service_has_the_protocol_queries() {
    assert_eq!(
        service_methods("Query"),
        expected(&[
            ("Params", "QueryParamsRequest", "QueryParamsResponse"),
            ("Root", "QueryRootRequest", "QueryRootResponse"),
            (
                "LedgerAccount",
                "QueryLedgerAccountRequest",
                "QueryLedgerAccountResponse"
            ),
            ("Queue", "QueryQueueRequest", "QueryQueueResponse"),
            ("Program", "QueryProgramRequest", "QueryProgramResponse"),
            ("Result", "QueryResultRequest", "QueryResultResponse"),
            ("Results", "QueryResultsRequest", "QueryResultsResponse"),
            ("Callback", "QueryCallbackRequest", "QueryCallbackResponse"),
        ])
    );
}

#[test]
fn every_message_signer_is_field_one() {
    // The module reads the signer from field 1 of each Msg (Cosmos convention).
    for name in [
        "MsgDeposit",
        "MsgTransfer",
        "MsgWithdraw",
        "MsgSubmitProof",
        "MsgRegisterProgram",
        "MsgUpdateProgram",
        "MsgSetProver",
    ] {
        let msg = message_descriptor(name);
        let first = msg
            .field
            .iter()
            .find(|f| f.number() == 1)
            .unwrap_or_else(|| panic!("{name} has no field 1"));
        assert!(
            ["signer", "authority"].contains(&first.name()),
            "{name}.{} is field 1",
            first.name()
        );
        assert_eq!(
            first.r#type(),
            prost_types::field_descriptor_proto::Type::String,
            "{name}: the signer is a bech32 string"
        );
    }
}
