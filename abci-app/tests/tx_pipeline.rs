//! Every bad input of the tx pipeline is refused with its own SDK code and
//! changes nothing; good txs of one sender queue up in the check-state.

mod common;

use common::*;
use copro_auth::{Address, Code, module_address};
use coprod::App;
use cosmrs::proto::cosmos::base::v1beta1::Coin;
use prost::Message;

struct Fixture {
    _dir: tempfile::TempDir,
    app: App,
    alice: Signer,
    bob: Signer,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_in(dir.path());
    let alice = Signer::new(1);
    let bob = Signer::new(2);
    app.init_chain(init_chain_req(genesis(&[(&alice, 1_000_000)])))
        .unwrap();
    Fixture {
        _dir: dir,
        app,
        alice,
        bob,
    }
}

fn code_of(app: &mut App, tx: Vec<u8>) -> (u32, String) {
    let resp = app.check_tx(check_req(tx));
    (resp.code.value(), resp.log)
}

#[test]
fn each_bad_input_gets_its_code_and_leaves_the_state_alone() {
    let mut f = fixture();
    let (alice, bob) = (&f.alice, &f.bob);
    let to = bob.address.clone();
    let good = || TxParts::send(alice, &to, "100", 0, 0);

    let mut cases: Vec<(&str, Vec<u8>, Code)> = Vec::new();
    cases.push(("undecodable bytes", vec![0xff, 0x01, 0x02], Code::TxDecode));
    cases.push((
        "oversized tx",
        vec![0u8; coprod::tx::MAX_TX_BYTES + 1],
        Code::TxTooLarge,
    ));

    let mut bad_sig = good().sign_raw(alice);
    bad_sig.signatures[0][5] ^= 0x01;
    cases.push(("bad signature", bad_sig.encode_to_vec(), Code::Unauthorized));

    let mut wrong_chain = good();
    wrong_chain.chain_id = "other-chain".into();
    cases.push((
        "wrong chain-id",
        wrong_chain.sign(alice),
        Code::Unauthorized,
    ));

    let mut wrong_number = good();
    wrong_number.account_number = 7;
    cases.push((
        "wrong account number",
        wrong_number.sign(alice),
        Code::Unauthorized,
    ));

    cases.push((
        "wrong sequence",
        TxParts::send(alice, &to, "100", 0, 3).sign(alice),
        Code::WrongSequence,
    ));
    cases.push((
        "insufficient funds",
        TxParts::send(alice, &to, "999999", 0, 0).sign(alice),
        Code::InsufficientFunds,
    ));

    let mut cheap = good();
    cheap.auth_info.fee.as_mut().unwrap().amount[0].amount = "4999".into();
    cases.push(("insufficient fee", cheap.sign(alice), Code::InsufficientFee));

    let mut unknown = good();
    unknown.body.messages[0].type_url = "/cosmos.staking.v1beta1.MsgDelegate".into();
    cases.push((
        "unknown msg type",
        unknown.sign(alice),
        Code::UnknownRequest,
    ));

    let mut memo = good();
    memo.body.memo = "x".repeat(257);
    cases.push(("memo too large", memo.sign(alice), Code::MemoTooLarge));

    let mut unsigned = good().sign_raw(alice);
    unsigned.signatures.clear();
    cases.push((
        "no signatures",
        unsigned.encode_to_vec(),
        Code::NoSignatures,
    ));

    let mut short_sig = good().sign_raw(alice);
    short_sig.signatures[0].pop();
    cases.push((
        "63-byte signature",
        short_sig.encode_to_vec(),
        Code::InvalidPubKey,
    ));

    // High-S: the same signature with s negated still verifies mathematically
    // but is malleable, so it is refused.
    let low = good().sign_raw(alice);
    let sig = k256::ecdsa::Signature::from_slice(&low.signatures[0]).unwrap();
    let (r, s) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    let mut high_tx = low.clone();
    high_tx.signatures[0] = high.to_bytes().to_vec();
    cases.push((
        "high-S signature",
        high_tx.encode_to_vec(),
        Code::InvalidPubKey,
    ));

    let mut no_gas = good();
    no_gas.auth_info.fee.as_mut().unwrap().gas_limit = 1_000;
    no_gas.auth_info.fee.as_mut().unwrap().amount[0].amount = "5000".into();
    cases.push(("out of gas", no_gas.sign(alice), Code::OutOfGas));

    let mut bad_addr = good();
    bad_addr.body.messages = vec![send_any(&alice.address, &to, "1")];
    let mut msg = cosmrs::proto::cosmos::bank::v1beta1::MsgSend::decode(
        bad_addr.body.messages[0].value.as_slice(),
    )
    .unwrap();
    msg.to_address = "copro1notanaddress".into();
    bad_addr.body.messages[0].value = msg.encode_to_vec();
    cases.push((
        "invalid address",
        bad_addr.sign(alice),
        Code::InvalidAddress,
    ));

    let mut bad_coins = good();
    let mut msg = cosmrs::proto::cosmos::bank::v1beta1::MsgSend::decode(
        bad_coins.body.messages[0].value.as_slice(),
    )
    .unwrap();
    msg.amount = vec![Coin {
        denom: "ucopro".into(),
        amount: "0".into(),
    }];
    bad_coins.body.messages[0].value = msg.encode_to_vec();
    cases.push(("zero coins", bad_coins.sign(alice), Code::InvalidCoins));

    cases.push((
        "unknown signer account",
        TxParts::send(bob, &alice.address, "1", 0, 0).sign(bob),
        Code::UnknownAddress,
    ));

    let mut no_msgs = good();
    no_msgs.body.messages.clear();
    cases.push(("no messages", no_msgs.sign(alice), Code::InvalidRequest));

    let mut no_fee = good();
    no_fee.auth_info.fee = None;
    cases.push(("no fee", no_fee.sign(alice), Code::InsufficientFee));

    let mut foreign_key = good();
    foreign_key.auth_info.signer_infos[0].public_key = Some(bob.pubkey_any());
    cases.push((
        "pubkey of another address",
        foreign_key.sign(bob),
        Code::InvalidPubKey,
    ));

    for (name, tx, want) in cases {
        let (code, log) = code_of(&mut f.app, tx.clone());
        assert_eq!(code, want.value(), "{name}: got code {code} ({log})");
        assert!(!log.is_empty(), "{name}: empty log");
        // The same bytes in a block: refused there too (ProcessProposal
        // rejects the block; FinalizeBlock records the code).
        let accepted = f.app.process_proposal(process_req(1, vec![tx])).unwrap();
        let expect_accept = matches!(name, "insufficient funds" | "insufficient fee");
        assert_eq!(
            accepted == tendermint::v0_38::abci::response::ProcessProposal::Accept,
            expect_accept,
            "{name}: ProcessProposal"
        );
    }

    // Nothing changed: the good tx with sequence 0 is still the next one.
    let (code, log) = code_of(&mut f.app, good().sign(alice));
    assert_eq!(code, 0, "{log}");
}

#[test]
fn signature_failure_log_names_account_number_sequence_and_chain_id() {
    let mut f = fixture();
    let mut wrong_chain = TxParts::send(&f.alice, &f.bob.address, "1", 0, 0);
    wrong_chain.chain_id = "other".into();
    let (code, log) = code_of(&mut f.app, wrong_chain.sign(&f.alice));
    assert_eq!(code, Code::Unauthorized.value());
    assert!(log.contains("account number 0"), "{log}");
    assert!(log.contains("sequence 0"), "{log}");
    assert!(log.contains(CHAIN_ID), "{log}");
}

#[test]
fn one_sender_can_queue_several_txs_and_the_check_state_resets_at_commit() {
    let mut f = fixture();
    let to = f.bob.address.clone();
    let tx0 = cosmrs_send(&f.alice, &to, 10, 0, 0);
    let tx1 = cosmrs_send(&f.alice, &to, 10, 0, 1);
    assert_eq!(code_of(&mut f.app, tx0.clone()).0, 0);
    assert_eq!(code_of(&mut f.app, tx1.clone()).0, 0);
    // Replaying tx0 in CheckTx: its sequence is used up in the check-state.
    assert_eq!(
        code_of(&mut f.app, tx0.clone()).0,
        Code::WrongSequence.value()
    );

    // Only tx0 makes it into block 1.
    let res = f.app.finalize_block(finalize_req(1, vec![tx0])).unwrap();
    assert_eq!(
        res.tx_results[0].code.value(),
        0,
        "{}",
        res.tx_results[0].log
    );
    f.app.commit().unwrap();
    // Recheck after commit: tx1 is still valid, tx with sequence 0 is not.
    assert_eq!(code_of(&mut f.app, tx1).0, 0);
    let fee_collector: Address = module_address(coprod::tx::FEE_COLLECTOR);
    let snap = f.app.storage().latest_snapshot().unwrap();
    use copro_bank::BankRead;
    assert_eq!(snap.balance(&fee_collector, "ucopro").unwrap(), 5000);
    assert_eq!(snap.balance(&to, "ucopro").unwrap(), 10);
    assert_eq!(
        snap.balance(&f.alice.address, "ucopro").unwrap(),
        1_000_000 - 5010
    );
}

#[test]
fn a_failing_message_in_a_block_pays_the_fee_but_moves_nothing() {
    let mut f = fixture();
    let to = f.bob.address.clone();
    let tx = TxParts::send(&f.alice, &to, "995001", 0, 0).sign(&f.alice);
    let res = f.app.finalize_block(finalize_req(1, vec![tx])).unwrap();
    let r = &res.tx_results[0];
    assert_eq!(r.code.value(), Code::InsufficientFunds.value());
    assert_eq!(r.codespace, "sdk");
    f.app.commit().unwrap();
    use copro_auth::AuthRead;
    use copro_bank::BankRead;
    let snap = f.app.storage().latest_snapshot().unwrap();
    assert_eq!(snap.balance(&f.alice.address, "ucopro").unwrap(), 995_000);
    assert_eq!(snap.balance(&to, "ucopro").unwrap(), 0);
    assert_eq!(snap.account(&f.alice.address).unwrap().unwrap().sequence, 1);
}

#[test]
fn mutated_and_random_bytes_never_make_the_app_fail_or_panic() {
    let mut f = fixture();
    let valid = cosmrs_send(&f.alice, &f.bob.address, 10, 0, 0);
    let mut x: u64 = 0xD1B5_4A32_D192_ED03;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for i in 0..1500 {
        let mut tx = valid.clone();
        match i % 3 {
            0 => {
                // Flip a few bytes of a valid tx.
                for _ in 0..(1 + next() % 4) {
                    let at = (next() as usize) % tx.len();
                    tx[at] ^= (next() % 255 + 1) as u8;
                }
            }
            1 => tx.truncate((next() as usize) % tx.len()),
            _ => tx = (0..(next() % 400)).map(|_| next() as u8).collect(),
        }
        inputs.push(tx);
    }
    for tx in &inputs {
        let resp = f.app.check_tx(check_req(tx.clone()));
        if resp.code.is_err() {
            assert_eq!(resp.codespace, "sdk");
            assert!(!resp.log.is_empty());
        }
        for path in [
            "/store/key",
            "/cosmos.bank.v1beta1.Query/Balance",
            "/cosmos.auth.v1beta1.Query/Account",
            "/cosmos.tx.v1beta1.Service/Simulate",
        ] {
            let q = f.app.query(tendermint::v0_38::abci::request::Query {
                data: tx.clone().into(),
                path: path.into(),
                height: 0u32.into(),
                prove: true,
            });
            if q.code.is_err() {
                assert!(!q.log.is_empty());
            }
        }
    }
    // The same junk as a block: ProcessProposal answers, FinalizeBlock gives
    // one result per tx, and never errors.
    let chunk: Vec<Vec<u8>> = inputs.iter().take(200).cloned().collect();
    f.app
        .process_proposal(process_req(1, chunk.clone()))
        .unwrap();
    let res = f
        .app
        .finalize_block(finalize_req(1, chunk.clone()))
        .unwrap();
    assert_eq!(res.tx_results.len(), chunk.len());
    f.app.commit().unwrap();
}
