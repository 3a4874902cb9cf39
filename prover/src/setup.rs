//! `copro-prover setup`: single-party Groth16 key generation.
//!
//! WARNING: whoever runs this learns the toxic waste (tau, alpha, beta, gamma,
//! delta) and can forge proofs for the keys it writes. It is for localnet and
//! dev chains only; see docs/prover.md for what a production ceremony needs.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bellman::groth16;
use bls12_381::Bls12;
use clap::Args;
use copro_circuits::count::ConstraintCounter;
use copro_circuits::encoding::{encode_vk, vk_hash};
use copro_circuits::program::Program;
use copro_circuits::transfer::{Transfer, TransferParams};
use copro_circuits::transfer_v2::{TransferV2, TransferV2Params};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Arguments of `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Program id.
    #[arg(long, default_value = "transfer")]
    pub program: String,
    /// Circuit shape (the keys must have been made for it).
    #[command(flatten)]
    pub shape: crate::ShapeArgs,
    /// Off-chain slots per batch (B_s): above 0, the keys are for `transfer`
    /// version 2 (signed off-chain transfers after `--batch` queue slots).
    #[arg(long, default_value_t = 0)]
    pub offchain_batch: usize,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Derive the toxic waste from this seed instead of the OS RNG:
    /// reproducible keys for tests, and trivially forgeable.
    #[arg(long)]
    pub insecure_seed: Option<u64>,
}

/// Keys and timings of one setup.
pub struct SetupResult {
    /// Proving key (contains the verifying key).
    pub params: groth16::Parameters<Bls12>,
    /// Constraint count.
    pub constraints: usize,
    /// Time spent in `generate_random_parameters`.
    pub elapsed: Duration,
}

fn stage_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The circuit a key pair is made for: `transfer` version 1 or 2.
#[derive(Debug, Clone, Copy)]
pub enum SetupCircuit {
    /// Version 1: queue entries only.
    V1(TransferParams),
    /// Version 2: queue entries, then signed off-chain transfers.
    V2(TransferV2Params),
}

impl SetupCircuit {
    fn version(&self) -> u32 {
        match self {
            SetupCircuit::V1(_) => Transfer::VERSION,
            SetupCircuit::V2(_) => TransferV2::VERSION,
        }
    }
}

/// Generates keys for `params` with `rng`, with a staged progress bar.
pub fn generate(
    params: &TransferParams,
    rng: &mut ChaCha20Rng,
    bar: &ProgressBar,
) -> Result<SetupResult> {
    generate_for(SetupCircuit::V1(*params), rng, bar)
}

/// Generates keys for either version of the circuit.
pub fn generate_for(
    circuit: SetupCircuit,
    rng: &mut ChaCha20Rng,
    bar: &ProgressBar,
) -> Result<SetupResult> {
    bar.set_message("counting constraints");
    let counts = match circuit {
        SetupCircuit::V1(p) => ConstraintCounter::count(Transfer::circuit(&p, None), false),
        SetupCircuit::V2(p) => ConstraintCounter::count(TransferV2::circuit(&p, None), false),
    }
    .map_err(|e| anyhow::anyhow!("circuit synthesis failed: {e}"))?;
    bar.inc(1);
    bar.set_message(format!(
        "generating parameters for {} constraints (FFTs and multi-exponentiations; no finer progress available)",
        counts.constraints
    ));
    let start = Instant::now();
    let pk = match circuit {
        SetupCircuit::V1(p) => {
            groth16::generate_random_parameters::<Bls12, _, _>(Transfer::circuit(&p, None), rng)
        }
        SetupCircuit::V2(p) => {
            groth16::generate_random_parameters::<Bls12, _, _>(TransferV2::circuit(&p, None), rng)
        }
    }
    .map_err(|e| anyhow::anyhow!("parameter generation failed: {e}"))?;
    let elapsed = start.elapsed();
    tracing::info!(
        constraints = counts.constraints,
        seconds = elapsed.as_secs_f64(),
        "parameters generated"
    );
    bar.inc(1);
    Ok(SetupResult {
        params: pk,
        constraints: counts.constraints,
        elapsed,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Runs `setup`.
pub fn run(args: &SetupArgs) -> Result<()> {
    let params = args.shape.params(&args.program)?;
    tracing::warn!(
        "single-party setup: the machine running it can forge proofs; use these keys for localnet/dev chains only"
    );
    let mut rng = match args.insecure_seed {
        Some(seed) => {
            tracing::warn!(
                seed,
                "--insecure-seed: keys are reproducible by anyone who knows the seed"
            );
            ChaCha20Rng::seed_from_u64(seed)
        }
        None => ChaCha20Rng::from_rng(rand::rngs::OsRng).context("OS randomness unavailable")?,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let circuit = match args.offchain_batch {
        0 => SetupCircuit::V1(params),
        n if n > copro_circuits::transfer_v2::MAX_BATCH => anyhow::bail!(
            "--offchain-batch must be at most {}",
            copro_circuits::transfer_v2::MAX_BATCH
        ),
        n => SetupCircuit::V2(TransferV2Params {
            queue_slots: params.batch_size,
            offchain_slots: n,
            tree: params.tree,
        }),
    };
    let bar = stage_bar(4);
    let result = generate_for(circuit, &mut rng, &bar)?;
    bar.set_message("writing proving key");
    let pk_path = args.out.join("proving_key.bin");
    let file = std::fs::File::create(&pk_path)
        .with_context(|| format!("creating {}", pk_path.display()))?;
    let mut w = BufWriter::new(file);
    result.params.write(&mut w).context("writing proving key")?;
    w.flush().context("writing proving key")?;
    bar.inc(1);
    bar.set_message("writing verifying key");
    let vk_bytes = encode_vk(&result.params.vk);
    write_file(&args.out.join("verifying_key.bin"), &vk_bytes)?;
    let hash = hex::encode(vk_hash(&result.params.vk));
    write_file(
        &args.out.join("verifying_key.sha256"),
        format!("{hash}\n").as_bytes(),
    )?;
    let info = format!(
        "program = \"{}\"\nversion = {}\nbatch = {}\noffchain_batch = {}\narity = {}\ndepth = {}\nconstraints = {}\nvk_sha256 = \"{hash}\"\ntrusted_setup = \"single-party, localnet/dev only\"\n",
        Transfer::ID,
        circuit.version(),
        params.batch_size,
        args.offchain_batch,
        args.shape.arity,
        args.shape.depth,
        result.constraints,
    );
    write_file(&args.out.join("setup.toml"), info.as_bytes())?;
    bar.inc(1);
    bar.finish_with_message("done");
    println!(
        "wrote {dir}/proving_key.bin, verifying_key.bin, verifying_key.sha256, setup.toml\nconstraints: {c}\nsetup time: {t:.1?}\nvk sha256: {hash}",
        dir = args.out.display(),
        c = result.constraints,
        t = result.elapsed,
    );
    Ok(())
}
