//! `copro-prover bench-validator`: what a validator pays for one settled
//! batch, with real proofs over a real store, stage by stage:
//! decode (strict protobuf + stateless checks), stateful checks and public
//! input (queue reads, deltas commitment, Poseidon sponge), the pairing
//! check (first with the verifying key prepared, the steady state; key
//! preparation once per program is printed apart), and apply (mirror
//! writes, escrow, root history, result) plus hashing the changes into the
//! Merkle store. Prints `key: value` lines.
//!
//! Keys are generated per batch size (dev-only single-party setup) and
//! cached under `--keys-dir`, so a second run only proves.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bellman::groth16;
use bls12_381::Bls12;
use clap::Args;
use copro_auth::{Address, module_address};
use copro_bank::{BankWrite, Coin};
use copro_circuits::encoding::encode_vk;
use copro_circuits::transfer::{Ledger, TransferParams};
use copro_coprocessor::genesis::{GenesisParams, GenesisProgram, GenesisState};
use copro_coprocessor::msgs::CoproMsg;
use copro_coprocessor::requests::{self, Deposit, Transfer as LedgerTransfer};
use copro_coprocessor::settle;
use copro_coprocessor::submit::{self, Verifier};
use copro_coprocessor::{CoproRead, record::pb};
use copro_module::Stage;
use copro_store::{Snapshot, StateDelta, Storage};
use indicatif::ProgressBar;
use prost::Message;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CHAIN_ID: &str = "copro-bench";

/// Arguments of `bench-validator`.
#[derive(Debug, Args)]
pub struct BenchValidatorArgs {
    /// Tree arity.
    #[arg(long, default_value_t = 4)]
    pub arity: u32,
    /// Tree depth (16 with arity 4 = 2^32 accounts).
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    /// Batch sizes to prove and verify, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub batches: Vec<usize>,
    /// Entry counts for the apply-only measurement (no proof), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "256,1024")]
    pub apply_entries: Vec<usize>,
    /// Proofs verified one by one and together with `verify_all` (B = 1).
    #[arg(long, default_value_t = 16)]
    pub verify_proofs: usize,
    /// Where generated keys are cached.
    #[arg(long, default_value = "target/bench-keys")]
    pub keys_dir: PathBuf,
}

/// A chain state over a real store, in a temporary directory.
struct Chain {
    storage: Storage,
    height: u64,
    _dir: tempfile::TempDir,
}

fn user(i: usize) -> Address {
    module_address(&format!("bench-user-{i}"))
}

fn prover_address() -> Address {
    module_address("bench-prover")
}

impl Chain {
    fn new(params: &TransferParams, vk: &[u8], batch: usize, users: usize) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(dir.path().join("store.redb"))?;
        let mut delta = StateDelta::new(storage.latest_snapshot()?);
        for i in 0..users {
            delta
                .mint(&user(i), &Coin::new("ucopro", 1_000_000_000)?)
                .map_err(|e| anyhow!("{e}"))?;
        }
        let arity = params.tree.arity.children() as u32;
        GenesisState {
            params: GenesisParams {
                ledger_denom: "ucopro".into(),
                tree_arity: arity,
                tree_depth: params.tree.depth,
                inclusion_delay_blocks: 0,
            },
            authority: module_address("bench-authority").to_string(),
            prover: prover_address().to_string(),
            programs: vec![GenesisProgram {
                id: "transfer".into(),
                version: 1,
                verifying_key: hex::encode(vk),
                vk_hash: String::new(),
                batch_size: u32::try_from(batch)?,
                tree_arity: arity,
                tree_depth: params.tree.depth,
                offchain_batch_size: 0,
            }],
        }
        .init(&mut delta)
        .map_err(|e| anyhow!("{e}"))?;
        let (_, pending) = storage.compute_root(delta.changes(), 0)?;
        storage.commit(pending)?;
        Ok(Self {
            storage,
            height: 1,
            _dir: dir,
        })
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.storage.latest_snapshot()?)
    }

    /// Runs `f` over a delta and commits it; returns `f`'s value and the
    /// time spent hashing the changes into the store.
    fn block<T>(
        &mut self,
        f: impl FnOnce(&mut StateDelta<Snapshot>, u64) -> Result<T>,
    ) -> Result<(T, Duration)> {
        let mut delta = StateDelta::new(self.snapshot()?);
        let out = f(&mut delta, self.height)?;
        let start = Instant::now();
        let (_, pending) = self.storage.compute_root(delta.changes(), self.height)?;
        let hashing = start.elapsed();
        self.storage.commit(pending)?;
        self.height += 1;
        Ok((out, hashing))
    }
}

fn cached_key(
    dir: &Path,
    params: &TransferParams,
    rng: &mut ChaCha20Rng,
) -> Result<groth16::Parameters<Bls12>> {
    let path = dir.join(format!(
        "transfer-b{}-a{}-d{}.params",
        params.batch_size,
        params.tree.arity.children(),
        params.tree.depth
    ));
    if let Ok(file) = std::fs::File::open(&path) {
        return groth16::Parameters::read(std::io::BufReader::new(file), false)
            .with_context(|| format!("reading cached key {}", path.display()));
    }
    eprintln!(
        "bench-validator: generating keys for B={} (dev-only setup; cached in {})",
        params.batch_size,
        dir.display()
    );
    let setup = crate::setup::generate(params, rng, &ProgressBar::hidden())?;
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    setup.params.write(&mut out)?;
    Ok(setup.params)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Queues a deposit for each of `n` users, in one block.
fn deposits(chain: &mut Chain, n: usize) -> Result<()> {
    chain.block(|s, h| {
        for i in 0..n {
            requests::deposit(
                s,
                &Deposit {
                    signer: user(i),
                    amount: 1_000 + i as u64,
                },
                h,
            )
            .map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Deposits for `n` users and settles them without a proof (apply only),
/// then queues `n` transfers; returns the prover's ledger.
fn prepare(chain: &mut Chain, params: &TransferParams, n: usize) -> Result<Ledger> {
    deposits(chain, n)?;
    let mut ledger = Ledger::new(params.tree);
    let snap = chain.snapshot()?;
    let queue = snap.queue_state().map_err(|e| anyhow!("{e}"))?;
    let entries = snap.pending_requests(n).map_err(|e| anyhow!("{e}"))?;
    let executed = settle::execute(
        params,
        CHAIN_ID,
        ("transfer", 1),
        prover_address().as_str(),
        &mut ledger,
        &queue,
        &entries,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let msg = executed.msg;
    chain.block(|s, h| {
        let decoded = submit::SubmitProof::from_msg(&pb::MsgSubmitProof {
            proof: vec![0; copro_circuits::encoding::PROOF_LEN],
            ..msg
        })
        .map_err(|e| anyhow!("{e}"))?;
        let checked =
            submit::check_stateful(&*s, decoded, CHAIN_ID, 1).map_err(|e| anyhow!("{e}"))?;
        submit::apply(s, &checked, h, [0; 32]).map_err(|e| anyhow!("{e}"))?;
        Ok(())
    })?;
    chain.block(|s, h| {
        for i in 0..n {
            requests::transfer(
                s,
                &LedgerTransfer {
                    signer: user(i),
                    recipient: user((i + 1) % n.max(2)),
                    amount: 10,
                },
                h,
            )
            .map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    })?;
    Ok(ledger)
}

/// Repetitions of each stage; the median is printed.
const REPS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Decode, check, verify and apply one submission, each stage [`REPS`]
/// times on fresh state (fresh verifier with a prepared key, so every
/// repetition does the pairing check); prints the medians, then commits.
fn measure(label: &str, chain: &mut Chain, msg: &pb::MsgSubmitProof, verify: bool) -> Result<()> {
    let bytes = msg.encode_to_vec();
    println!("{label}.msg_bytes: {}", bytes.len());
    let (mut decode, mut stateful, mut pairing, mut apply, mut hashing) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut last = None;
    for _ in 0..REPS {
        let start = Instant::now();
        let decoded = match CoproMsg::decode("/copro.coprocessor.v1.MsgSubmitProof", &bytes) {
            Some(Ok(CoproMsg::SubmitProof(m))) => m,
            other => return Err(anyhow!("decode failed: {other:?}")),
        };
        decode.push(start.elapsed());
        let snapshot = chain.snapshot()?;
        let start = Instant::now();
        let checked =
            submit::check_stateful(&snapshot, decoded, CHAIN_ID, 1).map_err(|e| anyhow!("{e}"))?;
        stateful.push(start.elapsed());
        if verify {
            let verifier = Verifier::default();
            warm_key(&verifier, &checked);
            let start = Instant::now();
            verifier
                .verify(&checked, Stage::CheckTx)
                .map_err(|e| anyhow!("{e}"))?;
            pairing.push(start.elapsed());
        }
        let mut delta = StateDelta::new(snapshot);
        let start = Instant::now();
        submit::apply(&mut delta, &checked, chain.height, [1; 32]).map_err(|e| anyhow!("{e}"))?;
        apply.push(start.elapsed());
        let start = Instant::now();
        chain.storage.compute_root(delta.changes(), chain.height)?;
        hashing.push(start.elapsed());
        last = Some(checked);
    }
    let checked = last.ok_or_else(|| anyhow!("no repetition ran"))?;
    chain.block(|s, h| {
        submit::apply(s, &checked, h, [1; 32]).map_err(|e| anyhow!("{e}"))?;
        Ok(())
    })?;
    let stages = [
        ("decode", median(decode)),
        ("checks_and_public_input", median(stateful)),
        (
            "verify",
            if verify {
                median(pairing)
            } else {
                Duration::ZERO
            },
        ),
        ("apply", median(apply)),
        ("store_hashing", median(hashing)),
    ];
    let mut total = Duration::ZERO;
    for (name, d) in stages {
        if name == "verify" && !verify {
            continue;
        }
        println!("{label}.{name}_ms: {}", ms(d));
        total += d;
    }
    println!("{label}.total_ms: {}", ms(total));
    println!(
        "{label}.total_us_per_entry: {:.1}",
        total.as_secs_f64() * 1e6 / checked.entries.len() as f64
    );
    Ok(())
}

/// Prepares `verifier`'s key by checking a throwaway input, so the timed
/// check is the steady state (a node prepares a key once per program).
fn warm_key(verifier: &Verifier, checked: &submit::CheckedSubmission) {
    let mut warm = checked.clone();
    warm.verification_id = [0xee; 32];
    warm.public_input = copro_circuits::field::fr_from_u64(1);
    let _ = verifier.verify(&warm, Stage::ProcessProposal);
}

/// Runs `bench-validator`.
pub fn run(args: &BenchValidatorArgs) -> Result<()> {
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    // One-time costs (Poseidon constants, empty-subtree roots) out of the
    // figures.
    let mut warm = copro_coprocessor::history::RootHistory::new();
    warm.append(copro_coprocessor::history::leaf(
        0,
        copro_circuits::field::fr_from_u64(1),
    ))
    .map_err(|e| anyhow!("{e}"))?;
    for &b in &args.batches {
        let params = crate::transfer_params("transfer", b, args.arity, args.depth)?;
        let key = cached_key(&args.keys_dir, &params, &mut rng)?;
        let vk = encode_vk(&key.vk);
        let mut chain = Chain::new(&params, &vk, b, b.max(2))?;
        let mut ledger = prepare(&mut chain, &params, b)?;
        let snap = chain.snapshot()?;
        let queue = snap.queue_state().map_err(|e| anyhow!("{e}"))?;
        let entries = snap.pending_requests(b).map_err(|e| anyhow!("{e}"))?;
        let executed = settle::execute(
            &params,
            CHAIN_ID,
            ("transfer", 1),
            prover_address().as_str(),
            &mut ledger,
            &queue,
            &entries,
        )
        .map_err(|e| anyhow!("{e}"))?;
        let start = Instant::now();
        let (msg, _) =
            settle::prove(&params, executed, &key, &mut rng).map_err(|e| anyhow!("{e}"))?;
        let label = format!("validator.batch{b}");
        println!("{label}.prove_s: {:.2}", start.elapsed().as_secs_f64());
        let start = Instant::now();
        let vk_checked = copro_circuits::verify::CheckedVerifyingKey::new(key.vk.clone())?;
        println!("{label}.prepare_vk_once_ms: {}", ms(start.elapsed()));
        drop(vk_checked);
        measure(&label, &mut chain, &msg, true)?;
    }
    // Apply alone at large batch sizes: the cost that grows with entries.
    for &n in &args.apply_entries {
        let params = crate::transfer_params("transfer", n, args.arity, args.depth)?;
        // Any valid key registers; no proof is verified here.
        let small = crate::transfer_params("transfer", 1, args.arity, args.depth)?;
        let key = cached_key(&args.keys_dir, &small, &mut rng)?;
        let mut chain = Chain::new(&params, &encode_vk(&key.vk), n, n)?;
        let mut ledger = prepare(&mut chain, &params, n)?;
        let snap = chain.snapshot()?;
        let queue = snap.queue_state().map_err(|e| anyhow!("{e}"))?;
        let entries = snap.pending_requests(n).map_err(|e| anyhow!("{e}"))?;
        let mut msg = settle::execute(
            &params,
            CHAIN_ID,
            ("transfer", 1),
            prover_address().as_str(),
            &mut ledger,
            &queue,
            &entries,
        )
        .map_err(|e| anyhow!("{e}"))?
        .msg;
        // Not verified here; distinct from the settlement in `prepare`.
        msg.proof = vec![0xa5; copro_circuits::encoding::PROOF_LEN];
        measure(&format!("validator.apply{n}"), &mut chain, &msg, false)?;
    }
    // One by one against `verify_all` (what ProcessProposal runs), B = 1
    // proofs.
    let n = args.verify_proofs;
    if n > 0 {
        let params = crate::transfer_params("transfer", 1, args.arity, args.depth)?;
        let key = cached_key(&args.keys_dir, &params, &mut rng)?;
        let vk = encode_vk(&key.vk);
        let mut chain = Chain::new(&params, &vk, 1, n)?;
        deposits(&mut chain, n)?;
        let mut ledger = Ledger::new(params.tree);
        let mut checked = Vec::with_capacity(n);
        let mut state = StateDelta::new(chain.snapshot()?);
        for _ in 0..n {
            let queue = state.queue_state().map_err(|e| anyhow!("{e}"))?;
            let entries = state.pending_requests(1).map_err(|e| anyhow!("{e}"))?;
            let executed = settle::execute(
                &params,
                CHAIN_ID,
                ("transfer", 1),
                prover_address().as_str(),
                &mut ledger,
                &queue,
                &entries,
            )
            .map_err(|e| anyhow!("{e}"))?;
            let (msg, _) =
                settle::prove(&params, executed, &key, &mut rng).map_err(|e| anyhow!("{e}"))?;
            let c = submit::check_stateful(
                &state,
                submit::SubmitProof::from_msg(&msg).map_err(|e| anyhow!("{e}"))?,
                CHAIN_ID,
                chain.height,
            )
            .map_err(|e| anyhow!("{e}"))?;
            submit::apply(&mut state, &c, chain.height, [2; 32]).map_err(|e| anyhow!("{e}"))?;
            checked.push(c);
        }
        let single = Verifier::default();
        let all = Verifier::default();
        warm_key(&single, &checked[0]);
        warm_key(&all, &checked[0]);
        let start = Instant::now();
        for c in &checked {
            single
                .verify(c, Stage::CheckTx)
                .map_err(|e| anyhow!("{e}"))?;
        }
        let singles = start.elapsed();
        let start = Instant::now();
        let verdicts = all.verify_all(&checked, Stage::ProcessProposal);
        let together = start.elapsed();
        if verdicts.iter().any(Result::is_err) {
            return Err(anyhow!("a bench proof failed to verify"));
        }
        println!("verify.proofs: {n}");
        println!(
            "verify.single_ms_per_proof: {:.3}",
            singles.as_secs_f64() * 1e3 / n as f64
        );
        println!(
            "verify.verify_all_ms_per_proof: {:.3}",
            together.as_secs_f64() * 1e3 / n as f64
        );
    }
    Ok(())
}
