//! Native tests of spend authorization; the circuit's are in `gadget/tests.rs`.

use ff::{Field, PrimeField};
use group::{Group, GroupEncoding};
use jubjub::{AffinePoint, ExtendedPoint};
use rand::{Rng, SeedableRng};

use rand_chacha::ChaCha20Rng;

use super::*;

pub(crate) const CHAIN: &[u8] = b"copro-test-1";

/// `r_J` as 32 little-endian bytes.
pub(crate) fn r_j_bytes() -> [u8; 32] {
    let mut b = (Scalar::ZERO - Scalar::ONE).to_bytes();
    b[0] |= 1;
    b
}

/// Little-endian 256-bit addition (the tests never overflow it).
pub(crate) fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// `[n] p` for a little-endian integer `n` (not reduced mod `r_J`).
fn mul_integer(p: ExtendedPoint, n: &[u8; 32]) -> ExtendedPoint {
    let mut acc = ExtendedPoint::identity();
    for i in (0..256).rev() {
        acc = acc.double();
        if (n[i / 8] >> (i % 8)) & 1 == 1 {
            acc += p;
        }
    }
    acc
}

/// A point of exact order `order` (2, 4 or 8).
pub(crate) fn torsion_point(order: u32, rng: &mut ChaCha20Rng) -> ExtendedPoint {
    loop {
        let p = ExtendedPoint::random(&mut *rng);
        let mut t = mul_integer(p, &r_j_bytes());
        // t has order dividing 8; scale it down to the wanted order.
        let mut ord = 8u32;
        while ord > order {
            t = t.double();
            ord /= 2;
        }
        let mut half = t;
        for _ in 1..order.trailing_zeros() {
            half = half.double();
        }
        // `half` = [order/2] t must not be the identity for the order to be exact.
        if !bool::from(half.is_identity()) {
            return t;
        }
    }
}

pub(crate) fn random_message(rng: &mut ChaCha20Rng) -> TransferMessage {
    TransferMessage {
        from_index: rng.r#gen(),
        to_index: rng.r#gen(),
        to_key: Fr::random(&mut *rng),
        amount: rng.r#gen(),
        nonce: rng.r#gen(),
    }
}

fn encode(p: &ExtendedPoint) -> [u8; 32] {
    AffinePoint::from(p).to_bytes()
}

fn with_r(sig: &Signature, r: [u8; 32]) -> Signature {
    let mut b = sig.to_bytes();
    b[..32].copy_from_slice(&r);
    Signature::from_bytes(&b).unwrap()
}

#[test]
fn generator_is_the_documented_hash_to_curve_point() {
    let g = generator();
    assert!(!bool::from(g.is_identity()));
    let (u, v) = coordinates(&ExtendedPoint::from(g));
    assert!(is_on_curve(u, v));
    assert!(bool::from(ExtendedPoint::from(g).is_torsion_free()));
    // Pinned so that a change of derivation cannot go unnoticed (wallets
    // hard-code this encoding).
    assert_eq!(
        hex_bytes(&g.to_bytes()),
        "20db4ce4c9249af3eb416b767c0d7fa201d77c430ae1557d4be12b80faa91422"
    );
}

#[test]
fn subgroup_order_is_the_documented_r_j() {
    let mut be = r_j_bytes();
    be.reverse();
    assert_eq!(
        hex_bytes(&be),
        "0e7db4ea6533afa906673b0101343b00a6682093ccc81082d0970e5ed6f72cb7"
    );
}

/// A known-answer vector for other implementations (wallets); also in
/// `docs/protocol.md`.
#[test]
fn known_answer_vector() {
    let key = SpendingKey::from_seed(&[7u8; 32]).unwrap();
    let msg = TransferMessage {
        from_index: 1,
        to_index: 2,
        to_key: Fr::from(1002u64),
        amount: 30,
        nonce: 0,
    };
    let signed = SignedTransfer::sign(&key, b"copro-local-1", msg);
    assert_eq!(
        hex_bytes(&key.to_bytes()),
        "515555908cf0ea136b8f3a6e1b86a6831c40dd801fd4586f4754b37a3063890a"
    );
    assert_eq!(
        hex_bytes(&key.public_key().to_bytes()),
        "eba1b6a29cd4a3d4be2d80046332bd780e08a8418352ce39f284b8878542a5d9"
    );
    assert_eq!(
        hex_bytes(&signed.signature.to_bytes()),
        "35223cec6aa1ecd8cf594647d52a1c0c1a3fe4cd38f6a55a15667aa62ec09c66\
         e0a26cb1758d58c9cca7d15cb52f8f198c4196b32691a4115d3a43e60f610702"
    );
    assert_eq!(signed.verify(&key.public_key(), b"copro-local-1"), Ok(()));
}

#[test]
fn edwards_d_is_jubjubs() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for _ in 0..8 {
        let (u, v) = coordinates(&ExtendedPoint::random(&mut rng));
        assert!(is_on_curve(u, v));
        assert!(!is_on_curve(u + Fr::ONE, v));
    }
}

#[test]
fn sign_verify_round_trip_over_random_keys_and_messages() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for _ in 0..32 {
        let key = SpendingKey::random(&mut rng);
        let pk = key.public_key();
        let msg = random_message(&mut rng);
        let signed = SignedTransfer::sign(&key, CHAIN, msg);
        assert_eq!(signed.verify(&pk, CHAIN), Ok(()));
        // Deterministic: the same message gets the same signature.
        assert_eq!(SignedTransfer::sign(&key, CHAIN, msg), signed);
        // Encodings round-trip.
        let sig = Signature::from_bytes(&signed.signature.to_bytes()).unwrap();
        assert_eq!(sig, signed.signature);
        let pk2 = PublicKey::from_bytes(&pk.to_bytes()).unwrap();
        assert_eq!(pk2, pk);
        let (u, v) = pk.coordinates();
        assert_eq!(PublicKey::from_coordinates(u, v), Ok(pk));
        let key2 = SpendingKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(key2.public_key(), pk);
    }
}

#[test]
fn generic_messages_of_any_length_verify() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let key = SpendingKey::random(&mut rng);
    let chain = chain_id_element(CHAIN);
    for len in [0usize, 1, 3, 4, 9] {
        let msg: Vec<Fr> = (0..len).map(|_| Fr::random(&mut rng)).collect();
        let sig = key.sign(chain, &msg);
        assert_eq!(key.public_key().verify(chain, &msg, &sig), Ok(()));
        let mut longer = msg.clone();
        longer.push(Fr::ZERO);
        assert_eq!(
            key.public_key().verify(chain, &longer, &sig),
            Err(SpendAuthError::InvalidSignature)
        );
    }
}

#[test]
fn seed_keys_are_deterministic_and_distinct() {
    let a = SpendingKey::from_seed(&[1u8; 32]).unwrap();
    let b = SpendingKey::from_seed(&[1u8; 32]).unwrap();
    let c = SpendingKey::from_seed(&[2u8; 32]).unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_ne!(a.public_key(), c.public_key());
    assert_eq!(
        SpendingKey::from_bytes(&[0u8; 32]).map(|k| k.public_key()),
        Err(SpendAuthError::InvalidSecretKey)
    );
    assert_eq!(
        SpendingKey::from_bytes(&r_j_bytes()).map(|k| k.public_key()),
        Err(SpendAuthError::InvalidSecretKey)
    );
    // The secret never shows in debug output.
    let shown = format!("{a:?}");
    assert!(!shown.contains(&hex_bytes(&a.to_bytes())));
}

#[test]
fn tampered_transfers_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let key = SpendingKey::random(&mut rng);
    let pk = key.public_key();
    let msg = random_message(&mut rng);
    let signed = SignedTransfer::sign(&key, CHAIN, msg);
    let tampered = [
        TransferMessage {
            amount: msg.amount ^ 1,
            ..msg
        },
        TransferMessage {
            to_index: msg.to_index ^ 1,
            ..msg
        },
        TransferMessage {
            to_key: msg.to_key + Fr::ONE,
            ..msg
        },
        TransferMessage {
            from_index: msg.from_index ^ 1,
            ..msg
        },
        TransferMessage {
            nonce: msg.nonce ^ 1,
            ..msg
        },
    ];
    for m in tampered {
        let forged = SignedTransfer {
            message: m,
            signature: signed.signature,
        };
        assert_eq!(
            forged.verify(&pk, CHAIN),
            Err(SpendAuthError::InvalidSignature)
        );
    }
    // Wrong key, other chain.
    let other = SpendingKey::random(&mut rng).public_key();
    assert_eq!(
        signed.verify(&other, CHAIN),
        Err(SpendAuthError::InvalidSignature)
    );
    assert_eq!(
        signed.verify(&pk, b"copro-test-2"),
        Err(SpendAuthError::InvalidSignature)
    );
}

#[test]
fn malformed_signatures_are_refused_with_their_reason() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let key = SpendingKey::random(&mut rng);
    let pk = key.public_key();
    let chain = chain_id_element(CHAIN);
    let msg = random_message(&mut rng).fields();
    let sig = key.sign(chain, &msg);
    let verify = |s: &Signature| pk.verify(chain, &msg, s);
    assert_eq!(verify(&sig), Ok(()));

    // s + r_J: same point [s]G, refused as non-canonical.
    let mut b = sig.to_bytes();
    let s_plus = add_le(&sig.s_bytes(), &r_j_bytes());
    b[32..].copy_from_slice(&s_plus);
    assert_eq!(
        verify(&Signature::from_bytes(&b).unwrap()),
        Err(SpendAuthError::NonCanonicalScalar)
    );

    // Identity R, canonically and with the sign bit set (ZIP 216).
    let identity = encode(&ExtendedPoint::identity());
    assert_eq!(
        verify(&with_r(&sig, identity)),
        Err(SpendAuthError::IdentityPoint(PointRole::Nonce))
    );
    let mut signed_identity = identity;
    signed_identity[31] |= 0x80;
    assert_eq!(
        verify(&with_r(&sig, signed_identity)),
        Err(SpendAuthError::NonCanonicalPoint(PointRole::Nonce))
    );
    assert_eq!(
        with_r(&sig, signed_identity).witness(),
        Err(SpendAuthError::NonCanonicalPoint(PointRole::Nonce))
    );
    // v >= p.
    let mut v_p = (-Fr::ONE).to_repr();
    v_p[0] += 2; // p + 1, the identity's v plus p
    assert_eq!(
        verify(&with_r(&sig, v_p)),
        Err(SpendAuthError::NonCanonicalPoint(PointRole::Nonce))
    );
    // Small-order R (orders 2, 4, 8) and R with a torsion component.
    for order in [2, 4, 8] {
        let t = torsion_point(order, &mut rng);
        assert_eq!(
            verify(&with_r(&sig, encode(&t))),
            Err(SpendAuthError::SmallOrderPoint(PointRole::Nonce)),
            "order {order}"
        );
    }
    let r = ExtendedPoint::from(AffinePoint::from_bytes(sig.r_bytes()).unwrap());
    let mixed = r + torsion_point(8, &mut rng);
    assert_eq!(
        verify(&with_r(&sig, encode(&mixed))),
        Err(SpendAuthError::NotInSubgroup(PointRole::Nonce))
    );
    // An encoding of no point.
    let off = (2u64..)
        .map(|v| Fr::from(v).to_repr())
        .find(|b| bool::from(AffinePoint::from_bytes(*b).is_none()))
        .unwrap();
    assert_eq!(
        verify(&with_r(&sig, off)),
        Err(SpendAuthError::NotOnCurve(PointRole::Nonce))
    );
    assert!(matches!(
        Signature::from_bytes(&[0u8; 63]),
        Err(SpendAuthError::WrongLength { got: 63, .. })
    ));
}

#[test]
fn bad_public_keys_are_refused_with_their_reason() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let good = SpendingKey::random(&mut rng).public_key();
    let identity = ExtendedPoint::identity();
    assert_eq!(
        PublicKey::from_bytes(&encode(&identity)),
        Err(SpendAuthError::IdentityPoint(PointRole::PublicKey))
    );
    for order in [2, 4, 8] {
        let t = torsion_point(order, &mut rng);
        assert_eq!(
            PublicKey::from_bytes(&encode(&t)),
            Err(SpendAuthError::SmallOrderPoint(PointRole::PublicKey))
        );
        let (u, v) = coordinates(&t);
        assert_eq!(
            PublicKey::from_coordinates(u, v),
            Err(SpendAuthError::SmallOrderPoint(PointRole::PublicKey))
        );
    }
    let mixed = ExtendedPoint::from(AffinePoint::from_bytes(good.to_bytes()).unwrap())
        + torsion_point(8, &mut rng);
    assert_eq!(
        PublicKey::from_bytes(&encode(&mixed)),
        Err(SpendAuthError::NotInSubgroup(PointRole::PublicKey))
    );
    let (u, v) = coordinates(&mixed);
    assert_eq!(
        PublicKey::from_coordinates(u, v),
        Err(SpendAuthError::NotInSubgroup(PointRole::PublicKey))
    );
    let mut non_canonical = encode(&identity);
    non_canonical[31] |= 0x80;
    assert_eq!(
        PublicKey::from_bytes(&non_canonical),
        Err(SpendAuthError::NonCanonicalPoint(PointRole::PublicKey))
    );
    assert_eq!(
        PublicKey::from_coordinates(Fr::ZERO, Fr::ZERO),
        Err(SpendAuthError::NotOnCurve(PointRole::PublicKey))
    );
    assert!(matches!(
        PublicKey::from_bytes(&[1u8; 33]),
        Err(SpendAuthError::WrongLength { got: 33, .. })
    ));
}
