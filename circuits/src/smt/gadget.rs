//! In-circuit Merkle paths: membership (one leaf) and update (old and new leaf
//! over the same path, sharing the index bits and sibling-only selection terms).
//!
//! Per level and per hashed leaf: arity 2 costs 240 + 1 constraints, arity 4
//! costs 297 + 3 (the capacity lane holds the constant tag, so its first S-box
//! is free); arity 4 adds 2 shared constraints per level.

use bellman::{ConstraintSystem, SynthesisError};

use super::{Arity, TreeConfig};
use crate::field::Fr;
use crate::gadgets::{Lin, mul, to_bits};
use crate::poseidon::{gadget as pg, tags};

/// Allocated siblings of one path (per level, bottom-up, `arity - 1` each).
pub type PathVars = Vec<Vec<Lin>>;

/// Allocates the siblings of a path; `siblings` is `None` during key generation.
pub fn alloc_path<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    config: TreeConfig,
    siblings: Option<&[Vec<Fr>]>,
) -> Result<PathVars, SynthesisError> {
    let k = config.arity.children() - 1;
    let mut out = Vec::with_capacity(config.depth as usize);
    for level in 0..config.depth as usize {
        let mut row = Vec::with_capacity(k);
        for j in 0..k {
            let v = siblings.and_then(|s| s.get(level).and_then(|r| r.get(j)).copied());
            row.push(Lin::alloc(cs, &format!("sibling {level}.{j}"), v)?);
        }
        out.push(row);
    }
    Ok(out)
}

/// Decomposes a leaf index into `config.index_bits()` bits, proving it fits.
pub fn index_bits<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    config: TreeConfig,
    index: &Lin,
) -> Result<Vec<Lin>, SynthesisError> {
    to_bits(cs, "index", index, config.index_bits() as usize)
}

/// Roots obtained by hashing each of `leaves` up the same path.
pub fn roots<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    config: TreeConfig,
    leaves: &[&Lin],
    bits: &[Lin],
    siblings: &PathVars,
) -> Result<Vec<Lin>, SynthesisError> {
    let mut cur: Vec<Lin> = leaves.iter().map(|l| (*l).clone()).collect();
    for (level, sibs) in siblings.iter().enumerate() {
        let mut cs = cs.namespace(|| format!("level {level}"));
        match config.arity {
            Arity::Two => {
                let b = &bits[level];
                let s = &sibs[0];
                for (n, c) in cur.iter_mut().enumerate() {
                    // left = b ? s : c ; right = c + s - left.
                    let left = c.add(&mul(&mut cs, &format!("left {n}"), b, &s.sub(c))?);
                    let right = c.add(s).sub(&left);
                    *c = pg::hash2(
                        &mut cs.namespace(|| format!("hash {n}")),
                        tags::NODE,
                        &left,
                        &right,
                    )?;
                }
            }
            Arity::Four => {
                let b0 = &bits[2 * level];
                let b1 = &bits[2 * level + 1];
                let (s0, s1, s2) = (&sibs[0], &sibs[1], &sibs[2]);
                let b01 = mul(&mut cs, "b0*b1", b0, b1)?;
                // Position indicators: e0 = (1-b0)(1-b1), e1 = b0(1-b1), e3 = b0 b1.
                let e0 = Lin::one().sub(b0).sub(b1).add(&b01);
                let e1 = b0.sub(&b01);
                let e3 = b01;
                let shared = mul(&mut cs, "e0*(s0-s1)", &e0, &s0.sub(s1))?;
                for (n, c) in cur.iter_mut().enumerate() {
                    let l0 = s0.add(&mul(&mut cs, &format!("lane0 {n}"), &e0, &c.sub(s0))?);
                    let l1 =
                        s1.add(&shared)
                            .add(&mul(&mut cs, &format!("lane1 {n}"), &e1, &c.sub(s1))?);
                    let l3 = s2.add(&mul(&mut cs, &format!("lane3 {n}"), &e3, &c.sub(s2))?);
                    // The lanes are a permutation of (c, s0, s1, s2): lane 2 is free.
                    let l2 = c.add(s0).add(s1).add(s2).sub(&l0).sub(&l1).sub(&l3);
                    *c = pg::hash4(
                        &mut cs.namespace(|| format!("hash {n}")),
                        tags::NODE,
                        [&l0, &l1, &l2, &l3],
                    )?;
                }
            }
        }
    }
    Ok(cur)
}

/// Enforces that `leaf` sits at the index given by `bits` under `root`.
pub fn enforce_membership<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    config: TreeConfig,
    leaf: &Lin,
    bits: &[Lin],
    siblings: &PathVars,
    root: &Lin,
) -> Result<(), SynthesisError> {
    let r = roots(cs, config, &[leaf], bits, siblings)?;
    crate::gadgets::enforce_equal(cs, "root matches", &r[0], root);
    Ok(())
}

/// Enforces that `old_leaf` sits at the index under `old_root` and returns the
/// root after replacing it by `new_leaf`.
pub fn update<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    config: TreeConfig,
    old_leaf: &Lin,
    new_leaf: &Lin,
    bits: &[Lin],
    siblings: &PathVars,
    old_root: &Lin,
) -> Result<Lin, SynthesisError> {
    let r = roots(cs, config, &[old_leaf, new_leaf], bits, siblings)?;
    crate::gadgets::enforce_equal(cs, "old root matches", &r[0], old_root);
    Ok(r[1].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smt::{MemoryStore, SparseMerkleTree};
    use bellman::gadgets::test::TestConstraintSystem;
    use ff::Field;

    fn setup(arity: Arity, depth: u32) -> SparseMerkleTree<MemoryStore> {
        let cfg = TreeConfig::new(arity, depth).unwrap();
        let mut t = SparseMerkleTree::new(cfg, MemoryStore::default());
        for i in 0..cfg.capacity().min(20) {
            t.update(i * 3 % cfg.capacity(), Fr::from(100 + i)).unwrap();
        }
        t
    }

    #[test]
    fn membership_gadget_accepts_members_and_rejects_others() {
        for (arity, depth) in [(Arity::Two, 4), (Arity::Four, 3)] {
            let t = setup(arity, depth);
            let cfg = t.config();
            let root = t.root().unwrap();
            for (index, claimed) in [(3u64, None), (4, None), (3, Some(Fr::from(5u64)))] {
                let leaf = claimed.unwrap_or_else(|| t.get(index).unwrap());
                let path = t.path(index).unwrap();
                let mut cs = TestConstraintSystem::<Fr>::new();
                let idx = Lin::alloc(&mut cs, "idx", Some(Fr::from(index))).unwrap();
                let bits = index_bits(&mut cs, cfg, &idx).unwrap();
                let s = alloc_path(&mut cs, cfg, Some(&path.siblings)).unwrap();
                let l = Lin::alloc(&mut cs, "leaf", Some(leaf)).unwrap();
                let r = Lin::alloc(&mut cs, "root", Some(root)).unwrap();
                enforce_membership(&mut cs, cfg, &l, &bits, &s, &r).unwrap();
                assert_eq!(cs.is_satisfied(), claimed.is_none(), "index {index}");
            }
        }
    }

    #[test]
    fn update_gadget_matches_native_and_rejects_wrong_sibling() {
        for (arity, depth) in [(Arity::Two, 4), (Arity::Four, 3)] {
            for index in [0u64, 5, 13] {
                let mut t = setup(arity, depth);
                let cfg = t.config();
                let old_root = t.root().unwrap();
                let old_leaf = t.get(index).unwrap();
                let path = t.path(index).unwrap();
                let new_leaf = Fr::from(999u64);
                let new_root = t.update(index, new_leaf).unwrap();

                let build = |tamper: bool| {
                    let mut cs = TestConstraintSystem::<Fr>::new();
                    let mut sibs = path.siblings.clone();
                    if tamper {
                        sibs[1][0] += Fr::ONE;
                    }
                    let idx = Lin::alloc(&mut cs, "idx", Some(Fr::from(index))).unwrap();
                    let bits = index_bits(&mut cs, cfg, &idx).unwrap();
                    let s = alloc_path(&mut cs, cfg, Some(&sibs)).unwrap();
                    let ol = Lin::alloc(&mut cs, "old", Some(old_leaf)).unwrap();
                    let nl = Lin::alloc(&mut cs, "new", Some(new_leaf)).unwrap();
                    let or = Lin::alloc(&mut cs, "old root", Some(old_root)).unwrap();
                    let nr = update(&mut cs, cfg, &ol, &nl, &bits, &s, &or).unwrap();
                    (cs, nr.value())
                };
                let (cs, nr) = build(false);
                assert!(cs.is_satisfied(), "{:?}", cs.which_is_unsatisfied());
                assert_eq!(nr, Some(new_root));
                let (cs, _) = build(true);
                assert_eq!(cs.which_is_unsatisfied(), Some("old root matches"));
            }
        }
    }
}
