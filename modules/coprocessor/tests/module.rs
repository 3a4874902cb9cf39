//! The coprocessor module's rules, with real Groth16 proofs (B = 2 over a
//! 16-leaf tree; keys made once per test run).

mod prover;

use copro_auth::Address;
use copro_circuits::field::fr_from_u64;
use copro_coprocessor::record::{fr_bytes, pb};
use copro_coprocessor::registry::{self, ProgramSpec};
use copro_coprocessor::requests::{self, Deposit, Transfer, Withdraw, escrow_address};
use copro_coprocessor::submit::{self, SubmitProof, Verifier};
use copro_coprocessor::{CoproCode, CoproError, CoproRead, history};
use copro_module::Stage;
use prover::*;

fn users() -> Vec<Address> {
    (1..=3).map(address).collect()
}

fn deposit(chain: &mut Chain, who: &Address, amount: u64) -> Result<u64, CoproError> {
    chain.block(|s, h| {
        requests::deposit(
            s,
            &Deposit {
                signer: who.clone(),
                amount,
            },
            h,
        )
        .map(|(seq, _)| seq)
    })
}

fn transfer(
    chain: &mut Chain,
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<u64, CoproError> {
    chain.block(|s, h| {
        requests::transfer(
            s,
            &Transfer {
                signer: from.clone(),
                recipient: to.clone(),
                amount,
            },
            h,
        )
        .map(|(seq, _)| seq)
    })
}

fn withdraw(chain: &mut Chain, who: &Address, amount: u64) -> Result<u64, CoproError> {
    chain.block(|s, h| {
        requests::withdraw(
            s,
            &Withdraw {
                signer: who.clone(),
                amount,
            },
            h,
        )
        .map(|(seq, _)| seq)
    })
}

fn code(result: Result<u64, CoproError>) -> CoproCode {
    let e = result.expect_err("expected a rejection");
    for c in [
        CoproCode::NotProver,
        CoproCode::UnknownProgram,
        CoproCode::FrozenProgram,
        CoproCode::StaleRoot,
        CoproCode::QueueGap,
        CoproCode::QueueRange,
        CoproCode::Replay,
        CoproCode::EffectsMismatch,
        CoproCode::InvalidProof,
        CoproCode::MalformedProof,
        CoproCode::TooManyEntries,
        CoproCode::InvalidAmount,
        CoproCode::InsufficientLedgerBalance,
        CoproCode::Unauthorized,
        CoproCode::NoLedgerAccount,
        CoproCode::InvalidField,
        CoproCode::InvalidProgram,
        CoproCode::QueueFull,
        CoproCode::InvalidRequest,
        CoproCode::OverdueRequest,
    ] {
        if e.is(c) {
            return c;
        }
    }
    panic!("unexpected error {e}");
}

#[test]
fn deposits_transfers_and_a_withdrawal_settle_by_proofs() {
    let us = users();
    let (alice, bob, carol) = (&us[0], &us[1], &us[2]);
    let mut chain = Chain::new(&us, 1_000_000);
    let mut prover = TestProver::new();
    let verifier = Verifier::default();

    deposit(&mut chain, alice, 500).unwrap();
    deposit(&mut chain, bob, 300).unwrap();
    chain.assert_escrow_invariant(&us);
    assert_eq!(chain.bank(alice), 1_000_000 - 500);
    assert_eq!(chain.ledger_balance(alice), 0, "not settled yet");

    let batch = prover.prove_next(&chain, 2, true);
    let id = submit(&mut chain, &verifier, &batch.msg).unwrap();
    assert_eq!(id, 0);
    assert_eq!(chain.ledger_balance(alice), 500);
    assert_eq!(chain.ledger_balance(bob), 300);
    chain.assert_escrow_invariant(&us);

    transfer(&mut chain, alice, carol, 120).unwrap();
    withdraw(&mut chain, bob, 100).unwrap();
    let batch = prover.prove_next(&chain, 2, true);
    submit(&mut chain, &verifier, &batch.msg).unwrap();
    assert_eq!(chain.ledger_balance(alice), 380);
    assert_eq!(chain.ledger_balance(carol), 120);
    assert_eq!(chain.ledger_balance(bob), 200);
    assert_eq!(chain.bank(bob), 1_000_000 - 300 + 100, "withdrawal paid");
    chain.assert_escrow_invariant(&us);

    // The mirror is the prover's ledger, leaf for leaf; the root is proven.
    let snap = chain.snapshot();
    assert_eq!(snap.ledger_root().unwrap(), prover.ledger.root().unwrap());
    for u in &us {
        let acc = snap.ledger_account(u.as_str()).unwrap().unwrap();
        let leaf = prover.ledger.account(acc.ledger_index).unwrap();
        assert_eq!((acc.balance, acc.nonce), (leaf.balance, leaf.nonce));
    }
    // The result and the root history.
    let result = snap.result(1).unwrap().unwrap();
    assert_eq!((result.start_sequence, result.end_sequence), (2, 4));
    assert_eq!(result.withdrawals.len(), 1);
    assert_eq!(result.withdrawals[0].amount, 100);
    assert_eq!(result.new_root, fr_bytes(&batch.new_root));
    let record = snap.root_record().unwrap();
    assert_eq!(record.history_index, 2, "genesis root + two settlements");
    let mut expected = history::RootHistory::new();
    expected
        .append(history::leaf(
            0,
            copro_circuits::smt::empty_roots(params().tree)[2],
        ))
        .unwrap();
    let first = snap.result(0).unwrap().unwrap();
    expected
        .append(history::leaf(
            first.height,
            copro_coprocessor::record::fr_of(&first.new_root, "r").unwrap(),
        ))
        .unwrap();
    expected
        .append(history::leaf(result.height, batch.new_root))
        .unwrap();
    assert_eq!(record.history_root, fr_bytes(&expected.root()));
    assert_eq!(snap.queue_state().unwrap().settled_up_to, 4);
    assert!(snap.pending_requests(10).unwrap().is_empty());
    // Each proof was verified once at CheckTx; FinalizeBlock reused it.
    assert_eq!(verifier.verifications(Stage::CheckTx), 2);
    assert_eq!(verifier.verifications(Stage::FinalizeBlock), 0);
}

#[test]
fn a_deposit_the_batch_rejects_is_refunded_from_escrow() {
    let us = users();
    let alice = &us[0];
    let mut chain = Chain::new(&us, u128::from(u64::MAX) * 2);
    let mut prover = TestProver::new();
    let verifier = Verifier::default();
    deposit(&mut chain, alice, u64::MAX - 10).unwrap();
    deposit(&mut chain, alice, 20).unwrap(); // would overflow the leaf
    let before = chain.bank(alice);
    let batch = prover.prove_next(&chain, 2, true);
    assert_eq!(
        batch.msg.effects[1].status,
        pb::EntryStatus::Rejected as i32
    );
    // Applied by hand here to look at the events.
    let checked = submit::check_stateful(
        &chain.snapshot(),
        SubmitProof::from_msg(&batch.msg).unwrap(),
        CHAIN_ID,
        chain.height,
    )
    .unwrap();
    verifier.verify(&checked, Stage::CheckTx).unwrap();
    let (_, events) = chain.block(|s, h| submit::apply(s, &checked, h, [3; 32]).unwrap());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "copro.coprocessor.v1.EventProofAccepted",
            "copro.coprocessor.v1.EventDepositRefunded"
        ]
    );
    assert!(
        events[1]
            .attributes
            .contains(&("sequence".into(), "\"1\"".into()))
    );
    assert_eq!(chain.bank(alice), before + 20, "refunded");
    assert_eq!(chain.ledger_balance(alice), u64::MAX - 10);
    chain.assert_escrow_invariant(&us);
    let result = chain.snapshot().result(0).unwrap().unwrap();
    assert_eq!(result.refunds.len(), 1);
    assert_eq!(result.refunds[0].sequence, 1);
}

/// A chain with two deposits pending and a valid proof of them.
fn pending_pair() -> (Chain, TestProver, Verifier, pb::MsgSubmitProof) {
    let us = users();
    let mut chain = Chain::new(&us, 1_000_000);
    deposit(&mut chain, &us[0], 10).unwrap();
    deposit(&mut chain, &us[1], 20).unwrap();
    let mut prover = TestProver::new();
    let batch = prover.prove_next(&chain, 2, false);
    (chain, prover, Verifier::default(), batch.msg)
}

#[test]
fn submissions_are_refused_each_with_its_own_code_and_leave_state_untouched() {
    let (mut chain, _, verifier, good) = pending_pair();
    let root_before = chain.storage.root_hash(chain.height - 1).unwrap();
    let cases: Vec<(&str, pb::MsgSubmitProof, CoproCode)> = vec![
        (
            "not the prover",
            pb::MsgSubmitProof {
                signer: address(9).to_string(),
                ..good.clone()
            },
            CoproCode::NotProver,
        ),
        (
            "unknown program",
            pb::MsgSubmitProof {
                program_id: "nope".into(),
                ..good.clone()
            },
            CoproCode::UnknownProgram,
        ),
        (
            "unknown version",
            pb::MsgSubmitProof {
                program_version: 9,
                ..good.clone()
            },
            CoproCode::UnknownProgram,
        ),
        (
            "stale root",
            pb::MsgSubmitProof {
                old_root: fr_bytes(&fr_from_u64(5)),
                ..good.clone()
            },
            CoproCode::StaleRoot,
        ),
        (
            "gap",
            pb::MsgSubmitProof {
                start_sequence: 1,
                end_sequence: 3,
                ..good.clone()
            },
            CoproCode::QueueGap,
        ),
        (
            "more effects than B",
            pb::MsgSubmitProof {
                start_sequence: 0,
                end_sequence: 3,
                effects: [good.effects.clone(), good.effects[..1].to_vec()].concat(),
                ..good.clone()
            },
            CoproCode::TooManyEntries,
        ),
        (
            "empty range",
            pb::MsgSubmitProof {
                end_sequence: 0,
                ..good.clone()
            },
            CoproCode::QueueRange,
        ),
        (
            "count mismatch",
            pb::MsgSubmitProof {
                effects: good.effects[..1].to_vec(),
                ..good.clone()
            },
            CoproCode::EffectsMismatch,
        ),
        (
            "non-canonical rejected effect",
            pb::MsgSubmitProof {
                effects: vec![
                    good.effects[0],
                    pb::EntryEffect {
                        status: 1,
                        to_balance: 5,
                        ..Default::default()
                    },
                ],
                ..good.clone()
            },
            CoproCode::EffectsMismatch,
        ),
        (
            "unknown status",
            pb::MsgSubmitProof {
                effects: vec![
                    good.effects[0],
                    pb::EntryEffect {
                        status: 2,
                        ..Default::default()
                    },
                ],
                ..good.clone()
            },
            CoproCode::EffectsMismatch,
        ),
        (
            "tampered effect",
            pb::MsgSubmitProof {
                effects: vec![
                    good.effects[0],
                    pb::EntryEffect {
                        to_balance: 21,
                        ..good.effects[1]
                    },
                ],
                ..good.clone()
            },
            CoproCode::InvalidProof,
        ),
        (
            "tampered new root",
            pb::MsgSubmitProof {
                new_root: fr_bytes(&fr_from_u64(77)),
                ..good.clone()
            },
            CoproCode::InvalidProof,
        ),
        (
            "proof of short length",
            pb::MsgSubmitProof {
                proof: good.proof[..191].to_vec(),
                ..good.clone()
            },
            CoproCode::MalformedProof,
        ),
        (
            "oversized proof",
            pb::MsgSubmitProof {
                proof: [good.proof.clone(), vec![0]].concat(),
                ..good.clone()
            },
            CoproCode::MalformedProof,
        ),
        (
            "non-canonical proof point",
            pb::MsgSubmitProof {
                proof: vec![0xff; 192],
                ..good.clone()
            },
            CoproCode::MalformedProof,
        ),
        (
            "non-canonical new root",
            pb::MsgSubmitProof {
                new_root: vec![0xff; 32],
                ..good.clone()
            },
            CoproCode::InvalidField,
        ),
        (
            "root of 31 bytes",
            pb::MsgSubmitProof {
                old_root: vec![1; 31],
                ..good.clone()
            },
            CoproCode::InvalidField,
        ),
    ];
    for (name, msg, want) in cases {
        assert_eq!(code(submit(&mut chain, &verifier, &msg)), want, "{name}");
    }
    // Too many effects for any program, refused before anything else.
    let flood = pb::MsgSubmitProof {
        effects: vec![good.effects[0]; 1025],
        end_sequence: 1025,
        ..good.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &flood)),
        CoproCode::TooManyEntries
    );
    // Nothing was written by any refusal (each ran in a block of its own
    // only after passing every check).
    assert_eq!(
        chain.storage.root_hash(chain.height - 1).unwrap(),
        root_before
    );
    // The good one still lands; then it is a replay.
    submit(&mut chain, &verifier, &good).unwrap();
    assert_eq!(
        code(submit(&mut chain, &verifier, &good)),
        CoproCode::Replay
    );
    // From the current root: a range that overlaps settled requests, and
    // one that runs past the last queued request.
    let current = fr_bytes(&chain.snapshot().ledger_root().unwrap());
    let mut other_proof = good.proof.clone();
    other_proof[100] ^= 1;
    let overlap = pb::MsgSubmitProof {
        old_root: current.clone(),
        proof: other_proof.clone(),
        ..good.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &overlap)),
        CoproCode::QueueGap
    );
    deposit(&mut chain, &users()[2], 5).unwrap();
    let past_end = pb::MsgSubmitProof {
        old_root: current,
        start_sequence: 2,
        end_sequence: 4,
        proof: other_proof,
        ..good.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &past_end)),
        CoproCode::QueueRange
    );
}

#[test]
fn a_proof_that_leaves_a_due_request_pending_is_refused_as_overdue() {
    // K = 3: a request queued at height h must be settled by any proof
    // applied at h + 3 or later that has room for it (B = 2 here).
    let us = users();
    let mut chain = Chain::with_inclusion_delay(&us, 1_000_000, 3);
    deposit(&mut chain, &us[0], 10).unwrap(); // sequence 0, height 1
    deposit(&mut chain, &us[1], 20).unwrap(); // sequence 1, height 2
    deposit(&mut chain, &us[2], 30).unwrap(); // sequence 2, height 3
    let mut prover = TestProver::new();
    let partial = prover.prove_next(&chain, 1, false);
    // At height 4 request 1 (height 2) is not due yet: a batch of one passes
    // every check (it is not applied here).
    assert_eq!(chain.height, 4);
    let checked = submit::check_stateful(
        &chain.snapshot(),
        SubmitProof::from_msg(&partial.msg).unwrap(),
        CHAIN_ID,
        chain.height,
    );
    assert!(checked.is_ok(), "{:?}", checked.err());
    // One block later it is: the same proof, leaving it, is refused, and
    // nothing changes.
    chain.block(|_, _| ());
    let root_before = chain.snapshot().ledger_root().unwrap();
    let e = submit(&mut chain, &Verifier::default(), &partial.msg).unwrap_err();
    assert!(e.is(CoproCode::OverdueRequest), "{e}");
    assert!(e.to_string().contains("request 1"), "{e}");
    assert_eq!(chain.snapshot().ledger_root().unwrap(), root_before);
    assert_eq!(chain.snapshot().queue_state().unwrap().settled_up_to, 0);
    // A full batch (B = 2) settles; request 2 (height 3), due now too, waits
    // for the next batch: the rule asks only as much as B allows.
    chain.block(|_, _| ());
    let full = prover.prove_next(&chain, 2, true);
    submit(&mut chain, &Verifier::default(), &full.msg).unwrap();
    assert_eq!(chain.snapshot().queue_state().unwrap().settled_up_to, 2);
    // With K = 0 there is no rule: a batch of one leaving an old request
    // pending passes.
    let mut lax = Chain::new(&us, 1_000_000);
    deposit(&mut lax, &us[0], 10).unwrap();
    deposit(&mut lax, &us[1], 20).unwrap();
    for _ in 0..10 {
        lax.block(|_, _| ());
    }
    let one = TestProver::new().prove_next(&lax, 1, false);
    assert_eq!(one.msg.end_sequence, 1);
    submit(&mut lax, &Verifier::default(), &one.msg).unwrap();
}

#[test]
fn a_proof_for_another_chain_or_version_does_not_verify() {
    let (mut chain, mut prover, verifier, _) = pending_pair();
    prover.chain_id = "another-chain".into();
    let other_chain = prover.prove_next(&chain, 2, false);
    assert_eq!(
        code(submit(&mut chain, &verifier, &other_chain.msg)),
        CoproCode::InvalidProof
    );
    // Version 2 with the same key: the proof binds version 1.
    chain
        .block(|s, h| {
            registry::update(
                s,
                authority().as_str(),
                &ProgramSpec {
                    id: "transfer".into(),
                    version: 2,
                    verifying_key: vk_bytes(),
                    vk_hash: vec![],
                    batch_size: 2,
                    tree_arity: 4,
                    tree_depth: 2,
                    offchain_batch_size: 0,
                },
                h,
            )
        })
        .unwrap();
    prover.chain_id = CHAIN_ID.into();
    let v1 = prover.prove_next(&chain, 2, false);
    assert_eq!(
        code(submit(&mut chain, &verifier, &v1.msg)),
        CoproCode::FrozenProgram
    );
    let as_v2 = pb::MsgSubmitProof {
        program_version: 2,
        ..v1.msg.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &as_v2)),
        CoproCode::InvalidProof
    );
}

#[test]
fn requests_are_refused_with_codes_before_anything_is_queued() {
    let us = users();
    let (alice, bob) = (&us[0], &us[1]);
    let mut chain = Chain::new(&us, 1_000);
    assert_eq!(
        code(deposit(&mut chain, alice, 0)),
        CoproCode::InvalidAmount
    );
    assert_eq!(
        code(transfer(&mut chain, alice, bob, 5)),
        CoproCode::NoLedgerAccount
    );
    assert_eq!(
        code(withdraw(&mut chain, alice, 5)),
        CoproCode::NoLedgerAccount
    );
    assert_eq!(
        code(transfer(&mut chain, alice, alice, 5)),
        CoproCode::InvalidRequest
    );
    // More than the bank balance: the bank's own code 5 (sdk).
    let e = deposit(&mut chain, alice, 5_000).unwrap_err();
    assert_eq!((e.codespace, e.code), ("sdk", 5), "{e}");
    assert_eq!(chain.snapshot().queue_state().unwrap().next_sequence, 0);
    // Settle 100 for alice, then debits beyond what queued debits leave.
    deposit(&mut chain, alice, 100).unwrap();
    deposit(&mut chain, bob, 1).unwrap();
    let mut prover = TestProver::new();
    let verifier = Verifier::default();
    let batch = prover.prove_next(&chain, 2, true);
    submit(&mut chain, &verifier, &batch.msg).unwrap();
    withdraw(&mut chain, alice, 60).unwrap();
    assert_eq!(
        code(withdraw(&mut chain, alice, 41)),
        CoproCode::InsufficientLedgerBalance
    );
    assert_eq!(
        code(transfer(&mut chain, alice, bob, 41)),
        CoproCode::InsufficientLedgerBalance
    );
    let seq = transfer(&mut chain, alice, bob, 40).unwrap();
    // The queued debits carry consecutive nonces and both apply.
    let snap = chain.snapshot();
    let queued: Vec<_> = snap.pending_requests(10).unwrap();
    assert_eq!(
        queued.iter().map(|e| e.nonce).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(queued[1].sequence, seq);
    let batch = prover.prove_next(&chain, 2, true);
    assert!(
        batch
            .msg
            .effects
            .iter()
            .all(|e| e.status == pb::EntryStatus::Applied as i32)
    );
    submit(&mut chain, &verifier, &batch.msg).unwrap();
    assert_eq!(chain.ledger_balance(alice), 0);
    assert_eq!(chain.ledger_balance(bob), 41);
    chain.assert_escrow_invariant(&us);
}

/// A version of program `id` with the test key (B = 2, arity 4).
fn program_spec(id: &str, version: u32, tree_depth: u32) -> ProgramSpec {
    ProgramSpec {
        id: id.into(),
        version,
        verifying_key: vk_bytes(),
        vk_hash: vec![],
        batch_size: 2,
        tree_arity: 4,
        tree_depth,
        offchain_batch_size: 0,
    }
}

#[test]
fn only_the_authority_changes_programs_and_the_prover() {
    let us = users();
    let mut chain = Chain::new(&us, 1);
    let spec = program_spec("other", 1, 2);
    let stranger = address(9);
    let e = chain
        .block(|s, h| registry::register(s, stranger.as_str(), &spec, h))
        .unwrap_err();
    assert!(e.is(CoproCode::Unauthorized), "{e}");
    let e = chain
        .block(|s, h| {
            registry::update(
                s,
                stranger.as_str(),
                &ProgramSpec {
                    id: "transfer".into(),
                    version: 2,
                    ..spec.clone()
                },
                h,
            )
        })
        .unwrap_err();
    assert!(e.is(CoproCode::Unauthorized), "{e}");
    let e = chain
        .block(|s, _| registry::set_prover(s, stranger.as_str(), stranger.as_str()))
        .unwrap_err();
    assert!(e.is(CoproCode::Unauthorized), "{e}");
    // The authority: bad specs are refused, good ones land.
    let bad = [
        ProgramSpec {
            vk_hash: vec![0; 32],
            ..spec.clone()
        },
        ProgramSpec {
            verifying_key: vk_bytes()[..100].to_vec(),
            ..spec.clone()
        },
        ProgramSpec {
            batch_size: 0,
            ..spec.clone()
        },
        ProgramSpec {
            tree_depth: 3,
            ..spec.clone()
        },
        ProgramSpec {
            id: "Bad Id".into(),
            ..spec.clone()
        },
        ProgramSpec {
            id: "transfer".into(),
            ..spec.clone()
        },
    ];
    for b in bad {
        let e = chain
            .block(|s, h| registry::register(s, authority().as_str(), &b, h))
            .unwrap_err();
        assert!(e.is(CoproCode::InvalidProgram), "{b:?}: {e}");
    }
    chain
        .block(|s, h| registry::register(s, authority().as_str(), &spec, h))
        .unwrap();
    let e = chain
        .block(|s, h| {
            registry::update(
                s,
                authority().as_str(),
                &ProgramSpec {
                    version: 1,
                    ..spec.clone()
                },
                h,
            )
        })
        .unwrap_err();
    assert!(e.is(CoproCode::InvalidProgram), "a version must grow: {e}");
    chain
        .block(|s, _| registry::set_prover(s, authority().as_str(), stranger.as_str()))
        .unwrap();
    assert_eq!(chain.snapshot().prover().unwrap(), stranger.as_str());
}

#[test]
fn several_proofs_in_one_block_chain_and_verify_all_finds_the_bad_one() {
    let us = users();
    let mut chain = Chain::new(&us, 1_000);
    for (i, u) in us.iter().enumerate() {
        deposit(&mut chain, u, 10 + i as u64).unwrap();
    }
    deposit(&mut chain, &us[0], 5).unwrap();
    let mut prover = TestProver::new();
    let first = prover.prove_next(&chain, 2, true);
    // The second proof starts where the first ends: prove it over a chain
    // that has applied the first.
    let verifier = Verifier::default();
    let mut block = chain.delta();
    let c1 = submit::check_stateful(
        &block,
        SubmitProof::from_msg(&first.msg).unwrap(),
        CHAIN_ID,
        chain.height,
    )
    .unwrap();
    submit::apply(&mut block, &c1, chain.height, [1; 32]).unwrap();
    let mut ahead = Chain::new(&us, 1_000);
    for (i, u) in us.iter().enumerate() {
        deposit(&mut ahead, u, 10 + i as u64).unwrap();
    }
    deposit(&mut ahead, &us[0], 5).unwrap();
    ahead
        .block(|s, h| submit::apply(s, &c1, h, [1; 32]))
        .unwrap();
    let second = prover.prove_next(&ahead, 2, true);
    let c2 = submit::check_stateful(
        &block,
        SubmitProof::from_msg(&second.msg).unwrap(),
        CHAIN_ID,
        chain.height,
    )
    .unwrap();
    // One call, both good.
    let verdicts = verifier.verify_all(&[c1.clone(), c2.clone()], Stage::ProcessProposal);
    assert!(verdicts.iter().all(Result::is_ok));
    assert_eq!(verifier.verifications(Stage::ProcessProposal), 2);
    // Known verdicts are not verified again.
    verifier.verify_all(&[c1.clone(), c2.clone()], Stage::FinalizeBlock);
    assert_eq!(verifier.verifications(Stage::FinalizeBlock), 0);
    // A fresh verifier, one tampered input: only that one fails.
    let fresh = Verifier::default();
    let mut bad = c2.clone();
    bad.public_input = fr_from_u64(1);
    bad.verification_id = [9; 32];
    let verdicts = fresh.verify_all(&[c1, bad], Stage::ProcessProposal);
    assert!(verdicts[0].is_ok());
    assert!(
        verdicts[1]
            .as_ref()
            .unwrap_err()
            .is(CoproCode::InvalidProof)
    );
}

#[test]
fn two_chains_applying_the_same_requests_and_proofs_agree_on_every_root() {
    let us = users();
    let mut a = Chain::new(&us, 1_000);
    let mut b = Chain::new(&us, 1_000);
    let mut prover = TestProver::new();
    let verifier = Verifier::default();
    for chain in [&mut a, &mut b] {
        deposit(chain, &us[0], 50).unwrap();
        deposit(chain, &us[1], 60).unwrap();
    }
    let batch = prover.prove_next(&a, 2, true);
    for chain in [&mut a, &mut b] {
        submit(chain, &verifier, &batch.msg).unwrap();
    }
    let h = a.height - 1;
    assert_eq!(a.height, b.height);
    assert_eq!(
        a.storage.root_hash(h).unwrap(),
        b.storage.root_hash(h).unwrap()
    );
    assert_eq!(a.bank(&escrow_address()), 110);
}

fn query<Req: prost::Message, Resp: prost::Message + Default>(
    chain: &Chain,
    method: &str,
    req: Req,
) -> Result<Resp, CoproError> {
    let path = format!("{}{method}", copro_coprocessor::query::PREFIX);
    let bytes = copro_coprocessor::query::handle(&chain.snapshot(), &path, &req.encode_to_vec())
        .expect("a module path")?;
    Ok(Resp::decode(bytes.as_slice()).unwrap())
}

/// Checks an `ibc.core.commitment.v1.MerkleProof` of `key` = `value`
/// against the app hash of the state at `height`.
fn verify_proof(chain: &Chain, height: u64, proof: &[u8], key: &[u8], value: &[u8]) -> bool {
    use ibc_proto::ibc::core::commitment::v1::MerkleProof;
    let proof = <MerkleProof as prost::Message>::decode(proof).unwrap();
    assert_eq!(proof.proofs.len(), 1);
    let root = chain.storage.root_hash(height).unwrap().unwrap();
    ics23::verify_membership::<ics23::HostFunctionsManager>(
        &proof.proofs[0],
        &copro_store::proof_spec(),
        &root.to_vec(),
        key,
        value,
    )
}

#[test]
fn roots_accounts_and_results_are_queryable_and_provable() {
    use copro_coprocessor::state_key;
    use prost::Message;
    let us = users();
    let mut chain = Chain::new(&us, 1_000);
    let mut prover = TestProver::new();
    let verifier = Verifier::default();
    deposit(&mut chain, &us[0], 40).unwrap();
    deposit(&mut chain, &us[1], 2).unwrap();
    deposit(&mut chain, &us[2], 3).unwrap();
    let batch = prover.prove_next(&chain, 2, true);
    submit(&mut chain, &verifier, &batch.msg).unwrap();
    let h = chain.height - 1;

    let root: pb::QueryRootResponse = query(
        &chain,
        "Root",
        pb::QueryRootRequest {
            height: 0,
            prove: true,
        },
    )
    .unwrap();
    assert_eq!(root.height, h);
    let record = root.root.unwrap();
    assert_eq!(record.root, fr_bytes(&batch.new_root));
    assert_eq!(record.set_height, h);
    assert!(verify_proof(
        &chain,
        h,
        &root.proof,
        &state_key::ledger_root(),
        &record.encode_to_vec()
    ));
    // A tampered record does not verify.
    let mut forged = record.clone();
    forged.root = fr_bytes(&fr_from_u64(1));
    assert!(!verify_proof(
        &chain,
        h,
        &root.proof,
        &state_key::ledger_root(),
        &forged.encode_to_vec()
    ));

    let acc: pb::QueryLedgerAccountResponse = query(
        &chain,
        "LedgerAccount",
        pb::QueryLedgerAccountRequest {
            address: us[0].to_string(),
            prove: true,
        },
    )
    .unwrap();
    let account = acc.account.unwrap();
    assert_eq!((account.balance, account.nonce), (40, 0));
    assert!(verify_proof(
        &chain,
        h,
        &acc.proof,
        &state_key::ledger_account(us[0].as_str()),
        &account.encode_to_vec()
    ));
    let missing = query::<_, pb::QueryLedgerAccountResponse>(
        &chain,
        "LedgerAccount",
        pb::QueryLedgerAccountRequest {
            address: address(50).to_string(),
            prove: false,
        },
    )
    .unwrap_err();
    assert_eq!((missing.codespace, missing.code), ("sdk", 22));

    let res: pb::QueryResultResponse = query(
        &chain,
        "Result",
        pb::QueryResultRequest { id: 0, prove: true },
    )
    .unwrap();
    let result = res.result.unwrap();
    assert_eq!((result.start_sequence, result.end_sequence), (0, 2));
    assert!(verify_proof(
        &chain,
        h,
        &res.proof,
        &state_key::result(0),
        &result.encode_to_vec()
    ));
    let all: pb::QueryResultsResponse = query(
        &chain,
        "Results",
        pb::QueryResultsRequest {
            from_height: 0,
            pagination: None,
        },
    )
    .unwrap();
    assert_eq!(all.results.len(), 1);
    let later: pb::QueryResultsResponse = query(
        &chain,
        "Results",
        pb::QueryResultsRequest {
            from_height: h + 1,
            pagination: None,
        },
    )
    .unwrap();
    assert!(later.results.is_empty());

    // The queue: one pending deposit left, paged one at a time.
    let q: pb::QueryQueueResponse = query(
        &chain,
        "Queue",
        pb::QueryQueueRequest {
            pagination: Some(pb::PageRequest {
                key: vec![],
                limit: 1,
            }),
        },
    )
    .unwrap();
    assert_eq!(q.state.unwrap().settled_up_to, 2);
    assert_eq!(q.entries.len(), 1);
    assert_eq!(q.entries[0].sequence, 2);
    assert!(q.pagination.unwrap().next_key.is_empty());

    let p: pb::QueryProgramResponse = query(
        &chain,
        "Program",
        pb::QueryProgramRequest {
            program_id: "transfer".into(),
            version: 0,
        },
    )
    .unwrap();
    assert_eq!(p.program.unwrap().version, 1);
    let e = query::<_, pb::QueryProgramResponse>(
        &chain,
        "Program",
        pb::QueryProgramRequest {
            program_id: "transfer".into(),
            version: 3,
        },
    )
    .unwrap_err();
    assert_eq!(e.code, 22);
    // Malformed request bytes and unknown methods are refused with codes.
    let path = format!("{}Root", copro_coprocessor::query::PREFIX);
    let e = copro_coprocessor::query::handle(&chain.snapshot(), &path, &[0xff, 0xff])
        .unwrap()
        .unwrap_err();
    assert_eq!((e.codespace, e.code), ("sdk", 18), "{e}");
    let e = query::<_, pb::QueryResultsResponse>(
        &chain,
        "Results",
        pb::QueryResultsRequest {
            from_height: 0,
            pagination: Some(pb::PageRequest {
                key: vec![],
                limit: 101,
            }),
        },
    )
    .unwrap_err();
    assert_eq!(
        (e.codespace, e.code),
        ("sdk", 18),
        "a page above the limit is refused: {e}"
    );
    let e = copro_coprocessor::query::handle(
        &chain.snapshot(),
        &format!("{}Nope", copro_coprocessor::query::PREFIX),
        &[],
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(e.code, 6);
}

#[test]
fn an_unused_ledger_exports_its_registry_and_a_used_one_refuses() {
    use copro_coprocessor::genesis::GenesisState;
    use copro_store::{EmptyState, StateDelta};

    let us = users();
    let mut chain = Chain::new(&us, 1_000);
    let export = GenesisState::export(&chain.snapshot()).unwrap();
    assert_eq!(export.authority, authority().as_str());
    assert_eq!(export.prover, prover().as_str());
    assert_eq!(export.programs.len(), 1);
    assert_eq!(export.programs[0].verifying_key, hex::encode(vk_bytes()));
    // A state started from the export exports the same section, with the
    // same ledger root.
    let mut again = StateDelta::new(EmptyState);
    export.init(&mut again).unwrap();
    assert_eq!(GenesisState::export(&again).unwrap(), export);
    assert_eq!(
        again.ledger_root().unwrap(),
        chain.snapshot().ledger_root().unwrap()
    );

    // A second version of a program does not fit in genesis.
    let mut upgraded = Chain::new(&us, 1_000);
    let spec = program_spec("transfer", 2, params().tree.depth);
    upgraded
        .block(|s, h| registry::update(s, authority().as_str(), &spec, h))
        .unwrap();
    let e = GenesisState::export(&upgraded.snapshot()).unwrap_err();
    assert!(e.to_string().contains("several versions"), "{e}");

    // Nor does a ledger in use.
    deposit(&mut chain, &us[0], 10).unwrap();
    let e = GenesisState::export(&chain.snapshot()).unwrap_err();
    assert!(
        e.to_string()
            .contains("the coprocessor ledger is in use (accounts: 1, requests: 1, results: 0)"),
        "{e}"
    );
}

#[test]
fn a_contract_requests_callback_is_queryable_and_provable() {
    use copro_coprocessor::callback::{self, ContractRequest};
    use copro_coprocessor::state_key;
    use prost::Message;
    let us = users();
    let mut chain = Chain::new(&us, 1_000);
    let (sequence, _) = chain.block(|delta, h| {
        callback::request(
            delta,
            &us[0],
            ContractRequest::Deposit { amount: 10 },
            5_000,
            h,
        )
        .unwrap()
    });
    let h = chain.height - 1;
    let got: pb::QueryCallbackResponse = query(
        &chain,
        "Callback",
        pb::QueryCallbackRequest {
            sequence,
            prove: true,
        },
    )
    .unwrap();
    let record = got.callback.unwrap();
    assert_eq!(record.contract, us[0].to_string());
    assert_eq!(record.gas_limit, 5_000);
    assert_eq!(callback::status_name(record.status), "pending");
    assert!(verify_proof(
        &chain,
        h,
        &got.proof,
        &state_key::callback(sequence),
        &record.encode_to_vec()
    ));
    // A request with no callback (an account's own) is not found.
    let missing = query::<_, pb::QueryCallbackResponse>(
        &chain,
        "Callback",
        pb::QueryCallbackRequest {
            sequence: sequence + 1,
            prove: false,
        },
    )
    .unwrap_err();
    assert_eq!((missing.codespace, missing.code), ("sdk", 22));
}
