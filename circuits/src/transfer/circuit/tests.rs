//! Satisfaction and soundness tests of the transfer circuit on small trees.

use bellman::Circuit;
use bellman::gadgets::test::TestConstraintSystem;
use ff::Field;

use crate::field::Fr;
use crate::public_input::PublicInputs;
use crate::smt::{Arity, TreeConfig};
use crate::transfer::*;

const CHAIN: &[u8] = b"copro-test-1";

fn key(n: u64) -> Fr {
    Fr::from(1000 + n)
}

fn params(batch_size: usize) -> TransferParams {
    TransferParams {
        batch_size,
        tree: TreeConfig::new(Arity::Two, 3).unwrap(),
    }
}

/// Ledger with account 1 (balance 100) and account 2 (balance u64::MAX - 5).
fn ledger(p: &TransferParams) -> Ledger {
    let mut l = Ledger::new(p.tree);
    l.set_account(
        1,
        Account {
            key: key(1),
            balance: 100,
            nonce: 0,
        },
    )
    .unwrap();
    l.set_account(
        2,
        Account {
            key: key(2),
            balance: u64::MAX - 5,
            nonce: 3,
        },
    )
    .unwrap();
    l
}

fn run(p: &TransferParams, entries: &[QueueEntry]) -> (TransferOutcome, TransferWitness, Ledger) {
    let mut l = ledger(p);
    let (o, w) = execute(p, CHAIN, &mut l, Fr::from(77u64), entries).unwrap();
    (o, w, l)
}

/// Synthesizes with `witness` and sets the public input to what the chain computes
/// from `public`.
fn synth(
    p: &TransferParams,
    witness: TransferWitness,
    public: &PublicInputs,
) -> TestConstraintSystem<Fr> {
    let mut cs = TestConstraintSystem::<Fr>::new();
    Transfer::circuit(p, Some(witness))
        .synthesize(&mut cs)
        .unwrap();
    cs.set("public input/public input", public.commitment());
    cs
}

fn assert_unsatisfied(cs: &TestConstraintSystem<Fr>, expected: &str) {
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

fn mixed_batch() -> Vec<QueueEntry> {
    vec![
        QueueEntry::deposit(5, key(5), 40),                 // new account
        QueueEntry::transfer(1, key(1), 5, key(5), 30, 0),  // applies
        QueueEntry::withdraw(5, key(5), 50, 0),             // 70 -> 20
        QueueEntry::transfer(1, key(1), 2, key(2), 500, 1), // overdraft: rejected
    ]
}

#[test]
fn honest_batch_satisfies_and_matches_native() {
    let p = params(6);
    let (o, w, after) = run(&p, &mixed_batch());
    let statuses: Vec<EntryStatus> = o.effects.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            EntryStatus::Applied,
            EntryStatus::Applied,
            EntryStatus::Applied,
            EntryStatus::Rejected
        ]
    );
    assert_eq!(after.account(5).unwrap().balance, 20);
    assert_eq!(after.account(5).unwrap().nonce, 1);
    assert_eq!(after.account(1).unwrap().balance, 70);
    assert_eq!(o.deltas.withdrawals.len(), 1);
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
    assert!(cs.verify(&[o.public.commitment()]));
    assert_eq!(cs.num_inputs(), 2, "exactly one public input besides ONE");

    // The chain's mirror: apply the expanded deltas, get the proven root.
    let mut mirror = ledger(&p);
    let deltas = expand_deltas(&mixed_batch(), &o.effects).unwrap();
    assert_eq!(deltas, o.deltas);
    assert_eq!(mirror.apply_deltas(&deltas).unwrap(), o.public.new_root);
    assert_eq!(
        deltas_commitment(&o.effects, p.batch_size).unwrap(),
        o.public.deltas_commitment
    );
    let x = public_input(
        CHAIN,
        o.public.old_root,
        o.public.new_root,
        o.public.queue_before,
        o.public.queue_after,
        &o.effects,
        p.batch_size,
    )
    .unwrap();
    assert_eq!(x, o.public.commitment());
}

#[test]
fn quaternary_tree_batch_satisfies() {
    let p = TransferParams {
        batch_size: 2,
        tree: TreeConfig::new(Arity::Four, 2).unwrap(),
    };
    let mut l = Ledger::new(p.tree);
    l.set_account(
        3,
        Account {
            key: key(3),
            balance: 9,
            nonce: 0,
        },
    )
    .unwrap();
    let (o, w) = execute(
        &p,
        CHAIN,
        &mut l,
        Fr::ZERO,
        &[QueueEntry::transfer(3, key(3), 14, key(14), 9, 0)],
    )
    .unwrap();
    assert_eq!(o.effects[0].status, EntryStatus::Applied);
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
}

#[test]
fn rejected_entries_are_recorded_no_ops() {
    let p = params(4);
    let entries = [
        QueueEntry::transfer(1, key(1), 3, key(3), 10, 7), // wrong nonce
        QueueEntry::deposit(2, key(2), 10),                // credit overflow
        QueueEntry::transfer(1, key(9), 3, key(3), 10, 0), // key mismatch
        QueueEntry::transfer(1, key(1), 1, key(1), 10, 0), // self transfer
    ];
    let (o, w, after) = run(&p, &entries);
    assert!(o.effects.iter().all(|e| e.status == EntryStatus::Rejected));
    assert_eq!(o.public.new_root, o.public.old_root);
    assert_ne!(o.public.queue_after, o.public.queue_before);
    assert_eq!(after.root().unwrap(), ledger(&p).root().unwrap());
    let cs = synth(&p, w, &o.public);
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
}

#[test]
fn wrong_sibling_is_unsatisfied() {
    let p = params(1);
    let (o, mut w, _) = run(&p, &[QueueEntry::transfer(1, key(1), 5, key(5), 1, 0)]);
    w.entries[0].from.siblings[1][0] += Fr::ONE;
    assert_unsatisfied(&synth(&p, w, &o.public), "old root matches");
}

#[test]
fn overdraft_cannot_be_applied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::withdraw(1, key(1), 101, 0)]);
    assert_eq!(o.effects[0].status, EntryStatus::Rejected);
    // Claiming the funds check passed breaks its range decomposition.
    let mut cs = synth(&p, w.clone(), &o.public);
    cs.set("entry 0/funds bit 64", Fr::ONE);
    assert_unsatisfied(&cs, "funds recomposition");
    // Claiming a higher stored balance breaks the Merkle path.
    let mut w2 = w;
    w2.entries[0].from.balance = 1000;
    assert_unsatisfied(&synth(&p, w2, &o.public), "old root matches");
    // And the chain's public input for an "applied" withdrawal does not match.
    let mut public = o.public.clone();
    let forged = [EntryEffect {
        status: EntryStatus::Applied,
        from_balance: 0,
        from_nonce: 1,
        to_balance: 0,
    }];
    public.deltas_commitment = deltas_commitment(&forged, 1).unwrap();
    let (_, w3, _) = run(&p, &[QueueEntry::withdraw(1, key(1), 101, 0)]);
    assert_unsatisfied(&synth(&p, w3, &public), "public input matches");
}

#[test]
fn credit_overflow_cannot_be_applied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::deposit(2, key(2), 6)]);
    assert_eq!(o.effects[0].status, EntryStatus::Rejected);
    let mut cs = synth(&p, w, &o.public);
    cs.set("entry 0/fits bit 64", Fr::ZERO);
    assert_unsatisfied(&cs, "fits recomposition");
}

#[test]
fn wrong_nonce_cannot_be_applied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::transfer(1, key(1), 5, key(5), 1, 4)]);
    assert_eq!(o.effects[0].status, EntryStatus::Rejected);
    let mut cs = synth(&p, w.clone(), &o.public);
    cs.set("entry 0/nonce matches flag", Fr::ONE);
    assert_unsatisfied(&cs, "nonce matches");
    let mut w2 = w;
    w2.entries[0].from.nonce = 4;
    assert_unsatisfied(&synth(&p, w2, &o.public), "old root matches");
}

#[test]
fn key_mismatch_cannot_be_applied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::deposit(1, key(9), 5)]);
    assert_eq!(o.effects[0].status, EntryStatus::Rejected);
    let mut cs = synth(&p, w, &o.public);
    cs.set("entry 0/credit key matches flag", Fr::ONE);
    assert_unsatisfied(&cs, "credit key matches");
}

#[test]
fn skipped_queue_entry_is_unsatisfied() {
    let p = params(2);
    let entries = [
        QueueEntry::deposit(1, key(1), 1),
        QueueEntry::deposit(3, key(3), 2),
    ];
    let (o, mut w, _) = run(&p, &entries);
    // The prover drops the second entry (turns it into padding).
    w.entries[1].entry = QueueEntry::padding();
    w.entries[1].to = w.entries[1].from.clone();
    assert_unsatisfied(&synth(&p, w, &o.public), "public input matches");
}

#[test]
fn reordered_padding_is_unsatisfied() {
    let p = params(2);
    let (o, mut w, _) = run(&p, &[QueueEntry::deposit(1, key(1), 1)]);
    // A padding slot first (read at the old root), then the real entry.
    let (_, empty, _) = run(&p, &[]);
    w.entries = vec![empty.entries[0].clone(), w.entries[0].clone()];
    assert_unsatisfied(&synth(&p, w, &o.public), "padding only at the end");
}

#[test]
fn altered_delta_is_unsatisfied() {
    let p = params(2);
    let entries = [QueueEntry::deposit(1, key(1), 1)];
    let (o, w, _) = run(&p, &entries);
    let mut effects = o.effects.clone();
    effects[0].to_balance += 1;
    let mut public = o.public.clone();
    public.deltas_commitment = deltas_commitment(&effects, 2).unwrap();
    assert_unsatisfied(&synth(&p, w, &public), "public input matches");
}

#[test]
fn wrong_old_root_is_unsatisfied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::deposit(1, key(1), 1)]);
    let mut public = o.public.clone();
    public.old_root += Fr::ONE;
    assert_unsatisfied(&synth(&p, w.clone(), &public), "public input matches");
    let mut w2 = w;
    w2.old_root += Fr::ONE;
    assert_unsatisfied(&synth(&p, w2, &o.public), "old root matches");
}

#[test]
fn other_chain_or_program_is_unsatisfied() {
    let p = params(1);
    let (o, w, _) = run(&p, &[QueueEntry::deposit(1, key(1), 1)]);
    let mut public = o.public.clone();
    public.chain_id = b"other-chain".to_vec();
    assert_unsatisfied(&synth(&p, w.clone(), &public), "public input matches");
    let mut public = o.public.clone();
    public.program_version += 1;
    assert_unsatisfied(&synth(&p, w, &public), "public input matches");
}

#[test]
fn malformed_deltas_are_rejected() {
    let applied = EntryEffect {
        status: EntryStatus::Applied,
        from_balance: 1,
        from_nonce: 1,
        to_balance: 1,
    };
    let rejected_nonzero = EntryEffect {
        status: EntryStatus::Rejected,
        ..applied
    };
    assert!(deltas_commitment(&[applied, applied], 1).is_err());
    assert!(deltas_commitment(&[rejected_nonzero], 1).is_err());
    assert!(deltas_commitment(&[EntryEffect::PADDING], 1).is_err());
    assert!(expand_deltas(&[QueueEntry::deposit(1, key(1), 1)], &[]).is_err());
}

#[test]
fn account_keys_are_nonzero_and_distinct() {
    let a = account_key(b"copro1alice").unwrap();
    let b = account_key(b"copro1bob").unwrap();
    assert_ne!(a, b);
    assert_ne!(account_key(b""), account_key(b"\0"));
}

#[test]
fn random_batches_satisfy_and_mirror_matches() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(99);
    let p = params(4);
    let mut l = ledger(&p);
    let mut mirror = ledger(&p);
    let mut queue = Fr::ZERO;
    let amounts = [0u64, 1, 7, 60, 100, u64::MAX - 1, u64::MAX];
    for _ in 0..6 {
        let n = rng.gen_range(0..=4usize);
        let entries: Vec<QueueEntry> = (0..n)
            .map(|_| {
                let (i, j) = (rng.gen_range(0..8u32), rng.gen_range(0..8u32));
                let amount = amounts[rng.gen_range(0..amounts.len())];
                let nonce =
                    l.account(i).map_or(0, |a| a.nonce) + u64::from(rng.gen_range(0..4u32) == 0);
                match rng.gen_range(0..3) {
                    0 => QueueEntry::deposit(j, key(u64::from(j)), amount),
                    1 => QueueEntry::transfer(
                        i,
                        key(u64::from(i)),
                        j,
                        key(u64::from(j)),
                        amount,
                        nonce,
                    ),
                    _ => QueueEntry::withdraw(i, key(u64::from(i)), amount, nonce),
                }
            })
            .collect();
        let (o, w) = execute(&p, CHAIN, &mut l, queue, &entries).unwrap();
        let cs = synth(&p, w, &o.public);
        assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
        let deltas = expand_deltas(&entries, &o.effects).unwrap();
        assert_eq!(mirror.apply_deltas(&deltas).unwrap(), o.public.new_root);
        assert_eq!(
            deltas_commitment(&o.effects, p.batch_size).unwrap(),
            o.public.deltas_commitment
        );
        let mut q = queue;
        for e in &entries {
            q = e.queue_step(q);
        }
        assert_eq!(q, o.public.queue_after);
        queue = q;
    }
}
