//! Test support: a chain state over a real store, a dev program with keys
//! made once per test run, and a small prover that follows the chain's
//! queue, executes the batch natively and proves it, as the prover daemon
//! will.
#![allow(dead_code)]

use std::sync::OnceLock;

use bellman::groth16;
use bls12_381::{Bls12, Scalar as Fr};
use copro_auth::{Address, address_from_pubkey};
use copro_bank::{BankRead, BankWrite, Coin};
use copro_circuits::encoding::encode_vk;
use copro_circuits::program::Program;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Ledger, Transfer, TransferParams};
use copro_coprocessor::CoproRead;
use copro_coprocessor::genesis::{GenesisParams, GenesisProgram, GenesisState};
use copro_coprocessor::record::pb;
use copro_coprocessor::requests::escrow_address;
use copro_coprocessor::settle;
use copro_store::{Snapshot, StateDelta, Storage};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const CHAIN_ID: &str = "copro-module-test";
pub const DENOM: &str = "ucopro";

/// The dev program's shape: B = 2 over a 16-leaf tree.
pub fn params() -> TransferParams {
    TransferParams {
        batch_size: 2,
        tree: TreeConfig::new(Arity::Four, 2).unwrap(),
    }
}

/// Proving key of the dev program, made once per test run (dev-only
/// single-party setup with a fixed seed).
pub fn proving_key() -> &'static groth16::Parameters<Bls12> {
    static KEY: OnceLock<groth16::Parameters<Bls12>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        groth16::generate_random_parameters::<Bls12, _, _>(
            Transfer::circuit(&params(), None),
            &mut rng,
        )
        .unwrap()
    })
}

/// The dev program's verifying key, canonical bytes.
pub fn vk_bytes() -> Vec<u8> {
    encode_vk(&proving_key().vk)
}

/// A deterministic test address.
pub fn address(seed: u8) -> Address {
    let key = k256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    address_from_pubkey(key.verifying_key())
}

pub fn authority() -> Address {
    address(200)
}

pub fn prover() -> Address {
    address(201)
}

/// A chain: a store with the committed state, and the next block's height.
pub struct Chain {
    pub storage: Storage,
    pub height: u64,
    _dir: tempfile::TempDir,
}

impl Chain {
    /// Genesis: the dev program registered, `users` funded with `funds` each.
    pub fn new(users: &[Address], funds: u128) -> Self {
        Self::with_inclusion_delay(users, funds, 0)
    }

    /// [`Chain::new`] with the inclusion rule's K = `k` blocks.
    pub fn with_inclusion_delay(users: &[Address], funds: u128, k: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().join("store.redb")).unwrap();
        let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
        for u in users {
            delta.mint(u, &Coin::new(DENOM, funds).unwrap()).unwrap();
        }
        let p = params();
        let genesis = GenesisState {
            params: GenesisParams {
                ledger_denom: DENOM.into(),
                tree_arity: 4,
                tree_depth: p.tree.depth,
                inclusion_delay_blocks: k,
            },
            authority: authority().to_string(),
            prover: prover().to_string(),
            programs: vec![GenesisProgram {
                id: "transfer".into(),
                version: 1,
                verifying_key: hex::encode(vk_bytes()),
                vk_hash: String::new(),
                batch_size: p.batch_size as u32,
                tree_arity: 4,
                tree_depth: p.tree.depth,
                offchain_batch_size: 0,
            }],
        };
        genesis.init(&mut delta).unwrap();
        let (_, pending) = storage.compute_root(delta.changes(), 0).unwrap();
        storage.commit(pending).unwrap();
        Self {
            storage,
            height: 1,
            _dir: dir,
        }
    }

    /// A scratch delta over the committed state.
    pub fn delta(&self) -> StateDelta<Snapshot> {
        StateDelta::new(self.storage.latest_snapshot().unwrap())
    }

    /// Commits `delta` as the next block; returns the app hash.
    pub fn commit(&mut self, delta: StateDelta<Snapshot>) -> [u8; 32] {
        let (root, pending) = self
            .storage
            .compute_root(delta.changes(), self.height)
            .unwrap();
        self.storage.commit(pending).unwrap();
        self.height += 1;
        root
    }

    /// Runs `f` as one block and commits it.
    pub fn block<T>(&mut self, f: impl FnOnce(&mut StateDelta<Snapshot>, u64) -> T) -> T {
        let mut delta = self.delta();
        let out = f(&mut delta, self.height);
        self.commit(delta);
        out
    }

    pub fn snapshot(&self) -> Snapshot {
        self.storage.latest_snapshot().unwrap()
    }

    pub fn bank(&self, a: &Address) -> u128 {
        self.snapshot().balance(a, DENOM).unwrap()
    }

    pub fn ledger_balance(&self, a: &Address) -> u64 {
        self.snapshot()
            .ledger_account(a.as_str())
            .unwrap()
            .map_or(0, |acc| acc.balance)
    }

    /// escrow = sum of ledger balances + deposits queued and not settled.
    pub fn assert_escrow_invariant(&self, users: &[Address]) {
        let snap = self.snapshot();
        let ledger: u128 = users
            .iter()
            .map(|u| u128::from(self.ledger_balance(u)))
            .sum();
        let queued_deposits: u128 = snap
            .pending_requests(10_000)
            .unwrap()
            .iter()
            .filter(|e| e.kind == pb::EntryKind::Deposit as i32)
            .map(|e| u128::from(e.amount))
            .sum();
        assert_eq!(
            self.bank(&escrow_address()),
            ledger + queued_deposits,
            "escrow != ledger {ledger} + queued deposits {queued_deposits}",
        );
    }
}

/// The prover's side: its own copy of the ledger tree.
pub struct TestProver {
    pub ledger: Ledger,
    pub chain_id: String,
    pub version: u32,
}

/// A proof ready to submit, and the root it claims.
pub struct Batch {
    pub msg: pb::MsgSubmitProof,
    pub new_root: Fr,
}

impl TestProver {
    pub fn new() -> Self {
        Self {
            ledger: Ledger::new(params().tree),
            chain_id: CHAIN_ID.into(),
            version: 1,
        }
    }

    /// Proves the next `n` pending requests of `chain`; keeps the new
    /// ledger only if `advance`.
    pub fn prove_next(&mut self, chain: &Chain, n: usize, advance: bool) -> Batch {
        let snap = chain.snapshot();
        let queue = snap.queue_state().unwrap();
        let stored: Vec<pb::QueueEntry> = snap.pending_requests(n).unwrap();
        assert_eq!(stored.len(), n, "not enough pending requests");
        let mut ledger = self.ledger.clone();
        let executed = settle::execute(
            &params(),
            &self.chain_id,
            ("transfer", self.version),
            prover().as_str(),
            &mut ledger,
            &queue,
            &stored,
        )
        .unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(stored[0].sequence + 1000);
        let (msg, new_root) = settle::prove(&params(), executed, proving_key(), &mut rng).unwrap();
        if advance {
            self.ledger = ledger;
        }
        Batch { msg, new_root }
    }
}

/// The stateful checks of `msg` as a node runs them: with the verifier's
/// memo, then again (a later stage, answered from the memo). Both must agree
/// with the checks run without any memo, accepted or refused alike.
pub fn check_as_a_node(
    chain: &Chain,
    verifier: &copro_coprocessor::submit::Verifier,
    msg: &pb::MsgSubmitProof,
) -> Result<copro_coprocessor::submit::CheckedSubmission, copro_coprocessor::CoproError> {
    use copro_coprocessor::submit::{SubmitProof, check_stateful, check_stateful_memo};
    let snapshot = chain.snapshot();
    let plain = check_stateful(
        &snapshot,
        SubmitProof::from_msg(msg)?,
        CHAIN_ID,
        chain.height,
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push(check_stateful_memo(
            &snapshot,
            SubmitProof::from_msg(msg)?,
            CHAIN_ID,
            chain.height,
            verifier.hashes(),
        ));
    }
    for run in &runs {
        match (&plain, run) {
            (Ok(a), Ok(b)) => assert_eq!(
                (a.public_input, a.deltas_commitment, a.verification_id),
                (b.public_input, b.deltas_commitment, b.verification_id),
                "a memoized check differs from the plain one"
            ),
            (Err(a), Err(b)) => assert_eq!(a.code, b.code),
            _ => panic!("a memoized check and the plain one disagree: {plain:?} / {run:?}"),
        }
    }
    plain
}

/// Every check as a node runs it ([`check_as_a_node`]), the pairing, then
/// apply in a block of its own (state unchanged on error).
pub fn submit(
    chain: &mut Chain,
    verifier: &copro_coprocessor::submit::Verifier,
    msg: &pb::MsgSubmitProof,
) -> Result<u64, copro_coprocessor::CoproError> {
    let checked = check_as_a_node(chain, verifier, msg)?;
    verifier.verify(&checked, copro_module::Stage::CheckTx)?;
    verifier.verify(&checked, copro_module::Stage::FinalizeBlock)?;
    chain.block(|s, h| {
        // As a node applies: the root-history append memoized, then again
        // from the memo; the same writes as without it.
        let (expected, plain) = {
            let mut plain = copro_store::StateDelta::new(&*s);
            let id = copro_coprocessor::submit::apply(&mut plain, &checked, h, [7; 32])
                .map(|(id, _)| id);
            (id, plain.into_changes())
        };
        let first = {
            let mut first = copro_store::StateDelta::new(&*s);
            copro_coprocessor::submit::apply_memo(
                &mut first,
                &checked,
                h,
                [7; 32],
                verifier.hashes(),
            )?;
            first.into_changes()
        };
        assert_eq!(first, plain, "a memoized apply wrote something else");
        let id = copro_coprocessor::submit::apply_memo(s, &checked, h, [7; 32], verifier.hashes())
            .map(|(id, _)| id);
        assert_eq!(id, expected);
        id
    })
}
