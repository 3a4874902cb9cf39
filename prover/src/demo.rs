//! `copro-prover prove-demo`: proves a synthetic batch with existing keys and
//! writes the proof and the values the chain checks, as fixtures for chain
//! integration tests. (The chain-following job loop is a later issue.)

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bellman::groth16;
use bls12_381::Bls12;
use clap::Args;
use copro_circuits::encoding::{decode_vk, encode_proof};
use copro_circuits::field::{Fr, fr_to_hex};
use copro_circuits::program::Program;
use copro_circuits::transfer::{Account, Ledger, QueueEntry, Transfer, TransferBatch};
use copro_circuits::verify::{CheckedVerifyingKey, verify};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `prove-demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory written by `setup`.
    #[arg(long)]
    pub keys: PathBuf,
    /// Circuit shape (the keys must have been made for it).
    #[command(flatten)]
    pub shape: crate::ShapeArgs,
    /// Chain-id bound into the proof.
    #[arg(long, default_value = "copro-local-1")]
    pub chain_id: String,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `prove-demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    let params = args.shape.params("transfer")?;
    let pk_path = args.keys.join("proving_key.bin");
    let file = std::fs::File::open(&pk_path).with_context(|| {
        format!(
            "opening {} (run `copro-prover setup` first)",
            pk_path.display()
        )
    })?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message("reading proving key");
    // Our own file: skip the (slow) subgroup checks of every point.
    let pk = groth16::Parameters::<Bls12>::read(std::io::BufReader::new(file), false)
        .context("proving key is unreadable or not a bellman parameter file")?;
    let vk_bytes =
        std::fs::read(args.keys.join("verifying_key.bin")).context("reading verifying_key.bin")?;
    let vk = CheckedVerifyingKey::new(decode_vk(&vk_bytes)?)?;
    if !(pk.vk == *vk.vk()) {
        return Err(anyhow!(
            "proving_key.bin and verifying_key.bin are from different setups"
        ));
    }

    // Genesis: account 1 holds 1000; the batch deposits, transfers and withdraws.
    let mut ledger = Ledger::new(params.tree);
    let alice = Fr::from(0xA11CEu64);
    let bob = Fr::from(0xB0Bu64);
    ledger.set_account(
        1,
        Account {
            key: alice,
            balance: 1_000,
            nonce: 0,
        },
    )?;
    let old_root = ledger.root()?;
    let candidates = [
        QueueEntry::deposit(2, bob, 50),
        QueueEntry::transfer(1, alice, 2, bob, 300, 0),
        QueueEntry::withdraw(2, bob, 100, 0),
        QueueEntry::withdraw(1, alice, 5_000, 1),
    ];
    let entries: Vec<QueueEntry> = candidates
        .iter()
        .copied()
        .cycle()
        .take(args.shape.batch)
        .collect();
    let batch = TransferBatch {
        queue_before: Fr::from(0u64),
        entries: entries.clone(),
    };
    bar.set_message("executing natively");
    let (outcome, witness) =
        Transfer::execute(&params, args.chain_id.as_bytes(), &mut ledger, &batch)?;
    bar.set_message(format!(
        "proving batch of {} (no finer progress available from bellman)",
        args.shape.batch
    ));
    let start = Instant::now();
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let proof = copro_circuits::transfer::prove(&params, witness, &pk, seed)
        .map_err(|e| anyhow!("proving failed: {e}"))?;
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let x = Transfer::public_input(&outcome);
    tracing::info!(entries = args.shape.batch, seconds = elapsed.as_secs_f64(), public_input = %fr_to_hex(&x), "proof created");
    verify(&vk, &proof, x).map_err(|e| anyhow!("fresh proof does not verify: {e}"))?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    std::fs::write(args.out.join("proof.bin"), encode_proof(&proof))
        .context("writing proof.bin")?;
    let p = &outcome.public;
    let mut txt = String::new();
    let _ = writeln!(txt, "public_input = \"{}\"", fr_to_hex(&x));
    let _ = writeln!(txt, "chain_id = \"{}\"", args.chain_id);
    let _ = writeln!(
        txt,
        "program_id = \"{}\"\nprogram_version = {}",
        p.program_id, p.program_version
    );
    let _ = writeln!(txt, "genesis_root = \"{}\"", fr_to_hex(&old_root));
    let _ = writeln!(
        txt,
        "old_root = \"{}\"\nnew_root = \"{}\"",
        fr_to_hex(&p.old_root),
        fr_to_hex(&p.new_root)
    );
    let _ = writeln!(
        txt,
        "queue_before = \"{}\"\nqueue_after = \"{}\"",
        fr_to_hex(&p.queue_before),
        fr_to_hex(&p.queue_after)
    );
    let _ = writeln!(
        txt,
        "deltas_commitment = \"{}\"",
        fr_to_hex(&p.deltas_commitment)
    );
    for (e, fx) in entries.iter().zip(&outcome.effects) {
        let _ = writeln!(
            txt,
            "[[entry]]\nkind = {}\nfrom_index = {}\nfrom_key = \"{}\"\nto_index = {}\nto_key = \"{}\"\namount = {}\nnonce = {}\nstatus = {}\nfrom_balance = {}\nfrom_nonce = {}\nto_balance = {}",
            e.kind as u8,
            e.from_index,
            fr_to_hex(&e.from_key),
            e.to_index,
            fr_to_hex(&e.to_key),
            e.amount,
            e.nonce,
            fx.status as u8,
            fx.from_balance,
            fx.from_nonce,
            fx.to_balance
        );
    }
    std::fs::write(args.out.join("public.toml"), txt).context("writing public.toml")?;
    println!(
        "proved {} entries in {elapsed:.1?}; wrote {dir}/proof.bin and {dir}/public.toml\npublic input: {}",
        args.shape.batch,
        fr_to_hex(&x),
        dir = args.out.display()
    );
    Ok(())
}
