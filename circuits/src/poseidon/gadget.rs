//! The Poseidon permutation and the hash constructions of [`crate::poseidon`]
//! as bellman gadgets.
//!
//! Cost: 3 constraints per S-box (x^2, x^4, x^5); S-boxes whose input is a
//! constant are computed for free. t = 3: 81 S-boxes (243 constraints); t = 5:
//! 100 S-boxes (300 constraints). All linear layers are free. Partial rounds use
//! the precomputed tables of [`PoseidonParams`](super::PoseidonParams), so each
//! S-box input is one affine combination of the variables allocated earlier in
//! the same permutation: linear combinations stay bounded (at most
//! `t*t + R_P + 1` terms) and synthesis does no per-call matrix algebra.

use bellman::{ConstraintSystem, SynthesisError};

use super::{Width, params, sponge_iv};
use crate::field::Fr;
use crate::gadgets::{Lin, enforce_mul};

fn sbox<CS: ConstraintSystem<Fr>>(cs: &mut CS, x: &Lin) -> Result<Lin, SynthesisError> {
    if let Some(k) = x.as_constant() {
        return Ok(Lin::constant(k.square().square() * k));
    }
    let v = x.value();
    let x2 = Lin::alloc(cs, "x2", v.map(|a| a.square()))?;
    let x4 = Lin::alloc(cs, "x4", v.map(|a| a.square().square()))?;
    let x5 = Lin::alloc(cs, "x5", v.map(|a| a.square().square() * a))?;
    enforce_mul(cs, "x*x=x2", x, x, &x2);
    enforce_mul(cs, "x2*x2=x4", &x2, &x2, &x4);
    enforce_mul(cs, "x4*x=x5", &x4, x, &x5);
    Ok(x5)
}

fn full_round<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    round: usize,
    state: &[Lin],
) -> Result<Vec<Lin>, SynthesisError> {
    let p = params(Width::from_t(state.len()).ok_or(SynthesisError::Unsatisfiable)?);
    let t = p.t;
    let mut z = Vec::with_capacity(t);
    for (i, lane) in state.iter().enumerate() {
        let pre = lane.add_const(p.round_constants[round * t + i]);
        z.push(sbox(
            &mut cs.namespace(|| format!("round {round} lane {i}")),
            &pre,
        )?);
    }
    Ok((0..t)
        .map(|i| Lin::sum_scaled(p.mds[i].iter().copied().zip(z.iter())))
        .collect())
}

/// The Poseidon permutation of `state` (3 or 5 lanes) in-circuit.
pub fn permute<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    state: &[Lin],
) -> Result<Vec<Lin>, SynthesisError> {
    let p = params(Width::from_t(state.len()).ok_or(SynthesisError::Unsatisfiable)?);
    let half = p.full_rounds / 2;
    let mut s = state.to_vec();
    for r in 0..half {
        s = full_round(cs, r, &s)?;
    }
    // Partial rounds over the basis [s_0..s_{t-1}, y_0..].
    let mut basis: Vec<Lin> = s;
    for (r, row) in p.partial_rows.iter().enumerate() {
        let konst = row[row.len() - 1];
        let pre = Lin::sum_scaled(row[..row.len() - 1].iter().copied().zip(basis.iter()))
            .add_const(konst);
        let y = sbox(
            &mut cs.namespace(|| format!("round {} lane 0", half + r)),
            &pre,
        )?;
        basis.push(y);
    }
    s = p
        .partial_out
        .iter()
        .map(|row| {
            let konst = row[row.len() - 1];
            Lin::sum_scaled(row[..row.len() - 1].iter().copied().zip(basis.iter())).add_const(konst)
        })
        .collect();
    for r in half + p.partial_rounds..p.full_rounds + p.partial_rounds {
        s = full_round(cs, r, &s)?;
    }
    Ok(s)
}

/// In-circuit [`hash2`](super::hash2).
pub fn hash2<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    tag: u64,
    a: &Lin,
    b: &Lin,
) -> Result<Lin, SynthesisError> {
    let out = permute(cs, &[Lin::constant(Fr::from(tag)), a.clone(), b.clone()])?;
    Ok(out[1].clone())
}

/// In-circuit [`hash4`](super::hash4).
pub fn hash4<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    tag: u64,
    inputs: [&Lin; 4],
) -> Result<Lin, SynthesisError> {
    let [a, b, c, d] = inputs;
    let out = permute(
        cs,
        &[
            Lin::constant(Fr::from(tag)),
            a.clone(),
            b.clone(),
            c.clone(),
            d.clone(),
        ],
    )?;
    Ok(out[1].clone())
}

/// In-circuit [`sponge`](super::sponge); the input length is fixed by the circuit.
pub fn sponge<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    tag: u64,
    inputs: &[Lin],
) -> Result<Lin, SynthesisError> {
    let mut s = vec![
        Lin::constant(sponge_iv(tag, inputs.len())),
        Lin::zero(),
        Lin::zero(),
        Lin::zero(),
        Lin::zero(),
    ];
    if inputs.is_empty() {
        s = permute(&mut cs.namespace(|| "block 0"), &s)?;
    }
    for (n, block) in inputs.chunks(4).enumerate() {
        for (lane, x) in s[1..].iter_mut().zip(block) {
            *lane = lane.add(x);
        }
        s = permute(&mut cs.namespace(|| format!("block {n}")), &s)?;
    }
    Ok(s[1].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poseidon::{self, tags};
    use bellman::gadgets::test::TestConstraintSystem;
    use ff::Field;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn alloc_all(cs: &mut TestConstraintSystem<Fr>, xs: &[Fr]) -> Vec<Lin> {
        xs.iter()
            .enumerate()
            .map(|(i, x)| Lin::alloc(cs, &format!("in {i}"), Some(*x)).unwrap())
            .collect()
    }

    #[test]
    fn gadget_reproduces_reference_vectors_and_costs() {
        for (t, cost) in [(3usize, 243usize), (5, 300)] {
            let input: Vec<Fr> = (0..t as u64).map(Fr::from).collect();
            let mut native = input.clone();
            poseidon::permute(&mut native);
            let mut cs = TestConstraintSystem::<Fr>::new();
            let lanes = alloc_all(&mut cs, &input);
            let out = permute(&mut cs, &lanes).unwrap();
            assert!(cs.is_satisfied());
            assert_eq!(cs.num_constraints(), cost);
            let got: Vec<Fr> = out.iter().map(|l| l.value().unwrap()).collect();
            assert_eq!(got, native);
        }
    }

    #[test]
    fn gadget_agrees_with_native_on_random_inputs() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for len in [0usize, 1, 3, 4, 5, 9] {
            let xs: Vec<Fr> = (0..len).map(|_| Fr::random(&mut rng)).collect();
            let mut cs = TestConstraintSystem::<Fr>::new();
            let lanes = alloc_all(&mut cs, &xs);
            let got = sponge(&mut cs, tags::DELTAS, &lanes).unwrap();
            assert!(cs.is_satisfied());
            assert_eq!(got.value(), Some(poseidon::sponge(tags::DELTAS, &xs)));
        }
        let a = Fr::random(&mut rng);
        let b = Fr::random(&mut rng);
        let mut cs = TestConstraintSystem::<Fr>::new();
        let l = alloc_all(&mut cs, &[a, b]);
        let h = hash2(&mut cs.namespace(|| "h2"), tags::NODE, &l[0], &l[1]).unwrap();
        let h4 = hash4(
            &mut cs.namespace(|| "h4"),
            tags::LEAF,
            [&l[0], &l[1], &l[0], &Lin::zero()],
        )
        .unwrap();
        assert!(cs.is_satisfied());
        assert_eq!(h.value(), Some(poseidon::hash2(tags::NODE, a, b)));
        assert_eq!(
            h4.value(),
            Some(poseidon::hash4(tags::LEAF, [a, b, a, Fr::ZERO]))
        );
    }

    #[test]
    fn gadget_rejects_a_wrong_sbox_witness() {
        let mut cs = TestConstraintSystem::<Fr>::new();
        let lanes = alloc_all(&mut cs, &[Fr::ONE, Fr::from(2u64), Fr::from(3u64)]);
        permute(&mut cs, &lanes).unwrap();
        assert!(cs.is_satisfied());
        cs.set("round 10 lane 0/x5", Fr::from(42u64));
        assert!(!cs.is_satisfied());
    }
}
