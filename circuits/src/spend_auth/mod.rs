//! Spend authorization: Schnorr signatures over Jubjub with a Poseidon
//! challenge, natively here and in-circuit in [`gadget`].
//!
//! A ledger account's owner signs off-chain transfers with a Jubjub spending
//! key; the `transfer` circuit (version 2) checks the signatures against the
//! key committed in the sender's leaf. The scheme, normative for the chain,
//! the prover and wallets (`docs/protocol.md`, "Spend authorization"):
//!
//! * Curve: Jubjub, `-u^2 + v^2 = 1 + d u^2 v^2` over the BLS12-381 scalar
//!   field, `d = -(10240/10241)`; its prime-order subgroup has order `r_J`
//!   (cofactor 8). Scalars are integers mod `r_J`.
//! * Generator `G` ([`generator`]): the first point, in counter order, of
//!   `[8] decode(SHA-256("copro/spend-auth/generator/v1" || u32_le(i)))` that
//!   decodes and is not the identity (try-and-increment, as Sapling's
//!   group hash, but with SHA-256).
//! * Keys: secret `sk` a non-zero scalar, public `PK = [sk] G`, 32 bytes in
//!   the standard Jubjub point encoding (`v` little-endian, the low bit of `u`
//!   in the top bit).
//! * Challenge ([`challenge`]): `c = sponge(SPEND_AUTH, [chain, R.u, R.v,
//!   PK.u, PK.v, m_1..m_n])` where `chain = hash_bytes(chain_id)` and `m` the
//!   message's field elements; the integer `c < p` reduced mod `r_J` is the
//!   challenge scalar.
//! * Signature: `R = [k] G`, `s = k + c sk mod r_J`, encoded as
//!   `R (32 bytes) || s (32 bytes little-endian)`. `k` is derived
//!   deterministically from the secret and the message ([`SpendingKey::sign`]).
//! * Verification ([`PublicKey::verify`]): `R` and `PK` canonical, on the
//!   curve, not of small order (so not the identity) and in the prime-order
//!   subgroup; `s < r_J`; `[s] G == R + [c] PK`.

pub mod gadget;

use std::sync::OnceLock;

use ff::{Field, PrimeField};
use group::cofactor::CofactorGroup;
use group::{Group, GroupEncoding};
use jubjub::{AffinePoint, ExtendedPoint, SubgroupPoint};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256, Sha512};

use crate::field::{Fr, fr_pow2};
use crate::poseidon::{self, tags};

/// A Jubjub scalar (integer mod `r_J`, the order of the prime-order subgroup).
pub type Scalar = jubjub::Fr;

/// Bytes of an encoded public key.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Bytes of an encoded signature (`R || s`).
pub const SIGNATURE_BYTES: usize = 64;

/// Domain string of the generator derivation.
const GENERATOR_DOMAIN: &[u8] = b"copro/spend-auth/generator/v1";
/// Domain string of secret keys derived from a seed.
const SEED_DOMAIN: &[u8] = b"copro/spend-auth/secret-key/v1";
/// Domain string of the deterministic signing nonce.
const NONCE_DOMAIN: &[u8] = b"copro/spend-auth/nonce/v1";

/// The Edwards `d` of Jubjub, `-(10240/10241)`.
pub fn edwards_d() -> Fr {
    static D: OnceLock<Fr> = OnceLock::new();
    *D.get_or_init(|| {
        // 10241 is not zero in the field, so the inverse exists.
        -(Fr::from(10240u64) * Fr::from(10241u64).invert().unwrap_or(Fr::ZERO))
    })
}

/// Whether `(u, v)` satisfies the curve equation `-u^2 + v^2 = 1 + d u^2 v^2`.
pub fn is_on_curve(u: Fr, v: Fr) -> bool {
    let u2 = u.square();
    let v2 = v.square();
    v2 - u2 == Fr::ONE + edwards_d() * u2 * v2
}

/// The spend-authorization generator `G` (see the module documentation for
/// its derivation). Anyone can recompute it from the domain string, so nobody
/// chose it to know a discrete logarithm. Jubjub's `Group::generator` (8 times
/// the point with the smallest `v`) would be as innocent; a generator of our
/// own makes copro keys and signatures unrelated to those of any other Jubjub
/// protocol (a secret reused elsewhere gives an unrelated public key here).
pub fn generator() -> SubgroupPoint {
    static G: OnceLock<SubgroupPoint> = OnceLock::new();
    *G.get_or_init(derive_generator)
}

fn derive_generator() -> SubgroupPoint {
    for i in 0u32.. {
        let mut h = Sha256::new();
        h.update(GENERATOR_DOMAIN);
        h.update(i.to_le_bytes());
        let bytes: [u8; 32] = h.finalize().into();
        if let Some(p) = Option::<AffinePoint>::from(AffinePoint::from_bytes(bytes)) {
            let g = ExtendedPoint::from(p).clear_cofactor();
            if !bool::from(g.is_identity()) {
                return g;
            }
        }
    }
    unreachable!("about half of all encodings decode to a point")
}

/// Affine coordinates `(u, v)` of a point.
pub fn coordinates(p: &ExtendedPoint) -> (Fr, Fr) {
    let a = AffinePoint::from(p);
    (a.get_u(), a.get_v())
}

/// Which point of a key or signature an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointRole {
    /// The signer's public key.
    PublicKey,
    /// The signature's commitment `R`.
    Nonce,
}

impl core::fmt::Display for PointRole {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PointRole::PublicKey => "public key",
            PointRole::Nonce => "signature point R",
        })
    }
}

/// Why a key or signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpendAuthError {
    /// A byte string has the wrong length.
    #[error("{what} must be {expected} bytes, got {got}")]
    WrongLength {
        /// What was being decoded.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// The encoding is not the canonical one of any point (`v >= p`, or the
    /// sign bit set with `u = 0`).
    #[error("{0} is not a canonical point encoding")]
    NonCanonicalPoint(PointRole),
    /// The encoding or coordinates name no point of the curve.
    #[error("{0} is not on the Jubjub curve")]
    NotOnCurve(PointRole),
    /// The point is the identity.
    #[error("{0} is the identity")]
    IdentityPoint(PointRole),
    /// The point has small order (2, 4 or 8).
    #[error("{0} has small order")]
    SmallOrderPoint(PointRole),
    /// The point has a torsion component: it is outside the prime-order subgroup.
    #[error("{0} is not in the prime-order subgroup")]
    NotInSubgroup(PointRole),
    /// `s` is not below `r_J` (a malleated or malformed signature).
    #[error("signature scalar s is not canonical (s >= r_J)")]
    NonCanonicalScalar,
    /// A secret key is zero or not a canonical scalar.
    #[error("secret key is zero or not a canonical scalar")]
    InvalidSecretKey,
    /// The verification equation `[s] G = R + [c] PK` does not hold.
    #[error("signature does not verify")]
    InvalidSignature,
}

/// Decodes a point encoding to a curve point, telling a non-canonical
/// encoding (`v >= p`, or the sign bit set with `u = 0`, ZIP 216) from an
/// encoding of no point at all.
fn decode_affine(bytes: [u8; 32], role: PointRole) -> Result<AffinePoint, SpendAuthError> {
    if let Some(p) = Option::<AffinePoint>::from(AffinePoint::from_bytes(bytes)) {
        return Ok(p);
    }
    let mut v = bytes;
    v[31] &= 0x7f;
    let v_canonical = bool::from(Fr::from_bytes(&v).is_some());
    let lenient =
        Option::<AffinePoint>::from(AffinePoint::from_bytes_pre_zip216_compatibility(bytes));
    Err(if !v_canonical || lenient.is_some() {
        SpendAuthError::NonCanonicalPoint(role)
    } else {
        SpendAuthError::NotOnCurve(role)
    })
}

/// Decodes a point that must be canonical, in the prime-order subgroup and not
/// the identity.
fn decode_point(bytes: [u8; 32], role: PointRole) -> Result<SubgroupPoint, SpendAuthError> {
    let point = decode_affine(bytes, role)?;
    checked_subgroup_point(ExtendedPoint::from(point), role)
}

fn checked_subgroup_point(
    p: ExtendedPoint,
    role: PointRole,
) -> Result<SubgroupPoint, SpendAuthError> {
    if bool::from(p.is_identity()) {
        return Err(SpendAuthError::IdentityPoint(role));
    }
    if bool::from(p.is_small_order()) {
        return Err(SpendAuthError::SmallOrderPoint(role));
    }
    Option::from(p.into_subgroup()).ok_or(SpendAuthError::NotInSubgroup(role))
}

/// `hash_bytes(chain_id)`: the chain-id as the one field element the challenge
/// (and the public input) binds.
pub fn chain_id_element(chain_id: &[u8]) -> Fr {
    poseidon::hash_bytes(chain_id)
}

/// The challenge field element
/// `sponge(SPEND_AUTH, [chain, R.u, R.v, PK.u, PK.v, msg...])`.
pub fn challenge(chain: Fr, r: (Fr, Fr), pk: (Fr, Fr), msg: &[Fr]) -> Fr {
    let mut input = Vec::with_capacity(5 + msg.len());
    input.extend_from_slice(&[chain, r.0, r.1, pk.0, pk.1]);
    input.extend_from_slice(msg);
    poseidon::sponge(tags::SPEND_AUTH, &input)
}

/// The challenge scalar: the canonical integer of `c` reduced mod `r_J`. (The
/// circuit multiplies by all 255 bits of `c`; the key has order `r_J`, so the
/// two agree.)
pub fn challenge_scalar(c: Fr) -> Scalar {
    let mut wide = [0u8; 64];
    wide[..32].copy_from_slice(&c.to_repr());
    Scalar::from_bytes_wide(&wide)
}

/// A secret spending key. Its `Debug` output does not show the secret.
#[derive(Clone)]
pub struct SpendingKey {
    sk: Scalar,
}

impl core::fmt::Debug for SpendingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpendingKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl SpendingKey {
    /// The key derived from 32 seed bytes:
    /// `sk = SHA-512("copro/spend-auth/secret-key/v1" || seed) mod r_J`
    /// (a 512-bit reduction, so `sk` is uniform). Fails only if that is zero,
    /// which happens with probability `2^-251`.
    pub fn from_seed(seed: &[u8; 32]) -> Result<SpendingKey, SpendAuthError> {
        let mut h = Sha512::new();
        h.update(SEED_DOMAIN);
        h.update(seed);
        let sk = Scalar::from_bytes_wide(&h.finalize().into());
        SpendingKey::from_scalar(sk)
    }

    /// A uniformly random key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> SpendingKey {
        loop {
            let sk = Scalar::random(&mut *rng);
            if !bool::from(sk.is_zero()) {
                return SpendingKey { sk };
            }
        }
    }

    /// The key whose secret scalar has this canonical little-endian encoding.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SpendingKey, SpendAuthError> {
        let sk = Option::<Scalar>::from(Scalar::from_bytes(bytes))
            .ok_or(SpendAuthError::InvalidSecretKey)?;
        SpendingKey::from_scalar(sk)
    }

    fn from_scalar(sk: Scalar) -> Result<SpendingKey, SpendAuthError> {
        if bool::from(sk.is_zero()) {
            return Err(SpendAuthError::InvalidSecretKey);
        }
        Ok(SpendingKey { sk })
    }

    /// The secret scalar's canonical little-endian encoding (for a keyring).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.sk.to_bytes()
    }

    /// The public key `[sk] G`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_point(generator() * self.sk)
    }

    /// The deterministic signing nonce `k = SHA-512(NONCE_DOMAIN || sk || chain
    /// || msg || u32_le(attempt)) mod r_J` (field elements as 32 bytes
    /// big-endian). It depends on the secret and on everything signed, never on
    /// a clock or an RNG: one message always gets one signature, and two
    /// messages never share a nonce (which would reveal `sk`). `attempt` only
    /// moves past the negligible `k = 0`.
    fn nonce(&self, chain: Fr, msg: &[Fr], attempt: u32) -> Scalar {
        let mut h = Sha512::new();
        h.update(NONCE_DOMAIN);
        h.update(self.sk.to_bytes());
        h.update(crate::field::fr_to_be_bytes(&chain));
        for m in msg {
            h.update(crate::field::fr_to_be_bytes(m));
        }
        h.update(attempt.to_le_bytes());
        Scalar::from_bytes_wide(&h.finalize().into())
    }

    /// Signs the message `msg` (field elements) for the chain whose
    /// [`chain_id_element`] is `chain`.
    pub fn sign(&self, chain: Fr, msg: &[Fr]) -> Signature {
        let pk = self.public_key();
        let mut attempt = 0u32;
        let k = loop {
            let k = self.nonce(chain, msg, attempt);
            if !bool::from(k.is_zero()) {
                break k;
            }
            attempt += 1;
        };
        let r = ExtendedPoint::from(generator() * k);
        let c = challenge_scalar(challenge(chain, coordinates(&r), pk.coordinates(), msg));
        let s = k + c * self.sk;
        let mut bytes = [0u8; SIGNATURE_BYTES];
        bytes[..32].copy_from_slice(&AffinePoint::from(r).to_bytes());
        bytes[32..].copy_from_slice(&s.to_bytes());
        Signature(bytes)
    }
}

/// A spend-authorization public key: a point of the prime-order subgroup other
/// than the identity (the constructors refuse anything else).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    point: SubgroupPoint,
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey({})", hex_bytes(&self.to_bytes()))
    }
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl PublicKey {
    fn from_point(point: SubgroupPoint) -> PublicKey {
        PublicKey { point }
    }

    /// Decodes a 32-byte key, refusing non-canonical encodings, points off the
    /// curve, the identity, points of small order and points outside the
    /// prime-order subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, SpendAuthError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SpendAuthError::WrongLength {
            what: "public key",
            expected: PUBLIC_KEY_BYTES,
            got: bytes.len(),
        })?;
        decode_point(bytes, PointRole::PublicKey).map(PublicKey::from_point)
    }

    /// The key with affine coordinates `(u, v)` (as stored in a ledger leaf),
    /// with the same checks as [`PublicKey::from_bytes`].
    pub fn from_coordinates(u: Fr, v: Fr) -> Result<PublicKey, SpendAuthError> {
        if !is_on_curve(u, v) {
            return Err(SpendAuthError::NotOnCurve(PointRole::PublicKey));
        }
        let p = ExtendedPoint::from(AffinePoint::from_raw_unchecked(u, v));
        checked_subgroup_point(p, PointRole::PublicKey).map(PublicKey::from_point)
    }

    /// The canonical 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.point.to_bytes()
    }

    /// Affine coordinates `(u, v)`.
    pub fn coordinates(&self) -> (Fr, Fr) {
        coordinates(&ExtendedPoint::from(self.point))
    }

    /// Verifies `sig` on `msg` for the chain whose [`chain_id_element`] is
    /// `chain`.
    pub fn verify(&self, chain: Fr, msg: &[Fr], sig: &Signature) -> Result<(), SpendAuthError> {
        let r = decode_point(sig.r_bytes(), PointRole::Nonce)?;
        let s = Option::<Scalar>::from(Scalar::from_bytes(&sig.s_bytes()))
            .ok_or(SpendAuthError::NonCanonicalScalar)?;
        let r_xy = coordinates(&ExtendedPoint::from(r));
        let c = challenge_scalar(challenge(chain, r_xy, self.coordinates(), msg));
        // R and PK are both in the prime-order subgroup, so this cofactorless
        // equation is the same as the cofactored one and as the circuit's.
        if generator() * s == r + self.point * c {
            Ok(())
        } else {
            Err(SpendAuthError::InvalidSignature)
        }
    }
}

/// A 64-byte signature `R || s`; parsed (strictly) only when verified.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; SIGNATURE_BYTES]);

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature({})", hex_bytes(&self.0))
    }
}

impl Signature {
    /// Wraps 64 bytes; nothing is checked until verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, SpendAuthError> {
        let bytes: [u8; SIGNATURE_BYTES] =
            bytes.try_into().map_err(|_| SpendAuthError::WrongLength {
                what: "signature",
                expected: SIGNATURE_BYTES,
                got: bytes.len(),
            })?;
        Ok(Signature(bytes))
    }

    /// The 64-byte encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        self.0
    }

    /// The encoding of `R`.
    pub fn r_bytes(&self) -> [u8; 32] {
        let mut r = [0u8; 32];
        r.copy_from_slice(&self.0[..32]);
        r
    }

    /// The encoding of `s` (little-endian, not necessarily reduced).
    pub fn s_bytes(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&self.0[32..]);
        s
    }

    /// The circuit witness: `R`'s coordinates and `s`'s bytes as they are. Only
    /// fails if `R` is not a canonical encoding of a curve point; every other
    /// rule is enforced by the circuit (so a bad signature gives an unsatisfied
    /// constraint system, not a silently different statement). The prover
    /// should still run [`PublicKey::verify`] first and refuse what it refuses.
    pub fn witness(&self) -> Result<gadget::SignatureWitness, SpendAuthError> {
        let r = decode_affine(self.r_bytes(), PointRole::Nonce)?;
        Ok(gadget::SignatureWitness {
            r: (r.get_u(), r.get_v()),
            s: self.s_bytes(),
        })
    }
}

/// An off-chain ledger transfer, the message a spending key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferMessage {
    /// Leaf index of the sender (whose key signs).
    pub from_index: u32,
    /// Leaf index of the recipient.
    pub to_index: u32,
    /// Recipient's account key.
    pub to_key: Fr,
    /// Amount.
    pub amount: u64,
    /// The sender leaf's nonce the transfer consumes, so it applies at most once.
    pub nonce: u64,
}

impl TransferMessage {
    /// Message kind of a transfer, the low byte of [`TransferMessage::packed`],
    /// so future kinds of signed messages never collide with transfers.
    pub const KIND: u64 = 1;

    /// `KIND + 2^8 from_index + 2^40 to_index + 2^72 amount + 2^136 nonce`
    /// (below `2^200 < p`, so injective).
    pub fn packed(&self) -> Fr {
        Fr::from(Self::KIND)
            + Fr::from(u64::from(self.from_index)) * fr_pow2(8)
            + Fr::from(u64::from(self.to_index)) * fr_pow2(40)
            + Fr::from(self.amount) * fr_pow2(72)
            + Fr::from(self.nonce) * fr_pow2(136)
    }

    /// The signed field elements: `[packed, to_key]`.
    pub fn fields(&self) -> [Fr; 2] {
        [self.packed(), self.to_key]
    }
}

/// A transfer with its sender's signature (what a wallet hands the prover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedTransfer {
    /// The transfer.
    pub message: TransferMessage,
    /// The sender's signature over [`TransferMessage::fields`].
    pub signature: Signature,
}

impl SignedTransfer {
    /// Signs `message` with `key` for the chain `chain_id`.
    pub fn sign(key: &SpendingKey, chain_id: &[u8], message: TransferMessage) -> SignedTransfer {
        let signature = key.sign(chain_id_element(chain_id), &message.fields());
        SignedTransfer { message, signature }
    }

    /// Verifies the signature against the sender's key on chain `chain_id`.
    pub fn verify(&self, key: &PublicKey, chain_id: &[u8]) -> Result<(), SpendAuthError> {
        key.verify(
            chain_id_element(chain_id),
            &self.message.fields(),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests;
