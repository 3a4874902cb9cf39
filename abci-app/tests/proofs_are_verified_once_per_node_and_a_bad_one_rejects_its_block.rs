//! `MsgSubmitProof` through the ABCI handlers, with real Groth16 proofs
//! (B = 2 over a 16-leaf tree): CheckTx verifies a proof once and the later
//! steps reuse the verdict; a node that never saw the tx verifies a block's
//! proofs in one batch in ProcessProposal; a block holding a bad proof is
//! rejected and an honest proposer leaves such a proof out; two nodes end on
//! the same app hash. One test, run in order: it reads the process-wide
//! verification counter.

mod common;

use std::sync::OnceLock;

use bellman::groth16;
use bls12_381::Bls12;
use common::*;
use copro_circuits::encoding::encode_vk;
use copro_circuits::program::Program;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Ledger, Transfer, TransferParams};
use copro_coprocessor::record::{fr_bytes, pb};
use copro_coprocessor::settle;
use copro_coprocessor::{CoproRead, requests::escrow_address};
use coprod::App;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tendermint::v0_38::abci::response;

fn params() -> TransferParams {
    TransferParams {
        batch_size: 2,
        tree: TreeConfig::new(Arity::Four, 2).unwrap(),
    }
}

fn proving_key() -> &'static groth16::Parameters<Bls12> {
    static KEY: OnceLock<groth16::Parameters<Bls12>> = OnceLock::new();
    KEY.get_or_init(|| {
        groth16::generate_random_parameters::<Bls12, _, _>(
            Transfer::circuit(&params(), None),
            &mut ChaCha20Rng::seed_from_u64(11),
        )
        .unwrap()
    })
}

struct Users {
    alice: Signer,
    bob: Signer,
    prover: Signer,
}

/// Genesis: alice, bob and the prover funded; the dev program registered.
fn genesis_with_program(u: &Users) -> Vec<u8> {
    let mut g: serde_json::Value = serde_json::from_slice(&genesis(&[
        (&u.alice, 1_000_000),
        (&u.bob, 1_000_000),
        (&u.prover, 1_000_000),
    ]))
    .unwrap();
    g["coprocessor"] = serde_json::json!({
        "params": {"ledger_denom": "ucopro", "tree_arity": 4, "tree_depth": 2},
        "authority": u.prover.address.to_string(),
        "prover": u.prover.address.to_string(),
        "programs": [{
            "id": "transfer", "version": 1,
            "verifying_key": hex::encode(encode_vk(&proving_key().vk)),
            "batch_size": 2, "tree_arity": 4, "tree_depth": 2
        }]
    });
    serde_json::to_vec(&g).unwrap()
}

fn deposit(s: &Signer, amount: u64, account: u64, sequence: u64) -> Vec<u8> {
    tx(
        s,
        any_msg(&pb::MsgDeposit {
            signer: s.address.to_string(),
            amount,
        }),
        account,
        sequence,
    )
}

/// Proves the next `n` pending requests of `app`'s committed state, from
/// `ledger` (which advances).
fn prove(app: &App, ledger: &mut Ledger, start: u64, n: usize, u: &Users) -> pb::MsgSubmitProof {
    let snap = app.storage().latest_snapshot().unwrap();
    let mut queue = snap.queue_state().unwrap();
    let all = snap.pending_requests(100).unwrap();
    let entries: Vec<_> = all
        .into_iter()
        .filter(|e| e.sequence >= start)
        .take(n)
        .collect();
    if start > queue.settled_up_to {
        // Chained after a proof in the same block: the queue hash there.
        let before = snap.queued(start - 1).unwrap().unwrap();
        queue.settled_up_to = start;
        queue.settled_hash = before.chain_hash;
    }
    let executed = settle::execute(
        &params(),
        CHAIN_ID,
        ("transfer", 1),
        u.prover.address.as_str(),
        ledger,
        &queue,
        &entries,
    )
    .unwrap();
    settle::prove(
        &params(),
        executed,
        proving_key(),
        &mut ChaCha20Rng::seed_from_u64(start),
    )
    .unwrap()
    .0
}

fn verifications(stage: &str) -> u64 {
    coprod::metrics::metrics()
        .unwrap()
        .groth16_verifications
        .with_label_values(&[stage])
        .get()
}

fn block_hash(h: u8) -> tendermint::Hash {
    tendermint::Hash::Sha256([h; 32])
}

/// ProcessProposal then FinalizeBlock (reusing it) then Commit.
fn run(app: &mut App, height: u64, txs: Vec<Vec<u8>>) -> (response::ProcessProposal, Vec<u8>) {
    let mut process = process_req(height, txs.clone());
    process.hash = block_hash(height as u8);
    let verdict = app.process_proposal(process).unwrap();
    let mut fin = finalize_req(height, txs);
    fin.hash = block_hash(height as u8);
    let result = app.finalize_block(fin).unwrap();
    for r in &result.tx_results {
        assert_eq!(r.code.value(), 0, "{}", r.log);
    }
    app.commit().unwrap();
    (verdict, result.app_hash.as_bytes().to_vec())
}

#[test]
fn proofs_are_verified_once_per_node_and_a_bad_one_rejects_its_block() {
    let u = Users {
        alice: Signer::new(1),
        bob: Signer::new(2),
        prover: Signer::new(3),
    };
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let (mut a, mut b, mut c) = (
        app_in(dirs[0].path()),
        app_in(dirs[1].path()),
        app_in(dirs[2].path()),
    );
    for app in [&mut a, &mut b, &mut c] {
        app.init_chain(init_chain_req(genesis_with_program(&u)))
            .unwrap();
    }
    // Block 1: four deposits.
    let deposits = vec![
        deposit(&u.alice, 100, 0, 0),
        deposit(&u.bob, 50, 1, 0),
        deposit(&u.alice, 7, 0, 1),
        deposit(&u.bob, 3, 1, 1),
    ];
    let (_, hash_a) = run(&mut a, 1, deposits.clone());
    let (_, hash_b) = run(&mut b, 1, deposits.clone());
    let (_, hash_c) = run(&mut c, 1, deposits);
    assert_eq!(hash_a, hash_b);
    assert_eq!(hash_a, hash_c);

    // Node A sees the first proof in its mempool: one pairing, in CheckTx.
    let mut ledger = Ledger::new(params().tree);
    let first = prove(&a, &mut ledger, 0, 2, &u);
    let second = prove(&a, &mut ledger, 2, 2, &u);
    let tx1 = tx(&u.prover, any_msg(&first), 2, 0);
    let tx2 = tx(&u.prover, any_msg(&second), 2, 1);
    let (check, process, finalize) = (
        verifications("check_tx"),
        verifications("process_proposal"),
        verifications("finalize_block"),
    );
    let checked = a.check_tx(check_req(tx1.clone()));
    assert_eq!(checked.code.value(), 0, "{}", checked.log);
    assert_eq!(verifications("check_tx"), check + 1);

    // A proof for a tampered root: CheckTx refuses it (copro 10), the
    // proposer leaves it out, ProcessProposal rejects a block holding it.
    let mut forged = second.clone();
    forged.new_root = fr_bytes(&copro_circuits::field::fr_from_u64(9));
    let bad = tx(&u.prover, any_msg(&forged), 2, 1);
    let refused = a.check_tx(check_req(bad.clone()));
    assert_eq!(
        (refused.code.value(), refused.codespace.as_str()),
        (10, "copro"),
        "{}",
        refused.log
    );
    let proposal = a
        .prepare_proposal(prepare_req(2, 1 << 20, vec![tx1.clone(), bad.clone()]))
        .unwrap();
    assert_eq!(proposal.txs.len(), 1, "the failing proof is left out");
    assert_eq!(
        b.process_proposal(process_req(2, vec![tx1.clone(), bad]))
            .unwrap(),
        response::ProcessProposal::Reject
    );
    assert_eq!(
        verifications("check_tx"),
        check + 2,
        "the forged proof was verified once"
    );
    // B deferred both pairings to one batch; it failed, and the single
    // checks that followed found the forged one: two verifications.
    assert_eq!(verifications("process_proposal"), process + 2);

    // Block 2 holds both good proofs, chained. Node A knows the first
    // verdict and verifies only the second; node B, which saw neither,
    // verifies both in one batch. FinalizeBlock reuses ProcessProposal.
    let before = verifications("process_proposal");
    let (verdict, hash_a) = run(&mut a, 2, vec![tx1.clone(), tx2.clone()]);
    assert_eq!(verdict, response::ProcessProposal::Accept);
    assert_eq!(verifications("process_proposal"), before + 1);
    let before = verifications("process_proposal");
    let (verdict, hash_b) = run(&mut b, 2, vec![tx1.clone(), tx2.clone()]);
    assert_eq!(verdict, response::ProcessProposal::Accept);
    // B knew the first proof's verdict from the rejected block: one more.
    assert_eq!(verifications("process_proposal"), before + 1);
    // C saw neither: both in one batch, in this one ProcessProposal.
    let before = verifications("process_proposal");
    let (verdict, hash_c) = run(&mut c, 2, vec![tx1, tx2]);
    assert_eq!(verdict, response::ProcessProposal::Accept);
    assert_eq!(verifications("process_proposal"), before + 2);
    assert_eq!(hash_a, hash_c);
    assert_eq!(
        verifications("finalize_block"),
        finalize,
        "FinalizeBlock never verifies again"
    );
    assert_eq!(hash_a, hash_b, "both nodes agree");

    // Settled on both: balances, escrow, queue.
    for app in [&a, &b, &c] {
        let snap = app.storage().latest_snapshot().unwrap();
        let alice = snap
            .ledger_account(u.alice.address.as_str())
            .unwrap()
            .unwrap();
        let bob = snap
            .ledger_account(u.bob.address.as_str())
            .unwrap()
            .unwrap();
        assert_eq!((alice.balance, bob.balance), (107, 53));
        assert_eq!(snap.queue_state().unwrap().settled_up_to, 4);
        assert_eq!(snap.result_count().unwrap(), 2);
        use copro_bank::BankRead;
        assert_eq!(snap.balance(&escrow_address(), "ucopro").unwrap(), 160);
    }
}
