//! `copro-prover`: the prover daemon (`run`, `status`, `jobs`), key setup,
//! debugging and benchmarks for copro circuits.
//!
//! This binary is not consensus code: it reads the clock to report timings,
//! hence the crate-level allowance below.
#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

mod bench;
mod breakdown;
mod demo;
mod operator;
mod setup;
mod validator_bench;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use copro_circuits::count::ConstraintCounter;
use copro_circuits::field::{Fr, fr_from_hex, fr_to_hex};
use copro_circuits::program::Program;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Transfer, TransferParams};
use copro_prover::daemon;

/// copro prover operator tool.
#[derive(Debug, Parser)]
#[command(name = "copro-prover", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the prover daemon: follow the chain through a light client,
    /// prove batches of queued requests, submit them (see docs/prover.md).
    Run {
        /// The daemon's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
    /// Status of the running daemon (read from its HTTP API).
    Status {
        /// The daemon's TOML config (for its API address).
        #[arg(long)]
        config: PathBuf,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Jobs of the running daemon, newest first (read from its HTTP API).
    Jobs {
        /// The daemon's TOML config (for its API address).
        #[arg(long)]
        config: PathBuf,
        /// Only jobs in this state (pending, witness, proving, proved,
        /// submitted, committed, failed).
        #[arg(long)]
        state: Option<String>,
        /// One job in full, with its proof.
        #[arg(long)]
        id: Option<u64>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Single-party Groth16 key generation (localnet and dev chains ONLY).
    Setup(setup::SetupArgs),
    /// Inspection helpers.
    Debug {
        #[command(subcommand)]
        what: DebugCommand,
    },
    /// Verify a proof file against a verifying key file and a public input.
    Verify {
        /// Verifying key (canonical encoding, as written by `setup`).
        #[arg(long)]
        vk: PathBuf,
        /// Proof (192 bytes, canonical encoding).
        #[arg(long)]
        proof: PathBuf,
        /// The public input, 0x-hex.
        #[arg(long)]
        public_input: String,
    },
    /// Prove a synthetic batch with existing keys; write proof and public values.
    ProveDemo(demo::DemoArgs),
    /// Benchmarks: constraints, setup, proving, verification, Poseidon.
    Bench(bench::BenchArgs),
    /// What a validator pays per settled batch (decode, checks, pairing,
    /// apply, store hashing) for real proofs over a real store.
    BenchValidator(validator_bench::BenchValidatorArgs),
}

#[derive(Debug, Subcommand)]
enum DebugCommand {
    /// Apply the Poseidon permutation to the given state and print the output
    /// state, one 0x-hex element per line.
    Poseidon {
        /// Width t (3 or 5).
        #[arg(long)]
        width: usize,
        /// The t input elements, 0x-hex (big-endian).
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Count the constraints of a program circuit.
    Constraints {
        /// Program id.
        #[arg(long, default_value = "transfer")]
        program: String,
        /// Circuit shape.
        #[command(flatten)]
        shape: ShapeArgs,
    },
}

/// Output format of `status` and `jobs`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// The shape of a transfer circuit: what a key pair is made for. A proving
/// key, its verifying key and every proof must agree on all three.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ShapeArgs {
    /// Batch size B (queue entries per proof).
    #[arg(long)]
    pub batch: usize,
    /// Tree depth (production: 16 with arity 4, i.e. 2^32 accounts).
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    /// Tree arity, 2 or 4.
    #[arg(long, default_value_t = 4)]
    pub arity: u32,
}

impl ShapeArgs {
    /// Checked circuit parameters of `program` in this shape.
    pub fn params(&self, program: &str) -> Result<TransferParams> {
        transfer_params(program, self.batch, self.arity, self.depth)
    }
}

/// Parses a tree shape from the CLI.
pub fn tree_config(arity: u32, depth: u32) -> Result<TreeConfig> {
    let a = match arity {
        2 => Arity::Two,
        4 => Arity::Four,
        _ => bail!("--arity must be 2 or 4, got {arity}"),
    };
    TreeConfig::new(a, depth).with_context(|| {
        format!("--depth {depth} with --arity {arity} is unsupported: need depth >= 1 and arity^depth <= 2^32")
    })
}

/// Checks the program name and builds its parameters.
pub fn transfer_params(
    program: &str,
    batch: usize,
    arity: u32,
    depth: u32,
) -> Result<TransferParams> {
    if program != Transfer::ID {
        bail!("unknown program {program:?}; available: {}", Transfer::ID);
    }
    if batch == 0 || batch > copro_circuits::transfer::MAX_BATCH {
        bail!(
            "--batch must be between 1 and {}",
            copro_circuits::transfer::MAX_BATCH
        );
    }
    Ok(TransferParams {
        batch_size: batch,
        tree: tree_config(arity, depth)?,
    })
}

fn debug_poseidon(width: usize, inputs: &[String]) -> Result<()> {
    if width != 3 && width != 5 {
        bail!("--width must be 3 or 5, got {width}");
    }
    if inputs.len() != width {
        bail!(
            "width {width} needs exactly {width} inputs, got {}",
            inputs.len()
        );
    }
    let mut state: Vec<Fr> = inputs
        .iter()
        .map(|s| fr_from_hex(s).with_context(|| format!("bad input {s:?}")))
        .collect::<Result<_>>()?;
    copro_circuits::poseidon::permute(&mut state);
    for x in &state {
        println!("{}", fr_to_hex(x));
    }
    Ok(())
}

fn verify_files(vk: &PathBuf, proof: &PathBuf, public_input: &str) -> Result<()> {
    let vk_bytes = std::fs::read(vk).with_context(|| format!("reading {}", vk.display()))?;
    let proof_bytes =
        std::fs::read(proof).with_context(|| format!("reading {}", proof.display()))?;
    let vk = copro_circuits::encoding::decode_vk(&vk_bytes).context("verifying key")?;
    let vk = copro_circuits::verify::CheckedVerifyingKey::new(vk)?;
    let proof = copro_circuits::encoding::decode_proof(&proof_bytes).context("proof")?;
    let x = fr_from_hex(public_input)?;
    copro_circuits::verify::verify(&vk, &proof, x)?;
    println!("ok");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn main() -> std::process::ExitCode {
    // `{:#}`: the error and its causes on one line, never a backtrace (a
    // `Result` returned from main prints its Debug form, which shows one
    // when RUST_BACKTRACE is set).
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", coprod::report::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            let config = daemon::config::Config::load(&config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let result = runtime.block_on(daemon::run(config, shutdown_signal()));
            // A proof still running on a blocking thread is abandoned (its
            // job restarts from the job store), not waited for.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            result
        }
        Command::Status { config, output } => operator::status(&config, output == Output::Json),
        Command::Jobs {
            config,
            state,
            id,
            limit,
            output,
        } => operator::jobs(&config, state.as_deref(), id, limit, output == Output::Json),
        Command::Setup(args) => setup::run(&args),
        Command::Debug {
            what: DebugCommand::Poseidon { width, inputs },
        } => debug_poseidon(width, &inputs),
        Command::Debug {
            what: DebugCommand::Constraints { program, shape },
        } => {
            let params = shape.params(&program)?;
            let ShapeArgs {
                batch,
                arity,
                depth,
            } = shape;
            let c = ConstraintCounter::count(Transfer::circuit(&params, None), false)
                .map_err(|e| anyhow::anyhow!("synthesis failed: {e}"))?;
            println!(
                "program={program} batch={batch} arity={arity} depth={depth} constraints={} aux={} public_inputs={}",
                c.constraints,
                c.aux,
                c.inputs - 1
            );
            Ok(())
        }
        Command::Verify {
            vk,
            proof,
            public_input,
        } => verify_files(&vk, &proof, &public_input),
        Command::ProveDemo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::BenchValidator(args) => validator_bench::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_writes_strictly_decodable_keys_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let args = setup::SetupArgs {
            program: "transfer".into(),
            shape: ShapeArgs {
                batch: 1,
                depth: 2,
                arity: 4,
            },
            out: dir.path().to_path_buf(),
            insecure_seed: Some(1),
            offchain_batch: 0,
        };
        setup::run(&args).unwrap();
        let vk_bytes = std::fs::read(dir.path().join("verifying_key.bin")).unwrap();
        let vk = copro_circuits::encoding::decode_vk(&vk_bytes).unwrap();
        let hash = std::fs::read_to_string(dir.path().join("verifying_key.sha256")).unwrap();
        assert_eq!(
            hash.trim(),
            hex::encode(copro_circuits::encoding::vk_hash(&vk))
        );
        let pk = std::fs::File::open(dir.path().join("proving_key.bin")).unwrap();
        let params = bellman::groth16::Parameters::<bls12_381::Bls12>::read(pk, false).unwrap();
        assert!(params.vk == vk);
        assert!(copro_circuits::verify::CheckedVerifyingKey::new(vk).is_ok());

        // Prove with those keys and verify the written files like a validator.
        let out = dir.path().join("demo");
        let demo = demo::DemoArgs {
            keys: dir.path().to_path_buf(),
            shape: ShapeArgs {
                batch: 1,
                depth: 2,
                arity: 4,
            },
            chain_id: "copro-test".into(),
            out: out.clone(),
        };
        demo::run(&demo).unwrap();
        let public = std::fs::read_to_string(out.join("public.toml")).unwrap();
        let x = public
            .lines()
            .next()
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap()
            .to_owned();
        let vk_path = dir.path().join("verifying_key.bin");
        verify_files(&vk_path, &out.join("proof.bin"), &x).unwrap();
        let other = fr_to_hex(&(fr_from_hex(&x).unwrap() + Fr::from(1u64)));
        assert!(verify_files(&vk_path, &out.join("proof.bin"), &other).is_err());
    }

    #[test]
    fn cli_rejects_bad_shapes_with_a_hint() {
        assert!(tree_config(3, 4).is_err());
        assert!(
            tree_config(4, 17)
                .unwrap_err()
                .to_string()
                .contains("arity^depth")
        );
        assert!(transfer_params("rewards", 1, 4, 2).is_err());
        assert!(transfer_params("transfer", 0, 4, 2).is_err());
        assert!(debug_poseidon(5, &["0x1".into()]).is_err());
        assert!(debug_poseidon(3, &["0x0".into(), "0x1".into(), "0x2".into()]).is_ok());
    }

    /// `--offchain-batch N` makes keys of `transfer` version 2, and says so
    /// in setup.toml (which `coprod genesis add-program` and
    /// `tx copro update-program` read).
    #[test]
    fn setup_with_offchain_slots_makes_version_2_keys() {
        let dir = tempfile::tempdir().unwrap();
        let args = setup::SetupArgs {
            program: "transfer".into(),
            shape: ShapeArgs {
                batch: 1,
                depth: 2,
                arity: 4,
            },
            out: dir.path().to_path_buf(),
            insecure_seed: Some(2),
            offchain_batch: 1,
        };
        setup::run(&args).unwrap();
        let info = std::fs::read_to_string(dir.path().join("setup.toml")).unwrap();
        assert!(info.contains("version = 2\n"), "{info}");
        assert!(info.contains("offchain_batch = 1\n"), "{info}");
        let vk_bytes = std::fs::read(dir.path().join("verifying_key.bin")).unwrap();
        copro_circuits::encoding::decode_vk(&vk_bytes).unwrap();
        let too_many = setup::SetupArgs {
            offchain_batch: copro_circuits::transfer_v2::MAX_BATCH + 1,
            out: dir.path().join("x"),
            ..args
        };
        assert!(setup::run(&too_many).is_err());
    }
}
