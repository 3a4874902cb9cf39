//! Groth16 verification of bellman proofs over BLS12-381, with blst's pairing.
//!
//! Every `MsgSubmitProof` costs every validator one Groth16 check,
//!
//! ```text
//! e(A, B) = e(α, β) · e(IC, γ) · e(C, δ),    IC = ic₀ + Σᵢ xᵢ·icᵢ₊₁,
//! ```
//!
//! which is most of what a proof costs a validator (docs/performance.md).
//! bellman evaluates it with `bls12_381`'s pairing, in portable Rust; blst's
//! field arithmetic is assembly, and on the validators' x86-64 machines it
//! runs the same three Miller loops and final exponentiation in about half
//! the time. This crate evaluates exactly bellman's equation with blst, and
//! does nothing else:
//!
//! - Points come in as `bls12_381` values, already decoded, canonical and in
//!   their prime-order subgroups (copro's strict encoding checks that before
//!   any pairing). They cross to blst through their uncompressed encoding,
//!   the same (ZCash) format in both libraries, so no subgroup check is
//!   repeated.
//! - A pair with a point at infinity contributes 1 to the product and is
//!   left out of the Miller loop, as in bellman; blst is never handed one.
//! - blst is built without its thread pool and this crate calls its
//!   single-threaded entry points, so a verification runs on the calling
//!   thread (the node's ABCI thread, whose CPU the node's metrics count).
//!
//! The tests check the verdict against bellman's on real proofs and on
//! proofs forged with a known trapdoor, which reach the cases real proofs
//! never do (an `IC` at infinity, keys with points at infinity).

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use bellman::groth16::{Proof, VerifyingKey};
use bls12_381::{Bls12, G1Affine, G2Affine, Scalar};
use blst::{BLST_ERROR, blst_fp12, blst_p1, blst_p1_affine, blst_p2_affine};

/// Why a check did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Groth16Error {
    /// The number of public inputs does not fit the key.
    #[error("the key takes {expected} public inputs, {got} were given")]
    InputCount {
        /// Inputs the key takes (its `ic` points less one).
        expected: usize,
        /// Inputs given.
        got: usize,
    },
    /// The key has no `ic` point (a key for `n` inputs has `n + 1`).
    #[error("the verifying key has no ic point")]
    NoIc,
    /// The pairing equation does not hold.
    #[error("the proof does not verify for these public inputs")]
    InvalidProof,
    /// blst refused a point `bls12_381` holds. It cannot happen for points
    /// on the curve; callers that must match bellman's verdict exactly fall
    /// back to bellman when it does.
    #[error("blst refused the point {0} (not on the curve)")]
    Conversion(&'static str),
}

/// A verifying key in blst's form: `e(α, β)` computed once, `-γ` and `-δ`,
/// and the `ic` points.
#[derive(Clone)]
pub struct PreparedKey {
    alpha_beta: blst_fp12,
    neg_gamma: blst_p2_affine,
    neg_delta: blst_p2_affine,
    ic: Vec<blst_p1>,
}

impl core::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedKey")
            .field("inputs", &self.inputs())
            .finish_non_exhaustive()
    }
}

impl PreparedKey {
    /// Prepares `vk` (one pairing). Fails only if blst refuses one of its
    /// points, which `bls12_381` points on the curve never are.
    pub fn new(vk: &VerifyingKey<Bls12>) -> Result<Self, Groth16Error> {
        if vk.ic.is_empty() {
            return Err(Groth16Error::NoIc);
        }
        let alpha = g1(&vk.alpha_g1, "vk.alpha_g1")?;
        let beta = g2(&vk.beta_g2, "vk.beta_g2")?;
        let ic = vk
            .ic
            .iter()
            .map(|p| g1(p, "vk.ic").map(|a| projective(&a)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PreparedKey {
            alpha_beta: pairing_product(&[(alpha, beta)]),
            neg_gamma: g2(&-vk.gamma_g2, "vk.gamma_g2")?,
            neg_delta: g2(&-vk.delta_g2, "vk.delta_g2")?,
            ic,
        })
    }

    /// The number of public inputs the key takes.
    pub fn inputs(&self) -> usize {
        self.ic.len() - 1
    }

    /// Checks `proof` for `inputs`: `Ok(())` exactly when bellman's
    /// `verify_proof` accepts it.
    pub fn verify(&self, proof: &Proof<Bls12>, inputs: &[Scalar]) -> Result<(), Groth16Error> {
        if inputs.len() != self.inputs() {
            return Err(Groth16Error::InputCount {
                expected: self.inputs(),
                got: inputs.len(),
            });
        }
        let a = g1(&proof.a, "proof.a")?;
        let b = g2(&proof.b, "proof.b")?;
        let c = g1(&proof.c, "proof.c")?;
        let mut ic = self.ic[0];
        for (x, base) in inputs.iter().zip(&self.ic[1..]) {
            // Canonical little-endian bytes; x < r < 2^255.
            let scalar = x.to_bytes();
            let mut term = blst_p1::default();
            let mut sum = blst_p1::default();
            // SAFETY: `scalar` holds 32 bytes, of which blst reads the low
            // 255 bits; every pointer is to a live, initialised value and
            // the outputs are distinct from the inputs.
            unsafe {
                blst::blst_p1_mult(&mut term, base, scalar.as_ptr(), 255);
                blst::blst_p1_add_or_double(&mut sum, &ic, &term);
            }
            ic = sum;
        }
        let mut ic_affine = blst_p1_affine::default();
        // SAFETY: both pointers are to live values of the right types.
        unsafe { blst::blst_p1_to_affine(&mut ic_affine, &ic) };
        let product = pairing_product(&[(a, b), (ic_affine, self.neg_gamma), (c, self.neg_delta)]);
        if product == self.alpha_beta {
            Ok(())
        } else {
            Err(Groth16Error::InvalidProof)
        }
    }
}

/// Decodes a compressed G1 point: `Some` exactly when `bls12_381`'s
/// `G1Affine::from_compressed` accepts `bytes` (the canonical encoding of a
/// point of the prime-order subgroup, or of the identity), with the same
/// point. blst's decompression and subgroup check take about a third of
/// `bls12_381`'s time; canonicity is checked by compressing the point again
/// and comparing, so no encoding blst might tolerate gets through.
pub fn g1_from_compressed(bytes: &[u8; 48]) -> Option<G1Affine> {
    let mut p = blst_p1_affine::default();
    let mut again = [0u8; 48];
    let mut raw = [0u8; 96];
    // SAFETY: `bytes` is 48 bytes, what blst reads of a compressed G1
    // point; `again` and `raw` are the 48 and 96 bytes blst writes; every
    // other pointer is to a live value.
    unsafe {
        if blst::blst_p1_uncompress(&mut p, bytes.as_ptr()) != BLST_ERROR::BLST_SUCCESS
            || !blst::blst_p1_affine_in_g1(&p)
        {
            return None;
        }
        blst::blst_p1_affine_compress(again.as_mut_ptr(), &p);
        blst::blst_p1_affine_serialize(raw.as_mut_ptr(), &p);
    }
    if again != *bytes {
        return None;
    }
    // blst checked the curve and the subgroup; the canonical bytes convert.
    Option::from(G1Affine::from_uncompressed_unchecked(&raw))
}

/// Decodes a compressed G2 point: `Some` exactly when `bls12_381`'s
/// `G2Affine::from_compressed` accepts `bytes`, with the same point (see
/// [`g1_from_compressed`]).
pub fn g2_from_compressed(bytes: &[u8; 96]) -> Option<G2Affine> {
    let mut p = blst_p2_affine::default();
    let mut again = [0u8; 96];
    let mut raw = [0u8; 192];
    // SAFETY: `bytes` is 96 bytes, what blst reads of a compressed G2
    // point; `again` and `raw` are the 96 and 192 bytes blst writes; every
    // other pointer is to a live value.
    unsafe {
        if blst::blst_p2_uncompress(&mut p, bytes.as_ptr()) != BLST_ERROR::BLST_SUCCESS
            || !blst::blst_p2_affine_in_g2(&p)
        {
            return None;
        }
        blst::blst_p2_affine_compress(again.as_mut_ptr(), &p);
        blst::blst_p2_affine_serialize(raw.as_mut_ptr(), &p);
    }
    if again != *bytes {
        return None;
    }
    Option::from(G2Affine::from_uncompressed_unchecked(&raw))
}

/// `p` in blst's form.
fn g1(p: &G1Affine, what: &'static str) -> Result<blst_p1_affine, Groth16Error> {
    let bytes = p.to_uncompressed();
    let mut out = blst_p1_affine::default();
    // SAFETY: `bytes` is 96 bytes with the compression flag clear, the
    // length blst reads for such an encoding; `out` is a live value.
    let status = unsafe { blst::blst_p1_deserialize(&mut out, bytes.as_ptr()) };
    match status {
        BLST_ERROR::BLST_SUCCESS => Ok(out),
        _ => Err(Groth16Error::Conversion(what)),
    }
}

/// `p` in blst's form.
fn g2(p: &G2Affine, what: &'static str) -> Result<blst_p2_affine, Groth16Error> {
    let bytes = p.to_uncompressed();
    let mut out = blst_p2_affine::default();
    // SAFETY: `bytes` is 192 bytes with the compression flag clear, the
    // length blst reads for such an encoding; `out` is a live value.
    let status = unsafe { blst::blst_p2_deserialize(&mut out, bytes.as_ptr()) };
    match status {
        BLST_ERROR::BLST_SUCCESS => Ok(out),
        _ => Err(Groth16Error::Conversion(what)),
    }
}

fn projective(p: &blst_p1_affine) -> blst_p1 {
    let mut out = blst_p1::default();
    // SAFETY: both pointers are to live values of the right types.
    unsafe { blst::blst_p1_from_affine(&mut out, p) };
    out
}

/// `∏ e(pᵢ, qᵢ)` after the final exponentiation, for at most three pairs.
/// Pairs with a point at infinity are 1 and are left out; no pair left is 1.
fn pairing_product(pairs: &[(blst_p1_affine, blst_p2_affine)]) -> blst_fp12 {
    const MAX: usize = 3;
    assert!(pairs.len() <= MAX, "at most {MAX} pairs");
    let mut ps = [blst_p1_affine::default(); MAX];
    let mut qs = [blst_p2_affine::default(); MAX];
    let mut n = 0;
    for (p, q) in pairs {
        // SAFETY: both pointers are to live values of the right types.
        let infinite = unsafe { blst::blst_p1_affine_is_inf(p) || blst::blst_p2_affine_is_inf(q) };
        if !infinite {
            ps[n] = *p;
            qs[n] = *q;
            n += 1;
        }
    }
    if n == 0 {
        // SAFETY: blst returns a pointer to its static constant 1.
        return unsafe { *blst::blst_fp12_one() };
    }
    let mut miller = blst_fp12::default();
    // blst's convention for a vector of points: a pointer to the first of
    // `n` contiguous points, followed by a null pointer.
    let q_list: [*const blst_p2_affine; 2] = [qs.as_ptr(), core::ptr::null()];
    let p_list: [*const blst_p1_affine; 2] = [ps.as_ptr(), core::ptr::null()];
    // SAFETY: `qs` and `ps` hold at least `n` initialised points each and
    // outlive the call; `miller` is a live value.
    unsafe { blst::blst_miller_loop_n(&mut miller, q_list.as_ptr(), p_list.as_ptr(), n) };
    miller.final_exp()
}

#[cfg(test)]
mod tests;
