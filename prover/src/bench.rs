//! `copro-prover bench`: constraint counts, setup/proving/verification times and
//! native Poseidon throughput on this machine. Prints plain `key: value` lines.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bellman::groth16;
use bls12_381::Bls12;
use clap::Args;
use copro_circuits::count::ConstraintCounter;
use copro_circuits::encoding::{PROOF_LEN, encode_vk};
use copro_circuits::field::Fr;
use copro_circuits::poseidon::{self, tags};
use copro_circuits::program::Program;
use copro_circuits::smt::TreeConfig;
use copro_circuits::transfer::{
    Account, Ledger, QueueEntry, Transfer, TransferBatch, TransferParams,
};
use copro_circuits::verify::{CheckedVerifyingKey, verify, verify_batch, verify_bellman};
use ff::Field;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tree arity for the proving benchmark.
    #[arg(long, default_value_t = 4)]
    pub arity: u32,
    /// Tree depth for the proving benchmark (16 with arity 4 = 2^32 accounts).
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    /// Batch sizes to set up and prove, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub batches: Vec<usize>,
    /// Skip setup and proving (constraints, verification and Poseidon only).
    #[arg(long)]
    pub skip_prove: bool,
    /// Native Poseidon iterations per construction.
    #[arg(long, default_value_t = 20_000)]
    pub poseidon_iters: u32,
    /// Number of proofs in the verification benchmark (blst against bellman).
    #[arg(long, default_value_t = 16)]
    pub verify_proofs: usize,
}

fn per_sec(n: u32, d: Duration) -> u64 {
    let nanos = d.as_nanos().max(1);
    u64::try_from(u128::from(n) * 1_000_000_000 / nanos).unwrap_or(u64::MAX)
}

fn bench_poseidon(iters: u32) {
    let mut x = Fr::from(3u64);
    let start = Instant::now();
    for _ in 0..iters {
        x = poseidon::hash2(tags::NODE, x, x);
    }
    let t3 = start.elapsed();
    let start = Instant::now();
    for _ in 0..iters {
        x = poseidon::hash4(tags::NODE, [x, x, x, x]);
    }
    let t5 = start.elapsed();
    println!("poseidon.t3_hashes_per_sec: {}", per_sec(iters, t3));
    println!("poseidon.t5_hashes_per_sec: {}", per_sec(iters, t5));
    println!(
        "poseidon.t3_us_per_hash: {:.2}",
        t3.as_secs_f64() * 1e6 / f64::from(iters)
    );
    println!(
        "poseidon.t5_us_per_hash: {:.2}",
        t5.as_secs_f64() * 1e6 / f64::from(iters)
    );
    // Keep the result observable so the loop is not optimised away.
    tracing::debug!(last = ?x, "poseidon bench");
}

fn count(params: &TransferParams) -> Result<usize> {
    Ok(
        ConstraintCounter::count(Transfer::circuit(params, None), false)
            .map_err(|e| anyhow!("synthesis failed: {e}"))?
            .constraints,
    )
}

fn bench_constraints(shapes: &[(u32, u32)]) -> Result<()> {
    for &(arity, depth) in shapes {
        let tree = crate::tree_config(arity, depth)?;
        let one = count(&TransferParams {
            batch_size: 1,
            tree,
        })?;
        let two = count(&TransferParams {
            batch_size: 2,
            tree,
        })?;
        let per_entry = two - one;
        let fixed = one - per_entry;
        let label = format!("constraints.arity{arity}_depth{depth}");
        println!("{label}.leaves: 2^{}", tree.index_bits());
        println!("{label}.per_entry: {per_entry}");
        println!("{label}.per_batch_fixed: {fixed}");
        for b in [1usize, 8, 32] {
            println!("{label}.batch{b}: {}", fixed + per_entry * b);
        }
    }
    Ok(())
}

/// A ledger with `2 * batch` accounts spread over the index space and a batch of
/// `batch` transfers between them (all of which apply).
fn synthetic(tree: TreeConfig, batch: usize) -> Result<(Ledger, TransferBatch)> {
    let mut ledger = Ledger::new(tree);
    let cap = tree.capacity();
    let index = |i: u64| -> u32 {
        u32::try_from((i.wrapping_mul(2_654_435_761).wrapping_add(17)) % cap).unwrap_or(0)
    };
    let mut entries = Vec::with_capacity(batch);
    for j in 0..batch as u64 {
        let (a, b) = (index(2 * j), index(2 * j + 1));
        let (ka, kb) = (Fr::from(1_000 + 2 * j), Fr::from(1_001 + 2 * j));
        ledger.set_account(
            a,
            Account {
                key: ka,
                balance: 1_000_000,
                nonce: 0,
            },
        )?;
        ledger.set_account(
            b,
            Account {
                key: kb,
                balance: 5,
                nonce: 0,
            },
        )?;
        entries.push(QueueEntry::transfer(a, ka, b, kb, 1_000, 0));
    }
    Ok((
        ledger,
        TransferBatch {
            queue_before: Fr::from(42u64),
            entries,
        },
    ))
}

fn spinner(msg: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message(msg);
    bar
}

fn bench_prove(arity: u32, depth: u32, batches: &[usize]) -> Result<()> {
    let tree = crate::tree_config(arity, depth)?;
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    for &b in batches {
        let params = crate::transfer_params("transfer", b, arity, depth)?;
        let label = format!("prove.arity{arity}_depth{depth}.batch{b}");
        let bar = spinner(format!("setup B={b}"));
        let setup = crate::setup::generate(&params, &mut rng, &ProgressBar::hidden())?;
        bar.finish_and_clear();
        println!("{label}.constraints: {}", setup.constraints);
        println!("{label}.setup_s: {:.2}", setup.elapsed.as_secs_f64());
        let mut pk_bytes = Vec::new();
        setup.params.write(&mut pk_bytes)?;
        println!("{label}.proving_key_bytes: {}", pk_bytes.len());
        drop(pk_bytes);

        let (mut ledger, batch) = synthetic(tree, b)?;
        let start = Instant::now();
        let (outcome, witness) = Transfer::execute(&params, b"copro-bench", &mut ledger, &batch)?;
        println!(
            "{label}.native_execute_s: {:.3}",
            start.elapsed().as_secs_f64()
        );
        let x = Transfer::public_input(&outcome);

        let start = Instant::now();
        ConstraintCounter::count(Transfer::circuit(&params, Some(witness.clone())), true)
            .map_err(|e| anyhow!("synthesis failed: {e}"))?;
        println!("{label}.synthesis_s: {:.3}", start.elapsed().as_secs_f64());

        println!("{label}.loadavg_before_prove: {}", loadavg());
        let bar = spinner(format!("proving B={b}"));
        let start = Instant::now();
        let proof = groth16::create_random_proof(
            Transfer::circuit(&params, Some(witness.clone())),
            &setup.params,
            &mut rng,
        )
        .map_err(|e| anyhow!("proving failed: {e}"))?;
        let prove = start.elapsed();
        bar.finish_and_clear();
        println!("{label}.prove_s: {:.2}", prove.as_secs_f64());
        println!(
            "{label}.prove_ms_per_entry: {:.0}",
            prove.as_secs_f64() * 1e3 / b as f64
        );
        let vk = CheckedVerifyingKey::new(setup.params.vk.clone())?;
        verify(&vk, &proof, x).map_err(|e| anyhow!("bench proof failed to verify: {e}"))?;
        println!("{label}.verified: true");
        crate::breakdown::run(
            &label,
            Transfer::circuit(&params, Some(witness)),
            &setup.params,
        )?;
    }
    Ok(())
}

fn bench_verify(n: usize) -> Result<()> {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    // Verification cost does not depend on the circuit size (one public input),
    // so a small tree keeps proof generation for this benchmark quick.
    let params = crate::transfer_params("transfer", 1, 4, 2)?;
    let pk = groth16::generate_random_parameters::<Bls12, _, _>(
        Transfer::circuit(&params, None),
        &mut rng,
    )
    .map_err(|e| anyhow!("setup failed: {e}"))?;
    let vk = CheckedVerifyingKey::new(pk.vk.clone())?;
    let bar = spinner(format!(
        "creating {n} proofs for the verification benchmark"
    ));
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let mut ledger = Ledger::new(params.tree);
        let batch = TransferBatch {
            queue_before: Fr::from(i as u64),
            entries: vec![QueueEntry::deposit(3, Fr::from(9u64), 5)],
        };
        let (outcome, witness) = Transfer::execute(&params, b"copro-bench", &mut ledger, &batch)?;
        let proof =
            groth16::create_random_proof(Transfer::circuit(&params, Some(witness)), &pk, &mut rng)
                .map_err(|e| anyhow!("proving failed: {e}"))?;
        items.push((proof, Transfer::public_input(&outcome)));
    }
    bar.finish_and_clear();
    // blst's check (what the chain runs) against bellman's, interleaved
    // per repetition so both see the same machine.
    let reps = 5u32;
    let (mut blst, mut bellman) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..reps {
        let start = Instant::now();
        for (p, x) in &items {
            verify(&vk, p, *x).map_err(|e| anyhow!("{e}"))?;
        }
        blst += start.elapsed();
        let start = Instant::now();
        for (p, x) in &items {
            verify_bellman(&vk, p, *x).map_err(|e| anyhow!("{e}"))?;
        }
        bellman += start.elapsed();
    }
    let mut bad = items.clone();
    bad[n / 2].1 += Fr::ONE;
    let verdicts = verify_batch(&vk, &bad);
    if verdicts.iter().filter(|v| v.is_err()).count() != 1 {
        return Err(anyhow!("verify_batch did not isolate the bad proof"));
    }
    let per_proof_ms = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(reps) / n as f64;
    println!("verify.proof_bytes: {PROOF_LEN}");
    println!("verify.vk_bytes: {}", encode_vk(&pk.vk).len());
    println!("verify.proofs: {n}");
    println!("verify.single_ms: {:.3}", per_proof_ms(blst));
    println!("verify.bellman_single_ms: {:.3}", per_proof_ms(bellman));
    println!(
        "verify.bellman_over_blst: {:.2}",
        bellman.as_secs_f64() / blst.as_secs_f64()
    );
    Ok(())
}

/// The 1-minute load average (other processes compete for the 2 cores).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    println!(
        "machine.threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("machine.loadavg_at_start: {}", loadavg());
    bench_poseidon(args.poseidon_iters);
    bench_constraints(&[(4, 16), (2, 32)])?;
    bench_verify(args.verify_proofs.max(2))?;
    if !args.skip_prove {
        bench_prove(args.arity, args.depth, &args.batches)?;
    }
    Ok(())
}
