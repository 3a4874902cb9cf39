//! What one proof's check costs a validator, by step, with blst's pairing
//! (what the chain runs) against bellman's own (`bls12_381`), in one run:
//!
//! ```text
//! cargo run --release -p copro-circuits --example verify_cost -- [--reps 200]
//! ```
//!
//! The check does not depend on the circuit's size (one public input), so a
//! `transfer` batch of one entry in a small tree stands in for the real
//! shape. Medians, µs.
// A benchmark, not consensus code: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bellman::groth16;
use bls12_381::{Bls12, Scalar as Fr};
use copro_circuits::encoding::{decode_proof, decode_vk, encode_proof, encode_vk};
use copro_circuits::program::Program;
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::transfer::{Ledger, QueueEntry, Transfer, TransferBatch, TransferParams};
use copro_circuits::verify::{CheckedVerifyingKey, verify, verify_bellman};
use ff::Field;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn median_us(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<Duration> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[reps / 2].as_secs_f64() * 1e6
}

fn main() {
    let mut reps = 200;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--reps", Some(n)) if n > 0 => reps = n,
            _ => {
                eprintln!("usage: verify_cost [--reps N]  (N > 0)");
                std::process::exit(2);
            }
        }
    }
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let params = TransferParams {
        batch_size: 1,
        tree: TreeConfig::new(Arity::Four, 2).expect("a valid tree shape"),
    };
    let pk = groth16::generate_random_parameters::<Bls12, _, _>(
        Transfer::circuit(&params, None),
        &mut rng,
    )
    .expect("setup of a one-entry batch");
    let mut ledger = Ledger::new(params.tree);
    let batch = TransferBatch {
        queue_before: Fr::ZERO,
        entries: vec![QueueEntry::deposit(3, Fr::from(9u64), 5)],
    };
    let (outcome, witness) =
        Transfer::execute(&params, b"verify-cost", &mut ledger, &batch).expect("a valid batch");
    let y = Transfer::public_input(&outcome);
    let proof =
        groth16::create_random_proof(Transfer::circuit(&params, Some(witness)), &pk, &mut rng)
            .expect("proving a one-entry batch");
    let bytes = encode_proof(&proof);
    let vk_bytes = encode_vk(&pk.vk);

    let decode = median_us(reps, || {
        std::hint::black_box(decode_proof(std::hint::black_box(&bytes)).ok());
    });
    // The same three points with bls12_381's decompression (what
    // `decode_proof` used before blst).
    let decode_bls12_381 = median_us(reps, || {
        let b = std::hint::black_box(&bytes);
        let a: [u8; 48] = b[..48].try_into().expect("48 bytes");
        let g2: [u8; 96] = b[48..144].try_into().expect("96 bytes");
        let c: [u8; 48] = b[144..].try_into().expect("48 bytes");
        std::hint::black_box((
            bls12_381::G1Affine::from_compressed(&a).is_some(),
            bls12_381::G2Affine::from_compressed(&g2).is_some(),
            bls12_381::G1Affine::from_compressed(&c).is_some(),
        ));
    });
    let prepare = median_us(reps.min(50), || {
        let vk = decode_vk(&vk_bytes).expect("a key just encoded");
        std::hint::black_box(CheckedVerifyingKey::new(vk).ok());
    });
    let key = CheckedVerifyingKey::new(decode_vk(&vk_bytes).expect("a key just encoded"))
        .expect("one public input");
    let proof = decode_proof(&bytes).expect("a proof just encoded");
    assert_eq!(verify(&key, &proof, y), Ok(()));
    assert_eq!(verify_bellman(&key, &proof, y), Ok(()));
    let blst = median_us(reps, || {
        std::hint::black_box(verify(&key, &proof, std::hint::black_box(y)).is_ok());
    });
    let bellman = median_us(reps, || {
        std::hint::black_box(verify_bellman(&key, &proof, std::hint::black_box(y)).is_ok());
    });
    let bad = y + Fr::ONE;
    let blst_bad = median_us(reps, || {
        std::hint::black_box(verify(&key, &proof, std::hint::black_box(bad)).is_err());
    });
    println!("verify.reps: {reps}");
    println!("verify.decode_proof_us: {decode:.0}");
    println!("verify.decode_proof_bls12_381_us: {decode_bls12_381:.0}");
    println!("verify.prepare_key_us: {prepare:.0}");
    println!("verify.bellman_us: {bellman:.0}");
    println!("verify.blst_us: {blst:.0}");
    println!("verify.blst_rejecting_us: {blst_bad:.0}");
    println!("verify.bellman_over_blst: {:.2}", bellman / blst);
    println!(
        "verify.decode_and_check_before_over_now: {:.2}",
        (decode_bls12_381 + bellman) / (decode + blst)
    );
}
