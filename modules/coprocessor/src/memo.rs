//! Work done once per node: bounded memos of pure functions.
//!
//! A submitted proof is checked in CheckTx, at every mempool recheck, in
//! PrepareProposal, in ProcessProposal and in FinalizeBlock. What those runs
//! compute from it is a pure function of bytes they all see:
//!
//! - the Groth16 **verdict**, of (verifying-key hash, proof bytes, public
//!   input): [`verification_id`];
//! - the Poseidon **sponges** of its deltas commitment and public input, of
//!   their input elements: [`Hashes::sponge`], [`Hashes::public_input`];
//! - the **root-history append**, of (the history before, the new leaf):
//!   [`Hashes::append`].
//!
//! Remembering each by a SHA-256 of its whole input cannot change any
//! result (a different input has a different key), so every run after the
//! first costs lookups instead of pairings and permutations. Both verdicts
//! are remembered: only the registered prover can submit proofs (checked
//! before any of this), so nobody can flood a memo with garbage to evict
//! good entries. Eviction is first-in first-out at a fixed capacity.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use bls12_381::Scalar as Fr;
use copro_circuits::field::fr_to_be_bytes;
use copro_circuits::poseidon;
use copro_circuits::public_input::PublicInputs;
use sha2::{Digest, Sha256};

use crate::history::{HistoryError, RootHistory};

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

/// A bounded memo: values by 32-byte key, first in first out.
#[derive(Debug)]
pub struct Memo<V> {
    capacity: usize,
    inner: Mutex<Entries<V>>,
}

#[derive(Debug)]
struct Entries<V> {
    values: BTreeMap<[u8; 32], V>,
    order: VecDeque<[u8; 32]>,
}

/// Remembered Groth16 verdicts (`true` = the proof verified).
pub type VerdictCache = Memo<bool>;

impl<V: Clone> Default for Memo<V> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl<V: Clone> Memo<V> {
    /// A memo of at most `capacity` values (0 remembers nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries {
                values: BTreeMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// The remembered value of `id`, if any.
    pub fn get(&self, id: &[u8; 32]) -> Option<V> {
        self.entries().values.get(id).cloned()
    }

    /// Remembers `value` for `id`.
    pub fn insert(&self, id: [u8; 32], value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.values.insert(id, value).is_none() {
            entries.order.push_back(id);
            while entries.order.len() > self.capacity {
                if let Some(old) = entries.order.pop_front() {
                    entries.values.remove(&old);
                }
            }
        }
    }

    /// The value of `id`: remembered, or computed by `f` and remembered.
    /// `f` runs without the lock held.
    pub fn get_or_insert_with(&self, id: [u8; 32], f: impl FnOnce() -> V) -> V {
        if let Some(v) = self.get(&id) {
            return v;
        }
        let v = f();
        self.insert(id, v.clone());
        v
    }

    /// Number of remembered values.
    pub fn len(&self) -> usize {
        self.entries().order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        // A panic elsewhere cannot leave the map inconsistent in a way that
        // changes a value: at worst an id sits in `order` but not the map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Remembered root histories after an append: few per block.
const HISTORY_CAPACITY: usize = 64;

/// The memoized Poseidon work of submissions: sponges, public inputs and
/// root-history appends (see the module docs).
#[derive(Debug)]
pub struct Hashes {
    sponges: Memo<Fr>,
    histories: Memo<RootHistory>,
}

impl Default for Hashes {
    fn default() -> Self {
        Self {
            sponges: Memo::new(DEFAULT_CAPACITY),
            histories: Memo::new(HISTORY_CAPACITY),
        }
    }
}

impl Hashes {
    /// Memos that remember nothing: every call computes (tests, benches,
    /// one-off checks).
    pub fn none() -> Self {
        Self {
            sponges: Memo::new(0),
            histories: Memo::new(0),
        }
    }

    /// `poseidon::sponge(tag, elements)`.
    pub fn sponge(&self, tag: u64, elements: &[Fr]) -> Fr {
        let mut h = Sha256::new();
        h.update(b"copro/sponge/v1");
        h.update(tag.to_be_bytes());
        h.update((elements.len() as u64).to_be_bytes());
        for x in elements {
            h.update(fr_to_be_bytes(x));
        }
        self.sponges
            .get_or_insert_with(h.finalize().into(), || poseidon::sponge(tag, elements))
    }

    /// `inputs.commitment()`.
    pub fn public_input(&self, inputs: &PublicInputs) -> Fr {
        let mut h = Sha256::new();
        h.update(b"copro/public-input/v1");
        h.update((inputs.chain_id.len() as u64).to_be_bytes());
        h.update(&inputs.chain_id);
        h.update((inputs.program_id.len() as u64).to_be_bytes());
        h.update(inputs.program_id.as_bytes());
        h.update(inputs.program_version.to_be_bytes());
        for x in [
            inputs.old_root,
            inputs.new_root,
            inputs.queue_before,
            inputs.queue_after,
            inputs.deltas_commitment,
        ] {
            h.update(fr_to_be_bytes(&x));
        }
        self.sponges
            .get_or_insert_with(h.finalize().into(), || inputs.commitment())
    }

    /// `history` after appending `leaf`, and the leaf's index.
    pub fn append(
        &self,
        history: &RootHistory,
        leaf: Fr,
    ) -> Result<(RootHistory, u64), HistoryError> {
        let mut h = Sha256::new();
        h.update(b"copro/root-history-append/v1");
        h.update(history.to_bytes());
        h.update(fr_to_be_bytes(&leaf));
        let id = h.finalize().into();
        if let Some(after) = self.histories.get(&id) {
            return Ok((after, history.len()));
        }
        let mut after = history.clone();
        let index = after.append(leaf)?;
        self.histories.insert(id, after.clone());
        Ok((after, index))
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
    fn memoized_hashes_are_the_hashes() {
        let memo = Hashes::default();
        let xs: Vec<Fr> = (1..=9).map(fr_from_u64).collect();
        for _ in 0..2 {
            assert_eq!(memo.sponge(4, &xs), poseidon::sponge(4, &xs));
            assert_eq!(memo.sponge(5, &xs), poseidon::sponge(5, &xs));
            assert_eq!(memo.sponge(4, &xs[..8]), poseidon::sponge(4, &xs[..8]));
        }
        let mut inputs = PublicInputs {
            chain_id: b"a".to_vec(),
            program_id: "transfer".into(),
            program_version: 2,
            old_root: xs[0],
            new_root: xs[1],
            queue_before: xs[2],
            queue_after: xs[3],
            deltas_commitment: xs[4],
        };
        for _ in 0..2 {
            assert_eq!(memo.public_input(&inputs), inputs.commitment());
        }
        inputs.chain_id = b"b".to_vec();
        assert_eq!(memo.public_input(&inputs), inputs.commitment());
        inputs.deltas_commitment = xs[5];
        assert_eq!(memo.public_input(&inputs), inputs.commitment());

        let mut history = RootHistory::new();
        for leaf in &xs[..3] {
            let mut expected = history.clone();
            let index = expected.append(*leaf).unwrap();
            // Twice: computed, then remembered; same answer.
            for _ in 0..2 {
                let (after, at) = memo.append(&history, *leaf).unwrap();
                assert_eq!((after, at), (expected.clone(), index));
            }
            history = expected;
        }
        let off = Hashes::none();
        assert_eq!(off.sponge(4, &xs), poseidon::sponge(4, &xs));
        assert!(off.sponges.is_empty() && off.histories.is_empty());
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
