//! What the coprocessor module costs a validator per settled off-chain
//! transfer, stage by stage, over a real store on disk: decoding the
//! `MsgSubmitProof`, the stateful checks with the public input, apply, and
//! hashing the changes into the Merkle store. No proof is made or verified:
//! the pairing is the same for every batch size (`copro-prover
//! bench-validator` measures it), so what grows with the batch is all here.
//!
//! ```text
//! cargo run --release -p copro-coprocessor --example offchain_cost -- [32,256] [--reps 15]
//! ```
//!
//! Each size gets a chain whose `transfer` version 2 program takes 4 queue
//! slots and that many off-chain slots, with as many funded accounts
//! holding spending keys (settled without proofs); then one batch of signed
//! transfers, account i to account i+1, is checked and applied `--reps`
//! times on the same state and the medians are printed as `key: value`:
//! `first` is a node's first run of the submission (CheckTx: it hashes),
//! `again` a later stage's (PrepareProposal, ProcessProposal: the node's
//! memo answers the Poseidon work, see `copro_coprocessor::memo`).
//! `node_model_us_*` adds the stages up the way one node of a 4-validator
//! chain runs them for one proof tx ([`node_model_us`]), the check aside.
// A benchmark, not consensus code: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bellman::groth16;
use bls12_381::{Bls12, Scalar as Fr};
use copro_auth::{Address, module_address};
use copro_bank::{BankWrite, Coin};
use copro_circuits::encoding::{PROOF_LEN, encode_vk};
use copro_circuits::program::Program;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::spend_auth::{SignedTransfer, SpendingKey, TransferMessage};
use copro_circuits::transfer::{Transfer, TransferParams};
use copro_circuits::transfer_v2::{self, OffchainTransfer, Recipient, TransferV2Params};
use copro_coprocessor::CoproRead;
use copro_coprocessor::genesis::{GenesisParams, GenesisProgram, GenesisState};
use copro_coprocessor::memo::Hashes;
use copro_coprocessor::msgs::CoproMsg;
use copro_coprocessor::record::pb;
use copro_coprocessor::requests::{self, Deposit, SetLedgerKey};
use copro_coprocessor::settle;
use copro_coprocessor::submit::{self, SubmitProof};
use copro_store::{Snapshot, StateDelta, Storage};
use prost::Message;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const CHAIN_ID: &str = "copro-offchain-cost";
const QUEUE_SLOTS: usize = 4;
const TREE: (u32, u32) = (4, 16);

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

fn user(i: usize) -> Address {
    module_address(&format!("offchain-cost-user-{i}"))
}

fn prover_address() -> Address {
    module_address("offchain-cost-prover")
}

fn spending_key(i: usize) -> Result<SpendingKey> {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    SpendingKey::from_seed(&seed).map_err(fail)
}

/// A chain over a real store, with the prover's replica beside it.
struct Chain {
    storage: Storage,
    height: u64,
    params: TransferV2Params,
    ledger: transfer_v2::Ledger,
    _dir: tempfile::TempDir,
}

impl Chain {
    fn new(offchain_slots: usize) -> Result<Self> {
        let tree = TreeConfig::new(Arity::Four, TREE.1).context("tree shape")?;
        // Any valid verifying key registers; nothing is verified here, so a
        // tiny circuit's key is enough.
        let tiny = TransferParams {
            batch_size: 1,
            tree: TreeConfig::new(Arity::Four, 1).context("tree shape")?,
        };
        let key = groth16::generate_random_parameters::<Bls12, _, _>(
            Transfer::circuit(&tiny, None),
            &mut ChaCha20Rng::seed_from_u64(1),
        )?;
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(dir.path().join("store.redb"))?;
        let mut delta = StateDelta::new(storage.latest_snapshot()?);
        for i in 0..offchain_slots {
            delta
                .mint(&user(i), &Coin::new("ucopro", 1_000_000_000)?)
                .map_err(fail)?;
        }
        GenesisState {
            params: GenesisParams {
                ledger_denom: "ucopro".into(),
                tree_arity: TREE.0,
                tree_depth: TREE.1,
                inclusion_delay_blocks: 0,
            },
            authority: module_address("offchain-cost-authority").to_string(),
            prover: prover_address().to_string(),
            programs: vec![GenesisProgram {
                id: transfer_v2::PROGRAM_ID.into(),
                version: transfer_v2::PROGRAM_VERSION,
                verifying_key: hex::encode(encode_vk(&key.vk)),
                vk_hash: String::new(),
                batch_size: QUEUE_SLOTS as u32,
                tree_arity: TREE.0,
                tree_depth: TREE.1,
                offchain_batch_size: u32::try_from(offchain_slots)?,
            }],
        }
        .init(&mut delta)
        .map_err(fail)?;
        let (_, pending) = storage.compute_root(delta.changes(), 0)?;
        storage.commit(pending)?;
        Ok(Self {
            storage,
            height: 1,
            params: TransferV2Params {
                queue_slots: QUEUE_SLOTS,
                offchain_slots,
                tree,
            },
            ledger: transfer_v2::Ledger::new(tree),
            _dir: dir,
        })
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.storage.latest_snapshot()?)
    }

    fn block(
        &mut self,
        f: impl FnOnce(&mut StateDelta<Snapshot>, u64) -> Result<()>,
    ) -> Result<()> {
        let mut delta = StateDelta::new(self.snapshot()?);
        f(&mut delta, self.height)?;
        let (_, pending) = self.storage.compute_root(delta.changes(), self.height)?;
        self.storage.commit(pending)?;
        self.height += 1;
        Ok(())
    }

    /// The batch of the next `queue` pending requests and `offchain`, as the
    /// prover would submit it (with a placeholder proof); the replica
    /// advances only if `advance`.
    fn batch(
        &mut self,
        queue: usize,
        offchain: &[OffchainTransfer],
        advance: bool,
    ) -> Result<pb::MsgSubmitProof> {
        let snap = self.snapshot()?;
        let state = snap.queue_state().map_err(fail)?;
        let entries = snap.pending_requests(queue).map_err(fail)?;
        let alloc_start = u32::try_from(snap.next_index().map_err(fail)?)?;
        let mut ledger = self.ledger.clone();
        let executed = settle::execute_v2(
            &self.params,
            CHAIN_ID,
            prover_address().as_str(),
            &mut ledger,
            &state,
            &entries,
            offchain,
            alloc_start,
        )
        .map_err(fail)?;
        if advance {
            self.ledger = ledger;
        }
        let mut msg = executed.msg;
        msg.proof = vec![0xa5; PROOF_LEN];
        // Distinct placeholders, so that no batch is a replay of another.
        msg.proof[..8].copy_from_slice(&self.height.to_le_bytes());
        Ok(msg)
    }

    /// Settles every pending request without a proof, `QUEUE_SLOTS` a block.
    fn settle_queue(&mut self) -> Result<()> {
        loop {
            let pending = self
                .snapshot()?
                .pending_requests(QUEUE_SLOTS)
                .map_err(fail)?;
            if pending.is_empty() {
                return Ok(());
            }
            let msg = self.batch(pending.len(), &[], true)?;
            self.block(|s, h| {
                let checked = submit::check_stateful(
                    &*s,
                    SubmitProof::from_msg(&msg).map_err(fail)?,
                    CHAIN_ID,
                    h,
                )
                .map_err(fail)?;
                submit::apply(s, &checked, h, [0; 32]).map_err(fail)?;
                Ok(())
            })?;
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn measure(n: usize, reps: usize) -> Result<()> {
    let mut chain = Chain::new(n)?;
    let keys = (0..n).map(spending_key).collect::<Result<Vec<_>>>()?;
    chain.block(|s, h| {
        for i in 0..n {
            let deposit = Deposit {
                signer: user(i),
                amount: 1_000_000,
            };
            requests::deposit(s, &deposit, h).map_err(fail)?;
        }
        Ok(())
    })?;
    chain.settle_queue()?;
    chain.block(|s, h| {
        for (i, key) in keys.iter().enumerate() {
            let msg = SetLedgerKey::new(user(i), &key.public_key().to_bytes()).map_err(fail)?;
            requests::set_ledger_key(s, &msg, h).map_err(fail)?;
        }
        Ok(())
    })?;
    chain.settle_queue()?;
    let snap = chain.snapshot()?;
    let mut offchain = Vec::with_capacity(n);
    for (i, key) in keys.iter().enumerate() {
        let index_of = |u: usize| -> Result<u32> {
            Ok(snap
                .ledger_account(user(u).as_str())
                .map_err(fail)?
                .context("a user has no ledger account")?
                .ledger_index)
        };
        let (from, to) = (index_of(i)?, index_of((i + 1) % n)?);
        let sender = chain.ledger.account(from).context("no sender leaf")?;
        let recipient = chain.ledger.account(to).context("no recipient leaf")?;
        offchain.push(OffchainTransfer {
            signed: SignedTransfer::sign(
                key,
                CHAIN_ID.as_bytes(),
                TransferMessage {
                    from_index: from,
                    to_index: to,
                    to_key: recipient.key,
                    amount: 1,
                    nonce: sender.nonce,
                },
            ),
            recipient: Recipient::Existing(to),
        });
    }
    let msg = chain.batch(0, &offchain, false)?;
    let bytes = msg.encode_to_vec();
    let label = format!("offchain{n}");
    println!("{label}.msg_bytes: {}", bytes.len());
    // Each repetition runs the submission twice over the same state with
    // one fresh memo: the first run is CheckTx's (it hashes), the second
    // is a later stage's (PrepareProposal, ProcessProposal: lookups).
    let mut runs: [[Vec<Duration>; 4]; 2] = Default::default();
    for _ in 0..reps {
        let hashes = Hashes::default();
        for samples in runs.iter_mut() {
            let times = run_once(&chain, &bytes, &hashes)?;
            for (s, t) in samples.iter_mut().zip(times) {
                s.push(t);
            }
        }
    }
    // [run][stage] medians, µs.
    let mut medians = [[0.0f64; 4]; 2];
    for ((run, samples), row) in ["first", "again"].iter().zip(runs).zip(&mut medians) {
        for ((name, samples), cell) in [
            "decode",
            "checks_and_public_input",
            "apply",
            "store_hashing",
        ]
        .iter()
        .zip(samples)
        .zip(row.iter_mut())
        {
            *cell = us(median(samples));
            println!("{label}.{run}.{name}_us: {cell:.0}");
        }
        let total: f64 = row.iter().sum();
        println!("{label}.{run}.total_us: {total:.0}");
        println!(
            "{label}.{run}.total_us_per_transfer: {:.1}",
            total / n as f64
        );
    }
    let node = node_model_us(&medians);
    println!("{label}.node_model_us_without_check: {node:.0}");
    println!(
        "{label}.node_model_us_per_transfer_without_check: {:.1}",
        node / n as f64
    );
    Ok(())
}

/// Validators of the localnet the model is for (the proposer's share of
/// PrepareProposal is one in this many).
const MODEL_VALIDATORS: f64 = 4.0;

/// What one node pays for one proof tx, the pairing check aside, modelled
/// from the stage medians `[first, again][decode, checks, apply, store]`:
/// CheckTx is a first run without store hashing; ProcessProposal is a later
/// run without it, and so is PrepareProposal, on the proposer only (one
/// node in [`MODEL_VALIDATORS`]); FinalizeBlock reuses ProcessProposal's
/// result and hashes the store once. Add the check (`copro-circuits`'
/// `verify_cost` example: decode and pairing) for the whole.
fn node_model_us(medians: &[[f64; 4]; 2]) -> f64 {
    let [first, again] = medians;
    let run = |m: &[f64; 4]| m[0] + m[1] + m[2];
    run(first) + run(again) * (1.0 + 1.0 / MODEL_VALIDATORS) + first[3]
}

/// Decodes, checks, applies and hashes the submission `bytes` once over the
/// chain's state (nothing committed); the four times.
fn run_once(chain: &Chain, bytes: &[u8], hashes: &Hashes) -> Result<[Duration; 4]> {
    let snapshot = chain.snapshot()?;
    let start = Instant::now();
    let decoded = match CoproMsg::decode("/copro.coprocessor.v1.MsgSubmitProof", bytes) {
        Some(Ok(CoproMsg::SubmitProof(m))) => m,
        other => bail!("decode failed: {other:?}"),
    };
    let decode = start.elapsed();
    let start = Instant::now();
    let checked = submit::check_stateful_memo(&snapshot, decoded, CHAIN_ID, chain.height, hashes)
        .map_err(fail)?;
    let checks = start.elapsed();
    let mut delta = StateDelta::new(snapshot);
    let start = Instant::now();
    submit::apply_memo(&mut delta, &checked, chain.height, [1; 32], hashes).map_err(fail)?;
    let apply = start.elapsed();
    let start = Instant::now();
    chain.storage.compute_root(delta.changes(), chain.height)?;
    Ok([decode, checks, apply, start.elapsed()])
}

/// Native Poseidon, fast form against the textbook rounds, per permutation
/// (the validators' hashing: the deltas sponge, the public input, the root
/// history).
fn poseidon() {
    use copro_circuits::poseidon::{permute, permute_textbook};
    const N: u32 = 20_000;
    for t in [3usize, 5] {
        let mut state: Vec<Fr> = (0..t as u64).map(Fr::from).collect();
        let time = |f: fn(&mut [Fr]), state: &mut Vec<Fr>| {
            let start = Instant::now();
            for _ in 0..N {
                f(state);
            }
            start.elapsed() / N
        };
        let textbook = time(permute_textbook, &mut state);
        let fast = time(permute, &mut state);
        println!("poseidon.t{t}_textbook_us: {:.1}", us(textbook));
        println!("poseidon.t{t}_fast_us: {:.1}", us(fast));
        println!(
            "poseidon.t{t}_speedup: {:.2}",
            textbook.as_secs_f64() / fast.as_secs_f64()
        );
        std::hint::black_box(&state);
    }
}

fn main() -> Result<()> {
    let mut sizes = vec![32, 256];
    let mut reps = 15;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().context("--reps needs a value")?.parse()?,
            list => {
                sizes = list
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .context("sizes: a comma-separated list such as 32,256")?
            }
        }
    }
    if reps == 0 || sizes.iter().any(|&n| n < 2) {
        bail!("--reps must be positive and every size at least 2");
    }
    poseidon();
    for n in sizes {
        measure(n, reps)?;
    }
    Ok(())
}
