//! Poseidon sparse Merkle tree with a configurable arity (2 or 4) and depth.
//!
//! * Inner node: `hash2(NODE, l, r)` (arity 2, t = 3) or
//!   `hash4(NODE, [c0, c1, c2, c3])` (arity 4, t = 5).
//! * Empty leaf: `0`; `empty[l]` is the root of an empty subtree of height `l`
//!   (`empty[0] = 0`, `empty[l+1] = node(empty[l], .., empty[l])`), precomputed.
//! * Leaf index `i < arity^depth`; the child position at level `l` (0 = just
//!   above the leaves) is digit `l` of `i` in base `arity`, least significant
//!   digit first.
//!
//! Nodes live behind [`NodeStore`], so a disk-backed store can replace the
//! in-memory [`MemoryStore`]; a node that is not stored is the empty subtree of
//! its height.

pub mod gadget;

use std::collections::BTreeMap;

use ff::Field;

use crate::field::Fr;
use crate::poseidon::{hash2, hash4, tags};

/// Children per inner node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arity {
    /// Binary tree, nodes hashed with Poseidon t = 3.
    Two,
    /// Quaternary tree, nodes hashed with Poseidon t = 5.
    Four,
}

impl Arity {
    /// Number of children.
    pub const fn children(self) -> usize {
        match self {
            Arity::Two => 2,
            Arity::Four => 4,
        }
    }

    /// Index bits consumed per level.
    pub const fn bits(self) -> u32 {
        match self {
            Arity::Two => 1,
            Arity::Four => 2,
        }
    }
}

/// Shape of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TreeConfig {
    /// Children per node.
    pub arity: Arity,
    /// Number of levels of inner nodes.
    pub depth: u32,
}

impl TreeConfig {
    /// Production shape: arity 4, depth 16 (2^32 leaves).
    pub const PRODUCTION: TreeConfig = TreeConfig {
        arity: Arity::Four,
        depth: 16,
    };

    /// A tree shape; `None` unless `1 <= depth` and `arity^depth <= 2^32`.
    pub fn new(arity: Arity, depth: u32) -> Option<TreeConfig> {
        let bits = arity.bits().checked_mul(depth)?;
        if depth == 0 || bits > 32 {
            return None;
        }
        Some(TreeConfig { arity, depth })
    }

    /// Total index bits (`depth * log2(arity)`).
    pub fn index_bits(&self) -> u32 {
        self.arity.bits() * self.depth
    }

    /// Number of leaves (`arity^depth`).
    pub fn capacity(&self) -> u64 {
        1u64 << self.index_bits()
    }

    /// Child position of `index` at `level`.
    pub fn position(&self, index: u64, level: u32) -> usize {
        let shift = level * self.arity.bits();
        ((index >> shift) as usize) & (self.arity.children() - 1)
    }
}

/// Hash of an inner node from its children (`children.len()` = arity).
pub fn node_hash(arity: Arity, children: &[Fr]) -> Fr {
    match arity {
        Arity::Two => hash2(tags::NODE, children[0], children[1]),
        Arity::Four => hash4(
            tags::NODE,
            [children[0], children[1], children[2], children[3]],
        ),
    }
}

/// Roots of empty subtrees of height `0..=depth`.
pub fn empty_roots(config: TreeConfig) -> Vec<Fr> {
    let mut out = Vec::with_capacity(config.depth as usize + 1);
    let mut cur = Fr::ZERO;
    out.push(cur);
    for _ in 0..config.depth {
        cur = node_hash(config.arity, &vec![cur; config.arity.children()]);
        out.push(cur);
    }
    out
}

/// Errors of the tree and its storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtError {
    /// The leaf index does not fit the tree.
    #[error("leaf index {index} is outside the tree (capacity {capacity})")]
    IndexOutOfRange {
        /// The offending index.
        index: u64,
        /// Number of leaves.
        capacity: u64,
    },
    /// The backing store failed.
    #[error("node store failure: {0}")]
    Store(String),
}

/// Storage of tree nodes by `(level, index at that level)`; level 0 = leaves.
pub trait NodeStore {
    /// The stored node, or `None` if it is an empty subtree.
    fn get(&self, level: u32, index: u64) -> Result<Option<Fr>, SmtError>;
    /// Stores a node.
    fn put(&mut self, level: u32, index: u64, value: Fr) -> Result<(), SmtError>;
}

/// In-memory [`NodeStore`] (ordered map, deterministic).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    nodes: BTreeMap<(u32, u64), Fr>,
}

impl NodeStore for MemoryStore {
    fn get(&self, level: u32, index: u64) -> Result<Option<Fr>, SmtError> {
        Ok(self.nodes.get(&(level, index)).copied())
    }

    fn put(&mut self, level: u32, index: u64, value: Fr) -> Result<(), SmtError> {
        self.nodes.insert((level, index), value);
        Ok(())
    }
}

/// Authentication path of one leaf: for each level, bottom-up, the `arity - 1`
/// siblings in left-to-right order (the path node's own slot omitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerklePath {
    /// Leaf index.
    pub index: u64,
    /// Siblings per level, bottom-up.
    pub siblings: Vec<Vec<Fr>>,
}

impl MerklePath {
    /// The root obtained by hashing `leaf` up this path; `None` if the path
    /// does not have the shape of `config`.
    pub fn root(&self, config: TreeConfig, leaf: Fr) -> Option<Fr> {
        if !self.well_formed(config) {
            return None;
        }
        let mut cur = leaf;
        for (level, sibs) in self.siblings.iter().enumerate() {
            let pos = config.position(self.index, level as u32);
            let mut children = Vec::with_capacity(config.arity.children());
            children.extend_from_slice(&sibs[..pos]);
            children.push(cur);
            children.extend_from_slice(&sibs[pos..]);
            cur = node_hash(config.arity, &children);
        }
        Some(cur)
    }

    /// Whether this path has the shape of `config` and `index` fits it.
    pub fn well_formed(&self, config: TreeConfig) -> bool {
        self.index < config.capacity()
            && self.siblings.len() == config.depth as usize
            && self
                .siblings
                .iter()
                .all(|s| s.len() == config.arity.children() - 1)
    }

    /// Membership: `leaf` sits at `self.index` under `root`.
    pub fn verify_membership(&self, config: TreeConfig, root: Fr, leaf: Fr) -> bool {
        self.root(config, leaf) == Some(root)
    }

    /// Non-membership: the slot at `self.index` is empty under `root`.
    pub fn verify_non_membership(&self, config: TreeConfig, root: Fr) -> bool {
        self.verify_membership(config, root, Fr::ZERO)
    }
}

/// A sparse Merkle tree over a [`NodeStore`].
#[derive(Debug, Clone)]
pub struct SparseMerkleTree<S: NodeStore> {
    config: TreeConfig,
    empty: Vec<Fr>,
    store: S,
}

impl<S: NodeStore> SparseMerkleTree<S> {
    /// A tree of shape `config` over `store` (which may already hold nodes).
    pub fn new(config: TreeConfig, store: S) -> Self {
        SparseMerkleTree {
            config,
            empty: empty_roots(config),
            store,
        }
    }

    /// The tree shape.
    pub fn config(&self) -> TreeConfig {
        self.config
    }

    /// Roots of empty subtrees by height.
    pub fn empty_roots(&self) -> &[Fr] {
        &self.empty
    }

    fn node(&self, level: u32, index: u64) -> Result<Fr, SmtError> {
        Ok(self
            .store
            .get(level, index)?
            .unwrap_or(self.empty[level as usize]))
    }

    fn check(&self, index: u64) -> Result<(), SmtError> {
        if index >= self.config.capacity() {
            return Err(SmtError::IndexOutOfRange {
                index,
                capacity: self.config.capacity(),
            });
        }
        Ok(())
    }

    /// The current root.
    pub fn root(&self) -> Result<Fr, SmtError> {
        self.node(self.config.depth, 0)
    }

    /// The leaf at `index` (`0` if empty).
    pub fn get(&self, index: u64) -> Result<Fr, SmtError> {
        self.check(index)?;
        self.node(0, index)
    }

    /// The authentication path of `index`; with [`get`](Self::get) it is a
    /// membership proof, and with an empty leaf a non-membership proof.
    pub fn path(&self, index: u64) -> Result<MerklePath, SmtError> {
        self.check(index)?;
        let k = self.config.arity.children() as u64;
        let mut siblings = Vec::with_capacity(self.config.depth as usize);
        let mut node_index = index;
        for level in 0..self.config.depth {
            let first = node_index - node_index % k;
            let mut sibs = Vec::with_capacity(k as usize - 1);
            for child in first..first + k {
                if child != node_index {
                    sibs.push(self.node(level, child)?);
                }
            }
            siblings.push(sibs);
            node_index /= k;
        }
        Ok(MerklePath { index, siblings })
    }

    /// Writes `leaf` at `index` and returns the new root.
    pub fn update(&mut self, index: u64, leaf: Fr) -> Result<Fr, SmtError> {
        self.check(index)?;
        let k = self.config.arity.children() as u64;
        let mut cur = leaf;
        let mut node_index = index;
        self.store.put(0, index, cur)?;
        for level in 0..self.config.depth {
            let first = node_index - node_index % k;
            let mut children = Vec::with_capacity(k as usize);
            for child in first..first + k {
                if child == node_index {
                    children.push(cur);
                } else {
                    children.push(self.node(level, child)?);
                }
            }
            cur = node_hash(self.config.arity, &children);
            node_index /= k;
            self.store.put(level + 1, node_index, cur)?;
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(arity: Arity, depth: u32) -> SparseMerkleTree<MemoryStore> {
        SparseMerkleTree::new(
            TreeConfig::new(arity, depth).unwrap(),
            MemoryStore::default(),
        )
    }

    #[test]
    fn membership_and_non_membership_proofs() {
        for (arity, depth) in [(Arity::Two, 4), (Arity::Four, 3)] {
            let mut t = small(arity, depth);
            let cfg = t.config();
            let empty_root = t.root().unwrap();
            assert_eq!(empty_root, empty_roots(cfg)[depth as usize]);
            let r1 = t.update(5, Fr::from(11u64)).unwrap();
            let r2 = t.update(cfg.capacity() - 1, Fr::from(12u64)).unwrap();
            assert_ne!(r1, r2);
            assert_eq!(t.root().unwrap(), r2);
            let p = t.path(5).unwrap();
            assert!(p.verify_membership(cfg, r2, Fr::from(11u64)));
            assert!(!p.verify_membership(cfg, r2, Fr::from(13u64)));
            let q = t.path(6).unwrap();
            assert!(q.verify_non_membership(cfg, r2));
            assert!(!p.verify_non_membership(cfg, r2));
            assert!(t.get(cfg.capacity()).is_err());
        }
    }

    #[test]
    fn production_shape_is_two_to_the_32() {
        assert_eq!(TreeConfig::PRODUCTION.capacity(), 1u64 << 32);
        assert!(TreeConfig::new(Arity::Two, 33).is_none());
        assert_eq!(
            TreeConfig::new(Arity::Two, 32).unwrap().capacity(),
            1u64 << 32
        );
    }
}
