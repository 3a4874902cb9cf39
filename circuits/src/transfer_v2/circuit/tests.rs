//! Satisfaction and soundness tests of the version-2 transfer circuit: honest
//! batches against the native executor and the chain's functions, the
//! refused transfers of issue 9 in the circuit, one failing witness per new
//! constraint family, and a Groth16 round trip.

use bellman::Circuit;
use bellman::gadgets::test::TestConstraintSystem;
use ff::{Field, PrimeField};
use jubjub::{AffinePoint, ExtendedPoint};

use crate::field::Fr;
use crate::gadgets::Lin;
use crate::program::Program;
use crate::public_input::PublicInputs;
use crate::spend_auth::gadget::{SignatureWitness, verify_signature};
use crate::spend_auth::{Scalar, chain_id_element, challenge, coordinates, generator};
use crate::transfer_v2::tests::{
    ALLOC, CHAIN, add_le, addr_key, address, chain_public_input, key, ledger, mirror,
    mixed_offchain, mixed_queue, msg, off, params, r_j_bytes, run, signed, sk,
};
use crate::transfer_v2::*;

type Cs = TestConstraintSystem<Fr>;

fn synth(p: &TransferV2Params, witness: TransferV2Witness, public: &PublicInputs) -> Cs {
    let mut cs = Cs::new();
    TransferV2::circuit(p, Some(witness))
        .synthesize(&mut cs)
        .unwrap();
    cs.set("public input/public input", public.commitment());
    cs
}

fn assert_unsatisfied(cs: &Cs, expected: &str) {
    assert!(
        !cs.is_satisfied(),
        "constraint system unexpectedly satisfied"
    );
    let which = cs.which_is_unsatisfied().unwrap_or("");
    assert!(
        which.contains(expected),
        "unsatisfied constraint was {which:?}, expected {expected:?}"
    );
}

/// Runs one off-chain transfer without the native checks (the witness a
/// cheating prover would build) on the fixture ledger, B_q = 1, B_s = 2.
fn unchecked(t: OffchainTransfer) -> (TransferV2Params, TransferV2Outcome, TransferV2Witness) {
    unchecked_on(ledger(&params(1, 2)), t)
}

fn unchecked_on(
    mut l: Ledger,
    t: OffchainTransfer,
) -> (TransferV2Params, TransferV2Outcome, TransferV2Witness) {
    let p = params(1, 2);
    let (o, w) = execute_unchecked(&p, CHAIN, &mut l, Fr::ZERO, &[], &[t], ALLOC).unwrap();
    (p, o, w)
}

/// An honest one-transfer batch (1 -> 3, 5 units), B_q = 1, B_s = 2.
fn honest() -> (TransferV2Params, TransferV2Outcome, TransferV2Witness) {
    let p = params(1, 2);
    let t = off(signed(1, msg(1, 3, key(3), 5, 0)), Recipient::Existing(3));
    let (o, w, _) = run(&p, &[], &[t]).unwrap();
    (p, o, w)
}

#[test]
fn mixed_batch_satisfies_and_matches_native_and_chain() {
    let p = params(7, 5);
    let (o, w, _) = run(&p, &mixed_queue(), &mixed_offchain()).unwrap();
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
    assert!(cs.verify(&[o.public.commitment()]));
    assert_eq!(cs.num_inputs(), 2, "exactly one public input besides ONE");
    // The public input the chain computes from its mirror and the data.
    let (x, _) = chain_public_input(&p, &mirror(&p), &mixed_queue(), &o, &o.offchain).unwrap();
    assert_eq!(x, o.public.commitment());
}

#[test]
fn batches_of_padding_and_quaternary_trees_satisfy() {
    // Both sections all padding.
    let p = params(2, 2);
    let (o, w, _) = run(&p, &[], &[]).unwrap();
    assert_eq!(o.public.new_root, o.public.old_root);
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
    // Arity 4, a set-key then a transfer signed with it to a new account.
    let p = TransferV2Params {
        queue_slots: 1,
        offchain_slots: 1,
        tree: crate::smt::TreeConfig::new(crate::smt::Arity::Four, 2).unwrap(),
    };
    let mut l = Ledger::new(p.tree);
    l.set_account(
        3,
        transfer::Account {
            key: key(3),
            balance: 9,
            nonce: 0,
        }
        .into(),
    )
    .unwrap();
    let queue = [QueueEntry::set_key(3, key(3), sk(3).public_key())];
    let t = off(
        signed(3, msg(3, BY_KEY_INDEX, addr_key(7), 9, 0)),
        Recipient::New(address(7)),
    );
    let (o, w) = execute(&p, CHAIN, &mut l, Fr::ZERO, &queue, &[t], 14).unwrap();
    assert_eq!(l.account(14).unwrap().balance, 9);
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
}

#[test]
fn random_batches_satisfy_and_the_mirror_follows() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let p = params(3, 2);
    let mut l = ledger(&p);
    let mut m = mirror(&p);
    let mut q = Fr::ZERO;
    let mut next = ALLOC;
    for round in 0..4u8 {
        let queue: Vec<QueueEntry> = (0..rng.gen_range(0..=3usize))
            .map(|_| {
                let i = rng.gen_range(1..5u32);
                let nonce = l.account(i).map_or(0, |a| a.nonce);
                match rng.gen_range(0..4) {
                    0 => transfer::QueueEntry::deposit(i, key(u64::from(i)), 20).into(),
                    1 => transfer::QueueEntry::withdraw(i, key(u64::from(i)), 3, nonce).into(),
                    2 => QueueEntry::set_key(i, key(u64::from(i)), sk(i as u8).public_key()),
                    _ => transfer::QueueEntry::transfer(i, key(u64::from(i)), 1, key(1), 2, nonce)
                        .into(),
                }
            })
            .collect();
        // Off-chain transfers the prover accepts: keep those that apply after
        // the queue section (a dry run on a copy).
        let mut pool = Vec::new();
        for j in 0..3u8 {
            let from = rng.gen_range(1..4u32);
            let by_key = rng.gen_bool(0.5);
            let new = rng.gen_bool(0.3);
            let (to_key, recipient) = if new {
                let a = 100 + round * 10 + j;
                (addr_key(a), Recipient::New(address(a)))
            } else {
                let to = if from == 1 { 3 } else { 1 };
                (key(u64::from(to)), Recipient::Existing(to))
            };
            let to_index = match (by_key, recipient) {
                (true, _) => BY_KEY_INDEX,
                (false, Recipient::Existing(i)) => i,
                (false, Recipient::New(_)) => next,
            };
            let nonce = l.account(from).map_or(0, |a| a.nonce);
            pool.push(off(
                signed(from as u8, msg(from, to_index, to_key, 1, nonce)),
                recipient,
            ));
        }
        let mut accepted: Vec<OffchainTransfer> = Vec::new();
        for t in pool {
            let mut trial = accepted.clone();
            trial.push(t);
            let mut copy = l.clone();
            if trial.len() <= p.offchain_slots
                && execute(&p, CHAIN, &mut copy, q, &queue, &trial, next).is_ok()
            {
                accepted = trial;
            }
        }
        let (o, w) = execute(&p, CHAIN, &mut l, q, &queue, &accepted, next).unwrap();
        let cs = synth(&p, w, &o.public);
        assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
        let (x, d) = chain_public_input(&p, &m, &queue, &o, &o.offchain).unwrap();
        assert_eq!(x, o.public.commitment());
        assert_eq!(m.ledger.apply_writes(&d.writes).unwrap(), o.public.new_root);
        for a in &d.new_accounts {
            m.bound.insert(a.address);
        }
        next += d.created();
        q = o.public.queue_after;
    }
}

// ---- The refusals of issue 9, in the circuit ----

#[test]
fn a_signature_by_another_key_is_unsatisfied() {
    let (p, o, mut w) = honest();
    let forged = sk(9).sign(chain_id_element(CHAIN), &msg(1, 3, key(3), 5, 0).fields());
    w.offchain[0].signature = forged.witness().unwrap();
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/equation");
}

#[test]
fn fields_changed_after_signing_are_unsatisfied() {
    for tamper in [
        |m: &mut TransferMessage| m.amount = 6,
        |m: &mut TransferMessage| m.to_key = key(1),
        |m: &mut TransferMessage| m.to_index = 1,
    ] {
        let mut s = signed(1, msg(1, 3, key(3), 5, 0));
        tamper(&mut s.message);
        let recipient = Recipient::Existing(s.message.to_index);
        let (p, o, w) = unchecked(off(s, recipient));
        assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/equation");
    }
    // The circuit takes the nonce from the sender's leaf, never from the
    // message: a message whose nonce was changed after signing is proven as
    // signed (at the leaf's nonce) or not at all. A transfer signed for
    // another nonce than the leaf's does not verify.
    let s = signed(1, msg(1, 3, key(3), 5, 1));
    let (p, o, w) = unchecked(off(s, Recipient::Existing(3)));
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/equation");
}

#[test]
fn a_replayed_transfer_is_unsatisfied() {
    let t = off(signed(1, msg(1, 3, key(3), 5, 0)), Recipient::Existing(3));
    let p = params(1, 2);
    let mut l = ledger(&p);
    execute(&p, CHAIN, &mut l, Fr::ZERO, &[], &[t], ALLOC).unwrap();
    // The leaf's nonce is 1 now; the signed message says 0.
    let (p, o, w) = unchecked_on(l, t);
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/equation");
}

#[test]
fn a_signature_for_another_chain_is_unsatisfied() {
    let t = SignedTransfer::sign(&sk(1), b"other-chain", msg(1, 3, key(3), 5, 0));
    let (p, o, w) = unchecked(off(t, Recipient::Existing(3)));
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/equation");
}

#[test]
fn non_canonical_s_is_unsatisfied() {
    let (p, o, mut w) = honest();
    let s = &mut w.offchain[0].signature.s;
    *s = add_le(s, &r_j_bytes());
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/signature/s/range");
}

#[test]
fn identity_or_small_order_r_is_unsatisfied() {
    for r in [(Fr::ZERO, Fr::ONE), (Fr::ZERO, -Fr::ONE)] {
        let (p, o, mut w) = honest();
        w.offchain[0].signature.r = r;
        assert_unsatisfied(&synth(&p, w, &o.public), "R.u is invertible");
    }
}

/// A transfer from account 2, which has no spending key (spend = 0), with a
/// forged signature for the order-4 point `(sqrt(-1), 0)` (the curve point
/// with v = 0): every signature constraint holds (the verifier assumes a
/// prime-order key), so only the spend != 0 check stands in the way.
#[test]
fn a_transfer_from_an_account_without_a_key_is_unsatisfied() {
    let m = msg(2, 3, key(3), 1, 3);
    let (p, o, mut w) = unchecked(off(signed(1, m), Recipient::Existing(3)));
    let u4 = Option::<Fr>::from((-Fr::ONE).sqrt()).unwrap();
    let pk4 = ExtendedPoint::from(AffinePoint::from_raw_unchecked(u4, Fr::ZERO));
    let chain = chain_id_element(CHAIN);
    let g = ExtendedPoint::from(generator());
    let (r, s) = (1u64..)
        .find_map(|i| {
            let s = Scalar::from(i);
            (0u8..4).find_map(|t| {
                let mut t_pk = ExtendedPoint::identity();
                for _ in 0..t {
                    t_pk += pk4;
                }
                let r = g * s - t_pk;
                let rc = coordinates(&r);
                let c = challenge(chain, rc, (u4, Fr::ZERO), &m.fields());
                (rc.0 != Fr::ZERO && c.to_repr()[0] & 3 == t).then_some((rc, s))
            })
        })
        .unwrap();
    let sig = SignatureWitness { r, s: s.to_bytes() };
    // The forgery passes the signature verifier on its own ...
    let mut alone = Cs::new();
    let chain_var = Lin::alloc(&mut alone, "chain", Some(chain)).unwrap();
    let [m0, m1] = m.fields();
    let fields = [
        Lin::alloc(&mut alone, "m0", Some(m0)).unwrap(),
        Lin::alloc(&mut alone, "m1", Some(m1)).unwrap(),
    ];
    let u = Lin::alloc(&mut alone, "u", Some(u4)).unwrap();
    let v = Lin::alloc(&mut alone, "v", Some(Fr::ZERO)).unwrap();
    verify_signature(&mut alone, &u, &v, &fields, Some(&sig), &chain_var).unwrap();
    assert!(alone.is_satisfied(), "{:?}", alone.which_is_unsatisfied());
    // ... so the transfer circuit's spend != 0 check is what refuses it.
    w.offchain[0].pk_u = u4;
    w.offchain[0].signature = sig;
    assert_eq!(w.offchain[0].from.spend, Fr::ZERO);
    assert_unsatisfied(
        &synth(&p, w, &o.public),
        "offchain 0/sender has a spending key",
    );
}

#[test]
fn a_new_account_at_a_wrong_index_is_unsatisfied() {
    // Index 7 is free but alloc_start is 5.
    let t = off(
        signed(1, msg(1, 7, addr_key(7), 1, 0)),
        Recipient::Existing(7),
    );
    let (p, o, w) = unchecked(t);
    assert!(w.offchain[0].to.key == Fr::ZERO);
    assert_unsatisfied(
        &synth(&p, w, &o.public),
        "offchain 0/new account at the next free index",
    );
    // The second account of a batch must be at alloc_start + 1, not + 0.
    let p = params(1, 2);
    let ts = [
        off(
            signed(1, msg(1, BY_KEY_INDEX, addr_key(7), 1, 0)),
            Recipient::New(address(7)),
        ),
        off(
            signed(3, msg(3, BY_KEY_INDEX, addr_key(8), 1, 2)),
            Recipient::New(address(8)),
        ),
    ];
    let (o, mut w, _) = run(&p, &[], &ts).unwrap();
    assert_eq!(w.offchain[1].to_index, ALLOC + 1);
    let honest = synth(&p, w.clone(), &o.public);
    assert!(honest.is_satisfied());
    w.alloc_start = ALLOC + 1; // then the first is at the wrong index
    assert_unsatisfied(
        &synth(&p, w, &o.public),
        "offchain 0/new account at the next free index",
    );
}

#[test]
fn an_off_chain_entry_other_than_the_proven_one_is_unsatisfied() {
    let p = params(7, 5);
    let (o, w, _) = run(&p, &mixed_queue(), &mixed_offchain()).unwrap();
    let mut data = o.offchain.clone();
    data[0].amount += 1;
    // The chain may refuse such data outright; if it computes a public input,
    // the proof does not match it.
    if let Ok((x, _)) = chain_public_input(&p, &mirror(&p), &mixed_queue(), &o, &data) {
        let mut cs = Cs::new();
        TransferV2::circuit(&p, Some(w.clone()))
            .synthesize(&mut cs)
            .unwrap();
        cs.set("public input/public input", x);
        assert_unsatisfied(&cs, "public input matches");
    }
    let mut data = o.offchain.clone();
    data[2].recipient = Recipient::New(address(9));
    let (x, _) = chain_public_input(&p, &mirror(&p), &mixed_queue(), &o, &data).unwrap();
    assert_ne!(x, o.public.commitment());
    let mut cs = Cs::new();
    TransferV2::circuit(&p, Some(w))
        .synthesize(&mut cs)
        .unwrap();
    cs.set("public input/public input", x);
    assert_unsatisfied(&cs, "public input matches");
}

#[test]
fn a_set_key_from_a_non_owner_cannot_apply() {
    let p = params(1, 1);
    let e = [QueueEntry::set_key(1, key(9), sk(9).public_key())];
    let (o, w, _) = run(&p, &e, &[]).unwrap();
    assert_eq!(o.effects[0].status, EntryStatus::Rejected);
    let mut cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied());
    cs.set("entry 0/debit key matches flag", Fr::ONE);
    assert_unsatisfied(&cs, "entry 0/debit key matches");
}

// ---- One failing witness per new constraint family ----

#[test]
fn off_chain_rule_families_each_refuse_their_violation() {
    let cases: [(TransferMessage, Recipient, &str); 6] = [
        (
            msg(1, 3, key(3), 101, 0),
            Recipient::Existing(3),
            "sender funds",
        ),
        (
            msg(1, 2, key(2), 10, 0),
            Recipient::Existing(2),
            "recipient fits",
        ),
        (
            msg(1, 1, key(1), 1, 0),
            Recipient::Existing(1),
            "sender and recipient differ",
        ),
        (
            msg(1, 5, Fr::ZERO, 1, 0),
            Recipient::Existing(5),
            "recipient key is not zero",
        ),
        (
            msg(1, 3, key(9), 1, 0),
            Recipient::Existing(3),
            "recipient holds to key or is empty",
        ),
        (
            msg(1, 9, key(3), 1, 0),
            Recipient::Existing(3),
            "signature/equation",
        ),
    ];
    for (m, recipient, expected) in cases {
        let (p, o, w) = unchecked(off(signed(1, m), recipient));
        assert_unsatisfied(&synth(&p, w, &o.public), &format!("offchain 0/{expected}"));
    }
}

#[test]
fn an_exhausted_sender_nonce_is_unsatisfied() {
    let p = params(1, 2);
    let mut l = ledger(&p);
    let mut a = l.account(3).unwrap();
    a.nonce = u64::MAX;
    l.set_account(3, a).unwrap();
    let t = off(
        signed(3, msg(3, 1, key(1), 1, u64::MAX)),
        Recipient::Existing(1),
    );
    let (p, o, w) = unchecked_on(l, t);
    assert_unsatisfied(
        &synth(&p, w, &o.public),
        "offchain 0/sender nonce below max",
    );
}

#[test]
fn padding_families_refuse_a_moving_or_misplaced_padding_slot() {
    let (p, o, w) = honest();
    assert!(synth(&p, w.clone(), &o.public).is_satisfied());
    // Padding that moves an amount.
    let mut w2 = w.clone();
    w2.offchain[1].amount = 5;
    assert_unsatisfied(
        &synth(&p, w2, &o.public),
        "offchain 1/padding has amount zero",
    );
    // Padding before a real slot: a padding slot read at the old root (it
    // writes nothing, so the real slot's witness still fits after it).
    let (_, empty, _) = run(&p, &[], &[]).unwrap();
    let mut w3 = w;
    w3.offchain = vec![empty.offchain[0].clone(), w3.offchain[0].clone()];
    assert_unsatisfied(
        &synth(&p, w3, &o.public),
        "off-chain padding only at the end 1",
    );
}

#[test]
fn forged_selections_are_unsatisfied() {
    // A created account counted as not created (would skip the allocator).
    let p = params(1, 1);
    let t = off(
        signed(1, msg(1, BY_KEY_INDEX, addr_key(7), 1, 0)),
        Recipient::New(address(7)),
    );
    let (o, w, _) = run(&p, &[], &[t]).unwrap();
    let mut cs = synth(&p, w.clone(), &o.public);
    assert!(cs.is_satisfied());
    cs.set("offchain 0/creates an account value/product", Fr::ZERO);
    assert_unsatisfied(&cs, "offchain 0/creates an account");
    // The key the signature is checked against is the leaf's.
    let mut cs = synth(&p, w.clone(), &o.public);
    cs.set("offchain 0/key v value/product", Fr::ONE);
    assert_unsatisfied(&cs, "offchain 0/key v");
    // The signed index is BY_KEY_INDEX or the recipient's.
    let mut cs = synth(&p, w, &o.public);
    cs.set("offchain 0/signed to index value/product", Fr::ZERO);
    assert_unsatisfied(&cs, "offchain 0/signed to index");
}

#[test]
fn queue_slot_families_refuse_their_violation() {
    let p = params(1, 1);
    // Kind 5 (bits 0 and 2) is no kind.
    let (o, mut w, _) = run(&p, &[], &[]).unwrap();
    w.entries[0].entry.kind = 5;
    assert_unsatisfied(&synth(&p, w, &o.public), "set-key excludes kind bit 0");
    // An empty slot with a spend value (its leaf is still 0, so only this
    // family sees it).
    let (o, mut w, _) = run(&p, &[], &[]).unwrap();
    w.entries[0].from.spend = Fr::from(7u64);
    assert_unsatisfied(
        &synth(&p, w, &o.public),
        "entry 0/debit slot/empty slot has zero spend",
    );
    // The written spend is the entry's.
    let e = [QueueEntry::set_key(1, key(1), sk(5).public_key())];
    let (o, w, _) = run(&p, &e, &[]).unwrap();
    assert_eq!(o.effects[0].status, EntryStatus::Applied);
    let mut cs = synth(&p, w.clone(), &o.public);
    assert!(cs.is_satisfied());
    cs.set("entry 0/debit new spend value/product", Fr::ZERO);
    assert_unsatisfied(&cs, "entry 0/debit new spend");
    // A forged "applied" for a set-key that does not apply.
    let mut cs = synth(&p, w, &o.public);
    cs.set("entry 0/set-key applies value/product", Fr::ZERO);
    assert_unsatisfied(&cs, "entry 0/set-key applies");
    // An index outside the tree.
    let (o, mut w) = {
        let t = off(signed(1, msg(1, 3, key(3), 5, 0)), Recipient::Existing(3));
        let (o, w, _) = run(&p, &[], &[t]).unwrap();
        (o, w)
    };
    w.offchain[0].from_index = 9;
    assert_unsatisfied(&synth(&p, w, &o.public), "offchain 0/from index range");
}

#[test]
fn other_chain_or_version_in_the_public_input_is_unsatisfied() {
    let (p, o, w) = honest();
    let mut public = o.public.clone();
    public.chain_id = b"other-chain".to_vec();
    assert_unsatisfied(&synth(&p, w.clone(), &public), "public input matches");
    let mut public = o.public.clone();
    public.program_version = 1;
    assert_unsatisfied(&synth(&p, w.clone(), &public), "public input matches");
    // The witness's chain-id feeds both the signature and the public input.
    let mut w2 = w;
    w2.chain_id = b"other-chain".to_vec();
    assert_unsatisfied(&synth(&p, w2, &o.public), "offchain 0/signature/equation");
}

#[test]
fn groth16_round_trip() {
    use bellman::groth16;
    use bls12_381::Bls12;
    use rand::SeedableRng;
    let p = TransferV2Params {
        queue_slots: 1,
        offchain_slots: 1,
        tree: crate::smt::TreeConfig::new(crate::smt::Arity::Two, 4).unwrap(),
    };
    let mut l = ledger(&p);
    let queue = [transfer::QueueEntry::deposit(4, key(4), 3).into()];
    let t = off(
        signed(1, msg(1, BY_KEY_INDEX, addr_key(7), 5, 0)),
        Recipient::New(address(7)),
    );
    let (o, w) = execute(&p, CHAIN, &mut l, Fr::ZERO, &queue, &[t], ALLOC).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let keys =
        groth16::generate_random_parameters::<Bls12, _, _>(TransferV2::circuit(&p, None), &mut rng)
            .unwrap();
    let proof = prove(&p, w, &keys, [3; 32]).unwrap();
    let vk = crate::verify::CheckedVerifyingKey::new(keys.vk.clone()).unwrap();
    let x = TransferV2::public_input(&o);
    assert!(crate::verify::verify(&vk, &proof, x).is_ok());
    assert!(crate::verify::verify(&vk, &proof, x + Fr::ONE).is_err());
    // The chain's recomputation verifies; a changed amount in the data does not.
    let m = crate::transfer_v2::tests::Mirror {
        ledger: ledger(&p),
        bound: Default::default(),
    };
    let (y, _) = chain_public_input(&p, &m, &queue, &o, &o.offchain).unwrap();
    assert!(crate::verify::verify(&vk, &proof, y).is_ok());
    let mut data = o.offchain.clone();
    data[0].amount = 4;
    let (z, _) = chain_public_input(&p, &m, &queue, &o, &data).unwrap();
    assert!(crate::verify::verify(&vk, &proof, z).is_err());
}

/// Proving time per slot at the production tree (arity 4, depth 16): proves
/// B_q = 1 with B_s = 0 and with B_s = 1 and prints both (no assertion on
/// time). Ignored by default: about a minute of setup and proving.
/// `cargo test -p copro-circuits --release proving_time -- --ignored --nocapture`
#[test]
#[ignore]
fn proving_time_per_slot_at_production_size() {
    use bellman::groth16;
    use bls12_381::Bls12;
    use rand::SeedableRng;
    use std::time::Instant;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    for offchain_slots in [0usize, 1] {
        let p = TransferV2Params {
            queue_slots: 1,
            offchain_slots,
            tree: crate::smt::TreeConfig::PRODUCTION,
        };
        let mut l = ledger(&p);
        let queue = [transfer::QueueEntry::deposit(4, key(4), 3).into()];
        let t = off(signed(1, msg(1, 3, key(3), 5, 0)), Recipient::Existing(3));
        let offchain = if offchain_slots == 1 { vec![t] } else { vec![] };
        let (o, w) = execute(&p, CHAIN, &mut l, Fr::ZERO, &queue, &offchain, ALLOC).unwrap();
        let start = Instant::now();
        let keys = groth16::generate_random_parameters::<Bls12, _, _>(
            TransferV2::circuit(&p, None),
            &mut rng,
        )
        .unwrap();
        let setup = start.elapsed();
        let start = Instant::now();
        let proof = prove(&p, w, &keys, [4; 32]).unwrap();
        let proving = start.elapsed();
        let vk = crate::verify::CheckedVerifyingKey::new(keys.vk.clone()).unwrap();
        assert!(crate::verify::verify(&vk, &proof, TransferV2::public_input(&o)).is_ok());
        println!("B_q = 1, B_s = {offchain_slots}: setup {setup:?}, proving {proving:?}");
    }
}
