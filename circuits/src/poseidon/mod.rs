//! Poseidon over the BLS12-381 scalar field (x^5 S-box, t = 3 and t = 5), the
//! hash constructions copro builds on it, and their bellman gadgets.
//!
//! Constructions (all outputs are lane 1 of the permuted state; lane 0 is the
//! capacity and carries a domain tag):
//!
//! * [`hash2`]: 2-to-1, `P3([tag, a, b])[1]` (t = 3).
//! * [`hash4`]: 4-to-1, `P5([tag, a, b, c, d])[1]` (t = 5).
//! * [`sponge`]: variable length, t = 5, rate 4, capacity 1. The capacity lane
//!   starts as `tag + len * 2^64` (tags are below 2^64, so the length is part of
//!   the domain); inputs are added to lanes 1..=4 four at a time with a
//!   permutation after each block; the last block is zero-padded (unambiguous
//!   because the length is in the capacity); an empty input permutes the
//!   initial state once. Output: lane 1.
//!
//! Domain tags are listed in [`tags`].

pub mod gadget;
mod native;
mod params;

pub use params::{FULL_ROUNDS, PoseidonParams, Width, params};

use ff::Field;

use crate::field::{Fr, fr_pow2};

/// Domain tags placed in the capacity lane. Every use of Poseidon in copro has
/// its own tag.
pub mod tags {
    /// Sparse Merkle tree inner node (2-to-1 or 4-to-1 by arity).
    pub const NODE: u64 = 1;
    /// Sparse Merkle tree leaf: `hash4(LEAF, key, balance, nonce, 0)`.
    pub const LEAF: u64 = 2;
    /// Queue hash chain step.
    pub const QUEUE: u64 = 3;
    /// Deltas and outputs commitment (sponge).
    pub const DELTAS: u64 = 4;
    /// Public-input commitment (sponge).
    pub const PUBLIC_INPUT: u64 = 5;
    /// Byte strings such as the chain-id (sponge over packed bytes).
    pub const BYTES: u64 = 6;
    /// Ledger account keys derived from addresses.
    pub const ACCOUNT_KEY: u64 = 7;
    /// Leaf of the chain's root-history accumulator:
    /// `hash2(ROOT_HISTORY, height, root)`.
    pub const ROOT_HISTORY: u64 = 8;
    /// Spend-authorization signature challenge (sponge):
    /// `sponge(SPEND_AUTH, [chain, R.u, R.v, PK.u, PK.v, msg...])`.
    pub const SPEND_AUTH: u64 = 9;
}

/// The Poseidon permutation of the instance with `state.len()` lanes (3 or 5).
///
/// # Panics
/// If `state.len()` is neither 3 nor 5 (a programming error).
pub fn permute(state: &mut [Fr]) {
    match state.len() {
        3 => {
            let mut s = [state[0], state[1], state[2]];
            native::t3().permute(&mut s);
            state.copy_from_slice(&s);
        }
        5 => {
            let mut s = [state[0], state[1], state[2], state[3], state[4]];
            native::t5().permute(&mut s);
            state.copy_from_slice(&s);
        }
        _ => panic!("Poseidon width must be 3 or 5"),
    }
}

/// The same permutation as [`permute`], computed round by round as the
/// Poseidon paper states it (every round constant added, every MDS product
/// dense). Slower; kept as the reference the fast form is tested against
/// and measured with (`examples/offchain_cost` of `copro-coprocessor`).
///
/// # Panics
/// If `state.len()` is neither 3 nor 5 (a programming error).
pub fn permute_textbook(state: &mut [Fr]) {
    let width = Width::from_t(state.len()).expect("Poseidon width must be 3 or 5");
    let p = params(width);
    let t = p.t;
    let half = p.full_rounds / 2;
    let mut next = [Fr::ZERO; 5];
    for r in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s += p.round_constants[r * t + i];
        }
        if r < half || r >= half + p.partial_rounds {
            for s in state.iter_mut() {
                *s = sbox(*s);
            }
        } else {
            state[0] = sbox(state[0]);
        }
        for (i, out) in next[..t].iter_mut().enumerate() {
            *out = (0..t).fold(Fr::ZERO, |acc, j| acc + p.mds[i][j] * state[j]);
        }
        state.copy_from_slice(&next[..t]);
    }
}

/// x^5.
fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// 2-to-1 hash with domain tag `tag` (t = 3).
pub fn hash2(tag: u64, a: Fr, b: Fr) -> Fr {
    let mut s = [Fr::from(tag), a, b];
    native::t3().permute(&mut s);
    s[1]
}

/// 4-to-1 hash with domain tag `tag` (t = 5).
pub fn hash4(tag: u64, inputs: [Fr; 4]) -> Fr {
    let mut s = [Fr::from(tag), inputs[0], inputs[1], inputs[2], inputs[3]];
    native::t5().permute(&mut s);
    s[1]
}

/// Initial capacity of the sponge: `tag + len * 2^64`.
pub fn sponge_iv(tag: u64, len: usize) -> Fr {
    Fr::from(tag) + Fr::from(len as u64) * fr_pow2(64)
}

/// Sponge hash (t = 5, rate 4) of a variable-length input with domain tag `tag`.
pub fn sponge(tag: u64, inputs: &[Fr]) -> Fr {
    let mut s = [
        sponge_iv(tag, inputs.len()),
        Fr::ZERO,
        Fr::ZERO,
        Fr::ZERO,
        Fr::ZERO,
    ];
    let fast = native::t5();
    if inputs.is_empty() {
        fast.permute(&mut s);
    }
    for block in inputs.chunks(4) {
        for (lane, x) in s[1..].iter_mut().zip(block) {
            *lane += x;
        }
        fast.permute(&mut s);
    }
    s[1]
}

/// Commitment to a byte string: `sponge(BYTES, bytes_to_fields(bytes))`.
pub fn hash_bytes(bytes: &[u8]) -> Fr {
    sponge(tags::BYTES, &crate::field::bytes_to_fields(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{fr_from_hex, fr_to_hex};

    fn check(input: &[u64], expected: &[&str]) {
        let mut s: Vec<Fr> = input.iter().map(|x| Fr::from(*x)).collect();
        permute(&mut s);
        let got: Vec<String> = s.iter().map(fr_to_hex).collect();
        let want: Vec<String> = expected
            .iter()
            .map(|h| fr_to_hex(&fr_from_hex(h).unwrap()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn poseidon_t3_reference_vector() {
        check(
            &[0, 1, 2],
            &[
                "0x28ce19420fc246a05553ad1e8c98f5c9d67166be2c18e9e4cb4b4e317dd2a78a",
                "0x51f3e312c95343a896cfd8945ea82ba956c1118ce9b9859b6ea56637b4b1ddc4",
                "0x3b2b69139b235626a0bfb56c9527ae66a7bf486ad8c11c14d1da0c69bbe0f79a",
            ],
        );
    }

    #[test]
    fn poseidon_t5_reference_vector() {
        check(
            &[0, 1, 2, 3, 4],
            &[
                "0x2a918b9c9f9bd7bb509331c81e297b5707f6fc7393dcee1b13901a0b22202e18",
                "0x65ebf8671739eeb11fb217f2d5c5bf4a0c3f210e3f3cd3b08b5db75675d797f7",
                "0x2cc176fc26bc70737a696a9dfd1b636ce360ee76926d182390cdb7459cf585ce",
                "0x4dc4e29d283afd2a491fe6aef122b9a968e74eff05341f3cc23fda1781dcb566",
                "0x03ff622da276830b9451b88b85e6184fd6ae15c8ab3ee25a5667be8592cce3b1",
            ],
        );
    }

    #[test]
    fn sponge_separates_lengths_and_tags() {
        let a = sponge(tags::DELTAS, &[Fr::ONE]);
        let b = sponge(tags::DELTAS, &[Fr::ONE, Fr::ZERO]);
        let c = sponge(tags::QUEUE, &[Fr::ONE]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(sponge(tags::DELTAS, &[]), sponge(tags::DELTAS, &[Fr::ZERO]));
    }
}
