//! A bounded cache of secp256k1 signatures that verified.
//!
//! One transaction's signature is checked in CheckTx, again at every recheck
//! while it waits in the mempool, in PrepareProposal on the proposer and in
//! ProcessProposal on every validator. Whether a signature verifies is a pure
//! function of (public key, signed bytes, signature), so remembering the
//! triples that verified cannot change any verdict: a hit answers exactly
//! what verification would answer. It only saves the repeated work.
//!
//! Only successes are remembered: a failure is rejected again cheaply enough,
//! and caching failures would let a flood of garbage evict good entries.
//! Eviction is first-in first-out at a fixed capacity, so memory is bounded
//! (about 100 bytes an entry).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// Default number of remembered signatures (a few full blocks' worth).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Remembers (key, message, signature) triples that verified.
#[derive(Debug)]
pub struct SignatureCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    known: BTreeSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Default for SignatureCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl SignatureCache {
    /// A cache holding at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// Whether `signature` by `key` over `message` verifies; answered from the
    /// cache when this exact triple verified before.
    pub fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
        let id = triple_id(key, message, signature);
        if self.entries().known.contains(&id) {
            return true;
        }
        let ok = key.verify(message, signature).is_ok();
        if ok && self.capacity > 0 {
            let mut entries = self.entries();
            if entries.known.insert(id) {
                entries.order.push_back(id);
                while entries.order.len() > self.capacity {
                    if let Some(old) = entries.order.pop_front() {
                        entries.known.remove(&old);
                    }
                }
            }
        }
        ok
    }

    /// Number of remembered signatures.
    pub fn len(&self) -> usize {
        self.entries().order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the sets half-updated in a way that
        // matters: at worst an id is in `order` but not `known`.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Collision-resistant name of a triple; the lengths are fixed (33-byte
/// compressed key, 64-byte signature), so plain concatenation is unambiguous.
fn triple_id(key: &VerifyingKey, message: &[u8], signature: &Signature) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"copro/sigcache/v1");
    h.update(key.to_encoded_point(true).as_bytes());
    h.update(signature.to_bytes());
    h.update(message);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;
    use k256::ecdsa::signature::Signer;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32].into()).unwrap()
    }

    #[test]
    fn a_good_signature_verifies_and_is_remembered() {
        let cache = SignatureCache::new(8);
        let sk = key(1);
        let sig: Signature = sk.sign(b"hello");
        assert!(cache.verify(sk.verifying_key(), b"hello", &sig));
        assert_eq!(cache.len(), 1);
        assert!(cache.verify(sk.verifying_key(), b"hello", &sig));
        assert_eq!(cache.len(), 1, "a hit adds nothing");
    }

    #[test]
    fn a_remembered_signature_does_not_cover_another_message_or_key() {
        let cache = SignatureCache::new(8);
        let sk = key(1);
        let sig: Signature = sk.sign(b"hello");
        assert!(cache.verify(sk.verifying_key(), b"hello", &sig));
        assert!(!cache.verify(sk.verifying_key(), b"hellO", &sig));
        assert!(!cache.verify(key(2).verifying_key(), b"hello", &sig));
        assert_eq!(cache.len(), 1, "failures are not remembered");
    }

    #[test]
    fn capacity_bounds_the_cache_and_evicts_the_oldest() {
        let cache = SignatureCache::new(2);
        let sk = key(3);
        let msgs: [&[u8]; 3] = [b"a", b"b", b"c"];
        let sigs: Vec<Signature> = msgs.iter().map(|m| sk.sign(m)).collect();
        for (m, s) in msgs.iter().zip(&sigs) {
            assert!(cache.verify(sk.verifying_key(), m, s));
        }
        assert_eq!(cache.len(), 2);
        let entries = cache.entries();
        assert!(
            !entries
                .known
                .contains(&triple_id(sk.verifying_key(), b"a", &sigs[0]))
        );
        assert!(
            entries
                .known
                .contains(&triple_id(sk.verifying_key(), b"c", &sigs[2]))
        );
    }

    #[test]
    fn a_disabled_cache_still_verifies() {
        let cache = SignatureCache::new(0);
        let sk = key(4);
        let sig: Signature = sk.sign(b"x");
        assert!(cache.verify(sk.verifying_key(), b"x", &sig));
        assert!(!cache.verify(sk.verifying_key(), b"y", &sig));
        assert!(cache.is_empty());
    }
}
