//! Circuit tests of spend authorization: the gadgets against the native
//! arithmetic, the verifier against native signatures, one failing witness per
//! constraint family, a Groth16 round trip and the constraint figures.

use bellman::gadgets::test::TestConstraintSystem;
use bellman::{Circuit, ConstraintSystem, SynthesisError, groth16};
use bls12_381::Bls12;
use ff::{Field, PrimeField};
use group::Group;
use jubjub::{ExtendedPoint, SubgroupPoint};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::count::ConstraintCounter;
use crate::spend_auth::tests::{CHAIN, add_le, r_j_bytes, random_message, torsion_point};
use crate::spend_auth::{
    PublicKey, Signature, SignedTransfer, SpendingKey, TransferMessage, chain_id_element,
};

type Cs = TestConstraintSystem<Fr>;

/// Constraints of [`EdwardsPoint::mul_bits`] for `n` bits: the table (11), a
/// lookup per window (7, or 2 for a top window with one real bit) and two
/// doublings and an addition per window after the first (16).
fn window_mul_cost(n: usize) -> usize {
    let windows = n.div_ceil(2);
    let top = if n % 2 == 1 { 2 } else { 7 };
    11 + top + (windows - 1) * (7 + 16)
}

/// Bit-by-bit double-and-add, measured against the windows in the figures.
fn double_and_add<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    base: &EdwardsPoint,
    bits: &[Lin],
) -> EdwardsPoint {
    let mut acc = EdwardsPoint::identity();
    let mut base = base.clone();
    for (i, bit) in bits.iter().enumerate() {
        if i > 0 {
            base = base
                .double(&mut cs.namespace(|| format!("double {i}")))
                .unwrap();
        }
        let term = base
            .select_or_identity(&mut cs.namespace(|| format!("bit {i}")), bit)
            .unwrap();
        acc = acc
            .add(&mut cs.namespace(|| format!("add {i}")), &term)
            .unwrap();
    }
    acc
}

fn alloc_point(cs: &mut Cs, name: &str, p: &ExtendedPoint) -> EdwardsPoint {
    EdwardsPoint::alloc(&mut cs.namespace(|| name.to_owned()), Some(coordinates(p))).unwrap()
}

fn scalar_bits(cs: &mut Cs, name: &str, bytes: &[u8; 32], n: usize) -> Vec<Lin> {
    (0..n)
        .map(|i| {
            alloc_bit(
                cs,
                &format!("{name} {i}"),
                Some((bytes[i / 8] >> (i % 8)) & 1 == 1),
            )
            .unwrap()
        })
        .collect()
}

fn assert_unsatisfied(cs: &Cs, expected: &str) {
    assert!(
        !cs.is_satisfied(),
        "constraint system unexpectedly satisfied"
    );
    let which = cs.which_is_unsatisfied().unwrap_or("");
    assert!(
        which.contains(expected),
        "unsatisfied constraint was {which:?}, expected {expected:?}"
    );
}

#[test]
fn point_arithmetic_agrees_with_native() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    // Full-group points too: the formulas are complete on the whole curve.
    let mut points: Vec<ExtendedPoint> = (0..6).map(|_| ExtendedPoint::random(&mut rng)).collect();
    points.push(ExtendedPoint::identity());
    points.push(torsion_point(2, &mut rng));
    points.push(torsion_point(8, &mut rng));
    for (i, p) in points.iter().enumerate() {
        let q = points[(i + 3) % points.len()];
        for (a, b) in [(*p, q), (*p, *p), (*p, -*p)] {
            let mut cs = Cs::new();
            let pa = alloc_point(&mut cs, "a", &a);
            let pb = alloc_point(&mut cs, "b", &b);
            let before = cs.num_constraints();
            let sum = pa.add(&mut cs.namespace(|| "add"), &pb).unwrap();
            assert_eq!(cs.num_constraints() - before, 6);
            let before = cs.num_constraints();
            let dbl = pa.double(&mut cs.namespace(|| "double")).unwrap();
            assert_eq!(cs.num_constraints() - before, 5);
            assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
            assert_eq!(sum.value(), Some(coordinates(&(a + b))));
            assert_eq!(dbl.value(), Some(coordinates(&a.double())));
        }
    }
}

#[test]
fn variable_base_multiplication_agrees_with_native() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    for _ in 0..4 {
        let p = ExtendedPoint::from(SubgroupPoint::random(&mut rng));
        let k = Scalar::random(&mut rng);
        let mut cs = Cs::new();
        let base = alloc_point(&mut cs, "base", &p);
        let bits = scalar_bits(&mut cs, "k", &k.to_bytes(), 252);
        let before = cs.num_constraints();
        let out = base.mul_bits(&mut cs.namespace(|| "mul"), &bits).unwrap();
        assert_eq!(cs.num_constraints() - before, window_mul_cost(252));
        assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
        assert_eq!(out.value(), Some(coordinates(&(p * k))));
    }
    // Small scalars, odd and even bit counts, full-group bases.
    let p = ExtendedPoint::random(&mut rng);
    for n in [1usize, 2, 7, 8] {
        for k in [0u64, 1, 2, 3, 5, 127, 255] {
            let k = k % (1 << n);
            let mut cs = Cs::new();
            let base = alloc_point(&mut cs, "base", &p);
            let bits = scalar_bits(&mut cs, "k", &Fr::from(k).to_repr(), n);
            let out = base.mul_bits(&mut cs.namespace(|| "mul"), &bits).unwrap();
            assert!(cs.is_satisfied());
            assert_eq!(out.value(), Some(coordinates(&(p * Scalar::from(k)))));
        }
    }
}

#[test]
fn generator_multiplication_agrees_with_native() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut scalars: Vec<Scalar> = (0..4).map(|_| Scalar::random(&mut rng)).collect();
    scalars.extend([Scalar::ZERO, Scalar::ONE, -Scalar::ONE, Scalar::from(8u64)]);
    for k in scalars {
        let mut cs = Cs::new();
        let bits = scalar_bits(&mut cs, "k", &k.to_bytes(), S_MUL_BITS);
        let before = cs.num_constraints();
        let out = generator_mul(&mut cs.namespace(|| "[k]G"), &bits).unwrap();
        assert_eq!(cs.num_constraints() - before, 84 * 3 + 83 * 6);
        assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
        let want = ExtendedPoint::from(generator() * k);
        assert_eq!(out.value(), Some(coordinates(&want)));
    }
}

#[test]
fn range_checks_accept_exactly_the_values_below_the_bound() {
    let bound = Fr::from(1000u64).to_repr();
    for (x, ok) in [
        (0u64, true),
        (999, true),
        (1000, false),
        (1001, false),
        (1023, false),
    ] {
        let mut cs = Cs::new();
        let bits = scalar_bits(&mut cs, "x", &Fr::from(x).to_repr(), 10);
        enforce_bits_below(&mut cs, &bits, &bound).unwrap();
        assert_eq!(cs.is_satisfied(), ok, "x = {x}");
    }
    // s: r_J - 1 passes, r_J fails.
    let r_j = r_j_bytes();
    let below = (Scalar::ZERO - Scalar::ONE).to_bytes();
    for (x, ok) in [(below, true), (r_j, false)] {
        let mut cs = Cs::new();
        let bits = scalar_bits(&mut cs, "s", &x, 256);
        enforce_bits_below(&mut cs, &bits, &r_j).unwrap();
        assert_eq!(cs.is_satisfied(), ok);
    }
}

#[test]
fn field_bits_are_canonical() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    // Find x whose alias x + p still fits in 255 bits.
    let p_bytes = {
        let mut b = (-Fr::ONE).to_repr();
        b[0] |= 1;
        b
    };
    let (x, alias) = loop {
        let x = Fr::random(&mut rng);
        let alias = add_le(&x.to_repr(), &p_bytes);
        if alias[31] & 0x80 == 0 {
            break (x, alias);
        }
    };
    let mut cs = Cs::new();
    let xv = Lin::alloc(&mut cs, "x", Some(x)).unwrap();
    field_bits_strict(&mut cs.namespace(|| "c"), &xv).unwrap();
    assert!(cs.is_satisfied());
    // The alias bits recompose to the same field element but are refused.
    for i in 0..C_BITS {
        let b = (alias[i / 8] >> (i % 8)) & 1;
        cs.set(&format!("c/bit {i}"), Fr::from(u64::from(b)));
    }
    assert_unsatisfied(&cs, "c/canonical");
}

/// Synthesizes one signature check of `msg` under `pk` with `sig`.
fn synth_verify(
    pk: (Fr, Fr),
    msg: &TransferMessage,
    sig: &SignatureWitness,
    chain_id: &[u8],
) -> Cs {
    let mut cs = Cs::new();
    let lin = |cs: &mut Cs, name: &str, v: Fr| Lin::alloc(cs, name, Some(v)).unwrap();
    let pk_u = lin(&mut cs, "pk u", pk.0);
    let pk_v = lin(&mut cs, "pk v", pk.1);
    let from = lin(&mut cs, "from", Fr::from(u64::from(msg.from_index)));
    let to = lin(&mut cs, "to", Fr::from(u64::from(msg.to_index)));
    let to_key = lin(&mut cs, "to key", msg.to_key);
    let amount = lin(&mut cs, "amount", Fr::from(msg.amount));
    let nonce = lin(&mut cs, "nonce", Fr::from(msg.nonce));
    let chain = lin(&mut cs, "chain", chain_id_element(chain_id));
    let fields = transfer_message_fields(&from, &to, &to_key, &amount, &nonce);
    verify_signature(
        &mut cs.namespace(|| "sig"),
        &pk_u,
        &pk_v,
        &fields,
        Some(sig),
        &chain,
    )
    .unwrap();
    cs
}

struct Fixture {
    pk: PublicKey,
    msg: TransferMessage,
    sig: Signature,
    rng: ChaCha20Rng,
}

fn fixture(seed: u64) -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let key = SpendingKey::random(&mut rng);
    let msg = random_message(&mut rng);
    let signed = SignedTransfer::sign(&key, CHAIN, msg);
    Fixture {
        pk: key.public_key(),
        msg,
        sig: signed.signature,
        rng,
    }
}

#[test]
fn gadget_accepts_native_signatures() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    for _ in 0..12 {
        let key = SpendingKey::random(&mut rng);
        let msg = random_message(&mut rng);
        let signed = SignedTransfer::sign(&key, CHAIN, msg);
        let pk = key.public_key();
        assert_eq!(signed.verify(&pk, CHAIN), Ok(()));
        let cs = synth_verify(
            pk.coordinates(),
            &msg,
            &signed.signature.witness().unwrap(),
            CHAIN,
        );
        assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
    }
    // Extreme message fields.
    let key = SpendingKey::random(&mut rng);
    let msg = TransferMessage {
        from_index: u32::MAX,
        to_index: 0,
        to_key: -Fr::ONE,
        amount: u64::MAX,
        nonce: u64::MAX,
    };
    let signed = SignedTransfer::sign(&key, CHAIN, msg);
    let cs = synth_verify(
        key.public_key().coordinates(),
        &msg,
        &signed.signature.witness().unwrap(),
        CHAIN,
    );
    assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
}

#[test]
fn gadget_refuses_wrong_key_tampered_message_and_other_chain() {
    let mut f = fixture(15);
    let w = f.sig.witness().unwrap();
    let other = SpendingKey::random(&mut f.rng).public_key();
    assert_unsatisfied(
        &synth_verify(other.coordinates(), &f.msg, &w, CHAIN),
        "equation",
    );
    let m = f.msg;
    for tampered in [
        TransferMessage {
            amount: m.amount ^ 1,
            ..m
        },
        TransferMessage {
            to_index: m.to_index ^ 1,
            ..m
        },
        TransferMessage {
            to_key: m.to_key + Fr::ONE,
            ..m
        },
        TransferMessage {
            from_index: m.from_index ^ 1,
            ..m
        },
        TransferMessage {
            nonce: m.nonce ^ 1,
            ..m
        },
    ] {
        assert_unsatisfied(
            &synth_verify(f.pk.coordinates(), &tampered, &w, CHAIN),
            "equation",
        );
    }
    assert_unsatisfied(
        &synth_verify(f.pk.coordinates(), &f.msg, &w, b"copro-test-2"),
        "equation",
    );
}

#[test]
fn gadget_refuses_bad_r_and_non_canonical_s() {
    let mut f = fixture(16);
    let pk = f.pk.coordinates();
    let w = f.sig.witness().unwrap();
    // Identity R and the order-2 point (0, -1): R.u = 0.
    for r in [(Fr::ZERO, Fr::ONE), (Fr::ZERO, -Fr::ONE)] {
        let bad = SignatureWitness { r, ..w };
        assert_unsatisfied(
            &synth_verify(pk, &f.msg, &bad, CHAIN),
            "R is not the identity",
        );
    }
    // Orders 4 and 8 (R.u != 0): the equation cannot hold, R would have to
    // be in the prime-order subgroup.
    for order in [4, 8] {
        let t = torsion_point(order, &mut f.rng);
        let bad = SignatureWitness {
            r: coordinates(&t),
            ..w
        };
        assert_unsatisfied(&synth_verify(pk, &f.msg, &bad, CHAIN), "equation");
    }
    // R plus a torsion point: the equation fails too.
    let r = ExtendedPoint::from(jubjub::AffinePoint::from_bytes(f.sig.r_bytes()).unwrap());
    let bad = SignatureWitness {
        r: coordinates(&(r + torsion_point(8, &mut f.rng))),
        ..w
    };
    assert_unsatisfied(&synth_verify(pk, &f.msg, &bad, CHAIN), "equation");
    // s + r_J: [s + r_J]G = [s]G, only the range check refuses it.
    let bad = SignatureWitness {
        s: add_le(&w.s, &r_j_bytes()),
        ..w
    };
    assert_unsatisfied(&synth_verify(pk, &f.msg, &bad, CHAIN), "sig/s/range");
}

/// One failing witness per constraint family of the verifier.
#[test]
fn each_constraint_family_refuses_a_bad_witness() {
    let f = fixture(17);
    let pk = f.pk.coordinates();
    let w = f.sig.witness().unwrap();
    let honest = || synth_verify(pk, &f.msg, &w, CHAIN);
    assert!(honest().is_satisfied());

    // On-curve: R off the curve (every other value consistent with it).
    let off = SignatureWitness {
        r: (w.r.0, w.r.1 + Fr::ONE),
        ..w
    };
    assert_unsatisfied(&synth_verify(pk, &f.msg, &off, CHAIN), "sig/R/on curve");
    // On-curve of the key: the empty leaf's (0, 0) is refused.
    assert_unsatisfied(
        &synth_verify((Fr::ZERO, Fr::ZERO), &f.msg, &w, CHAIN),
        "sig/PK/on curve",
    );
    let cases: [(&str, Fr, &str); 8] = [
        // Booleanity of the bits of s.
        ("sig/s/bit 3", Fr::from(2u64), "sig/s/bit 3 is boolean"),
        // Addition, doubling and the window lookup.
        ("sig/R + [c]PK/u3", Fr::ONE, "sig/R + [c]PK/u3 division"),
        (
            "sig/[c]PK/window 7/double 2/v3",
            Fr::ONE,
            "sig/[c]PK/window 7/double 2/v3 division",
        ),
        (
            "sig/[c]PK/window 9/u b1 term value/product",
            Fr::ONE,
            "sig/[c]PK/window 9/u b1 term",
        ),
        (
            "sig/[s]G/window 5/lookup v value/product",
            Fr::ONE,
            "sig/[s]G/window 5/lookup v",
        ),
        // Challenge binding: the hash itself and its bit decomposition.
        (
            "sig/challenge/block 0/round 10 lane 0/x5",
            Fr::ONE,
            "sig/challenge/block 0/round 10 lane 0",
        ),
        ("sig/c/bit 0", Fr::from(2u64), "sig/c/bit 0 is boolean"),
        (
            "sig/R is not the identity/inverse of R.u",
            Fr::ONE,
            "R.u is invertible",
        ),
    ];
    for (var, value, expected) in cases {
        let mut cs = honest();
        cs.set(var, value);
        assert_unsatisfied(&cs, expected);
    }
    // Flipping a bit of c keeps it boolean but breaks the recomposition.
    let mut cs = honest();
    let bit = cs.get("sig/c/bit 0");
    cs.set("sig/c/bit 0", Fr::ONE - bit);
    assert_unsatisfied(&cs, "sig/c/recomposition");
    // Final equality: a different s (canonical, boolean, in range) breaks only
    // the equation.
    let mut s = Scalar::from_bytes(&w.s).unwrap();
    s += Scalar::ONE;
    let bad = SignatureWitness {
        s: s.to_bytes(),
        ..w
    };
    assert_unsatisfied(&synth_verify(pk, &f.msg, &bad, CHAIN), "sig/equation u");
}

/// One signature check with the key, chain and message as public inputs.
#[derive(Clone)]
struct OneSignature {
    pk: (Fr, Fr),
    chain: Fr,
    msg: [Fr; 2],
    sig: Option<SignatureWitness>,
}

impl Circuit<Fr> for OneSignature {
    fn synthesize<CS: ConstraintSystem<Fr>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
        let pk_u = Lin::alloc_input(cs, "pk u", Some(self.pk.0))?;
        let pk_v = Lin::alloc_input(cs, "pk v", Some(self.pk.1))?;
        let chain = Lin::alloc_input(cs, "chain", Some(self.chain))?;
        let m0 = Lin::alloc_input(cs, "m0", Some(self.msg[0]))?;
        let m1 = Lin::alloc_input(cs, "m1", Some(self.msg[1]))?;
        verify_signature(cs, &pk_u, &pk_v, &[m0, m1], self.sig.as_ref(), &chain)
    }
}

#[test]
fn groth16_round_trip_of_one_signature() {
    let f = fixture(18);
    let mut rng = ChaCha20Rng::seed_from_u64(19);
    let chain = chain_id_element(CHAIN);
    let msg = f.msg.fields();
    let circuit = OneSignature {
        pk: f.pk.coordinates(),
        chain,
        msg,
        sig: Some(f.sig.witness().unwrap()),
    };
    let params = groth16::generate_random_parameters::<Bls12, _, _>(
        OneSignature {
            sig: None,
            ..circuit.clone()
        },
        &mut rng,
    )
    .unwrap();
    let pvk = groth16::prepare_verifying_key(&params.vk);
    let proof = groth16::create_random_proof(circuit, &params, &mut rng).unwrap();
    let (u, v) = f.pk.coordinates();
    let inputs = [u, v, chain, msg[0], msg[1]];
    assert!(groth16::verify_proof(&pvk, &proof, &inputs).is_ok());
    let mut other_amount = inputs;
    other_amount[3] = TransferMessage {
        amount: f.msg.amount ^ 1,
        ..f.msg
    }
    .packed();
    assert!(groth16::verify_proof(&pvk, &proof, &other_amount).is_err());
}

/// Constraint counts of one signature verification, by part, and against the
/// transfer circuit's cost per entry. Run with `--nocapture` to see them.
#[test]
fn spend_auth_figures() {
    let count = |f: &dyn Fn(&mut ConstraintCounter)| {
        let mut cs = ConstraintCounter::default();
        f(&mut cs);
        cs.constraints
    };
    let alloc = |cs: &mut ConstraintCounter, n: usize| -> Vec<Lin> {
        (0..n)
            .map(|i| Lin::alloc(cs, &format!("x{i}"), None).unwrap())
            .collect()
    };
    let total = count(&|cs| {
        let x = alloc(cs, 5);
        verify_signature(cs, &x[0], &x[1], &x[3..5], None, &x[2]).unwrap();
    });
    let hash = count(&|cs| {
        let x = alloc(cs, 7);
        let p = EdwardsPoint::from_coordinates(x[1].clone(), x[2].clone());
        let q = EdwardsPoint::from_coordinates(x[3].clone(), x[4].clone());
        challenge(cs, &x[0], &p, &q, &x[5..7]).unwrap();
    });
    let fixed = count(&|cs| {
        let bits = alloc(cs, S_MUL_BITS);
        generator_mul(cs, &bits).unwrap();
    });
    let variable = count(&|cs| {
        let x = alloc(cs, 2);
        let p = EdwardsPoint::from_coordinates(x[0].clone(), x[1].clone());
        let bits = alloc(cs, C_BITS);
        p.mul_bits(cs, &bits).unwrap();
    });
    let plain_variable = count(&|cs| {
        let x = alloc(cs, 2);
        let p = EdwardsPoint::from_coordinates(x[0].clone(), x[1].clone());
        let bits = alloc(cs, C_BITS);
        double_and_add(cs, &p, &bits);
    });
    // Measured alternative to the windowed table: double-and-add with the
    // constant points [2^i]G (each selected for free, one addition per bit).
    let plain_fixed = count(&|cs| {
        let bits = alloc(cs, S_MUL_BITS);
        let mut base = ExtendedPoint::from(generator());
        let mut acc = EdwardsPoint::identity();
        for (i, b) in bits.iter().enumerate() {
            let (u, v) = coordinates(&base);
            let term =
                EdwardsPoint::from_coordinates(b.scale(u), b.scale(v - Fr::ONE).add_const(Fr::ONE));
            acc = acc
                .add(&mut cs.namespace(|| format!("add {i}")), &term)
                .unwrap();
            base = base.double();
        }
    });
    let s_bits = count(&|cs| {
        let bits: Vec<Lin> = (0..S_BITS)
            .map(|i| alloc_bit(cs, &format!("s{i}"), None).unwrap())
            .collect();
        enforce_bits_below(cs, &bits, &r_j_bytes()).unwrap();
    });
    let c_bits = count(&|cs| {
        let x = alloc(cs, 1);
        field_bits_strict(cs, &x[0]).unwrap();
    });
    let rest = total - hash - fixed - variable - s_bits - c_bits;

    let tree = crate::smt::TreeConfig::PRODUCTION;
    let transfer = |batch_size| {
        ConstraintCounter::count(
            crate::transfer::TransferCircuit {
                params: crate::transfer::TransferParams { batch_size, tree },
                witness: None,
            },
            false,
        )
        .unwrap()
        .constraints
    };
    let per_entry = transfer(2) - transfer(1);

    println!("one spend-auth signature verification: {total} constraints");
    println!("  challenge hash (Poseidon sponge, 7 inputs): {hash}");
    println!("  fixed-base [s]G (3-bit windows, 252 bits):  {fixed}");
    println!("    (plain double-and-add would be:           {plain_fixed})");
    println!("  variable-base [c]PK (2-bit windows, 255 bits): {variable}");
    println!("    (plain double-and-add would be:           {plain_variable})");
    println!("  s: 256 bits and s < r_J:                    {s_bits}");
    println!("  c: 255 bits, recomposition and c < p:       {c_bits}");
    println!("  rest (PK and R on curve, R.u != 0, R + [c]PK, equation): {rest}");
    println!("transfer circuit v1, production tree: {per_entry} constraints per entry");
    println!(
        "  a signature adds {:.1}% to an entry",
        100.0 * total as f64 / per_entry as f64
    );
    // Two t = 5 permutations; the first round's capacity S-box is constant.
    assert_eq!(hash, 2 * 300 - 3);
    assert_eq!(fixed, 750);
    assert_eq!(variable, window_mul_cost(C_BITS));
    // Adding to the constant identity is free, so the first bit costs 2.
    assert_eq!(plain_variable, 13 * C_BITS - 11);
    assert!(plain_variable > variable);
    assert!(plain_fixed > fixed);
    assert_eq!(rest, 3 + 4 + 6 + 2);
    assert!(total < 6_000, "signature verification grew to {total}");
}
