//! Validator CPU per native `MsgSend` against validator CPU per settled
//! ledger entry, measured in one run through coprod's own ABCI handlers on a
//! real store on disk: for every transaction a validator runs CheckTx (it
//! reaches every mempool), then ProcessProposal, FinalizeBlock and Commit of
//! its block, exactly as under CometBFT (minus the socket and consensus).
//!
//! ```text
//! cargo run --release -p coprod --example validator_cost -- \
//!     --keys target/dev-keys/transfer-b4-a4-d16 [--sends 256] [--entries 32]
//! ```
//!
//! `--keys` is a `copro-prover setup` directory (the localnet's dev program
//! works). Three phases, each timed from the first CheckTx to the last
//! Commit:
//! 0. empty blocks (what a block costs whatever it carries);
//! 1. `sends` bank sends in one block;
//! 2. as many ledger requests (`MsgDeposit`, a Cosmos tx each) in one block;
//! 3. proofs settling the first `entries` of them, B entries each, one
//!    proof per block (proving happens between blocks and is not counted).
//!
//! A settled entry costs a validator its request tx plus 1/B of a proof tx.
// A benchmark, not consensus code: it reads the clock.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use bellman::groth16;
use bls12_381::Bls12;
use common::*;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Ledger, TransferParams};
use copro_coprocessor::CoproRead;
use copro_coprocessor::record::pb;
use copro_coprocessor::settle;
use coprod::App;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

struct Args {
    keys: PathBuf,
    sends: usize,
    entries: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut keys = None;
    let (mut sends, mut entries) = (256usize, 32usize);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--keys" => keys = Some(PathBuf::from(value()?)),
            "--sends" => sends = value()?.parse()?,
            "--entries" => entries = value()?.parse()?,
            other => bail!("unknown flag {other}; use --keys DIR [--sends N] [--entries M]"),
        }
    }
    let keys = keys.context("give --keys DIR (a `copro-prover setup --out DIR` directory)")?;
    anyhow::ensure!(
        (1..=251).contains(&sends.div_ceil(2)),
        "--sends must be 1..=502"
    );
    anyhow::ensure!((1..=251).contains(&entries), "--entries must be 1..=251");
    Ok(Args {
        keys,
        sends,
        entries,
    })
}

#[derive(serde::Deserialize)]
struct Setup {
    batch: usize,
    arity: u32,
    depth: u32,
}

/// What a validator does for a block of `txs`: CheckTx of each, then
/// ProcessProposal, FinalizeBlock, Commit. Returns the wall time (one
/// thread, so the CPU time); every tx must succeed.
fn block(app: &mut App, height: u64, txs: Vec<Vec<u8>>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for t in &txs {
        let r = app.check_tx(check_req(t.clone()));
        anyhow::ensure!(r.code.is_ok(), "CheckTx refused: {}", r.log);
    }
    let hash = tendermint::Hash::Sha256([height as u8; 32]);
    let mut process = process_req(height, txs.clone());
    process.hash = hash;
    let verdict = app
        .process_proposal(process)
        .map_err(|e| anyhow!("{e:?}"))?;
    anyhow::ensure!(
        verdict == tendermint::v0_38::abci::response::ProcessProposal::Accept,
        "block {height} rejected"
    );
    let mut fin = finalize_req(height, txs);
    fin.hash = hash;
    let result = app.finalize_block(fin).map_err(|e| anyhow!("{e:?}"))?;
    for r in &result.tx_results {
        anyhow::ensure!(r.code.is_ok(), "tx failed in block {height}: {}", r.log);
    }
    app.commit().map_err(|e| anyhow!("{e:?}"))?;
    Ok(start.elapsed())
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let setup: Setup = toml::from_str(
        &std::fs::read_to_string(args.keys.join("setup.toml"))
            .with_context(|| format!("reading {}/setup.toml", args.keys.display()))?,
    )?;
    let params = TransferParams {
        batch_size: setup.batch,
        tree: TreeConfig::new(
            match setup.arity {
                2 => Arity::Two,
                4 => Arity::Four,
                a => bail!("arity {a} is not supported"),
            },
            setup.depth,
        )
        .context("unsupported tree depth")?,
    };
    anyhow::ensure!(
        args.entries % setup.batch == 0,
        "--entries must be a multiple of the program's batch size {}",
        setup.batch
    );
    eprintln!("loading the proving key from {}", args.keys.display());
    let pk = groth16::Parameters::<Bls12>::read(
        std::io::BufReader::new(std::fs::File::open(args.keys.join("proving_key.bin"))?),
        false,
    )?;
    let vk = std::fs::read(args.keys.join("verifying_key.bin"))?;

    // Senders are accounts 0..n-1, then the recipient, then the prover.
    anyhow::ensure!(
        args.entries <= args.sends,
        "--entries must be at most --sends"
    );
    let senders: Vec<Signer> = (1..=args.sends.div_ceil(2))
        .map(|i| Signer::new(i as u8))
        .collect();
    let recipient = Signer::new(253);
    let prover = Signer::new(252);
    let mut funded: Vec<(&Signer, u128)> = senders.iter().map(|s| (s, 1_000_000_000)).collect();
    funded.push((&recipient, 1));
    funded.push((&prover, 1_000_000_000));
    let mut app_state: serde_json::Value = serde_json::from_slice(&genesis(&funded))?;
    app_state["coprocessor"] = serde_json::json!({
        "params": {"ledger_denom": "ucopro", "tree_arity": setup.arity, "tree_depth": setup.depth},
        "authority": prover.address.to_string(),
        "prover": prover.address.to_string(),
        "programs": [{
            "id": "transfer", "version": 1, "verifying_key": hex::encode(&vk),
            "batch_size": setup.batch, "tree_arity": setup.arity, "tree_depth": setup.depth
        }]
    });
    let prover_account = senders.len() as u64 + 1;

    let dir = tempfile::tempdir()?;
    let mut app = app_in(dir.path());
    app.init_chain(init_chain_req(serde_json::to_vec(&app_state)?))
        .map_err(|e| anyhow!("{e:?}"))?;
    let mut height = 1;

    // Warm-up block (one send), so one-time costs stay out of the figures.
    block(
        &mut app,
        height,
        vec![TxParts::send(&senders[0], &recipient.address, "1", 0, 0).sign(&senders[0])],
    )?;
    height += 1;
    let mut sequences = vec![0u64; senders.len()];
    sequences[0] = 1;

    // 0. Empty blocks: what a block costs whatever it carries.
    const EMPTY_BLOCKS: u32 = 10;
    let mut empty_time = Duration::ZERO;
    for _ in 0..EMPTY_BLOCKS {
        empty_time += block(&mut app, height, Vec::new())?;
        height += 1;
    }
    let empty = empty_time / EMPTY_BLOCKS;

    // 1. Bank sends.
    let mut sends = Vec::with_capacity(args.sends);
    for k in 0..args.sends {
        let i = k % args.sends.div_ceil(2);
        sends.push(
            TxParts::send(&senders[i], &recipient.address, "1", i as u64, sequences[i])
                .sign(&senders[i]),
        );
        sequences[i] += 1;
    }
    let send_time = block(&mut app, height, sends)?;
    height += 1;

    // 2. Ledger requests: as many deposits as sends, from the same senders,
    // so both blocks carry the same number of txs.
    let deposits = (0..args.sends)
        .map(|k| {
            let i = k % args.sends.div_ceil(2);
            let d = tx(
                &senders[i],
                any_msg(&pb::MsgDeposit {
                    signer: senders[i].address.to_string(),
                    amount: 1_000,
                }),
                i as u64,
                sequences[i],
            );
            sequences[i] += 1;
            d
        })
        .collect();
    let request_time = block(&mut app, height, deposits)?;
    height += 1;

    // 3. Settlement: one proof of B entries per block.
    let mut ledger = Ledger::new(params.tree);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut settle_time = Duration::ZERO;
    let mut proving = Duration::ZERO;
    for p in 0..(args.entries / setup.batch) as u64 {
        let snap = app.storage().latest_snapshot()?;
        let queue = snap.queue_state().map_err(|e| anyhow!("{e}"))?;
        let entries = snap
            .pending_requests(setup.batch)
            .map_err(|e| anyhow!("{e}"))?;
        let start = Instant::now();
        let executed = settle::execute(
            &params,
            CHAIN_ID,
            ("transfer", 1),
            prover.address.as_str(),
            &mut ledger,
            &queue,
            &entries,
        )
        .map_err(|e| anyhow!("{e}"))?;
        let (msg, _) =
            settle::prove(&params, executed, &pk, &mut rng).map_err(|e| anyhow!("{e}"))?;
        proving += start.elapsed();
        settle_time += block(
            &mut app,
            height,
            vec![tx(&prover, any_msg(&msg), prover_account, p)],
        )?;
        height += 1;
    }
    let settled = app
        .storage()
        .latest_snapshot()?
        .queue_state()
        .map_err(|e| anyhow!("{e}"))?
        .settled_up_to;
    anyhow::ensure!(
        settled == args.entries as u64,
        "{settled} entries settled, not {}",
        args.entries
    );

    let us = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    let proofs = args.entries / setup.batch;
    let send = us(send_time, args.sends);
    let request = us(request_time, args.sends);
    let settle = us(settle_time, args.entries);
    let settle_no_block = us(
        settle_time.saturating_sub(empty * u32::try_from(proofs)?),
        args.entries,
    );
    println!(
        "shape: B = {}, arity {}, depth {}",
        setup.batch, setup.arity, setup.depth
    );
    println!("block.empty_us: {:.0}", empty.as_secs_f64() * 1e6);
    println!("msgsend.txs_in_block: {}", args.sends);
    println!("msgsend.us_per_tx: {send:.0}");
    println!("request.txs_in_block: {}", args.sends);
    println!("request.us_per_tx: {request:.0}");
    println!(
        "settle.proofs: {proofs}, one per block (proving, not counted: {:.1} s)",
        proving.as_secs_f64()
    );
    println!("settle.us_per_proof_block: {:.0}", us(settle_time, proofs));
    println!("settle.us_per_entry: {settle:.0}");
    println!("settle.us_per_entry_without_block: {settle_no_block:.0}");
    println!("settled_entry.us_total: {:.0}", request + settle);
    println!(
        "settled_entry_over_msgsend: {:.2}",
        (request + settle) / send
    );
    println!(
        "settled_entry_over_msgsend_without_proof_blocks: {:.2}",
        (request + settle_no_block) / send
    );
    Ok(())
}
