//! Where proving time goes: the phases of bellman's `create_proof`, timed one
//! by one outside bellman (bellman exposes no per-phase timings). The FFT and
//! multi-exponentiation sizes are the real ones for the circuit; the `A`/`B`
//! multi-exponentiations use a prefix of the real witness instead of bellman's
//! density-filtered one, so their figures are estimates.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use bellman::domain::{EvaluationDomain, Scalar};
use bellman::groth16::Parameters;
use bellman::multicore::Worker;
use bellman::multiexp::{Exponent, FullDensity, multiexp};
use bellman::{Circuit, ConstraintSystem, Index, LinearCombination, SynthesisError, Variable};
use bls12_381::{Bls12, G1Projective, G2Projective};
use copro_circuits::field::Fr;
use ff::Field;
use group::prime::PrimeCurve;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Collects the witness assignment.
#[derive(Default)]
struct WitnessCollector {
    inputs: Vec<Fr>,
    aux: Vec<Fr>,
    constraints: usize,
}

impl ConstraintSystem<Fr> for WitnessCollector {
    type Root = Self;

    fn alloc<F, A, AR>(&mut self, _: A, f: F) -> Result<Variable, SynthesisError>
    where
        F: FnOnce() -> Result<Fr, SynthesisError>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        self.aux.push(f()?);
        Ok(Variable::new_unchecked(Index::Aux(self.aux.len() - 1)))
    }

    fn alloc_input<F, A, AR>(&mut self, _: A, f: F) -> Result<Variable, SynthesisError>
    where
        F: FnOnce() -> Result<Fr, SynthesisError>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        self.inputs.push(f()?);
        Ok(Variable::new_unchecked(Index::Input(self.inputs.len())))
    }

    fn enforce<A, AR, LA, LB, LC>(&mut self, _: A, _: LA, _: LB, _: LC)
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
        LA: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
        LB: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
        LC: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
    {
        self.constraints += 1;
    }

    fn push_namespace<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn pop_namespace(&mut self) {}

    fn get_root(&mut self) -> &mut Self::Root {
        self
    }
}

fn exps(values: &[Fr]) -> Arc<Vec<Exponent<Fr>>> {
    Arc::new(values.iter().map(Exponent::from).collect())
}

/// Times one multi-exponentiation of `bases` by `values` (G1 or G2).
fn timed_multiexp<G>(worker: &Worker, bases: &Arc<Vec<G::Affine>>, values: &[Fr]) -> Result<f64>
where
    G: PrimeCurve<Scalar = Fr>,
{
    let n = bases.len().min(values.len());
    let start = Instant::now();
    multiexp::<FullDensity, FullDensity, G, _>(
        worker,
        (bases.clone(), 0),
        FullDensity,
        exps(&values[..n]),
    )
    .wait()
    .map_err(|e| anyhow!("{e}"))?;
    Ok(start.elapsed().as_secs_f64())
}

/// Prints the per-phase timings for proving `circuit` with `params`.
pub fn run<C: Circuit<Fr>>(label: &str, circuit: C, params: &Parameters<Bls12>) -> Result<()> {
    let start = Instant::now();
    let mut w = WitnessCollector::default();
    circuit
        .synthesize(&mut w)
        .map_err(|e| anyhow!("synthesis failed: {e}"))?;
    println!(
        "{label}.phase.synthesis_s: {:.3}",
        start.elapsed().as_secs_f64()
    );

    let worker = Worker::new();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    // bellman adds one constraint per public input (including ONE).
    let n = w.constraints + w.inputs.len() + 1;
    let coeffs = |rng: &mut ChaCha20Rng| -> Vec<Scalar<Fr>> {
        (0..n).map(|_| Scalar(Fr::random(&mut *rng))).collect()
    };
    let (ca, cb, cc) = (coeffs(&mut rng), coeffs(&mut rng), coeffs(&mut rng));
    let start = Instant::now();
    let mut a = EvaluationDomain::from_coeffs(ca).map_err(|e| anyhow!("{e}"))?;
    let mut b = EvaluationDomain::from_coeffs(cb).map_err(|e| anyhow!("{e}"))?;
    let mut c = EvaluationDomain::from_coeffs(cc).map_err(|e| anyhow!("{e}"))?;
    for d in [&mut a, &mut b, &mut c] {
        d.ifft(&worker);
        d.coset_fft(&worker);
    }
    a.mul_assign(&worker, &b);
    a.sub_assign(&worker, &c);
    a.divide_by_z_on_coset(&worker);
    a.icoset_fft(&worker);
    println!("{label}.phase.fft_s: {:.3}", start.elapsed().as_secs_f64());
    let h_values: Vec<Fr> = a.into_coeffs().into_iter().map(|s| s.0).collect();

    println!(
        "{label}.phase.msm_h_g1_s: {:.3}",
        timed_multiexp::<G1Projective>(&worker, &params.h, &h_values)?
    );
    println!(
        "{label}.phase.msm_l_g1_s: {:.3}",
        timed_multiexp::<G1Projective>(&worker, &params.l, &w.aux)?
    );
    println!(
        "{label}.phase.msm_a_g1_s: {:.3}",
        timed_multiexp::<G1Projective>(&worker, &params.a, &w.aux)?
    );
    println!(
        "{label}.phase.msm_b_g1_s: {:.3}",
        timed_multiexp::<G1Projective>(&worker, &params.b_g1, &w.aux)?
    );
    println!(
        "{label}.phase.msm_b_g2_s: {:.3}",
        timed_multiexp::<G2Projective>(&worker, &params.b_g2, &w.aux)?
    );
    let bits = w
        .aux
        .iter()
        .filter(|x| **x == Fr::ZERO || **x == Fr::ONE)
        .count();
    println!("{label}.witness.aux: {}", w.aux.len());
    println!("{label}.witness.aux_zero_or_one: {bits}");
    Ok(())
}
