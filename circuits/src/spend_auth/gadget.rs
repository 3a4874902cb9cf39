//! Jubjub arithmetic and spend-authorization verification as bellman gadgets.
//!
//! Costs (constraints):
//!
//! * on-curve check: 3; complete addition: 6; doubling: 5 (fewer when an
//!   operand is constant);
//! * variable-base multiplication by 255 bits: 2-bit windows, 2,934
//!   (bit-by-bit double-and-add: 3,304);
//! * fixed-base multiplication of the generator by 252 bits: 3-bit windows
//!   over precomputed tables, one 3-constraint lookup per window and one
//!   addition between windows: `84 * 3 + 83 * 6 = 750` (plain double-and-add
//!   with constant points would cost 6 per bit, about 1,500);
//! * [`verify_signature`]: 5,319 in all (challenge 597, `[s] G` 750,
//!   `[c] PK` 2,934, bits, ranges and the rest 1,038; the
//!   `spend_auth_figures` test prints them).
//!
//! The formulas are those of the twisted Edwards curve with `a = -1`:
//! `(u1, v1) + (u2, v2) = ((u1 v2 + v1 u2) / (1 + C), (v1 v2 + u1 u2) / (1 - C))`
//! with `C = d u1 u2 v1 v2`. Jubjub's `d` is not a square (and `a = -1` is), so the
//! denominators never vanish for points on the curve: the addition is complete
//! (it handles doubling and the identity) and its result is unique, which is
//! what makes the division constraints `(1 + C) u3 = ...` sound.

use std::sync::OnceLock;

use bellman::{ConstraintSystem, SynthesisError};
use ff::{Field, PrimeField};
use jubjub::ExtendedPoint;

use super::{Scalar, coordinates, edwards_d, generator};
use crate::field::{Fr, fr_pow2};
use crate::gadgets::{Lin, alloc_bit, enforce_equal, enforce_mul, from_bits, mul};
use crate::poseidon::{gadget as pg, tags};

/// Bits of `s` the circuit takes: all 256 of its encoding, so the range check
/// sees exactly the bytes that were signed.
pub const S_BITS: usize = 256;
/// Bits of `s` that enter the multiplication (`r_J < 2^252`; the range check
/// forces the rest to zero).
pub const S_MUL_BITS: usize = 252;
/// Bits of the challenge `c < p < 2^255`.
pub const C_BITS: usize = 255;
/// Window width of the fixed-base multiplication.
const WINDOW: usize = 3;

/// What the prover knows of a signature: `R`'s affine coordinates and the 32
/// bytes of `s` exactly as encoded (little-endian, not necessarily reduced; the
/// circuit refuses `s >= r_J`). See [`super::Signature::witness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureWitness {
    /// `(u, v)` of `R`.
    pub r: (Fr, Fr),
    /// Encoding of `s`.
    pub s: [u8; 32],
}

/// A point as two affine coordinates in the circuit. Nothing about the pair is
/// enforced by constructing it: [`EdwardsPoint::alloc`] and
/// [`EdwardsPoint::enforce_on_curve`] add the curve check; the arithmetic
/// assumes its inputs are on the curve and keeps results on it.
#[derive(Debug, Clone)]
pub struct EdwardsPoint {
    u: Lin,
    v: Lin,
}

/// `num / den`; free when `den` is a non-zero constant, otherwise one
/// constraint `den * q = num`. The witness is 0 when `den` is 0 (only possible
/// off the curve), which leaves the constraint unsatisfied unless `num` is 0.
fn div<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    num: &Lin,
    den: &Lin,
) -> Result<Lin, SynthesisError> {
    if let Some(k) = den.as_constant()
        && let Some(inv) = Option::<Fr>::from(k.invert())
    {
        return Ok(num.scale(inv));
    }
    let value = num
        .value()
        .zip(den.value())
        .map(|(n, d)| n * Option::<Fr>::from(d.invert()).unwrap_or(Fr::ZERO));
    let q = Lin::alloc(cs, name, value)?;
    enforce_mul(cs, &format!("{name} division"), den, &q, num);
    Ok(q)
}

impl EdwardsPoint {
    /// The constant point `(u, v)`.
    pub fn constant(u: Fr, v: Fr) -> EdwardsPoint {
        EdwardsPoint {
            u: Lin::constant(u),
            v: Lin::constant(v),
        }
    }

    /// The constant identity `(0, 1)`.
    pub fn identity() -> EdwardsPoint {
        EdwardsPoint::constant(Fr::ZERO, Fr::ONE)
    }

    /// A point from existing combinations, with no check (see
    /// [`EdwardsPoint::enforce_on_curve`]).
    pub fn from_coordinates(u: Lin, v: Lin) -> EdwardsPoint {
        EdwardsPoint { u, v }
    }

    /// Allocates a point and enforces that it is on the curve (5 constraints:
    /// 2 allocations are free, the curve equation costs 3).
    pub fn alloc<CS: ConstraintSystem<Fr>>(
        cs: &mut CS,
        value: Option<(Fr, Fr)>,
    ) -> Result<EdwardsPoint, SynthesisError> {
        let u = Lin::alloc(cs, "u", value.map(|p| p.0))?;
        let v = Lin::alloc(cs, "v", value.map(|p| p.1))?;
        let p = EdwardsPoint { u, v };
        p.enforce_on_curve(cs)?;
        Ok(p)
    }

    /// Enforces `-u^2 + v^2 = 1 + d u^2 v^2` (3 constraints).
    pub fn enforce_on_curve<CS: ConstraintSystem<Fr>>(
        &self,
        cs: &mut CS,
    ) -> Result<(), SynthesisError> {
        let u2 = mul(cs, "u^2", &self.u, &self.u)?;
        let v2 = mul(cs, "v^2", &self.v, &self.v)?;
        enforce_mul(
            cs,
            "on curve",
            &u2.scale(edwards_d()),
            &v2,
            &v2.sub(&u2).add_const(-Fr::ONE),
        );
        Ok(())
    }

    /// The `u` coordinate.
    pub fn u(&self) -> &Lin {
        &self.u
    }

    /// The `v` coordinate.
    pub fn v(&self) -> &Lin {
        &self.v
    }

    /// The coordinates' values, if known.
    pub fn value(&self) -> Option<(Fr, Fr)> {
        self.u.value().zip(self.v.value())
    }

    /// `self + other`, complete (6 constraints).
    pub fn add<CS: ConstraintSystem<Fr>>(
        &self,
        cs: &mut CS,
        other: &EdwardsPoint,
    ) -> Result<EdwardsPoint, SynthesisError> {
        let (u1, v1, u2, v2) = (&self.u, &self.v, &other.u, &other.v);
        // U = (u1 + v1)(u2 + v2), A = u1 v2, B = v1 u2, C = d A B.
        let big_u = mul(cs, "U", &u1.add(v1), &u2.add(v2))?;
        let a = mul(cs, "A", u1, v2)?;
        let b = mul(cs, "B", v1, u2)?;
        let c = mul(cs, "C", &a.scale(edwards_d()), &b)?;
        // u3 = (A + B) / (1 + C); v3 = (U - A - B) / (1 - C) = (v1 v2 + u1 u2) / (1 - C).
        let u3 = div(cs, "u3", &a.add(&b), &c.add_const(Fr::ONE))?;
        let v3 = div(cs, "v3", &big_u.sub(&a).sub(&b), &Lin::one().sub(&c))?;
        Ok(EdwardsPoint { u: u3, v: v3 })
    }

    /// `2 * self` (5 constraints).
    pub fn double<CS: ConstraintSystem<Fr>>(
        &self,
        cs: &mut CS,
    ) -> Result<EdwardsPoint, SynthesisError> {
        let (u, v) = (&self.u, &self.v);
        // T = (u + v)^2, A = u v, C = d A^2; u3 = 2A / (1 + C), v3 = (T - 2A) / (1 - C).
        let sum = u.add(v);
        let t = mul(cs, "T", &sum, &sum)?;
        let a = mul(cs, "A", u, v)?;
        let c = mul(cs, "C", &a.scale(edwards_d()), &a)?;
        let two_a = a.scale(Fr::from(2u64));
        let u3 = div(cs, "u3", &two_a, &c.add_const(Fr::ONE))?;
        let v3 = div(cs, "v3", &t.sub(&two_a), &Lin::one().sub(&c))?;
        Ok(EdwardsPoint { u: u3, v: v3 })
    }

    /// `bit ? self : identity` for a boolean `bit` (2 constraints).
    pub fn select_or_identity<CS: ConstraintSystem<Fr>>(
        &self,
        cs: &mut CS,
        bit: &Lin,
    ) -> Result<EdwardsPoint, SynthesisError> {
        let u = mul(cs, "select u", bit, &self.u)?;
        let v = mul(cs, "select v", bit, &self.v.add_const(-Fr::ONE))?.add_const(Fr::ONE);
        Ok(EdwardsPoint { u, v })
    }

    /// `[k] self` for the little-endian bits `bits` (booleans, enforced by the
    /// caller), with 2-bit windows from the top: a table `[0, P, 2P, 3P]`
    /// (11 constraints), then per window one 7-constraint lookup and, after
    /// the first, two doublings and an addition (16). For 255 bits: 2,934
    /// constraints, against 3,304 for bit-by-bit double-and-add.
    pub fn mul_bits<CS: ConstraintSystem<Fr>>(
        &self,
        cs: &mut CS,
        bits: &[Lin],
    ) -> Result<EdwardsPoint, SynthesisError> {
        if bits.is_empty() {
            return Ok(EdwardsPoint::identity());
        }
        let p2 = self.double(&mut cs.namespace(|| "table 2P"))?;
        let p3 = p2.add(&mut cs.namespace(|| "table 3P"), self)?;
        let table = [self, &p2, &p3];
        let zero = Lin::zero();
        let mut acc: Option<EdwardsPoint> = None;
        for (j, w) in bits.chunks(2).enumerate().rev() {
            let mut cs = cs.namespace(|| format!("window {j}"));
            let term = lookup2(&mut cs, [&w[0], w.get(1).unwrap_or(&zero)], table)?;
            acc = Some(match acc {
                None => term,
                Some(a) => {
                    let a = a.double(&mut cs.namespace(|| "double 1"))?;
                    let a = a.double(&mut cs.namespace(|| "double 2"))?;
                    a.add(&mut cs.namespace(|| "add"), &term)?
                }
            });
        }
        Ok(acc.unwrap_or_else(EdwardsPoint::identity))
    }
}

/// One coordinate of `[f0, f1, f2, f3][b0 + 2 b1]` with variable entries:
/// `f0 + b0 (f1 - f0) + b1 (f2 - f0) + b0 b1 (f3 - f2 - f1 + f0)` (3 constraints
/// given `b01 = b0 b1`).
fn lookup2_axis<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    axis: &str,
    [b0, b1]: [&Lin; 2],
    b01: &Lin,
    [f0, f1, f2, f3]: [&Lin; 4],
) -> Result<Lin, SynthesisError> {
    let t1 = mul(cs, &format!("{axis} b0 term"), b0, &f1.sub(f0))?;
    let t2 = mul(cs, &format!("{axis} b1 term"), b1, &f2.sub(f0))?;
    let t3 = mul(
        cs,
        &format!("{axis} b0b1 term"),
        b01,
        &f3.sub(f2).sub(f1).add(f0),
    )?;
    Ok(f0.add(&t1).add(&t2).add(&t3))
}

/// The point `[identity, P, 2P, 3P][b0 + 2 b1]` for two boolean bits
/// (7 constraints; fewer when a bit is constant).
fn lookup2<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    bits: [&Lin; 2],
    [p1, p2, p3]: [&EdwardsPoint; 3],
) -> Result<EdwardsPoint, SynthesisError> {
    let b01 = mul(cs, "b0*b1", bits[0], bits[1])?;
    let (zero, one) = (Lin::zero(), Lin::one());
    let u = lookup2_axis(cs, "u", bits, &b01, [&zero, &p1.u, &p2.u, &p3.u])?;
    let v = lookup2_axis(cs, "v", bits, &b01, [&one, &p1.v, &p2.v, &p3.v])?;
    Ok(EdwardsPoint { u, v })
}

/// The generator's window tables: entry `[j][k]` is `[k * 8^j] G` for
/// `j < 84`, `k < 8`.
pub fn generator_table() -> &'static [[(Fr, Fr); 8]] {
    static TABLE: OnceLock<Vec<[(Fr, Fr); 8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let windows = S_MUL_BITS.div_ceil(WINDOW);
        let mut base = ExtendedPoint::from(generator());
        let mut table = Vec::with_capacity(windows);
        for _ in 0..windows {
            let mut row = [(Fr::ZERO, Fr::ONE); 8];
            let mut acc = ExtendedPoint::identity();
            for entry in row.iter_mut() {
                *entry = coordinates(&acc);
                acc += base;
            }
            table.push(row);
            // acc is now [8] base.
            base = acc;
        }
        table
    })
}

/// One coordinate of `table[bits]` for three little-endian bits (1 constraint
/// given `b12 = b1 b2`): the table's multilinear interpolation
/// `f = c0 + c1 b0 + c2 b1 + c3 b2 + c4 b0 b1 + c5 b0 b2 + c6 b1 b2 + c7 b0 b1 b2`
/// (`f[k]` at `k = b0 + 2 b1 + 4 b2`), computed as `A + b0 * B` with `A` and `B`
/// affine in `b1`, `b2` and `b12`.
fn lookup3_axis<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    [b0, b1, b2]: [&Lin; 3],
    b12: &Lin,
    f: [Fr; 8],
) -> Result<Lin, SynthesisError> {
    let c0 = f[0];
    let c1 = f[1] - f[0];
    let c2 = f[2] - f[0];
    let c3 = f[4] - f[0];
    let c4 = f[3] - f[2] - f[1] + f[0];
    let c5 = f[5] - f[4] - f[1] + f[0];
    let c6 = f[6] - f[4] - f[2] + f[0];
    let c7 = f[7] - f[6] - f[5] - f[3] + f[4] + f[2] + f[1] - f[0];
    let a = Lin::sum_scaled([(c2, b1), (c3, b2), (c6, b12)]).add_const(c0);
    let b = Lin::sum_scaled([(c4, b1), (c5, b2), (c7, b12)]).add_const(c1);
    Ok(a.add(&mul(cs, name, b0, &b)?))
}

/// The point `table[bits]` for three little-endian bits (3 constraints).
fn lookup3<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    bits: [&Lin; 3],
    table: &[(Fr, Fr); 8],
) -> Result<EdwardsPoint, SynthesisError> {
    let b12 = mul(cs, "b1*b2", bits[1], bits[2])?;
    let u = lookup3_axis(cs, "lookup u", bits, &b12, table.map(|p| p.0))?;
    let v = lookup3_axis(cs, "lookup v", bits, &b12, table.map(|p| p.1))?;
    Ok(EdwardsPoint { u, v })
}

/// `[k] G` for the little-endian bits of `k` (booleans, enforced by the
/// caller; at most 252 of them): one table lookup per 3-bit window, one
/// addition between windows.
pub fn generator_mul<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    bits: &[Lin],
) -> Result<EdwardsPoint, SynthesisError> {
    let table = generator_table();
    if bits.len() > table.len() * WINDOW {
        return Err(SynthesisError::Unsatisfiable);
    }
    let zero = Lin::zero();
    let mut acc: Option<EdwardsPoint> = None;
    for (j, chunk) in bits.chunks(WINDOW).enumerate() {
        let bit = |i: usize| chunk.get(i).unwrap_or(&zero);
        let p = lookup3(
            &mut cs.namespace(|| format!("window {j}")),
            [bit(0), bit(1), bit(2)],
            &table[j],
        )?;
        acc = Some(match acc {
            None => p,
            Some(a) => a.add(&mut cs.namespace(|| format!("add {j}")), &p)?,
        });
    }
    Ok(acc.unwrap_or_else(EdwardsPoint::identity))
}

/// Enforces that the little-endian `bits` (booleans) encode an integer below
/// `bound` (little-endian bytes, `bound < 2^bits.len()`): walking from the top
/// bit, as long as the bits equal the bound's, a 1 where the bound has a 0 is
/// forbidden; at the end they must have differed. About one constraint per bit.
pub fn enforce_bits_below<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    bits: &[Lin],
    bound: &[u8; 32],
) -> Result<(), SynthesisError> {
    let bound_bit = |i: usize| i < 256 && (bound[i / 8] >> (i % 8)) & 1 == 1;
    if (bits.len()..256).any(bound_bit) {
        return Err(SynthesisError::Unsatisfiable);
    }
    // `eq`: every bit above the current one equals the bound's.
    let mut eq = Lin::one();
    for i in (0..bits.len()).rev() {
        if bound_bit(i) {
            eq = mul(cs, &format!("prefix equal at {i}"), &eq, &bits[i])?;
        } else {
            enforce_mul(
                cs,
                &format!("not above at {i}"),
                &eq,
                &bits[i],
                &Lin::zero(),
            );
        }
    }
    enforce_equal(cs, "strictly below", &eq, &Lin::zero());
    Ok(())
}

/// The 255 little-endian bits of `x`, with `x`'s recomposition and the check
/// that they encode an integer below `p`, so they are the unique canonical
/// bits of `x` (`p < 2^255` leaves room for a second, `x + p`, otherwise).
/// About 511 constraints.
pub fn field_bits_strict<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    x: &Lin,
) -> Result<Vec<Lin>, SynthesisError> {
    let repr = x.value().map(|v| v.to_repr());
    let mut bits = Vec::with_capacity(C_BITS);
    for i in 0..C_BITS {
        let v = repr.as_ref().map(|r| (r[i / 8] >> (i % 8)) & 1 == 1);
        bits.push(alloc_bit(cs, &format!("bit {i}"), v)?);
    }
    enforce_equal(cs, "recomposition", &from_bits(&bits), x);
    let modulus = (-Fr::ONE).to_repr();
    // p = (p - 1) + 1; p - 1 is even, so adding one only sets bit 0.
    let mut p_bytes = modulus;
    p_bytes[0] |= 1;
    enforce_bits_below(&mut cs.namespace(|| "canonical"), &bits, &p_bytes)?;
    Ok(bits)
}

/// In-circuit [`super::challenge`].
pub fn challenge<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    chain: &Lin,
    r: &EdwardsPoint,
    pk: &EdwardsPoint,
    msg: &[Lin],
) -> Result<Lin, SynthesisError> {
    let mut input = Vec::with_capacity(5 + msg.len());
    input.extend([
        chain.clone(),
        r.u.clone(),
        r.v.clone(),
        pk.u.clone(),
        pk.v.clone(),
    ]);
    input.extend_from_slice(msg);
    pg::sponge(cs, tags::SPEND_AUTH, &input)
}

/// In-circuit [`super::TransferMessage::fields`] (free). The caller must have
/// range-checked the inputs (indices below `2^32`, amount and nonce below
/// `2^64`), as the transfer circuit does, or the packing is not injective.
pub fn transfer_message_fields(
    from_index: &Lin,
    to_index: &Lin,
    to_key: &Lin,
    amount: &Lin,
    nonce: &Lin,
) -> [Lin; 2] {
    let packed = Lin::constant(Fr::from(super::TransferMessage::KIND))
        .add(&from_index.scale(fr_pow2(8)))
        .add(&to_index.scale(fr_pow2(40)))
        .add(&amount.scale(fr_pow2(72)))
        .add(&nonce.scale(fr_pow2(136)));
    [packed, to_key.clone()]
}

/// Enforces that `sig` is a valid signature by the key `(pk_u, pk_v)` on the
/// message `msg` for the chain whose [`super::chain_id_element`] is `chain`:
///
/// * `PK` is on the curve (which refuses an all-zero "no key" value). Its
///   membership in the prime-order subgroup is NOT checked here (that would
///   cost a 252-bit multiplication): the key comes from the sender's ledger
///   leaf, and the chain only writes keys that `PublicKey::from_bytes` accepted
///   when it processed `MsgSetLedgerKey`, so the leaf only ever holds checked
///   keys. The caller must only pass such keys.
/// * `R` is on the curve and `R.u != 0` (so `R` is neither the identity nor
///   the point `(0, -1)` of order 2).
/// * the 256 bits of `s` are boolean and encode `s < r_J`;
/// * `c = challenge(chain, R, PK, msg)` decomposed into its canonical bits;
/// * `[s] G == R + [c] PK`.
///
/// The equation forces `R = [s] G - [c] PK` into the prime-order subgroup
/// (both `G` and `PK` are in it), and the only small-order point in the
/// subgroup is the identity, which `R.u != 0` excludes: so `R` is not of small
/// order either, matching the native rules. Because `PK` has order `r_J`,
/// multiplying by all bits of `c` equals multiplying by `c mod r_J`, the
/// native challenge scalar.
pub fn verify_signature<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    pk_u: &Lin,
    pk_v: &Lin,
    msg: &[Lin],
    sig: Option<&SignatureWitness>,
    chain: &Lin,
) -> Result<(), SynthesisError> {
    let pk = EdwardsPoint::from_coordinates(pk_u.clone(), pk_v.clone());
    pk.enforce_on_curve(&mut cs.namespace(|| "PK"))?;
    let r = EdwardsPoint::alloc(&mut cs.namespace(|| "R"), sig.map(|s| s.r))?;
    {
        let mut cs = cs.namespace(|| "R is not the identity");
        let inv = Lin::alloc(
            &mut cs,
            "inverse of R.u",
            r.u.value()
                .map(|u| Option::<Fr>::from(u.invert()).unwrap_or(Fr::ZERO)),
        )?;
        enforce_mul(&mut cs, "R.u is invertible", &r.u, &inv, &Lin::one());
    }
    let s_bits = {
        let mut cs = cs.namespace(|| "s");
        let mut bits = Vec::with_capacity(S_BITS);
        for i in 0..S_BITS {
            let v = sig.map(|w| (w.s[i / 8] >> (i % 8)) & 1 == 1);
            bits.push(alloc_bit(&mut cs, &format!("bit {i}"), v)?);
        }
        let order = Scalar::ZERO - Scalar::ONE;
        let mut r_j = order.to_bytes();
        // r_J - 1 is even: adding one only sets bit 0.
        r_j[0] |= 1;
        enforce_bits_below(&mut cs.namespace(|| "range"), &bits, &r_j)?;
        bits
    };
    let c = challenge(&mut cs.namespace(|| "challenge"), chain, &r, &pk, msg)?;
    let c_bits = field_bits_strict(&mut cs.namespace(|| "c"), &c)?;
    let s_g = generator_mul(&mut cs.namespace(|| "[s]G"), &s_bits[..S_MUL_BITS])?;
    let c_pk = pk.mul_bits(&mut cs.namespace(|| "[c]PK"), &c_bits)?;
    let rhs = r.add(&mut cs.namespace(|| "R + [c]PK"), &c_pk)?;
    enforce_equal(cs, "equation u", s_g.u(), rhs.u());
    enforce_equal(cs, "equation v", s_g.v(), rhs.v());
    Ok(())
}

#[cfg(test)]
mod tests;
