//! Field helpers: the BLS12-381 scalar field `Fr`, hex conversion and byte packing.

use bls12_381::Scalar;
use ff::{Field, PrimeField};

/// The BLS12-381 scalar field, the field of every circuit in this crate.
pub type Fr = Scalar;

/// Number of bytes packed into one field element by [`bytes_to_fields`].
pub const BYTES_PER_ELEMENT: usize = 31;

/// Error returned when a hex string is not a canonical field element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldParseError {
    /// The string is not of the form `0x` followed by 1 to 64 hex digits.
    #[error("not a 0x-prefixed hex number of at most 64 digits: {0:?}")]
    BadHex(String),
    /// The number is not smaller than the field modulus.
    #[error("value is not below the BLS12-381 scalar field modulus: {0}")]
    NotCanonical(String),
}

/// Parses `0x`-prefixed big-endian hex (1..=64 digits) into a field element.
/// Values `>= p` are rejected, never reduced.
pub fn fr_from_hex(s: &str) -> Result<Fr, FieldParseError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| FieldParseError::BadHex(s.to_owned()))?;
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldParseError::BadHex(s.to_owned()));
    }
    let mut be = [0u8; 32];
    let padded = format!("{digits:0>64}");
    for (i, byte) in be.iter_mut().enumerate() {
        let pair = &padded[2 * i..2 * i + 2];
        *byte = u8::from_str_radix(pair, 16).map_err(|_| FieldParseError::BadHex(s.to_owned()))?;
    }
    fr_from_be_bytes(&be).ok_or_else(|| FieldParseError::NotCanonical(s.to_owned()))
}

/// Canonical big-endian 32-byte encoding to a field element (`None` if `>= p`).
pub fn fr_from_be_bytes(be: &[u8; 32]) -> Option<Fr> {
    let mut le = *be;
    le.reverse();
    Option::from(Fr::from_repr(le))
}

/// Big-endian 32-byte encoding of a field element.
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    let mut be = x.to_repr();
    be.reverse();
    be
}

/// `0x`-prefixed, 64-digit, lower-case big-endian hex of a field element.
pub fn fr_to_hex(x: &Fr) -> String {
    let mut s = String::with_capacity(66);
    s.push_str("0x");
    for b in fr_to_be_bytes(x) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The field element with integer value `v`.
pub fn fr_from_u64(v: u64) -> Fr {
    Fr::from(v)
}

/// `2^k` as a field element (`k < 255`).
pub fn fr_pow2(k: u32) -> Fr {
    let mut x = Fr::ONE;
    for _ in 0..k {
        x = x.double();
    }
    x
}

/// Returns `Some(v)` if the field element is an integer below `2^64`.
pub fn fr_to_u64(x: &Fr) -> Option<u64> {
    let le = x.to_repr();
    if le[8..].iter().any(|b| *b != 0) {
        return None;
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&le[..8]);
    Some(u64::from_le_bytes(w))
}

/// Packs a byte string into field elements: the bytes are cut into 31-byte
/// chunks, each read as a big-endian integer (the last chunk may be shorter),
/// and the byte length is appended as a final element. The empty string packs
/// to `[0]`. The result is injective, so hashing it with the sponge gives a
/// collision-resistant commitment to the bytes.
pub fn bytes_to_fields(bytes: &[u8]) -> Vec<Fr> {
    let mut out = Vec::with_capacity(bytes.len() / BYTES_PER_ELEMENT + 2);
    for chunk in bytes.chunks(BYTES_PER_ELEMENT) {
        let mut be = [0u8; 32];
        be[32 - chunk.len()..].copy_from_slice(chunk);
        // 31 bytes < 2^248 < p: always canonical.
        out.push(fr_from_be_bytes(&be).unwrap_or(Fr::ZERO));
    }
    out.push(Fr::from(bytes.len() as u64));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_non_canonical() {
        let x = fr_from_hex("0x1234").unwrap();
        assert_eq!(x, Fr::from(0x1234u64));
        assert_eq!(fr_from_hex(&fr_to_hex(&x)).unwrap(), x);
        let p = "0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";
        assert!(matches!(
            fr_from_hex(p),
            Err(FieldParseError::NotCanonical(_))
        ));
        assert!(fr_from_hex("12").is_err());
        assert!(fr_from_hex("0x").is_err());
        assert_eq!(fr_to_u64(&Fr::from(u64::MAX)), Some(u64::MAX));
        assert_eq!(fr_to_u64(&(Fr::from(u64::MAX) + Fr::ONE)), None);
        assert_eq!(fr_pow2(64), Fr::from(u64::MAX) + Fr::ONE);
    }

    #[test]
    fn packing_is_length_aware() {
        assert_eq!(bytes_to_fields(b""), vec![Fr::ZERO]);
        assert_ne!(bytes_to_fields(b"\0"), bytes_to_fields(b""));
        assert_eq!(bytes_to_fields(&[7u8; 32]).len(), 3);
    }
}
