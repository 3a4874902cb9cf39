//! The verdict against bellman's, on real proofs and on forged ones.

use bellman::groth16::{self, Proof, VerifyingKey};
use bellman::{Circuit, ConstraintSystem, SynthesisError};
use bls12_381::{Bls12, G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::Curve;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::{Groth16Error, PreparedKey};

/// bellman's verdict, the reference.
fn bellman(vk: &VerifyingKey<Bls12>, proof: &Proof<Bls12>, inputs: &[Scalar]) -> bool {
    groth16::verify_proof(&groth16::prepare_verifying_key(vk), proof, inputs).is_ok()
}

/// Both verdicts, asserted equal.
fn verdict(vk: &VerifyingKey<Bls12>, proof: &Proof<Bls12>, inputs: &[Scalar]) -> bool {
    let ours = PreparedKey::new(vk).unwrap().verify(proof, inputs);
    assert!(
        matches!(ours, Ok(()) | Err(Groth16Error::InvalidProof)),
        "{ours:?}"
    );
    assert_eq!(ours.is_ok(), bellman(vk, proof, inputs), "verdicts differ");
    ours.is_ok()
}

/// A key whose trapdoor is known: α = a·G₁, β = b·G₂, γ = g·G₂, δ = d·G₂,
/// icᵢ = kᵢ·G₁.
struct Trapdoor {
    a: Scalar,
    b: Scalar,
    g: Scalar,
    d: Scalar,
    k: Vec<Scalar>,
}

impl Trapdoor {
    fn random(rng: &mut ChaCha20Rng, inputs: usize) -> Self {
        Trapdoor {
            a: Scalar::random(&mut *rng),
            b: Scalar::random(&mut *rng),
            g: Scalar::random(&mut *rng),
            d: Scalar::random(&mut *rng),
            k: (0..=inputs).map(|_| Scalar::random(&mut *rng)).collect(),
        }
    }

    fn vk(&self) -> VerifyingKey<Bls12> {
        let g1 = |s: &Scalar| (G1Affine::generator() * s).to_affine();
        let g2 = |s: &Scalar| (G2Affine::generator() * s).to_affine();
        VerifyingKey {
            alpha_g1: g1(&self.a),
            beta_g1: g1(&self.b),
            beta_g2: g2(&self.b),
            gamma_g2: g2(&self.g),
            delta_g1: g1(&self.d),
            delta_g2: g2(&self.d),
            ic: self.k.iter().map(g1).collect(),
        }
    }

    /// The discrete log of IC for `inputs`.
    fn ic(&self, inputs: &[Scalar]) -> Scalar {
        inputs
            .iter()
            .zip(&self.k[1..])
            .fold(self.k[0], |acc, (x, k)| acc + x * k)
    }

    /// A proof that satisfies the equation: A = s·G₁, B = t·G₂ and
    /// C = (s·t − a·b − ic·g) / d · G₁.
    fn forge(&self, rng: &mut ChaCha20Rng, inputs: &[Scalar]) -> Proof<Bls12> {
        let s = Scalar::random(&mut *rng);
        let t = Scalar::random(&mut *rng);
        let c = (s * t - self.a * self.b - self.ic(inputs) * self.g) * self.d.invert().unwrap();
        Proof {
            a: (G1Affine::generator() * s).to_affine(),
            b: (G2Affine::generator() * t).to_affine(),
            c: (G1Affine::generator() * c).to_affine(),
        }
    }
}

fn random_inputs(rng: &mut ChaCha20Rng, n: usize) -> Vec<Scalar> {
    (0..n).map(|_| Scalar::random(&mut *rng)).collect()
}

#[test]
fn forged_proofs_pass_and_every_tampering_fails_in_both() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for round in 0..12 {
        let n = 1 + round % 3;
        let trapdoor = Trapdoor::random(&mut rng, n);
        let vk = trapdoor.vk();
        let inputs = random_inputs(&mut rng, n);
        let proof = trapdoor.forge(&mut rng, &inputs);
        assert!(verdict(&vk, &proof, &inputs));

        // Each input changed.
        for i in 0..n {
            let mut other = inputs.clone();
            other[i] += Scalar::ONE;
            assert!(!verdict(&vk, &proof, &other));
        }
        // Each point changed.
        let g1 = G1Projective::generator();
        let g2 = G2Projective::generator();
        let tampered = [
            Proof {
                a: (proof.a + g1).to_affine(),
                ..proof.clone()
            },
            Proof {
                b: (proof.b + g2).to_affine(),
                ..proof.clone()
            },
            Proof {
                c: (proof.c + g1).to_affine(),
                ..proof.clone()
            },
            Proof {
                a: proof.c,
                c: proof.a,
                ..proof.clone()
            },
            Proof {
                a: -proof.a,
                ..proof.clone()
            },
        ];
        for bad in &tampered {
            assert!(!verdict(&vk, bad, &inputs));
        }
        // Another key's proof for the same inputs.
        let other = Trapdoor::random(&mut rng, n);
        assert!(!verdict(&vk, &other.forge(&mut rng, &inputs), &inputs));
    }
}

#[test]
fn points_at_infinity_are_handled_as_bellman_does() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    // IC at infinity: k₀ = −x·k₁.
    let mut trapdoor = Trapdoor::random(&mut rng, 1);
    let x = Scalar::random(&mut rng);
    trapdoor.k[0] = -(x * trapdoor.k[1]);
    let vk = trapdoor.vk();
    let proof = trapdoor.forge(&mut rng, &[x]);
    assert!(verdict(&vk, &proof, &[x]));
    assert!(!verdict(&vk, &proof, &[x + Scalar::ONE]));

    // ic₀ at infinity, then ic₁ at infinity too.
    let mut trapdoor = Trapdoor::random(&mut rng, 1);
    trapdoor.k[0] = Scalar::ZERO;
    let proof = trapdoor.forge(&mut rng, &[x]);
    assert!(verdict(&trapdoor.vk(), &proof, &[x]));
    trapdoor.k[1] = Scalar::ZERO;
    let proof = trapdoor.forge(&mut rng, &[x]);
    assert!(verdict(&trapdoor.vk(), &proof, &[x]));
    assert!(verdict(&trapdoor.vk(), &proof, &[x + Scalar::ONE]));

    // α at infinity: e(α, β) = 1.
    let mut trapdoor = Trapdoor::random(&mut rng, 1);
    trapdoor.a = Scalar::ZERO;
    let proof = trapdoor.forge(&mut rng, &[x]);
    assert!(verdict(&trapdoor.vk(), &proof, &[x]));
    assert!(!verdict(&trapdoor.vk(), &proof, &[Scalar::ZERO]));

    // γ at infinity: the inputs do not matter.
    let mut trapdoor = Trapdoor::random(&mut rng, 1);
    trapdoor.g = Scalar::ZERO;
    let proof = trapdoor.forge(&mut rng, &[x]);
    assert!(verdict(&trapdoor.vk(), &proof, &[Scalar::ONE]));

    // A proof with points at infinity (copro's decoding refuses them; the
    // verdict must still be bellman's).
    let trapdoor = Trapdoor::random(&mut rng, 1);
    let proof = trapdoor.forge(&mut rng, &[x]);
    for bad in [
        Proof {
            a: G1Affine::identity(),
            ..proof.clone()
        },
        Proof {
            b: G2Affine::identity(),
            ..proof.clone()
        },
        Proof {
            c: G1Affine::identity(),
            ..proof.clone()
        },
    ] {
        assert!(!verdict(&trapdoor.vk(), &bad, &[x]));
    }
    // A = B = C = O and e(α, β)·e(IC, γ) = 1: a·b = −ic·g.
    let mut trapdoor = Trapdoor::random(&mut rng, 1);
    trapdoor.a = -(trapdoor.ic(&[x]) * trapdoor.g) * trapdoor.b.invert().unwrap();
    let empty = Proof {
        a: G1Affine::identity(),
        b: G2Affine::identity(),
        c: G1Affine::identity(),
    };
    assert!(verdict(&trapdoor.vk(), &empty, &[x]));
}

#[test]
fn the_input_count_must_fit_the_key() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let trapdoor = Trapdoor::random(&mut rng, 2);
    let key = PreparedKey::new(&trapdoor.vk()).unwrap();
    assert_eq!(key.inputs(), 2);
    let proof = trapdoor.forge(&mut rng, &[Scalar::ONE, Scalar::ONE]);
    for n in [0, 1, 3] {
        assert_eq!(
            key.verify(&proof, &vec![Scalar::ONE; n]),
            Err(Groth16Error::InputCount {
                expected: 2,
                got: n
            })
        );
    }
    let mut no_ic = trapdoor.vk();
    no_ic.ic.clear();
    assert_eq!(PreparedKey::new(&no_ic).unwrap_err(), Groth16Error::NoIc);
}

/// `x · x = y`, `y` public.
struct Square(Option<Scalar>);

impl Circuit<Scalar> for Square {
    fn synthesize<CS: ConstraintSystem<Scalar>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
        let x = cs.alloc(|| "x", || self.0.ok_or(SynthesisError::AssignmentMissing))?;
        let y = cs.alloc_input(
            || "y",
            || {
                self.0
                    .map(|x| x.square())
                    .ok_or(SynthesisError::AssignmentMissing)
            },
        )?;
        cs.enforce(|| "x * x = y", |lc| lc + x, |lc| lc + x, |lc| lc + y);
        Ok(())
    }
}

#[test]
fn real_bellman_proofs_agree() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let params =
        groth16::generate_random_parameters::<Bls12, _, _>(Square(None), &mut rng).unwrap();
    let other = groth16::generate_random_parameters::<Bls12, _, _>(Square(None), &mut rng).unwrap();
    for x in 2..7u64 {
        let x = Scalar::from(x);
        let proof = groth16::create_random_proof(Square(Some(x)), &params, &mut rng).unwrap();
        assert!(verdict(&params.vk, &proof, &[x.square()]));
        assert!(!verdict(&params.vk, &proof, &[x]));
        assert!(!verdict(&other.vk, &proof, &[x.square()]));
    }
}

/// Both decoders on `bytes`, asserted to agree; whether it decoded.
fn decode_g1(bytes: &[u8; 48]) -> bool {
    let reference: Option<G1Affine> = G1Affine::from_compressed(bytes).into();
    assert_eq!(super::g1_from_compressed(bytes), reference, "{bytes:02x?}");
    reference.is_some()
}

fn decode_g2(bytes: &[u8; 96]) -> bool {
    let reference: Option<G2Affine> = G2Affine::from_compressed(bytes).into();
    assert_eq!(super::g2_from_compressed(bytes), reference, "{bytes:02x?}");
    reference.is_some()
}

/// p, the base field's modulus, big-endian.
const P: [u8; 48] = [
    0x1a, 0x01, 0x11, 0xea, 0x39, 0x7f, 0xe6, 0x9a, 0x4b, 0x1b, 0xa7, 0xb6, 0x43, 0x4b, 0xac, 0xd7,
    0x64, 0x77, 0x4b, 0x84, 0xf3, 0x85, 0x12, 0xbf, 0x67, 0x30, 0xd2, 0xa0, 0xf6, 0xb0, 0xf6, 0x24,
    0x1e, 0xab, 0xff, 0xfe, 0xb1, 0x53, 0xff, 0xff, 0xb9, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xaa, 0xab,
];

/// The 381-bit big-endian `x + p` (flags masked off), if it fits.
fn plus_p(x: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; 48];
    let mut carry = 0u16;
    for i in (0..48).rev() {
        let v = u16::from(if i == 0 { x[0] & 0x1f } else { x[i] }) + u16::from(P[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    (carry == 0 && out[0] < 0x20).then_some(out)
}

#[test]
fn blst_decoding_accepts_exactly_what_bls12_381_accepts() {
    use rand_core::RngCore;
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut non_canonical = 0;
    for i in 0..24u64 {
        let s = Scalar::random(&mut rng);
        let g1 = (G1Affine::generator() * s).to_affine().to_compressed();
        let g2 = (G2Affine::generator() * s).to_affine().to_compressed();
        assert!(decode_g1(&g1) && decode_g2(&g2));
        // Every single-bit change: flags, x off the curve or off the
        // subgroup, x at or past p.
        if i < 3 {
            for bit in 0..48 * 8 {
                let mut b = g1;
                b[bit / 8] ^= 1 << (bit % 8);
                decode_g1(&b);
            }
            for bit in 0..96 * 8 {
                let mut b = g2;
                b[bit / 8] ^= 1 << (bit % 8);
                decode_g2(&b);
            }
        }
        // The same point with x + p: blst must not reduce it.
        if let Some(x) = plus_p(&g1) {
            let mut b = g1;
            b[..].copy_from_slice(&x);
            b[0] |= g1[0] & 0xe0;
            assert!(!decode_g1(&b));
            non_canonical += 1;
        }
        for half in [0, 48] {
            if let Some(x) = plus_p(&g2[half..half + 48]) {
                let mut b = g2;
                b[half..half + 48].copy_from_slice(&x);
                b[half] |= g2[half] & 0xe0;
                assert!(!decode_g2(&b));
                non_canonical += 1;
            }
        }
    }
    assert!(non_canonical > 5, "too few x + p cases: {non_canonical}");
    // Random x with the compression flag: on the curve about half the time,
    // almost never in the subgroup.
    for _ in 0..400 {
        let mut b = [0u8; 48];
        rng.fill_bytes(&mut b);
        b[0] = (b[0] & 0x3f) | 0x80;
        decode_g1(&b);
        let mut b = [0u8; 96];
        rng.fill_bytes(&mut b);
        b[0] = (b[0] & 0x3f) | 0x80;
        decode_g2(&b);
    }
    // The identity, and encodings that only look like it.
    let mut id1 = [0u8; 48];
    id1[0] = 0xc0;
    let mut id2 = [0u8; 96];
    id2[0] = 0xc0;
    assert!(decode_g1(&id1) && decode_g2(&id2));
    for (at, value) in [(0, 0x40), (0, 0xe0), (0, 0xc1), (47, 0x01), (20, 0x80)] {
        let mut b = id1;
        if at == 0 {
            b[0] = value;
        } else {
            b[at] |= value;
        }
        assert!(!decode_g1(&b));
        let mut b = id2;
        if at == 0 {
            b[0] = value;
        } else {
            b[at + 48] |= value;
        }
        assert!(!decode_g2(&b));
    }
    // Uncompressed-flag-clear and all-zero bytes.
    assert!(!decode_g1(&[0u8; 48]) && !decode_g2(&[0u8; 96]));
}
