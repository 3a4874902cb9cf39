//! Small R1CS building blocks over [`Lin`], an affine combination of circuit
//! variables that carries its witness value.

use bellman::{ConstraintSystem, LinearCombination, SynthesisError, Variable};
use ff::{Field, PrimeField};

use crate::field::{Fr, fr_pow2};

/// An affine combination `sum(c_i * v_i) + constant` of circuit variables,
/// with its value when the witness is known (`None` during key generation).
/// Linear operations on `Lin` cost no constraints.
#[derive(Clone, Debug)]
pub struct Lin {
    terms: Vec<(Variable, Fr)>,
    constant: Fr,
    value: Option<Fr>,
}

impl Lin {
    /// The constant `c`.
    pub fn constant(c: Fr) -> Lin {
        Lin {
            terms: Vec::new(),
            constant: c,
            value: Some(c),
        }
    }

    /// The constant zero.
    pub fn zero() -> Lin {
        Lin::constant(Fr::ZERO)
    }

    /// The constant one.
    pub fn one() -> Lin {
        Lin::constant(Fr::ONE)
    }

    /// A single variable with its value.
    pub fn from_var(var: Variable, value: Option<Fr>) -> Lin {
        Lin {
            terms: vec![(var, Fr::ONE)],
            constant: Fr::ZERO,
            value,
        }
    }

    /// Allocates a private witness variable.
    pub fn alloc<CS: ConstraintSystem<Fr>>(
        cs: &mut CS,
        name: &str,
        value: Option<Fr>,
    ) -> Result<Lin, SynthesisError> {
        let var = cs.alloc(|| name, || value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Lin::from_var(var, value))
    }

    /// Allocates a public input variable.
    pub fn alloc_input<CS: ConstraintSystem<Fr>>(
        cs: &mut CS,
        name: &str,
        value: Option<Fr>,
    ) -> Result<Lin, SynthesisError> {
        let var = cs.alloc_input(|| name, || value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Lin::from_var(var, value))
    }

    /// The witness value, if known.
    pub fn value(&self) -> Option<Fr> {
        self.value
    }

    /// The constant value if this combination has no variable terms.
    pub fn as_constant(&self) -> Option<Fr> {
        if self.terms.is_empty() {
            Some(self.constant)
        } else {
            None
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Lin) -> Lin {
        let mut terms = Vec::with_capacity(self.terms.len() + other.terms.len());
        terms.extend_from_slice(&self.terms);
        terms.extend_from_slice(&other.terms);
        Lin {
            terms,
            constant: self.constant + other.constant,
            value: self.value.zip(other.value).map(|(a, b)| a + b),
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Lin) -> Lin {
        self.add(&other.scale(-Fr::ONE))
    }

    /// `c * self`.
    pub fn scale(&self, c: Fr) -> Lin {
        if c.is_zero_vartime() {
            return Lin::zero();
        }
        Lin {
            terms: self.terms.iter().map(|(v, k)| (*v, *k * c)).collect(),
            constant: self.constant * c,
            value: self.value.map(|x| x * c),
        }
    }

    /// `self + c`.
    pub fn add_const(&self, c: Fr) -> Lin {
        let mut out = self.clone();
        out.constant += c;
        out.value = out.value.map(|x| x + c);
        out
    }

    /// `sum(c_i * x_i)` over the pairs.
    pub fn sum_scaled<'a>(pairs: impl IntoIterator<Item = (Fr, &'a Lin)>) -> Lin {
        let mut acc = Lin::zero();
        for (c, x) in pairs {
            if c.is_zero_vartime() {
                continue;
            }
            acc.terms.extend(x.terms.iter().map(|(v, k)| (*v, *k * c)));
            acc.constant += x.constant * c;
            acc.value = acc.value.zip(x.value).map(|(a, b)| a + b * c);
        }
        acc
    }

    /// This combination as a bellman linear combination.
    pub fn lc<CS: ConstraintSystem<Fr>>(&self) -> LinearCombination<Fr> {
        let mut lc = LinearCombination::zero();
        for (v, k) in &self.terms {
            lc = lc + (*k, *v);
        }
        if !self.constant.is_zero_vartime() {
            lc = lc + (self.constant, CS::one());
        }
        lc
    }

    /// The value as a boolean (`Some(true)` for one).
    pub fn bool_value(&self) -> Option<bool> {
        self.value.map(|v| v == Fr::ONE)
    }
}

/// Enforces `a * b = c`.
pub fn enforce_mul<CS: ConstraintSystem<Fr>>(cs: &mut CS, name: &str, a: &Lin, b: &Lin, c: &Lin) {
    cs.enforce(
        || name,
        |_| a.lc::<CS>(),
        |_| b.lc::<CS>(),
        |_| c.lc::<CS>(),
    );
}

/// Enforces `a = b` (one constraint).
pub fn enforce_equal<CS: ConstraintSystem<Fr>>(cs: &mut CS, name: &str, a: &Lin, b: &Lin) {
    enforce_mul(cs, name, &a.sub(b), &Lin::one(), &Lin::zero());
}

/// `a * b`; free when either side is constant, otherwise one constraint.
pub fn mul<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    if let Some(k) = a.as_constant() {
        return Ok(b.scale(k));
    }
    if let Some(k) = b.as_constant() {
        return Ok(a.scale(k));
    }
    let value = a.value.zip(b.value).map(|(x, y)| x * y);
    let c = Lin::alloc(
        &mut cs.namespace(|| format!("{name} value")),
        "product",
        value,
    )?;
    enforce_mul(cs, name, a, b, &c);
    Ok(c)
}

/// Allocates a bit (with its booleanity constraint).
pub fn alloc_bit<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    value: Option<bool>,
) -> Result<Lin, SynthesisError> {
    let b = Lin::alloc(cs, name, value.map(|v| if v { Fr::ONE } else { Fr::ZERO }))?;
    enforce_mul(
        cs,
        &format!("{name} is boolean"),
        &b,
        &Lin::one().sub(&b),
        &Lin::zero(),
    );
    Ok(b)
}

/// Enforces that `b` is 0 or 1.
pub fn enforce_boolean<CS: ConstraintSystem<Fr>>(cs: &mut CS, name: &str, b: &Lin) {
    enforce_mul(cs, name, b, &Lin::one().sub(b), &Lin::zero());
}

/// Bit `1` iff `x == 0` (two constraints).
pub fn is_zero<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    x: &Lin,
) -> Result<Lin, SynthesisError> {
    if let Some(k) = x.as_constant() {
        return Ok(Lin::constant(if k.is_zero_vartime() {
            Fr::ONE
        } else {
            Fr::ZERO
        }));
    }
    let inv_value = x
        .value
        .map(|v| Option::<Fr>::from(v.invert()).unwrap_or(Fr::ZERO));
    let z_value = x.value.map(|v| {
        if v.is_zero_vartime() {
            Fr::ONE
        } else {
            Fr::ZERO
        }
    });
    let inv = Lin::alloc(cs, &format!("{name} inverse"), inv_value)?;
    let z = Lin::alloc(cs, &format!("{name} flag"), z_value)?;
    // x * inv = 1 - z ; x * z = 0.
    enforce_mul(
        cs,
        &format!("{name} x*inv=1-z"),
        x,
        &inv,
        &Lin::one().sub(&z),
    );
    enforce_mul(cs, &format!("{name} x*z=0"), x, &z, &Lin::zero());
    Ok(z)
}

/// Bit `1` iff `a == b`.
pub fn is_equal<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    is_zero(cs, name, &a.sub(b))
}

/// Logical AND of two bits (one constraint unless constant).
pub fn and<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    mul(cs, name, a, b)
}

/// Logical NOT of a bit (free).
pub fn not(a: &Lin) -> Lin {
    Lin::one().sub(a)
}

/// `cond ? a : b` for a bit `cond` (one constraint unless constant).
pub fn select<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    cond: &Lin,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    Ok(b.add(&mul(cs, name, cond, &a.sub(b))?))
}

/// Decomposes `x` into `n` little-endian bits and enforces the recomposition,
/// proving `x < 2^n` (`n + 1` constraints). `n` must be below 254.
pub fn to_bits<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    x: &Lin,
    n: usize,
) -> Result<Vec<Lin>, SynthesisError> {
    let repr = x.value.map(|v| v.to_repr());
    let mut bits = Vec::with_capacity(n);
    for i in 0..n {
        let v = repr.as_ref().map(|r| (r[i / 8] >> (i % 8)) & 1 == 1);
        bits.push(alloc_bit(cs, &format!("{name} bit {i}"), v)?);
    }
    let recomposed = from_bits(&bits);
    enforce_equal(cs, &format!("{name} recomposition"), &recomposed, x);
    Ok(bits)
}

/// `sum(2^i * bits[i])` (free).
pub fn from_bits(bits: &[Lin]) -> Lin {
    let mut acc = Lin::zero();
    let mut coeff = Fr::ONE;
    for b in bits {
        acc = acc.add(&b.scale(coeff));
        coeff = coeff.double();
    }
    acc
}

/// Bit `1` iff `a >= b`, for `a, b` known to be below `2^64`
/// (66 constraints: a 65-bit decomposition of `a - b + 2^64`).
pub fn ge_u64<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    let shifted = a.sub(b).add_const(fr_pow2(64));
    let bits = to_bits(cs, name, &shifted, 65)?;
    Ok(bits[64].clone())
}

/// Bit `1` iff `a + b < 2^64`, for `a, b` known to be below `2^64`
/// (66 constraints).
pub fn add_fits_u64<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    let bits = to_bits(cs, name, &a.add(b), 65)?;
    Ok(not(&bits[64]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellman::gadgets::test::TestConstraintSystem;

    #[test]
    fn comparisons_and_zero_tests() {
        let cases: [(u64, u64); 5] = [(5, 3), (3, 5), (7, 7), (u64::MAX, 0), (0, u64::MAX)];
        for (a, b) in cases {
            let mut cs = TestConstraintSystem::<Fr>::new();
            let x = Lin::alloc(&mut cs, "a", Some(Fr::from(a))).unwrap();
            let y = Lin::alloc(&mut cs, "b", Some(Fr::from(b))).unwrap();
            let ge = ge_u64(&mut cs, "ge", &x, &y).unwrap();
            let fits = add_fits_u64(&mut cs, "fits", &x, &y).unwrap();
            let eq = is_equal(&mut cs, "eq", &x, &y).unwrap();
            assert!(cs.is_satisfied());
            assert_eq!(ge.bool_value(), Some(a >= b));
            assert_eq!(fits.bool_value(), Some(a.checked_add(b).is_some()));
            assert_eq!(eq.bool_value(), Some(a == b));
        }
    }
}
