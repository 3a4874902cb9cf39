//! Verify once: a bounded memo of Groth16 verdicts.
//!
//! A submitted proof is checked in CheckTx, at every mempool recheck, in
//! PrepareProposal, in ProcessProposal and in FinalizeBlock. Its verdict is a
//! pure function of (verifying-key hash, proof bytes, public input), so
//! remembering verdicts by that triple cannot change any verdict; it only
//! saves pairings. Both outcomes are remembered: only the registered prover
//! can submit proofs (checked before verification), so nobody can flood the
//! memo with garbage to evict good entries. Eviction is first-in first-out
//! at a fixed capacity.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use bls12_381::Scalar as Fr;
use copro_circuits::field::fr_to_be_bytes;
use sha2::{Digest, Sha256};

/// Default number of remembered verdicts (many blocks' worth of proofs).
pub const DEFAULT_CAPACITY: usize = 4_096;

/// The identity of one verification: SHA-256 over a domain string, the VK
/// hash, the proof bytes and the public input.
pub fn verification_id(vk_hash: &[u8; 32], proof: &[u8], public_input: &Fr) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"copro/groth16-verdict/v1");
    h.update(vk_hash);
    h.update((proof.len() as u64).to_be_bytes());
    h.update(proof);
    h.update(fr_to_be_bytes(public_input));
    h.finalize().into()
}

/// Remembered verdicts (`true` = the proof verified).
#[derive(Debug)]
pub struct VerdictCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    verdicts: BTreeMap<[u8; 32], bool>,
    order: VecDeque<[u8; 32]>,
}

impl Default for VerdictCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl VerdictCache {
    /// A memo of at most `capacity` verdicts (0 remembers nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// The remembered verdict of `id`, if any.
    pub fn get(&self, id: &[u8; 32]) -> Option<bool> {
        self.entries().verdicts.get(id).copied()
    }

    /// Remembers the verdict of `id`.
    pub fn insert(&self, id: [u8; 32], verified: bool) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.verdicts.insert(id, verified).is_none() {
            entries.order.push_back(id);
            while entries.order.len() > self.capacity {
                if let Some(old) = entries.order.pop_front() {
                    entries.verdicts.remove(&old);
                }
            }
        }
    }

    /// Number of remembered verdicts.
    pub fn len(&self) -> usize {
        self.entries().order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the map inconsistent in a way that
        // changes a verdict: at worst an id sits in `order` but not the map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::field::fr_from_u64;

    #[test]
    fn the_id_binds_key_proof_and_input() {
        let base = verification_id(&[1; 32], b"proof", &fr_from_u64(5));
        assert_ne!(base, verification_id(&[2; 32], b"proof", &fr_from_u64(5)));
        assert_ne!(base, verification_id(&[1; 32], b"proog", &fr_from_u64(5)));
        assert_ne!(base, verification_id(&[1; 32], b"proof", &fr_from_u64(6)));
    }

    #[test]
    fn verdicts_are_remembered_both_ways_and_bounded() {
        let cache = VerdictCache::new(2);
        cache.insert([1; 32], true);
        cache.insert([2; 32], false);
        assert_eq!(cache.get(&[1; 32]), Some(true));
        assert_eq!(cache.get(&[2; 32]), Some(false));
        cache.insert([3; 32], true);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&[1; 32]), None, "the oldest is evicted");
        let off = VerdictCache::new(0);
        off.insert([1; 32], true);
        assert!(off.is_empty());
    }
}
