//! Program `transfer` version 2 on the chain, with real Groth16 proofs
//! (B_q = 2 queue slots, B_s = 2 off-chain slots over the module's 16-leaf
//! test tree; keys made once per test run): the upgrade from version 1,
//! spending keys, off-chain signed transfers carried as data, one
//! allocator of leaf indices, and every refusal with its code.

mod prover;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use bellman::groth16;
use bls12_381::{Bls12, Scalar as Fr};
use copro_auth::Address;
use copro_circuits::encoding::{encode_proof, encode_vk};
use copro_circuits::program::Program;
use copro_circuits::spend_auth::{
    PublicKey, SignedTransfer, SpendAuthError, SpendingKey, TransferMessage,
};
use copro_circuits::transfer::{self, EntryStatus};
use copro_circuits::transfer_v2::{
    self, BY_KEY_INDEX, LedgerWrite, MirrorView, OffchainTransfer, Recipient, TransferV2,
    TransferV2Params,
};
use copro_coprocessor::record::{circuit_entry, circuit_entry_v2, fr_of, pb};
use copro_coprocessor::registry::{self, ProgramSpec};
use copro_coprocessor::requests::{self, Deposit, SetLedgerKey, Withdraw};
use copro_coprocessor::settle;
use copro_coprocessor::submit::{SubmitProof, Verifier};
use copro_coprocessor::{CoproCode, CoproError, CoproRead};
use prover::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The version-2 test circuit: 2 queue slots, 2 off-chain slots.
fn v2_params() -> TransferV2Params {
    TransferV2Params {
        queue_slots: 2,
        offchain_slots: 2,
        tree: params().tree,
    }
}

/// Version 2's proving key, made once per run (dev-only setup, fixed seed).
fn v2_key() -> &'static groth16::Parameters<Bls12> {
    static KEY: OnceLock<groth16::Parameters<Bls12>> = OnceLock::new();
    KEY.get_or_init(|| {
        let started = Instant::now();
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let key = groth16::generate_random_parameters::<Bls12, _, _>(
            TransferV2::circuit(&v2_params(), None),
            &mut rng,
        )
        .unwrap();
        eprintln!("transfer v2 keygen (B_q 2, B_s 2): {:?}", started.elapsed());
        key
    })
}

fn v2_spec() -> ProgramSpec {
    ProgramSpec {
        id: "transfer".into(),
        version: 2,
        verifying_key: encode_vk(&v2_key().vk),
        vk_hash: vec![],
        batch_size: 2,
        tree_arity: 4,
        tree_depth: params().tree.depth,
        offchain_batch_size: 2,
    }
}

fn users() -> Vec<Address> {
    (1..=5).map(address).collect()
}

fn spending_key(seed: u8) -> SpendingKey {
    SpendingKey::from_seed(&[seed; 32]).unwrap()
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

fn set_key(chain: &mut Chain, who: &Address, key: &[u8]) -> Result<u64, CoproError> {
    let msg = SetLedgerKey::new(who.clone(), key)?;
    chain.block(|s, h| requests::set_ledger_key(s, &msg, h).map(|(seq, _)| seq))
}

fn code(result: Result<u64, CoproError>) -> u32 {
    result.expect_err("expected a rejection").code
}

/// The version-2 prover's side: its own ledger, carried over from version 1.
struct V2Prover {
    ledger: transfer_v2::Ledger,
}

impl V2Prover {
    fn from_v1(v1: &TestProver) -> Self {
        let mut ledger = transfer_v2::Ledger::new(params().tree);
        for (i, a) in v1.ledger.accounts() {
            ledger.set_account(*i, (*a).into()).unwrap();
        }
        assert_eq!(ledger.root().unwrap(), v1.ledger.root().unwrap());
        Self { ledger }
    }

    /// Proves the next `n` pending requests and `offchain`, from the chain's
    /// next free index; keeps the new ledger only if `advance`.
    fn prove(
        &mut self,
        chain: &Chain,
        n: usize,
        offchain: &[OffchainTransfer],
        advance: bool,
    ) -> pb::MsgSubmitProof {
        let snap = chain.snapshot();
        let queue = snap.queue_state().unwrap();
        let stored = snap.pending_requests(n).unwrap();
        assert_eq!(stored.len(), n, "not enough pending requests");
        let entries: Vec<_> = stored
            .iter()
            .map(|e| circuit_entry_v2(e).unwrap())
            .collect();
        let alloc_start = u32::try_from(snap.next_index().unwrap()).unwrap();
        let mut ledger = self.ledger.clone();
        let (outcome, witness) = transfer_v2::execute(
            &v2_params(),
            CHAIN_ID.as_bytes(),
            &mut ledger,
            fr_of(&queue.settled_hash, "queue").unwrap(),
            &entries,
            offchain,
            alloc_start,
        )
        .unwrap();
        let started = Instant::now();
        let proof = transfer_v2::prove(&v2_params(), witness, v2_key(), [n as u8; 32]).unwrap();
        eprintln!("transfer v2 proof: {:?}", started.elapsed());
        if advance {
            self.ledger = ledger;
        }
        pb::MsgSubmitProof {
            signer: prover().to_string(),
            program_id: "transfer".into(),
            program_version: 2,
            old_root: settle_fr(&outcome.public.old_root),
            new_root: settle_fr(&outcome.public.new_root),
            start_sequence: queue.settled_up_to,
            end_sequence: queue.settled_up_to + n as u64,
            effects: outcome.effects.iter().map(settle::effect_msg).collect(),
            proof: encode_proof(&proof).to_vec(),
            offchain: outcome.offchain.iter().map(settle::offchain_msg).collect(),
            alloc_start,
        }
    }
}

fn settle_fr(x: &Fr) -> Vec<u8> {
    copro_coprocessor::record::fr_bytes(x)
}

/// A transfer signed by `key` from `from` (at its leaf nonce) to an existing
/// account or a new address.
fn signed(
    prover: &V2Prover,
    key: &SpendingKey,
    from: u32,
    to: Recipient,
    to_key: Fr,
    amount: u64,
) -> OffchainTransfer {
    let nonce = prover.ledger.account(from).unwrap().nonce;
    let to_index = match to {
        Recipient::Existing(i) => i,
        Recipient::New(_) => BY_KEY_INDEX,
    };
    OffchainTransfer {
        signed: SignedTransfer::sign(
            key,
            CHAIN_ID.as_bytes(),
            TransferMessage {
                from_index: from,
                to_index,
                to_key,
                amount,
                nonce,
            },
        ),
        recipient: to,
    }
}

fn raw(a: &Address) -> [u8; 20] {
    a.to_bytes().try_into().unwrap()
}

fn key_of(a: &Address) -> Fr {
    transfer::account_key(&a.to_bytes()).unwrap()
}

fn index_of(chain: &Chain, a: &Address) -> u32 {
    chain
        .snapshot()
        .ledger_account(a.as_str())
        .unwrap()
        .unwrap()
        .ledger_index
}

/// A replay of the ledger from chain data alone: the queued requests (as
/// the chain stored them) and the submitted messages (effects and off-chain
/// entries), through the same chain-side functions, from genesis.
#[derive(Default)]
struct Replay {
    accounts: BTreeMap<u32, transfer::Account>,
    keys: BTreeMap<u32, PublicKey>,
    addresses: BTreeMap<[u8; 20], u32>,
    next_index: u32,
}

impl MirrorView for Replay {
    fn account(&self, index: u32) -> Option<transfer::Account> {
        self.accounts.get(&index).copied()
    }

    fn has_index(&self, address: &[u8; 20]) -> bool {
        self.addresses.contains_key(address)
    }
}

impl Replay {
    /// An address got a leaf index when its request was queued.
    fn bind(&mut self, entry: &pb::QueueEntry) {
        for (addr, index) in [
            (&entry.from_address, entry.from_index),
            (&entry.to_address, entry.to_index),
        ] {
            if !addr.is_empty() {
                let a = raw(&Address::parse(addr).unwrap());
                self.addresses.entry(a).or_insert(index);
                self.next_index = self.next_index.max(index + 1);
            }
        }
    }

    fn apply(&mut self, entries: &[pb::QueueEntry], msg: &pb::MsgSubmitProof) {
        for e in entries {
            self.bind(e);
        }
        let effects: Vec<_> = msg
            .effects
            .iter()
            .map(|e| copro_coprocessor::record::circuit_effect(e).unwrap())
            .collect();
        let writes: Vec<LedgerWrite> = if msg.program_version == 1 {
            let v1: Vec<_> = entries.iter().map(|e| circuit_entry(e).unwrap()).collect();
            transfer::expand_deltas(&v1, &effects)
                .unwrap()
                .writes
                .into_iter()
                .map(LedgerWrite::Account)
                .collect()
        } else {
            let v2: Vec<_> = entries
                .iter()
                .map(|e| circuit_entry_v2(e).unwrap())
                .collect();
            let offchain: Vec<_> = SubmitProof::from_msg(msg).unwrap().offchain;
            assert_eq!(msg.alloc_start, self.next_index);
            let d = transfer_v2::expand_batch(
                &v2_params(),
                &*self,
                &v2,
                &effects,
                &offchain,
                msg.alloc_start,
            )
            .unwrap();
            for n in &d.new_accounts {
                self.addresses.insert(n.address, n.index);
            }
            self.next_index += d.created();
            d.writes
        };
        for w in writes {
            match w {
                LedgerWrite::Account(w) => {
                    let nonce = w
                        .nonce
                        .unwrap_or_else(|| self.accounts.get(&w.index).map_or(0, |a| a.nonce));
                    self.accounts.insert(
                        w.index,
                        transfer::Account {
                            key: w.key,
                            balance: w.balance,
                            nonce,
                        },
                    );
                }
                LedgerWrite::SpendKey { index, spend } => {
                    self.keys.insert(index, spend);
                }
            }
        }
    }

    /// The ledger root of the replayed leaves.
    fn root(&self) -> Fr {
        let mut ledger = transfer_v2::Ledger::new(params().tree);
        for (i, a) in &self.accounts {
            let mut account: transfer_v2::Account = (*a).into();
            account.spend = self.keys.get(i).copied();
            ledger.set_account(*i, account).unwrap();
        }
        ledger.root().unwrap()
    }
}

/// A chain whose first two deposits (alice, bob) were settled by a
/// version-1 proof, then upgraded to version 2 (version 1 frozen); the
/// replay holds what chain data says so far.
fn upgraded(k: u64) -> (Chain, V2Prover, Verifier, Replay, Vec<Address>) {
    let us = users();
    let mut chain = Chain::with_inclusion_delay(&us, 1_000_000, k);
    let mut v1 = TestProver::new();
    let verifier = Verifier::default();
    let mut replay = Replay::default();
    deposit(&mut chain, &us[0], 500).unwrap();
    deposit(&mut chain, &us[1], 300).unwrap();
    let entries = chain.snapshot().pending_requests(2).unwrap();
    let batch = v1.prove_next(&chain, 2, true);
    submit(&mut chain, &verifier, &batch.msg).unwrap();
    replay.apply(&entries, &batch.msg);
    let frozen = chain
        .block(|s, h| registry::update(s, authority().as_str(), &v2_spec(), h))
        .unwrap()
        .0;
    assert_eq!(frozen, 1, "the update freezes version 1");
    let v2 = V2Prover::from_v1(&v1);
    (chain, v2, verifier, replay, us)
}

/// Settles alice's spending key (seed 11) with a version-2 proof of the
/// set-key entry alone.
fn with_alice_key(
    chain: &mut Chain,
    v2: &mut V2Prover,
    verifier: &Verifier,
    replay: &mut Replay,
    alice: &Address,
) -> SpendingKey {
    let key = spending_key(11);
    set_key(chain, alice, &key.public_key().to_bytes()).unwrap();
    let entries = chain.snapshot().pending_requests(1).unwrap();
    let msg = v2.prove(chain, 1, &[], true);
    submit(chain, verifier, &msg).unwrap();
    replay.apply(&entries, &msg);
    key
}

#[test]
fn set_ledger_key_needs_a_good_key_an_owner_and_the_version_2_circuit() {
    let us = users();
    let (alice, dave) = (&us[0], &us[3]);
    let mut chain = Chain::new(&us, 1_000_000);
    deposit(&mut chain, alice, 10).unwrap();
    let good = spending_key(11).public_key().to_bytes();

    // Version 1 active: its circuit cannot consume a set-key entry.
    assert_eq!(
        code(set_key(&mut chain, alice, &good)),
        CoproCode::UnsupportedByProgram.value()
    );

    // Bad keys, each with its code, before any state is read.
    let mut p_minus_1 =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000").unwrap();
    p_minus_1.reverse(); // (0, -1), of order 2, little-endian v
    let mut identity = [0u8; 32];
    identity[0] = 1; // (0, 1)
    let mut signed_identity = identity;
    signed_identity[31] |= 0x80; // u = 0 with the sign bit: not canonical
    // The first small v whose encoding fails as `wanted` says.
    let find = |wanted: fn(&SpendAuthError) -> bool| {
        (2u8..=255)
            .map(|v| {
                let mut b = [0u8; 32];
                b[0] = v;
                b
            })
            .find(|b| PublicKey::from_bytes(b).err().as_ref().is_some_and(wanted))
            .expect("a small v of that kind")
    };
    let outside = find(|e| matches!(e, SpendAuthError::NotInSubgroup(_)));
    let off_curve = find(|e| matches!(e, SpendAuthError::NotOnCurve(_)));
    let cases: [(&str, &[u8], CoproCode); 7] = [
        ("31 bytes", &good[..31], CoproCode::InvalidSpendingKey),
        (
            "not canonical",
            &signed_identity,
            CoproCode::InvalidSpendingKey,
        ),
        ("v above p", &[0xff; 32][..], CoproCode::InvalidSpendingKey),
        (
            "not on the curve",
            &off_curve,
            CoproCode::InvalidSpendingKey,
        ),
        ("identity", &identity, CoproCode::IdentitySpendingKey),
        (
            "small order",
            &p_minus_1,
            CoproCode::SpendingKeyNotInSubgroup,
        ),
        (
            "outside the subgroup",
            &outside,
            CoproCode::SpendingKeyNotInSubgroup,
        ),
    ];
    for (what, key, expected) in cases {
        let e = SetLedgerKey::new(alice.clone(), key).unwrap_err();
        assert!(e.is(expected), "{what}: {e}");
        // The same through the module's decoder (what CheckTx runs).
        let bytes = prost::Message::encode_to_vec(&pb::MsgSetLedgerKey {
            signer: alice.to_string(),
            spending_key: key.to_vec(),
        });
        let e = copro_coprocessor::msgs::CoproMsg::decode(
            "/copro.coprocessor.v1.MsgSetLedgerKey",
            &bytes,
        )
        .unwrap()
        .unwrap_err();
        assert!(e.is(expected), "{what} decoded: {e}");
    }

    // Version 2 active: no ledger account is refused, alice's key queues.
    chain
        .block(|s, h| registry::update(s, authority().as_str(), &v2_spec(), h))
        .unwrap();
    assert_eq!(
        code(set_key(&mut chain, dave, &good)),
        CoproCode::NoLedgerAccount.value()
    );
    let seq = set_key(&mut chain, alice, &good).unwrap();
    let snap = chain.snapshot();
    let entry = snap.queued(seq).unwrap().unwrap();
    assert_eq!(entry.kind, pb::EntryKind::SetKey as i32);
    assert_eq!(entry.spending_key, good.to_vec());
    assert_eq!(entry.from_address, alice.to_string());
    // The queue hash is version 2's set-key step.
    let prev = snap.queued(seq - 1).unwrap().unwrap().chain_hash;
    let step = circuit_entry_v2(&entry)
        .unwrap()
        .queue_step(fr_of(&prev, "q").unwrap());
    assert_eq!(fr_of(&entry.chain_hash, "q").unwrap(), step);
    // Not settled yet: the mirror shows no key.
    let account = snap.ledger_account(alice.as_str()).unwrap().unwrap();
    assert!(account.spending_key.is_empty());
}

#[test]
fn a_batch_mixes_queue_entries_and_offchain_transfers_and_chain_data_replays_it() {
    let (mut chain, mut v2, verifier, mut replay, us) = upgraded(0);
    let (alice, bob, carol) = (&us[0], &us[1], &us[2]);
    let key = with_alice_key(&mut chain, &mut v2, &verifier, &mut replay, alice);
    let snap = chain.snapshot();
    let account = snap.ledger_account(alice.as_str()).unwrap().unwrap();
    assert_eq!(account.spending_key, key.public_key().to_bytes().to_vec());
    assert_eq!(snap.ledger_root().unwrap(), v2.ledger.root().unwrap());

    // Queue: a withdrawal by bob; off-chain: alice → bob (existing) and
    // alice → carol (a new account, signed by key, at alloc_start).
    chain
        .block(|s, h| {
            requests::withdraw(
                s,
                &Withdraw {
                    signer: bob.clone(),
                    amount: 10,
                },
                h,
            )
        })
        .unwrap();
    let bob_index = index_of(&chain, bob);
    let to_bob = signed(
        &v2,
        &key,
        0,
        Recipient::Existing(bob_index),
        key_of(bob),
        100,
    );
    // The second transfer is signed at the nonce after the first.
    let mut to_carol = signed(&v2, &key, 0, Recipient::New(raw(carol)), key_of(carol), 50);
    to_carol.signed = SignedTransfer::sign(
        &key,
        CHAIN_ID.as_bytes(),
        TransferMessage {
            nonce: to_bob.signed.message.nonce + 1,
            ..to_carol.signed.message
        },
    );
    let entries = chain.snapshot().pending_requests(1).unwrap();
    let alloc_start = u32::try_from(chain.snapshot().next_index().unwrap()).unwrap();
    assert_eq!(alloc_start, 2, "alice 0, bob 1");
    let bank_bob = chain.bank(bob);
    let msg = v2.prove(&chain, 1, &[to_bob, to_carol], true);
    assert_eq!(msg.alloc_start, 2);
    let id = submit(&mut chain, &verifier, &msg).unwrap();
    replay.apply(&entries, &msg);

    let snap = chain.snapshot();
    let carol_account = snap.ledger_account(carol.as_str()).unwrap().unwrap();
    assert_eq!(
        carol_account.ledger_index, 2,
        "the new account is at alloc_start"
    );
    assert_eq!(carol_account.key, settle_fr(&key_of(carol)));
    assert_eq!(
        snap.ledger_owner(2).unwrap().as_deref(),
        Some(carol.as_str())
    );
    assert_eq!(
        snap.next_index().unwrap(),
        3,
        "next_index advanced by created"
    );
    assert_eq!(chain.ledger_balance(alice), 350);
    assert_eq!(chain.ledger_balance(bob), 300 - 10 + 100);
    assert_eq!(chain.ledger_balance(carol), 50);
    assert_eq!(chain.bank(bob), bank_bob + 10, "the withdrawal is paid");
    chain.assert_escrow_invariant(&us);
    let result = snap.result(id).unwrap().unwrap();
    assert_eq!(
        (result.offchain_count, result.alloc_start, result.created),
        (2, 2, 1)
    );
    assert_eq!(result.program_version, 2);
    assert_eq!(result.withdrawals.len(), 1);

    // The mirror, the prover's ledger and the replay from chain data agree,
    // account for account and on the root.
    assert_eq!(snap.ledger_root().unwrap(), v2.ledger.root().unwrap());
    assert_eq!(replay.root(), snap.ledger_root().unwrap());
    for u in [alice, bob, carol] {
        let a = snap.ledger_account(u.as_str()).unwrap().unwrap();
        let r = replay.accounts[&a.ledger_index];
        assert_eq!((a.balance, a.nonce), (r.balance, r.nonce), "{u}");
        let leaf = v2.ledger.account(a.ledger_index).unwrap();
        assert_eq!((a.balance, a.nonce), (leaf.balance, leaf.nonce), "{u}");
    }
    assert_eq!(
        snap.ledger_account(alice.as_str()).unwrap().unwrap().nonce,
        2,
        "each signed transfer used one nonce"
    );

    // An account created off-chain is an ordinary one afterwards: the next
    // deposit from a new address gets the index after it.
    deposit(&mut chain, &us[3], 5).unwrap();
    assert_eq!(index_of(&chain, &us[3]), 3);
}

#[test]
fn version_2_submissions_are_refused_each_with_its_own_code() {
    let (mut chain, mut v2, verifier, mut replay, us) = upgraded(0);
    let (alice, bob, carol, erin) = (&us[0], &us[1], &us[2], &us[4]);
    let key = with_alice_key(&mut chain, &mut v2, &verifier, &mut replay, alice);
    let bob_index = index_of(&chain, bob);
    let to_bob = signed(
        &v2,
        &key,
        0,
        Recipient::Existing(bob_index),
        key_of(bob),
        100,
    );
    let to_carol = signed(&v2, &key, 0, Recipient::New(raw(carol)), key_of(carol), 50);
    let good_bob = v2.prove(&chain, 0, &[to_bob], false);
    let good_carol = v2.prove(&chain, 0, &[to_carol], false);
    let app_hash = chain.storage.root_hash(chain.height - 1).unwrap();

    let with = |base: &pb::MsgSubmitProof, f: &dyn Fn(&mut pb::OffchainEntry)| {
        let mut m = base.clone();
        f(&mut m.offchain[0]);
        m
    };
    use pb::offchain_entry::Recipient as R;
    let cases: Vec<(&str, pb::MsgSubmitProof, CoproCode)> = vec![
        (
            "tampered amount",
            with(&good_bob, &|e| e.amount = 99),
            CoproCode::InvalidProof,
        ),
        (
            "tampered recipient (another new address)",
            with(&good_carol, &|e| {
                e.recipient = Some(R::ToAddress(raw(erin).to_vec()))
            }),
            CoproCode::InvalidProof,
        ),
        (
            "recipient index without an account",
            with(&good_bob, &|e| e.recipient = Some(R::ToIndex(3))),
            CoproCode::OffchainNoAccount,
        ),
        (
            "sender without an account",
            with(&good_bob, &|e| e.from_index = 9),
            CoproCode::OffchainNoAccount,
        ),
        (
            "overdraft",
            with(&good_bob, &|e| e.amount = 501),
            CoproCode::OffchainOverdraft,
        ),
        (
            "self-transfer",
            with(&good_bob, &|e| e.recipient = Some(R::ToIndex(0))),
            CoproCode::OffchainSelfTransfer,
        ),
        (
            "new account for a bound address",
            with(&good_carol, &|e| {
                e.recipient = Some(R::ToAddress(raw(bob).to_vec()))
            }),
            CoproCode::AddressAlreadyBound,
        ),
        (
            "a new account's address of 19 bytes",
            with(&good_carol, &|e| {
                e.recipient = Some(R::ToAddress(vec![1; 19]))
            }),
            CoproCode::InvalidRequest,
        ),
        (
            "no recipient",
            with(&good_bob, &|e| e.recipient = None),
            CoproCode::InvalidRequest,
        ),
        (
            "zero amount",
            with(&good_bob, &|e| e.amount = 0),
            CoproCode::InvalidAmount,
        ),
        (
            "the same new address twice",
            pb::MsgSubmitProof {
                offchain: vec![
                    good_carol.offchain[0].clone(),
                    good_carol.offchain[0].clone(),
                ],
                ..good_carol.clone()
            },
            CoproCode::DuplicateNewAddress,
        ),
        (
            "more off-chain entries than B_s",
            pb::MsgSubmitProof {
                offchain: vec![good_bob.offchain[0].clone(); 3],
                ..good_bob.clone()
            },
            CoproCode::TooManyEntries,
        ),
        (
            "an alloc_start the chain does not have",
            pb::MsgSubmitProof {
                alloc_start: 7,
                ..good_carol.clone()
            },
            CoproCode::StaleAllocation,
        ),
    ];
    for (what, msg, expected) in &cases {
        let e = submit(&mut chain, &verifier, msg).expect_err(what);
        assert!(e.is(*expected), "{what}: {e}");
    }
    assert_eq!(
        chain.storage.root_hash(chain.height - 1).unwrap(),
        app_hash,
        "refused submissions change nothing"
    );

    // A deposit from a new address between proving and submission moves
    // next_index: the proof is stale, refused before the pairing.
    deposit(&mut chain, erin, 5).unwrap();
    assert_eq!(
        code(submit(&mut chain, &verifier, &good_carol)),
        CoproCode::StaleAllocation.value()
    );
    // Claiming the chain's new value does not help: the proof binds the old.
    let relabelled = pb::MsgSubmitProof {
        alloc_start: 3,
        ..good_carol.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &relabelled)),
        CoproCode::InvalidProof.value()
    );
    // A batch that creates no account keeps the alloc_start it was proven
    // with (the circuit places nothing there), so the same deposit does not
    // stale it; a changed claim still fails the pairing.
    let relabelled_bob = pb::MsgSubmitProof {
        alloc_start: good_bob.alloc_start + 1,
        ..good_bob.clone()
    };
    assert_eq!(
        code(submit(&mut chain, &verifier, &relabelled_bob)),
        CoproCode::InvalidProof.value()
    );
    assert_ne!(
        u64::from(good_bob.alloc_start),
        chain.snapshot().next_index().unwrap(),
        "the deposit moved next_index past the proof's claim"
    );
    submit(&mut chain, &verifier, &good_bob).unwrap();
    assert_eq!(chain.ledger_balance(bob), 400);
}

#[test]
fn a_real_version_1_proof_is_refused_once_version_2_is_active() {
    let us = users();
    let mut chain = Chain::new(&us, 1_000_000);
    let verifier = Verifier::default();
    let mut v1 = TestProver::new();
    deposit(&mut chain, &us[0], 5).unwrap();
    let batch = v1.prove_next(&chain, 1, false);
    chain
        .block(|s, h| registry::update(s, authority().as_str(), &v2_spec(), h))
        .unwrap();
    assert_eq!(
        code(submit(&mut chain, &verifier, &batch.msg)),
        CoproCode::FrozenProgram.value()
    );
    // Version 2 settles the same request.
    let mut v2 = V2Prover::from_v1(&v1);
    let msg = v2.prove(&chain, 1, &[], true);
    assert_eq!(msg.effects[0].status, EntryStatus::Applied as i32);
    submit(&mut chain, &verifier, &msg).unwrap();
    assert_eq!(chain.ledger_balance(&us[0]), 5);
}

#[test]
fn the_inclusion_rule_holds_for_version_2_batches() {
    let (mut chain, mut v2, verifier, mut replay, us) = upgraded(3);
    let alice = &us[0];
    let key = with_alice_key(&mut chain, &mut v2, &verifier, &mut replay, alice);
    let to_bob = signed(
        &v2,
        &key,
        0,
        Recipient::Existing(index_of(&chain, &us[1])),
        key_of(&us[1]),
        1,
    );
    // An off-chain-only batch while a deposit waits.
    deposit(&mut chain, &us[3], 5).unwrap();
    let offchain_only = v2.prove(&chain, 0, &[to_bob], false);
    // Not due yet: accepted would be fine; wait until it is due (K = 3).
    chain.block(|_, _| ());
    chain.block(|_, _| ());
    assert_eq!(
        code(submit(&mut chain, &verifier, &offchain_only)),
        CoproCode::OverdueRequest.value()
    );
    // Settling the due deposit with the transfer is accepted.
    let both = v2.prove(&chain, 1, &[to_bob], true);
    submit(&mut chain, &verifier, &both).unwrap();
    assert_eq!(chain.ledger_balance(&us[3]), 5);
}
