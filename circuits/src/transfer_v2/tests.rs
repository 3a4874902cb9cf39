//! Native and chain-side tests of `transfer` version 2, and the fixtures the
//! circuit tests share.

use std::collections::BTreeSet;

use ff::{Field, PrimeField};

use super::*;
use crate::smt::{Arity, TreeConfig};
use crate::spend_auth::{PointRole, Scalar, Signature, SpendingKey};

/// `r_J` as 32 little-endian bytes.
pub(crate) fn r_j_bytes() -> [u8; 32] {
    let mut b = (Scalar::ZERO - Scalar::ONE).to_bytes();
    // r_J - 1 is even: adding one only sets bit 0.
    b[0] |= 1;
    b
}

/// Little-endian 256-bit addition (the tests never overflow it).
pub(crate) fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = t.to_le_bytes()[0];
        carry = t >> 8;
    }
    assert_eq!(carry, 0);
    out
}

pub(crate) const CHAIN: &[u8] = b"copro-test-1";
/// The chain's next free index in the fixtures (0..=4 are allocated).
pub(crate) const ALLOC: u32 = 5;

pub(crate) fn key(n: u64) -> Fr {
    Fr::from(1000 + n)
}

pub(crate) fn sk(n: u8) -> SpendingKey {
    SpendingKey::from_seed(&[n; 32]).unwrap()
}

pub(crate) fn address(n: u8) -> [u8; ADDRESS_BYTES] {
    [n; ADDRESS_BYTES]
}

pub(crate) fn addr_key(n: u8) -> Fr {
    transfer::account_key(&address(n)).unwrap()
}

pub(crate) fn params(queue_slots: usize, offchain_slots: usize) -> TransferV2Params {
    TransferV2Params {
        queue_slots,
        offchain_slots,
        tree: TreeConfig::new(Arity::Two, 3).unwrap(),
    }
}

/// Account 1 (balance 100, nonce 0, key of sk 1), account 2 (balance
/// u64::MAX - 5, nonce 3, no spending key), account 3 (balance 50, nonce 2,
/// key of sk 3).
pub(crate) fn ledger(p: &TransferV2Params) -> Ledger {
    let mut l = Ledger::new(p.tree);
    let accounts = [
        (1, 100, 0, Some(sk(1).public_key())),
        (2, u64::MAX - 5, 3, None),
        (3, 50, 2, Some(sk(3).public_key())),
    ];
    for (i, balance, nonce, spend) in accounts {
        l.set_account(
            i,
            Account {
                key: key(u64::from(i)),
                balance,
                nonce,
                spend,
            },
        )
        .unwrap();
    }
    l
}

/// The chain's view: the settled ledger and the addresses with an index.
pub(crate) struct Mirror {
    pub(crate) ledger: Ledger,
    pub(crate) bound: BTreeSet<[u8; ADDRESS_BYTES]>,
}

impl MirrorView for Mirror {
    fn account(&self, index: u32) -> Option<transfer::Account> {
        self.ledger.account(index).map(|a| a.v1())
    }
    fn has_index(&self, address: &[u8; ADDRESS_BYTES]) -> bool {
        self.bound.contains(address)
    }
}

pub(crate) fn mirror(p: &TransferV2Params) -> Mirror {
    Mirror {
        ledger: ledger(p),
        bound: BTreeSet::new(),
    }
}

pub(crate) fn msg(from: u32, to: u32, to_key: Fr, amount: u64, nonce: u64) -> TransferMessage {
    TransferMessage {
        from_index: from,
        to_index: to,
        to_key,
        amount,
        nonce,
    }
}

pub(crate) fn signed(signer: u8, m: TransferMessage) -> SignedTransfer {
    SignedTransfer::sign(&sk(signer), CHAIN, m)
}

pub(crate) fn off(signed: SignedTransfer, recipient: Recipient) -> OffchainTransfer {
    OffchainTransfer { signed, recipient }
}

pub(crate) fn mixed_queue() -> Vec<QueueEntry> {
    vec![
        transfer::QueueEntry::deposit(4, key(4), 40).into(), // new account 4
        transfer::QueueEntry::transfer(1, key(1), 4, key(4), 30, 0).into(),
        transfer::QueueEntry::withdraw(4, key(4), 50, 0).into(), // 70 -> 20
        QueueEntry::set_key(4, key(4), sk(4).public_key()),      // applies
        QueueEntry::set_key(2, key(9), sk(9).public_key()),      // not the owner
        transfer::QueueEntry::transfer(1, key(1), 2, key(2), 500, 1).into(), // overdraft
    ]
}

pub(crate) fn mixed_offchain() -> Vec<OffchainTransfer> {
    vec![
        // To an existing account by index.
        off(signed(3, msg(3, 1, key(1), 10, 2)), Recipient::Existing(1)),
        // From the key set in the queue section, to a new account by key.
        off(
            signed(4, msg(4, BY_KEY_INDEX, addr_key(7), 5, 1)),
            Recipient::New(address(7)),
        ),
        // To a new account by its (correctly predicted) index.
        off(
            signed(1, msg(1, ALLOC + 1, addr_key(8), 7, 1)),
            Recipient::New(address(8)),
        ),
        // To the account created two transfers ago, by key.
        off(
            signed(3, msg(3, BY_KEY_INDEX, addr_key(7), 1, 3)),
            Recipient::Existing(ALLOC),
        ),
    ]
}

pub(crate) fn run(
    p: &TransferV2Params,
    queue: &[QueueEntry],
    offchain: &[OffchainTransfer],
) -> Result<(TransferV2Outcome, TransferV2Witness, Ledger), TransferV2Error> {
    let mut l = ledger(p);
    let (o, w) = execute(p, CHAIN, &mut l, Fr::from(77u64), queue, offchain, ALLOC)?;
    Ok((o, w, l))
}

fn rejected(
    r: Result<(TransferV2Outcome, TransferV2Witness, Ledger), TransferV2Error>,
) -> OffchainReject {
    match r {
        Err(TransferV2Error::OffchainRejected { reason, .. }) => reason,
        other => panic!("expected an off-chain rejection, got {other:?}"),
    }
}

/// The chain's side of a submission: expand the data over the mirror and
/// compute the public input.
pub(crate) fn chain_public_input(
    p: &TransferV2Params,
    m: &Mirror,
    queue: &[QueueEntry],
    o: &TransferV2Outcome,
    data: &[OffchainEntry],
) -> Result<(Fr, BatchDeltas), TransferV2Error> {
    let d = expand_batch(p, m, queue, &o.effects, data, o.alloc_start)?;
    let x = public_inputs(
        CHAIN,
        o.public.old_root,
        o.public.new_root,
        o.public.queue_before,
        o.public.queue_after,
        deltas_commitment(p, &o.effects, &d.resolved, o.alloc_start)?,
    )
    .commitment();
    Ok((x, d))
}

#[test]
fn mixed_batch_native_and_chain_agree() {
    let p = params(7, 5);
    let (o, _, after) = run(&p, &mixed_queue(), &mixed_offchain()).unwrap();
    let statuses: Vec<EntryStatus> = o.effects.iter().map(|e| e.status).collect();
    use EntryStatus::{Applied as A, Rejected as R};
    assert_eq!(statuses, [A, A, A, A, R, R]);
    let bal = |i| after.account(i).unwrap().balance;
    let nonce = |i| after.account(i).unwrap().nonce;
    assert_eq!((bal(1), nonce(1)), (100 - 30 + 10 - 7, 2));
    assert_eq!((bal(3), nonce(3)), (50 - 10 - 1, 4));
    assert_eq!((bal(4), nonce(4)), (40 + 30 - 50 - 5, 2));
    assert_eq!(after.account(4).unwrap().spend, Some(sk(4).public_key()));
    assert_eq!(after.account(2).unwrap().spend, None);
    assert_eq!(after.account(ALLOC).unwrap().key, addr_key(7));
    assert_eq!(bal(ALLOC), 6);
    assert_eq!(after.account(ALLOC + 1).unwrap().key, addr_key(8));
    assert_eq!(bal(ALLOC + 1), 7);
    assert_eq!(
        o.deltas.new_accounts,
        [
            NewAccount {
                index: ALLOC,
                address: address(7),
                key: addr_key(7)
            },
            NewAccount {
                index: ALLOC + 1,
                address: address(8),
                key: addr_key(8)
            }
        ]
    );
    assert_eq!(o.deltas.created(), 2);
    assert_eq!(o.deltas.withdrawals.len(), 1);
    assert_eq!(
        o.offchain[1],
        OffchainEntry {
            from_index: 4,
            recipient: Recipient::New(address(7)),
            amount: 5
        }
    );

    // The chain rebuilds everything from its mirror and the submitted data.
    let mut m = mirror(&p);
    let (x, d) = chain_public_input(&p, &m, &mixed_queue(), &o, &o.offchain).unwrap();
    assert_eq!(x, o.public.commitment());
    assert_eq!(d, o.deltas);
    assert_eq!(m.ledger.apply_writes(&d.writes).unwrap(), o.public.new_root);
    assert_eq!(m.ledger.accounts(), after.accounts());
}

#[test]
fn version_one_queue_gives_version_one_roots_and_effects() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let p2 = params(4, 1);
    let p1 = transfer::TransferParams {
        batch_size: 4,
        tree: p2.tree,
    };
    let mut l1 = transfer::Ledger::new(p1.tree);
    let mut l2 = Ledger::new(p2.tree);
    for (i, balance, nonce) in [(1u32, 100u64, 0u64), (2, u64::MAX - 5, 3)] {
        let a = transfer::Account {
            key: key(u64::from(i)),
            balance,
            nonce,
        };
        l1.set_account(i, a).unwrap();
        l2.set_account(i, a.into()).unwrap();
    }
    assert_eq!(
        l1.root().unwrap(),
        l2.root().unwrap(),
        "a v1 leaf is a v2 leaf"
    );
    let amounts = [0u64, 1, 7, 60, 100, u64::MAX];
    let mut q = Fr::ZERO;
    for _ in 0..8 {
        let n = rng.gen_range(0..=4usize);
        let entries: Vec<transfer::QueueEntry> = (0..n)
            .map(|_| {
                let (i, j) = (rng.gen_range(0..8u32), rng.gen_range(0..8u32));
                let amount = amounts[rng.gen_range(0..amounts.len())];
                let nonce = l1.account(i).map_or(0, |a| a.nonce);
                match rng.gen_range(0..3) {
                    0 => transfer::QueueEntry::deposit(j, key(u64::from(j)), amount),
                    1 => transfer::QueueEntry::transfer(
                        i,
                        key(u64::from(i)),
                        j,
                        key(u64::from(j)),
                        amount,
                        nonce,
                    ),
                    _ => transfer::QueueEntry::withdraw(i, key(u64::from(i)), amount, nonce),
                }
            })
            .collect();
        let v2_entries: Vec<QueueEntry> = entries.iter().map(|e| (*e).into()).collect();
        for (a, b) in entries.iter().zip(&v2_entries) {
            assert_eq!(a.queue_step(q), b.queue_step(q), "same queue hash");
        }
        let (o1, _) = transfer::execute(&p1, CHAIN, &mut l1, q, &entries).unwrap();
        let (o2, _) = execute(&p2, CHAIN, &mut l2, q, &v2_entries, &[], 8).unwrap();
        assert_eq!(o1.public.new_root, o2.public.new_root);
        assert_eq!(o1.public.queue_after, o2.public.queue_after);
        assert_eq!(o1.effects, o2.effects);
        assert_eq!(o1.deltas.withdrawals, o2.deltas.withdrawals);
        q = o1.public.queue_after;
    }
}

#[test]
fn set_key_packing_leaves_version_one_kinds_alone() {
    let e = QueueEntry::set_key(3, key(3), sk(3).public_key());
    let f = e.fields();
    assert_eq!(f.kind, KIND_SET_KEY);
    assert_eq!(f.to_key, sk(3).public_key().coordinates().1);
    assert_eq!(e.packed(), fr_pow2(SET_KEY_BIT) + Fr::from(12u64));
    // The largest version-1 packing stays below 2^194.
    let max =
        transfer::QueueEntry::transfer(u32::MAX, key(1), u32::MAX, key(2), u64::MAX, u64::MAX);
    let top = max.packed().to_repr();
    assert_eq!(top[24] & 0xfc, 0, "bits 194.. of a v1 packing are zero");
    assert!(top[25..].iter().all(|b| *b == 0));
    // Rejected by validate: index outside the tree, zero key.
    let tree = params(1, 1).tree;
    assert!(
        QueueEntry::set_key(8, key(1), sk(1).public_key())
            .validate(tree, 0)
            .is_err()
    );
    assert!(
        QueueEntry::set_key(1, Fr::ZERO, sk(1).public_key())
            .validate(tree, 0)
            .is_err()
    );
}

#[test]
fn set_key_from_a_non_owner_is_rejected() {
    let p = params(2, 0);
    let entries = [
        QueueEntry::set_key(1, key(9), sk(9).public_key()), // key mismatch
        QueueEntry::set_key(6, key(6), sk(6).public_key()), // empty slot
    ];
    let (o, _, after) = run(&p, &entries, &[]).unwrap();
    assert!(o.effects.iter().all(|e| e.status == EntryStatus::Rejected));
    assert_eq!(after.account(1).unwrap().spend, Some(sk(1).public_key()));
    assert_eq!(o.public.new_root, o.public.old_root);
}

#[test]
fn off_chain_transfers_that_cannot_apply_are_refused() {
    let p = params(1, 2);
    let good = msg(1, 3, key(3), 5, 0);
    let existing = |s: SignedTransfer| vec![off(s, Recipient::Existing(3))];
    let r = |t: Vec<OffchainTransfer>| rejected(run(&p, &[], &t));
    let bad_sig = OffchainReject::BadSignature(SpendAuthError::InvalidSignature);

    // Wrong key.
    assert_eq!(r(existing(signed(9, good))), bad_sig);
    // Amount, recipient or nonce changed after signing.
    for tamper in [
        |m: &mut TransferMessage| m.amount += 1,
        |m: &mut TransferMessage| m.to_key = key(2),
        |m: &mut TransferMessage| m.to_index = 2,
        |m: &mut TransferMessage| m.nonce += 1,
    ] {
        let mut s = signed(1, good);
        tamper(&mut s.message);
        let recipient = Recipient::Existing(s.message.to_index);
        assert_eq!(r(vec![off(s, recipient)]), bad_sig);
    }
    // Signed for another chain.
    let other = SignedTransfer::sign(&sk(1), b"other-chain", good);
    assert_eq!(r(existing(other)), bad_sig);
    // Non-canonical s (s + r_J names the same [s] G).
    let s = signed(1, good);
    let mut bytes = s.signature.to_bytes();
    let s_plus = add_le(&s.signature.s_bytes(), &r_j_bytes());
    bytes[32..].copy_from_slice(&s_plus);
    let malleated = SignedTransfer {
        signature: Signature::from_bytes(&bytes).unwrap(),
        ..s
    };
    assert_eq!(
        r(existing(malleated)),
        OffchainReject::BadSignature(SpendAuthError::NonCanonicalScalar)
    );
    // Identity and small-order R.
    for (point, err) in [
        (
            jubjub::ExtendedPoint::identity(),
            SpendAuthError::IdentityPoint(PointRole::Nonce),
        ),
        (
            jubjub::ExtendedPoint::from(jubjub::AffinePoint::from_raw_unchecked(
                Fr::ZERO,
                -Fr::ONE,
            )),
            SpendAuthError::SmallOrderPoint(PointRole::Nonce),
        ),
    ] {
        let mut bytes = s.signature.to_bytes();
        bytes[..32].copy_from_slice(&jubjub::AffinePoint::from(point).to_bytes());
        let t = SignedTransfer {
            signature: Signature::from_bytes(&bytes).unwrap(),
            ..s
        };
        assert_eq!(r(existing(t)), OffchainReject::BadSignature(err));
    }
    // From an account without a spending key, or without an account.
    assert_eq!(
        r(vec![off(
            signed(2, msg(2, 3, key(3), 1, 3)),
            Recipient::Existing(3)
        )]),
        OffchainReject::NoSpendingKey
    );
    assert_eq!(
        r(vec![off(
            signed(6, msg(6, 3, key(3), 1, 0)),
            Recipient::Existing(3)
        )]),
        OffchainReject::NoSender
    );
    // A new account at an index other than alloc_start + j.
    assert_eq!(
        r(vec![off(
            signed(1, msg(1, ALLOC + 1, addr_key(7), 1, 0)),
            Recipient::New(address(7))
        )]),
        OffchainReject::Recipient("signed index is not the next free one")
    );
    // A new account whose key is not its address's.
    assert_eq!(
        r(vec![off(
            signed(1, msg(1, BY_KEY_INDEX, addr_key(8), 1, 0)),
            Recipient::New(address(7))
        )]),
        OffchainReject::Recipient("key is not the address's")
    );
    // Overdraft, overflow, self-transfer, key mismatch at an existing index.
    assert_eq!(
        r(existing(signed(1, msg(1, 3, key(3), 101, 0)))),
        OffchainReject::InsufficientFunds
    );
    assert_eq!(
        r(vec![off(
            signed(1, msg(1, 2, key(2), 10, 0)),
            Recipient::Existing(2)
        )]),
        OffchainReject::Overflow
    );
    assert_eq!(
        r(vec![off(
            signed(1, msg(1, 1, key(1), 1, 0)),
            Recipient::Existing(1)
        )]),
        OffchainReject::SelfTransfer
    );
    assert_eq!(
        r(vec![off(
            signed(1, msg(1, 3, key(9), 1, 0)),
            Recipient::Existing(3)
        )]),
        OffchainReject::Recipient("key differs from the leaf's")
    );
}

#[test]
fn a_settled_transfer_cannot_be_replayed() {
    let p = params(1, 1);
    let t = off(signed(1, msg(1, 3, key(3), 5, 0)), Recipient::Existing(3));
    let mut l = ledger(&p);
    execute(&p, CHAIN, &mut l, Fr::ZERO, &[], &[t], ALLOC).unwrap();
    let again = execute(&p, CHAIN, &mut l, Fr::ZERO, &[], &[t], ALLOC);
    assert!(matches!(
        again,
        Err(TransferV2Error::OffchainRejected {
            reason: OffchainReject::WrongNonce {
                signed: 0,
                current: 1
            },
            ..
        })
    ));
}

#[test]
fn data_that_differs_from_the_proof_fails_the_public_input() {
    let p = params(7, 5);
    let (o, _, _) = run(&p, &mixed_queue(), &mixed_offchain()).unwrap();
    let m = mirror(&p);
    let honest = o.public.commitment();
    let mut tampered: Vec<Vec<OffchainEntry>> = Vec::new();
    let mut d = o.offchain.clone();
    d[0].amount += 1;
    tampered.push(d);
    let mut d = o.offchain.clone();
    d[0].recipient = Recipient::Existing(4);
    tampered.push(d);
    let mut d = o.offchain.clone();
    d[1].recipient = Recipient::New(address(9));
    tampered.push(d);
    let mut d = o.offchain.clone();
    d.swap(0, 2);
    tampered.push(d);
    let mut d = o.offchain.clone();
    d.pop();
    tampered.push(d);
    for d in tampered {
        // Refused before the pairing is as good as a different input.
        if let Ok((x, _)) = chain_public_input(&p, &m, &mixed_queue(), &o, &d) {
            assert_ne!(x, honest, "{d:?}");
        }
    }
    // Another alloc_start.
    let mut o2 = o.clone();
    o2.alloc_start -= 1;
    // The new accounts move down by one (index 4 is taken: refused) ...
    assert!(chain_public_input(&p, &m, &mixed_queue(), &o2, &o.offchain).is_err());
    // ... or, with data that fits the other start, the commitment differs.
    o2.alloc_start += 2;
    let mut d = o.offchain.clone();
    d[3].recipient = Recipient::Existing(ALLOC + 1);
    let (x, _) = chain_public_input(&p, &m, &mixed_queue(), &o2, &d).unwrap();
    assert_ne!(x, honest);
}

#[test]
fn inconsistent_data_is_refused_by_the_chain() {
    let p = params(7, 5);
    let (o, _, _) = run(&p, &mixed_queue(), &mixed_offchain()).unwrap();
    let expand =
        |m: &Mirror, d: &[OffchainEntry]| expand_batch(&p, m, &mixed_queue(), &o.effects, d, ALLOC);
    let bad = |r: Result<BatchDeltas, TransferV2Error>| {
        assert!(
            matches!(r, Err(TransferV2Error::BadOffchainEntry { .. })),
            "{r:?}"
        )
    };
    let m = mirror(&p);
    // A new account for an address that already has an index.
    let mut bound = mirror(&p);
    bound.bound.insert(address(7));
    bad(expand(&bound, &o.offchain));
    // The same new address twice.
    let mut d = o.offchain.clone();
    d[2].recipient = Recipient::New(address(7));
    bad(expand(&m, &d));
    // Sender or existing recipient without an account; overdraft; overflow; self.
    for f in [
        |d: &mut Vec<OffchainEntry>| d[0].from_index = 6,
        |d: &mut Vec<OffchainEntry>| d[0].recipient = Recipient::Existing(7),
        |d: &mut Vec<OffchainEntry>| d[0].amount = 1000,
        |d: &mut Vec<OffchainEntry>| {
            d[0].recipient = Recipient::Existing(2);
            d[0].amount = 40;
        },
        |d: &mut Vec<OffchainEntry>| d[0].recipient = Recipient::Existing(3),
    ] {
        let mut d = o.offchain.clone();
        f(&mut d);
        bad(expand(&m, &d));
    }
    // No free index left.
    let small = params(7, 5);
    let r = expand_batch(&small, &m, &mixed_queue(), &o.effects, &o.offchain, 7);
    bad(r);
    // A set-key effect with values, or more entries than slots.
    let mut fx = o.effects.clone();
    fx[3].from_balance = 1;
    assert!(expand_batch(&p, &m, &mixed_queue(), &fx, &o.offchain, ALLOC).is_err());
    let q = params(7, 3);
    assert!(expand_batch(&q, &m, &mixed_queue(), &o.effects, &o.offchain, ALLOC).is_err());
}

#[test]
fn commitment_pads_both_sections() {
    let p = params(2, 2);
    let c0 = deltas_commitment(&p, &[], &[], 0).unwrap();
    let c1 = deltas_commitment(&p, &[], &[], 1).unwrap();
    assert_ne!(c0, c1, "alloc_start is bound");
    let mut elements = vec![Fr::ZERO; 8];
    for e in elements.chunks_mut(4) {
        e.copy_from_slice(&EntryEffect::PADDING.to_fields());
    }
    elements.extend([Fr::ZERO; 4]);
    elements.extend([Fr::ZERO, Fr::ZERO]);
    assert_eq!(c0, poseidon::sponge(tags::DELTAS, &elements));
    let r = ResolvedOffchain {
        from_index: 1,
        to_index: 5,
        to_key: key(5),
        amount: 3,
        created: true,
    };
    // The created count follows the entries.
    elements[8..10].copy_from_slice(&r.to_fields());
    elements[13] = Fr::ONE;
    assert_eq!(
        deltas_commitment(&p, &[], &[r], 0).unwrap(),
        poseidon::sponge(tags::DELTAS, &elements)
    );
    assert!(deltas_commitment(&p, &[], &[r, r, r], 0).is_err());
}

#[test]
fn one_address_gets_one_new_leaf_per_batch() {
    let p = params(1, 3);
    let first = off(
        signed(1, msg(1, BY_KEY_INDEX, addr_key(7), 1, 0)),
        Recipient::New(address(7)),
    );
    // A second transfer to the same new address must name the created account.
    let again_new = off(
        signed(3, msg(3, BY_KEY_INDEX, addr_key(7), 1, 2)),
        Recipient::New(address(7)),
    );
    assert_eq!(
        rejected(run(&p, &[], &[first, again_new])),
        OffchainReject::Recipient("address already created in this batch")
    );
    let again_existing = off(again_new.signed, Recipient::Existing(ALLOC));
    let (o, _, after) = run(&p, &[], &[first, again_existing]).unwrap();
    assert_eq!(o.deltas.created(), 1);
    assert_eq!(after.account(ALLOC).unwrap().balance, 2);
}

#[test]
fn non_canonical_effects_are_refused() {
    let p = params(1, 1);
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
    assert!(deltas_commitment(&p, &[applied, applied], &[], 0).is_err());
    assert!(deltas_commitment(&p, &[rejected_nonzero], &[], 0).is_err());
    assert!(deltas_commitment(&p, &[EntryEffect::PADDING], &[], 0).is_err());
    assert!(deltas_commitment(&p, &[applied], &[], 0).is_ok());
}

#[test]
fn the_by_key_index_is_never_allocated() {
    let production = TransferV2Params {
        queue_slots: 1,
        offchain_slots: 1,
        tree: TreeConfig::PRODUCTION,
    };
    assert_eq!(production.tree.capacity(), 1 << 32);
    assert_eq!(production.allocation_limit(), u64::from(BY_KEY_INDEX));
    assert_eq!(params(1, 1).allocation_limit(), 8);
}
