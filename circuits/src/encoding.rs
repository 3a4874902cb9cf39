//! Strict, canonical encodings of Groth16 proofs and verifying keys.
//!
//! Points are in the compressed form of `bls12_381` (48 bytes in G1, 96 in
//! G2); decoding rejects non-canonical encodings, points off the curve or
//! outside the prime-order subgroup, the identity (checked here) and any
//! length other than the exact one. Points are decompressed by blst
//! ([`copro_groth16::g1_from_compressed`]), which accepts exactly what
//! `bls12_381`'s `from_compressed` accepts in about a third of the time.
//!
//! * Proof: `A (G1) || B (G2) || C (G1)`, exactly [`PROOF_LEN`] = 192 bytes.
//! * Verifying key: `alpha_g1 || beta_g1 || beta_g2 || gamma_g2 || delta_g1 ||
//!   delta_g2 || u32_be(n) || ic[0..n] (G1 each)`, exactly `436 + 48 n` bytes,
//!   with `1 <= n <=` [`MAX_IC`].
//! * VK hash: SHA-256 of the canonical verifying-key bytes above.

use bellman::groth16::{Proof, VerifyingKey};
use bls12_381::{Bls12, G1Affine, G2Affine};
use copro_groth16::{g1_from_compressed, g2_from_compressed};
use sha2::{Digest, Sha256};

/// Encoded proof length.
pub const PROOF_LEN: usize = 48 + 96 + 48;
/// Fixed part of an encoded verifying key (before the `ic` points).
pub const VK_FIXED_LEN: usize = 48 + 48 + 96 + 96 + 48 + 96 + 4;
/// Most `ic` points accepted (public inputs + 1).
pub const MAX_IC: usize = 16;

/// Why bytes are not a valid proof or verifying key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The byte string has the wrong length.
    #[error("wrong length: expected {expected} bytes, got {got}")]
    WrongLength {
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// A point is not canonical, not on the curve or not in the subgroup.
    #[error("{0} is not a canonical point of the prime-order subgroup")]
    InvalidPoint(&'static str),
    /// A point is the identity.
    #[error("{0} is the point at infinity")]
    Identity(&'static str),
    /// The verifying key's `ic` count is out of range.
    #[error("verifying key has {0} ic points; 1..={MAX_IC} allowed")]
    BadIcCount(usize),
}

fn g1(bytes: &[u8], what: &'static str) -> Result<G1Affine, EncodingError> {
    let arr: [u8; 48] = bytes
        .try_into()
        .map_err(|_| EncodingError::InvalidPoint(what))?;
    let p = g1_from_compressed(&arr).ok_or(EncodingError::InvalidPoint(what))?;
    if bool::from(p.is_identity()) {
        return Err(EncodingError::Identity(what));
    }
    Ok(p)
}

fn g2(bytes: &[u8], what: &'static str) -> Result<G2Affine, EncodingError> {
    let arr: [u8; 96] = bytes
        .try_into()
        .map_err(|_| EncodingError::InvalidPoint(what))?;
    let p = g2_from_compressed(&arr).ok_or(EncodingError::InvalidPoint(what))?;
    if bool::from(p.is_identity()) {
        return Err(EncodingError::Identity(what));
    }
    Ok(p)
}

/// Canonical proof bytes.
pub fn encode_proof(proof: &Proof<Bls12>) -> [u8; PROOF_LEN] {
    let mut out = [0u8; PROOF_LEN];
    out[..48].copy_from_slice(&proof.a.to_compressed());
    out[48..144].copy_from_slice(&proof.b.to_compressed());
    out[144..].copy_from_slice(&proof.c.to_compressed());
    out
}

/// Strictly decodes a proof.
pub fn decode_proof(bytes: &[u8]) -> Result<Proof<Bls12>, EncodingError> {
    if bytes.len() != PROOF_LEN {
        return Err(EncodingError::WrongLength {
            expected: PROOF_LEN,
            got: bytes.len(),
        });
    }
    Ok(Proof {
        a: g1(&bytes[..48], "proof.a")?,
        b: g2(&bytes[48..144], "proof.b")?,
        c: g1(&bytes[144..], "proof.c")?,
    })
}

/// Canonical verifying-key bytes.
///
/// # Panics
/// If the key has more than `u32::MAX` ic points (impossible for real keys).
pub fn encode_vk(vk: &VerifyingKey<Bls12>) -> Vec<u8> {
    let mut out = Vec::with_capacity(VK_FIXED_LEN + 48 * vk.ic.len());
    out.extend_from_slice(&vk.alpha_g1.to_compressed());
    out.extend_from_slice(&vk.beta_g1.to_compressed());
    out.extend_from_slice(&vk.beta_g2.to_compressed());
    out.extend_from_slice(&vk.gamma_g2.to_compressed());
    out.extend_from_slice(&vk.delta_g1.to_compressed());
    out.extend_from_slice(&vk.delta_g2.to_compressed());
    let n = u32::try_from(vk.ic.len()).expect("ic count fits u32");
    out.extend_from_slice(&n.to_be_bytes());
    for p in &vk.ic {
        out.extend_from_slice(&p.to_compressed());
    }
    out
}

/// Strictly decodes a verifying key.
pub fn decode_vk(bytes: &[u8]) -> Result<VerifyingKey<Bls12>, EncodingError> {
    if bytes.len() < VK_FIXED_LEN {
        return Err(EncodingError::WrongLength {
            expected: VK_FIXED_LEN + 48,
            got: bytes.len(),
        });
    }
    let mut n_bytes = [0u8; 4];
    n_bytes.copy_from_slice(&bytes[VK_FIXED_LEN - 4..VK_FIXED_LEN]);
    let n = u32::from_be_bytes(n_bytes) as usize;
    if n == 0 || n > MAX_IC {
        return Err(EncodingError::BadIcCount(n));
    }
    let expected = VK_FIXED_LEN + 48 * n;
    if bytes.len() != expected {
        return Err(EncodingError::WrongLength {
            expected,
            got: bytes.len(),
        });
    }
    let mut ic = Vec::with_capacity(n);
    for i in 0..n {
        let at = VK_FIXED_LEN + 48 * i;
        ic.push(g1(&bytes[at..at + 48], "vk.ic")?);
    }
    Ok(VerifyingKey {
        alpha_g1: g1(&bytes[0..48], "vk.alpha_g1")?,
        beta_g1: g1(&bytes[48..96], "vk.beta_g1")?,
        beta_g2: g2(&bytes[96..192], "vk.beta_g2")?,
        gamma_g2: g2(&bytes[192..288], "vk.gamma_g2")?,
        delta_g1: g1(&bytes[288..336], "vk.delta_g1")?,
        delta_g2: g2(&bytes[336..432], "vk.delta_g2")?,
        ic,
    })
}

/// SHA-256 of the canonical verifying-key bytes.
pub fn vk_hash(vk: &VerifyingKey<Bls12>) -> [u8; 32] {
    Sha256::digest(encode_vk(vk)).into()
}
