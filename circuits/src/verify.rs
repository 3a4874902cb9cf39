//! Checked Groth16 verification for the chain.
//!
//! Every copro circuit has exactly one public input (see
//! [`public_input`](crate::public_input)), so a verifying key must have exactly
//! two `ic` points.
//!
//! The pairing check runs on blst ([`copro_groth16`]), which evaluates
//! bellman's equation about twice as fast as bellman's own `bls12_381`
//! pairing on the validators' machines; the verdict is bellman's for every
//! input (that crate's tests, and this module's, compare the two). bellman's
//! check remains the fallback for the one case blst could not take, a point
//! it refuses, which no point on the curve is.

use std::sync::OnceLock;

use bellman::groth16::{self, PreparedVerifyingKey, Proof, VerifyingKey};
use bls12_381::Bls12;
use copro_groth16::{Groth16Error, PreparedKey};

use crate::field::Fr;

/// Why a proof was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The verifying key is not for a single-public-input circuit.
    #[error("verifying key expects {0} public inputs; copro circuits have exactly 1")]
    WrongInputCount(usize),
    /// The pairing check failed.
    #[error("proof does not verify for this public input")]
    InvalidProof,
}

/// A verifying key ready for use: the key, its blst form and bellman's
/// prepared form (the reference and fallback), prepared when first asked
/// for: a node checking with blst never needs it, and preparing it costs a
/// pairing in `bls12_381`, about 2 ms.
pub struct CheckedVerifyingKey {
    vk: VerifyingKey<Bls12>,
    pvk: OnceLock<PreparedVerifyingKey<Bls12>>,
    blst: Option<PreparedKey>,
}

impl core::fmt::Debug for CheckedVerifyingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CheckedVerifyingKey")
            .finish_non_exhaustive()
    }
}

impl CheckedVerifyingKey {
    /// Checks the key is for one public input and prepares it.
    pub fn new(vk: VerifyingKey<Bls12>) -> Result<Self, VerifyError> {
        if vk.ic.len() != 2 {
            return Err(VerifyError::WrongInputCount(vk.ic.len().saturating_sub(1)));
        }
        let blst = PreparedKey::new(&vk).ok();
        Ok(CheckedVerifyingKey {
            vk,
            pvk: OnceLock::new(),
            blst,
        })
    }

    /// The underlying key.
    pub fn vk(&self) -> &VerifyingKey<Bls12> {
        &self.vk
    }

    /// bellman's prepared key (prepared on the first call).
    pub fn prepared(&self) -> &PreparedVerifyingKey<Bls12> {
        self.pvk
            .get_or_init(|| groth16::prepare_verifying_key(&self.vk))
    }
}

/// Verifies one proof against its single public input.
pub fn verify(
    vk: &CheckedVerifyingKey,
    proof: &Proof<Bls12>,
    public_input: Fr,
) -> Result<(), VerifyError> {
    match vk.blst.as_ref().map(|k| k.verify(proof, &[public_input])) {
        Some(Ok(())) => Ok(()),
        Some(Err(Groth16Error::InvalidProof)) => Err(VerifyError::InvalidProof),
        // The key has two ic points, so the count fits; a point blst
        // refused: bellman decides.
        Some(Err(_)) | None => verify_bellman(vk, proof, public_input),
    }
}

/// [`verify`] with bellman's own pairing: the reference the blst check is
/// tested against, and what the benchmarks compare it with.
pub fn verify_bellman(
    vk: &CheckedVerifyingKey,
    proof: &Proof<Bls12>,
    public_input: Fr,
) -> Result<(), VerifyError> {
    groth16::verify_proof(vk.prepared(), proof, &[public_input])
        .map_err(|_| VerifyError::InvalidProof)
}

/// Verifies many proofs for the same key: one verdict per item, in order.
///
/// Each proof is checked on its own. (bellman's batch verifier, used here
/// before, cost 2.2 ms per proof in a batch of 16 where blst's single check
/// costs about 1.3: see docs/performance.md.) Every verdict is exact and
/// independent of the others.
pub fn verify_batch(
    vk: &CheckedVerifyingKey,
    items: &[(Proof<Bls12>, Fr)],
) -> Vec<Result<(), VerifyError>> {
    items.iter().map(|(p, x)| verify(vk, p, *x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::*;
    use crate::program::Program;
    use crate::smt::{Arity, TreeConfig};
    use crate::transfer::{Account, Ledger, QueueEntry, Transfer, TransferBatch, TransferParams};
    use ff::Field;
    use group::Curve;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn groth16_proof_verifies_only_for_its_public_input() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let params = TransferParams {
            batch_size: 1,
            tree: TreeConfig::new(Arity::Four, 2).unwrap(),
        };
        let pk = groth16::generate_random_parameters::<Bls12, _, _>(
            Transfer::circuit(&params, None),
            &mut rng,
        )
        .unwrap();
        let vk = CheckedVerifyingKey::new(decode_vk(&encode_vk(&pk.vk)).unwrap()).unwrap();
        assert_eq!(vk_hash(vk.vk()), vk_hash(&pk.vk));

        let mut ledger = Ledger::new(params.tree);
        ledger
            .set_account(
                2,
                Account {
                    key: Fr::from(5u64),
                    balance: 50,
                    nonce: 0,
                },
            )
            .unwrap();
        let mut items = Vec::new();
        for amount in [10u64, 20, 30] {
            let batch = TransferBatch {
                queue_before: Fr::from(amount),
                entries: vec![QueueEntry::withdraw(
                    2,
                    Fr::from(5u64),
                    amount,
                    ledger.account(2).unwrap().nonce,
                )],
            };
            let (outcome, witness) = Transfer::execute(&params, b"c", &mut ledger, &batch).unwrap();
            let x = Transfer::public_input(&outcome);
            let proof = groth16::create_random_proof(
                Transfer::circuit(&params, Some(witness)),
                &pk,
                &mut rng,
            )
            .unwrap();
            let proof = decode_proof(&encode_proof(&proof)).unwrap();
            assert_eq!(verify(&vk, &proof, x), Ok(()));
            assert_eq!(verify_bellman(&vk, &proof, x), Ok(()));
            for other in [x + Fr::ONE, Fr::ZERO, -x] {
                assert_eq!(verify(&vk, &proof, other), Err(VerifyError::InvalidProof));
                assert_eq!(
                    verify_bellman(&vk, &proof, other),
                    Err(VerifyError::InvalidProof)
                );
            }
            items.push((proof, x));
        }
        assert!(verify_batch(&vk, &items).iter().all(Result::is_ok));
        items[1].1 += Fr::ONE;
        assert_eq!(
            verify_batch(&vk, &items),
            vec![Ok(()), Err(VerifyError::InvalidProof), Ok(())]
        );
    }

    #[test]
    fn strict_decoding_rejects_bad_encodings() {
        let g1 = bls12_381::G1Affine::generator();
        let g2 = bls12_381::G2Affine::generator();
        let proof = Proof::<Bls12> {
            a: g1,
            b: g2,
            c: (g1 * Fr::from(3u64)).to_affine(),
        };
        let bytes = encode_proof(&proof);
        assert_eq!(decode_proof(&bytes).unwrap(), proof);
        assert!(matches!(
            decode_proof(&bytes[..191]),
            Err(EncodingError::WrongLength { .. })
        ));
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(matches!(
            decode_proof(&longer),
            Err(EncodingError::WrongLength { .. })
        ));
        // Identity.
        let mut id = bytes;
        id[..48].copy_from_slice(&bls12_381::G1Affine::identity().to_compressed());
        assert_eq!(decode_proof(&id), Err(EncodingError::Identity("proof.a")));
        // Not on the curve / non-canonical: flip a bit of the x coordinate.
        let mut bad = bytes;
        bad[47] ^= 1;
        bad[46] ^= 0x80;
        assert!(decode_proof(&bad).is_err());
        // Compression flag cleared: not canonical.
        let mut bad = bytes;
        bad[0] &= 0x7f;
        assert_eq!(
            decode_proof(&bad),
            Err(EncodingError::InvalidPoint("proof.a"))
        );

        let vk = VerifyingKey::<Bls12> {
            alpha_g1: g1,
            beta_g1: g1,
            beta_g2: g2,
            gamma_g2: g2,
            delta_g1: g1,
            delta_g2: g2,
            ic: vec![g1, g1],
        };
        let enc = encode_vk(&vk);
        assert_eq!(enc.len(), VK_FIXED_LEN + 96);
        assert!(decode_vk(&enc).is_ok());
        assert!(decode_vk(&enc[..enc.len() - 1]).is_err());
        let mut zero_ic = enc.clone();
        zero_ic[VK_FIXED_LEN - 4..VK_FIXED_LEN].copy_from_slice(&0u32.to_be_bytes());
        assert!(matches!(
            decode_vk(&zero_ic[..VK_FIXED_LEN]),
            Err(EncodingError::BadIcCount(0))
        ));
        let three = VerifyingKey::<Bls12> {
            ic: vec![g1, g1, g1],
            ..vk.clone()
        };
        assert!(matches!(
            CheckedVerifyingKey::new(decode_vk(&encode_vk(&three)).unwrap()),
            Err(VerifyError::WrongInputCount(2))
        ));
    }
}
