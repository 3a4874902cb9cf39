//! The wire format is pinned: hand-written encodings decode to the expected
//! messages (and are what encoding produces), the whole field-number contract
//! matches `tests/wire_contract.txt`, and the enums carry the circuit's numbers.

use copro_proto::FILE_DESCRIPTOR_SET;
use copro_proto::coprocessor::v1::*;
use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::field_descriptor_proto::Label;

/// `bytes` decodes to `expected`, and encoding `expected` gives `bytes`.
fn assert_wire<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8], expected: M) {
    assert_eq!(
        M::decode(bytes).expect("hand-written bytes decode"),
        expected
    );
    assert_eq!(expected.encode_to_vec(), bytes);
}

#[test]
fn user_messages_have_fixed_field_numbers() {
    assert_wire(
        // 1: signer "a"; 2: amount 300.
        &[0x0a, 0x01, b'a', 0x10, 0xac, 0x02],
        MsgDeposit {
            signer: "a".into(),
            amount: 300,
        },
    );
    assert_wire(
        // 1: signer "a"; 2: recipient "b"; 3: amount 5.
        &[0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x18, 0x05],
        MsgTransfer {
            signer: "a".into(),
            recipient: "b".into(),
            amount: 5,
        },
    );
    assert_wire(
        // 1: signer "a"; 2: amount 5.
        &[0x0a, 0x01, b'a', 0x10, 0x05],
        MsgWithdraw {
            signer: "a".into(),
            amount: 5,
        },
    );
}

#[test]
fn prover_and_authority_messages_have_fixed_field_numbers() {
    assert_wire(
        &[
            0x0a, 0x01, b'p', // 1: signer
            0x12, 0x01, b't', // 2: program_id
            0x18, 0x01, // 3: program_version
            0x22, 0x01, 0xaa, // 4: old_root
            0x2a, 0x01, 0xbb, // 5: new_root
            0x30, 0x05, // 6: start_sequence
            0x38, 0x07, // 7: end_sequence
            0x42, 0x08, // 8: effects[0], 8 bytes:
            0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20,
            0x04, // status, from_balance, from_nonce, to_balance
            0x4a, 0x01, 0xff, // 9: proof
        ],
        MsgSubmitProof {
            signer: "p".into(),
            program_id: "t".into(),
            program_version: 1,
            old_root: vec![0xaa],
            new_root: vec![0xbb],
            start_sequence: 5,
            end_sequence: 7,
            effects: vec![EntryEffect {
                status: EntryStatus::Rejected.into(),
                from_balance: 2,
                from_nonce: 3,
                to_balance: 4,
            }],
            proof: vec![0xff],
            offchain: Vec::new(),
            alloc_start: 0,
        },
    );
    let program_bytes = [
        0x0a, 0x01, b'g', // 1: authority
        0x12, 0x01, b't', // 2: program_id
        0x18, 0x01, // 3: version
        0x22, 0x01, 0x01, // 4: verifying_key
        0x2a, 0x01, 0x02, // 5: vk_hash
        0x30, 0x08, // 6: batch_size
        0x38, 0x04, // 7: tree_arity
        0x40, 0x10, // 8: tree_depth
    ];
    assert_wire(
        &program_bytes,
        MsgRegisterProgram {
            authority: "g".into(),
            program_id: "t".into(),
            version: 1,
            verifying_key: vec![1],
            vk_hash: vec![2],
            batch_size: 8,
            tree_arity: 4,
            tree_depth: 16,
            offchain_batch_size: 0,
        },
    );
    assert_wire(
        &program_bytes,
        MsgUpdateProgram {
            authority: "g".into(),
            program_id: "t".into(),
            version: 1,
            verifying_key: vec![1],
            vk_hash: vec![2],
            batch_size: 8,
            tree_arity: 4,
            tree_depth: 16,
            offchain_batch_size: 0,
        },
    );
    assert_wire(
        // 1: authority "g"; 2: prover "p".
        &[0x0a, 0x01, b'g', 0x12, 0x01, b'p'],
        MsgSetProver {
            authority: "g".into(),
            prover: "p".into(),
        },
    );
}

#[test]
fn stored_and_proven_records_have_fixed_field_numbers() {
    assert_wire(
        &[
            0x08, 0x01, // 1: sequence
            0x10, 0x02, // 2: kind (transfer)
            0x1a, 0x01, b'f', // 3: from_address
            0x20, 0x03, // 4: from_index
            0x2a, 0x01, 0x0a, // 5: from_key
            0x32, 0x01, b't', // 6: to_address
            0x38, 0x04, // 7: to_index
            0x42, 0x01, 0x0b, // 8: to_key
            0x48, 0x09, // 9: amount
            0x50, 0x06, // 10: nonce
            0x58, 0x28, // 11: enqueue_height 40
            0x62, 0x01, 0x0c, // 12: chain_hash
        ],
        QueueEntry {
            sequence: 1,
            kind: EntryKind::Transfer.into(),
            from_address: "f".into(),
            from_index: 3,
            from_key: vec![0x0a],
            to_address: "t".into(),
            to_index: 4,
            to_key: vec![0x0b],
            amount: 9,
            nonce: 6,
            enqueue_height: 40,
            chain_hash: vec![0x0c],
            spending_key: Vec::new(),
        },
    );
    let payout = |sequence, recipient: &str, ledger_index, amount| Payout {
        sequence,
        recipient: recipient.into(),
        ledger_index,
        amount,
    };
    assert_wire(
        &[
            0x08, 0x03, // 1: id
            0x12, 0x01, b't', // 2: program_id
            0x18, 0x01, // 3: program_version
            0x20, 0x05, // 4: start_sequence
            0x28, 0x09, // 5: end_sequence
            0x32, 0x01, 0x01, // 6: old_root
            0x3a, 0x01, 0x02, // 7: new_root
            0x42, 0x01, 0x03, // 8: queue_before
            0x4a, 0x01, 0x04, // 9: queue_after
            0x52, 0x01, 0x05, // 10: deltas_commitment
            0x5a, 0x09, 0x08, 0x06, 0x12, 0x01, b'a', 0x18, 0x02, 0x20,
            0x1e, // 11: withdrawals
            0x62, 0x09, 0x08, 0x07, 0x12, 0x01, b'c', 0x18, 0x04, 0x20, 0x28, // 12: refunds
            0x68, 0x32, // 13: height 50
            0x72, 0x01, 0x06, // 14: tx_hash
        ],
        VerifiedResult {
            id: 3,
            program_id: "t".into(),
            program_version: 1,
            start_sequence: 5,
            end_sequence: 9,
            old_root: vec![1],
            new_root: vec![2],
            queue_before: vec![3],
            queue_after: vec![4],
            deltas_commitment: vec![5],
            withdrawals: vec![payout(6, "a", 2, 30)],
            refunds: vec![payout(7, "c", 4, 40)],
            height: 50,
            tx_hash: vec![6],
            offchain_count: 0,
            alloc_start: 0,
            created: 0,
        },
    );
    assert_wire(
        // 1: address "a"; 2: ledger_index 2; 3: key; 4: balance 900; 5: nonce 7.
        &[
            0x0a, 0x01, b'a', 0x10, 0x02, 0x1a, 0x01, 0x07, 0x20, 0x84, 0x07, 0x28, 0x07,
        ],
        LedgerAccount {
            address: "a".into(),
            ledger_index: 2,
            key: vec![7],
            balance: 900,
            nonce: 7,
            spending_key: Vec::new(),
        },
    );
    assert_wire(
        // 1: set_height 50; 2: root; 3: history_index 3; 4: history_root.
        &[0x08, 0x32, 0x12, 0x01, 0x07, 0x18, 0x03, 0x22, 0x01, 0x08],
        RootRecord {
            set_height: 50,
            root: vec![7],
            history_index: 3,
            history_root: vec![8],
        },
    );
    assert_wire(
        &[
            0x0a, 0x09, // 1: params, 9 bytes:
            0x0a, 0x01, b'u', 0x10, 0x04, 0x18, 0x10, 0x20, 0x0a, // denom, arity, depth, K
            0x12, 0x01, b'g', // 2: authority
            0x1a, 0x01, b'p', // 3: prover
        ],
        GenesisState {
            params: Some(Params {
                ledger_denom: "u".into(),
                tree_arity: 4,
                tree_depth: 16,
                inclusion_delay_blocks: 10,
            }),
            authority: "g".into(),
            prover: "p".into(),
            programs: vec![],
        },
    );
}

#[test]
fn page_request_uses_the_cosmos_field_numbers() {
    // cosmos.base.query.v1beta1.PageRequest: key = 1, limit = 3.
    assert_wire(
        &[0x0a, 0x01, 0x05, 0x18, 0x0a],
        PageRequest {
            key: vec![5],
            limit: 10,
        },
    );
}

#[test]
fn enums_carry_the_circuit_numbers() {
    use copro_circuits::transfer::{EntryKind as CircuitKind, EntryStatus as CircuitStatus};
    assert_eq!(EntryKind::Deposit as i32, CircuitKind::Deposit as i32);
    assert_eq!(EntryKind::Transfer as i32, CircuitKind::Transfer as i32);
    assert_eq!(EntryKind::Withdraw as i32, CircuitKind::Withdraw as i32);
    assert_eq!(EntryKind::Unspecified as i32, CircuitKind::Padding as i32);
    assert_eq!(EntryStatus::Applied as i32, CircuitStatus::Applied as i32);
    assert_eq!(EntryStatus::Rejected as i32, CircuitStatus::Rejected as i32);
}

#[test]
fn documented_sizes_match_the_circuit_encodings() {
    use copro_circuits::encoding::{PROOF_LEN, VK_FIXED_LEN};
    // MsgSubmitProof.proof and the program verifying keys (one public input).
    assert_eq!(PROOF_LEN, 192);
    assert_eq!(VK_FIXED_LEN + 2 * 48, 532);
    // docs/protocol.md: an effect takes at most 37 bytes inside MsgSubmitProof
    // (field key and one-byte length included), so B = 1024 fits the tx cap.
    let largest = EntryEffect {
        status: EntryStatus::Rejected.into(),
        from_balance: u64::MAX,
        from_nonce: u64::MAX,
        to_balance: u64::MAX,
    };
    let one = MsgSubmitProof {
        effects: vec![largest],
        ..MsgSubmitProof::default()
    };
    assert_eq!(one.encoded_len(), 37);
    // A full B = 1024 submission, with room to spare for the tx envelope
    // (body, auth info, signature) under the 65,536-byte tx cap.
    let full = MsgSubmitProof {
        signer: "c".repeat(44),
        program_id: "p".repeat(64),
        program_version: u32::MAX,
        old_root: vec![0xff; 32],
        new_root: vec![0xff; 32],
        start_sequence: u64::MAX,
        end_sequence: u64::MAX,
        effects: vec![largest; 1024],
        proof: vec![0xff; PROOF_LEN],
        offchain: Vec::new(),
        alloc_start: 0,
    };
    assert!(full.encoded_len() < 40_000, "{}", full.encoded_len());
}

/// One line per enum value, message field, reserved range and service
/// method of the package, in declaration order.
fn wire_contract() -> String {
    let fds = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
    let mut out = String::new();
    for file in fds
        .file
        .iter()
        .filter(|f| f.package() == "copro.coprocessor.v1")
    {
        out.push_str(&format!("file {}\n", file.name()));
        for e in &file.enum_type {
            for v in &e.value {
                out.push_str(&format!(
                    "  enum {} {} = {}\n",
                    e.name(),
                    v.name(),
                    v.number()
                ));
            }
        }
        for m in &file.message_type {
            out.push_str(&format!("  message {}\n", m.name()));
            for f in &m.field {
                let label = if f.label() == Label::Repeated {
                    "repeated "
                } else {
                    ""
                };
                let ty = if f.type_name().is_empty() {
                    f.r#type()
                        .as_str_name()
                        .trim_start_matches("TYPE_")
                        .to_lowercase()
                } else {
                    f.type_name().to_owned()
                };
                out.push_str(&format!("    {} = {}: {label}{ty}\n", f.name(), f.number()));
            }
            for r in &m.reserved_range {
                // Descriptor ranges are half-open.
                let (first, last) = (r.start(), r.end() - 1);
                if first == last {
                    out.push_str(&format!("    reserved {first}\n"));
                } else {
                    out.push_str(&format!("    reserved {first}..={last}\n"));
                }
            }
            for name in &m.reserved_name {
                out.push_str(&format!("    reserved \"{name}\"\n"));
            }
        }
        for s in &file.service {
            for method in &s.method {
                out.push_str(&format!(
                    "  rpc {}/{}({}) -> {}\n",
                    s.name(),
                    method.name(),
                    method.input_type(),
                    method.output_type()
                ));
            }
        }
    }
    out
}

/// Changing a field number, type, name or reservation must be a deliberate,
/// reviewed edit of `tests/wire_contract.txt` (regenerate it with
/// `COPRO_BLESS_WIRE_CONTRACT=1 cargo test -p copro-proto --test wire`).
#[test]
fn wire_contract_is_unchanged() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_contract.txt");
    let actual = wire_contract();
    if std::env::var_os("COPRO_BLESS_WIRE_CONTRACT").is_some() {
        std::fs::write(path, &actual).expect("write the wire contract");
    }
    let pinned = std::fs::read_to_string(path).expect("tests/wire_contract.txt exists");
    for (line, (a, p)) in actual.lines().zip(pinned.lines()).enumerate() {
        assert_eq!(a, p, "wire contract differs at line {}", line + 1);
    }
    assert_eq!(
        actual.lines().count(),
        pinned.lines().count(),
        "wire contract has a different number of lines"
    );
}
