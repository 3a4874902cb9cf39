//! The root-history accumulator: an append-only Poseidon Merkle tree whose
//! leaf `i` is `hash2(ROOT_HISTORY, height, root)` for the `i`-th ledger root
//! the chain accepted, with the height at which it became the root.
//!
//! It is the sparse Merkle tree of `copro-circuits` (arity 2, depth 32, empty
//! leaf 0, `hash2(NODE, l, r)` inner nodes) filled from the left, so a later
//! program proves "`root` was the ledger root from `height` on" with one
//! membership path of the existing gadget against the accumulator root in
//! state. The chain keeps only the frontier (one node per level), so an
//! append costs 32 hashes and no stored path: the left siblings of the next
//! leaf are exactly the frontier, and its right siblings are all empty.

use bls12_381::Scalar as Fr;
use copro_circuits::field::{fr_from_be_bytes, fr_from_u64, fr_to_be_bytes};
use copro_circuits::poseidon::{hash2, tags};
use copro_circuits::smt::{Arity, TreeConfig, empty_roots, node_hash};
use ff::Field;

/// Depth of the accumulator (2^32 roots).
pub const DEPTH: u32 = 32;

/// The accumulator's tree shape.
pub fn config() -> TreeConfig {
    TreeConfig {
        arity: Arity::Two,
        depth: DEPTH,
    }
}

/// Roots of the empty subtrees of the accumulator, level 0 to [`DEPTH`]:
/// computed once per process (32 hashes that every append would otherwise
/// pay again, half of its cost).
fn empty() -> &'static [Fr] {
    static EMPTY: std::sync::OnceLock<Vec<Fr>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| empty_roots(config()))
}

/// Leaf of the root that became the ledger root at `height`.
pub fn leaf(height: u64, root: Fr) -> Fr {
    hash2(tags::ROOT_HISTORY, fr_from_u64(height), root)
}

/// The accumulator as the chain stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootHistory {
    /// Number of leaves appended.
    len: u64,
    /// `frontier[l]`: the last left child seen at level `l` (the sibling the
    /// next leaf needs there when its bit `l` is 1).
    frontier: Vec<Fr>,
    /// Root of the tree.
    root: Fr,
}

/// The accumulator cannot take another leaf, or its stored bytes are not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// 2^32 roots recorded.
    #[error("the root history is full")]
    Full,
    /// Stored bytes of the wrong length or with a non-canonical element.
    #[error("corrupt root-history encoding")]
    Corrupt,
}

impl Default for RootHistory {
    fn default() -> Self {
        Self::new()
    }
}

impl RootHistory {
    /// The empty accumulator.
    pub fn new() -> Self {
        Self {
            len: 0,
            frontier: vec![Fr::ZERO; DEPTH as usize],
            root: empty()[DEPTH as usize],
        }
    }

    /// Leaves appended so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The accumulator root.
    pub fn root(&self) -> Fr {
        self.root
    }

    /// Appends `leaf` at index `len` and returns its index.
    pub fn append(&mut self, leaf: Fr) -> Result<u64, HistoryError> {
        let index = self.len;
        if index >= config().capacity() {
            return Err(HistoryError::Full);
        }
        let empty = empty();
        let mut node = leaf;
        for level in 0..DEPTH {
            let l = level as usize;
            node = if (index >> level) & 1 == 0 {
                self.frontier[l] = node;
                node_hash(Arity::Two, &[node, empty[l]])
            } else {
                node_hash(Arity::Two, &[self.frontier[l], node])
            };
        }
        self.root = node;
        self.len = index + 1;
        Ok(index)
    }

    /// `len (8 bytes BE) || root || frontier[0..DEPTH]` (32 bytes each).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * (1 + DEPTH as usize));
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&fr_to_be_bytes(&self.root));
        for node in &self.frontier {
            out.extend_from_slice(&fr_to_be_bytes(node));
        }
        out
    }

    /// Inverse of [`Self::to_bytes`]; refuses any other bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HistoryError> {
        if bytes.len() != 8 + 32 * (1 + DEPTH as usize) {
            return Err(HistoryError::Corrupt);
        }
        let (len, rest) = bytes.split_at(8);
        let len = u64::from_be_bytes(len.try_into().map_err(|_| HistoryError::Corrupt)?);
        let mut elements = rest.chunks_exact(32).map(|c| {
            c.try_into()
                .ok()
                .and_then(|b: [u8; 32]| fr_from_be_bytes(&b))
                .ok_or(HistoryError::Corrupt)
        });
        let root = elements.next().ok_or(HistoryError::Corrupt)??;
        let frontier = elements.collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            len,
            frontier,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::smt::{MemoryStore, SparseMerkleTree};

    #[test]
    fn appends_match_the_sparse_tree_and_paths_prove_membership() {
        let mut history = RootHistory::new();
        let mut tree = SparseMerkleTree::new(config(), MemoryStore::default());
        assert_eq!(history.root(), tree.root().unwrap());
        let leaves: Vec<Fr> = (0..37u64)
            .map(|i| leaf(10 + i, fr_from_u64(1000 + i)))
            .collect();
        for (i, l) in leaves.iter().enumerate() {
            assert_eq!(history.append(*l).unwrap(), i as u64);
            tree.update(i as u64, *l).unwrap();
            assert_eq!(
                history.root(),
                tree.root().unwrap(),
                "after {} leaves",
                i + 1
            );
        }
        // One path proves that a root was recorded, and only that root.
        let path = tree.path(17).unwrap();
        assert!(path.verify_membership(config(), history.root(), leaves[17]));
        assert!(!path.verify_membership(config(), history.root(), leaf(28, fr_from_u64(1017))));
        assert!(!path.verify_membership(config(), history.root(), leaf(27, fr_from_u64(1018))));
    }

    #[test]
    fn the_stored_form_round_trips_and_refuses_other_bytes() {
        let mut history = RootHistory::new();
        for i in 0..5 {
            history.append(leaf(i, fr_from_u64(i))).unwrap();
        }
        let bytes = history.to_bytes();
        assert_eq!(RootHistory::from_bytes(&bytes).unwrap(), history);
        assert_eq!(
            RootHistory::from_bytes(&bytes[1..]),
            Err(HistoryError::Corrupt)
        );
        let mut bad = bytes.clone();
        bad[8..40].copy_from_slice(&[0xff; 32]); // root >= p
        assert_eq!(RootHistory::from_bytes(&bad), Err(HistoryError::Corrupt));
    }

    #[test]
    fn leaves_bind_height_and_root() {
        let r = fr_from_u64(7);
        assert_ne!(leaf(1, r), leaf(2, r));
        assert_ne!(leaf(1, r), leaf(1, fr_from_u64(8)));
    }
}
