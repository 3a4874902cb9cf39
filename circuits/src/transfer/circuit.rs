//! The `transfer` circuit. See `docs/circuits.md` for the constraint families.

use bellman::{Circuit, ConstraintSystem, SynthesisError};

use super::{EntryWitness, PROGRAM_ID, SlotWitness, TransferParams, TransferWitness};
use crate::field::{Fr, fr_pow2};
use crate::gadgets::{
    Lin, add_fits_u64, alloc_bit, enforce_mul, ge_u64, is_equal, is_zero, mul, not, select, to_bits,
};
use crate::poseidon::{self, gadget as pg, tags};
use crate::public_input::{PublicInputVars, enforce_public_input};
use crate::smt::gadget as smt;

/// The `transfer` circuit for one batch shape; `witness` is `None` for key
/// generation.
#[derive(Debug, Clone)]
pub struct TransferCircuit {
    /// Shape.
    pub params: TransferParams,
    /// Private witness.
    pub witness: Option<TransferWitness>,
}

impl TransferCircuit {
    fn check_shape(&self) -> Result<(), SynthesisError> {
        let Some(w) = &self.witness else {
            return Ok(());
        };
        let depth = self.params.tree.depth as usize;
        let k = self.params.tree.arity.children() - 1;
        let path_ok =
            |s: &SlotWitness| s.siblings.len() == depth && s.siblings.iter().all(|r| r.len() == k);
        if w.entries.len() != self.params.batch_size
            || !w.entries.iter().all(|e| path_ok(&e.from) && path_ok(&e.to))
        {
            return Err(SynthesisError::Unsatisfiable);
        }
        Ok(())
    }
}

/// In-circuit values of one account slot.
struct Slot {
    key: Lin,
    balance: Lin,
    nonce: Lin,
    empty: Lin,
    old_leaf: Lin,
}

fn leaf_hash<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    key: &Lin,
    balance: &Lin,
    nonce: &Lin,
) -> Result<Lin, SynthesisError> {
    pg::hash4(cs, tags::LEAF, [key, balance, nonce, &Lin::zero()])
}

/// Allocates a slot's stored account and its old leaf
/// (`0` if the key is 0, which forces balance and nonce to 0).
fn alloc_slot<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    w: Option<&SlotWitness>,
) -> Result<Slot, SynthesisError> {
    let key = Lin::alloc(cs, "stored key", w.map(|s| s.key))?;
    let balance = Lin::alloc(cs, "stored balance", w.map(|s| Fr::from(s.balance)))?;
    let nonce = Lin::alloc(cs, "stored nonce", w.map(|s| Fr::from(s.nonce)))?;
    let empty = is_zero(cs, "empty", &key)?;
    enforce_mul(
        cs,
        "empty slot has zero balance",
        &empty,
        &balance,
        &Lin::zero(),
    );
    enforce_mul(
        cs,
        "empty slot has zero nonce",
        &empty,
        &nonce,
        &Lin::zero(),
    );
    let h = leaf_hash(
        &mut cs.namespace(|| "old leaf hash"),
        &key,
        &balance,
        &nonce,
    )?;
    let old_leaf = mul(cs, "old leaf", &not(&empty), &h)?;
    Ok(Slot {
        key,
        balance,
        nonce,
        empty,
        old_leaf,
    })
}

/// Per-entry results the batch-level constraints need.
struct EntryOut {
    root: Lin,
    queue: Lin,
    is_pad: Lin,
    effect: [Lin; 4],
}

fn synthesize_entry<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    params: &TransferParams,
    w: Option<&EntryWitness>,
    root: &Lin,
    queue: &Lin,
) -> Result<EntryOut, SynthesisError> {
    let tree = params.tree;
    let e = w.map(|w| w.entry);
    // Entry fields and their ranges.
    let kind = e.map(|e| e.kind as u64);
    let k0 = alloc_bit(cs, "kind bit 0", kind.map(|k| k & 1 == 1))?;
    let k1 = alloc_bit(cs, "kind bit 1", kind.map(|k| k & 2 == 2))?;
    let from_index = Lin::alloc(
        cs,
        "from index",
        e.map(|e| Fr::from(u64::from(e.from_index))),
    )?;
    let from_key = Lin::alloc(cs, "from key", e.map(|e| e.from_key))?;
    let to_index = Lin::alloc(cs, "to index", e.map(|e| Fr::from(u64::from(e.to_index))))?;
    let to_key = Lin::alloc(cs, "to key", e.map(|e| e.to_key))?;
    let amount = Lin::alloc(cs, "amount", e.map(|e| Fr::from(e.amount)))?;
    let nonce = Lin::alloc(cs, "nonce", e.map(|e| Fr::from(e.nonce)))?;
    to_bits(cs, "amount range", &amount, 64)?;
    to_bits(cs, "nonce range", &nonce, 64)?;
    let from_bits = smt::index_bits(&mut cs.namespace(|| "from index range"), tree, &from_index)?;
    let to_bits_ = smt::index_bits(&mut cs.namespace(|| "to index range"), tree, &to_index)?;

    // Kind indicators.
    let k01 = mul(cs, "k0*k1", &k0, &k1)?;
    let is_pad = Lin::one().sub(&k0).sub(&k1).add(&k01);
    let is_deposit = k0.sub(&k01);
    let is_transfer = k1.sub(&k01);
    let is_withdraw = k01.clone();
    let has_debit = k1.clone();
    let has_credit = k0.add(&k1).sub(&k01.scale(Fr::from(2u64)));

    // Queue hash chain: padding does not advance it.
    let packed = k0
        .add(&k1.scale(Fr::from(2u64)))
        .add(&from_index.scale(fr_pow2(2)))
        .add(&to_index.scale(fr_pow2(34)))
        .add(&amount.scale(fr_pow2(66)))
        .add(&nonce.scale(fr_pow2(130)));
    let step = pg::hash4(
        &mut cs.namespace(|| "queue step"),
        tags::QUEUE,
        [queue, &packed, &from_key, &to_key],
    )?;
    let next_queue = select(
        cs,
        "queue advances unless padding",
        &not(&is_pad),
        &step,
        queue,
    )?;

    // Debit slot.
    let a = alloc_slot(&mut cs.namespace(|| "debit slot"), w.map(|w| &w.from))?;
    let a_key_eq = is_equal(cs, "debit key matches", &a.key, &from_key)?;
    let from_key_zero = is_zero(cs, "from key is zero", &from_key)?;
    let a_key_ok = mul(cs, "debit key ok", &a_key_eq, &not(&from_key_zero))?;
    let nonce_eq = is_equal(cs, "nonce matches", &nonce, &a.nonce)?;
    let nonce_max = is_equal(
        cs,
        "nonce is max",
        &nonce,
        &Lin::constant(Fr::from(u64::MAX)),
    )?;
    let nonce_ok = mul(cs, "nonce ok", &nonce_eq, &not(&nonce_max))?;
    let funds = ge_u64(cs, "funds", &a.balance, &amount)?;
    let debit_pre = mul(cs, "debit key and nonce ok", &a_key_ok, &nonce_ok)?;
    let debit_ok = mul(cs, "debit ok", &debit_pre, &funds)?;

    // Credit slot (stored values as read after the debit write).
    let b = alloc_slot(&mut cs.namespace(|| "credit slot"), w.map(|w| &w.to))?;
    let b_key_eq = is_equal(cs, "credit key matches", &b.key, &to_key)?;
    let eq_and_empty = mul(cs, "credit key eq and empty", &b_key_eq, &b.empty)?;
    let b_key_match_or_empty = b_key_eq.add(&b.empty).sub(&eq_and_empty);
    let to_key_zero = is_zero(cs, "to key is zero", &to_key)?;
    let b_key_ok = mul(
        cs,
        "credit key ok",
        &b_key_match_or_empty,
        &not(&to_key_zero),
    )?;
    let fits = add_fits_u64(cs, "fits", &b.balance, &amount)?;
    let credit_ok = mul(cs, "credit ok", &b_key_ok, &fits)?;
    let same_index = is_equal(cs, "same index", &from_index, &to_index)?;
    let both = mul(cs, "debit and credit ok", &debit_ok, &credit_ok)?;
    let both_distinct = mul(cs, "transfer ok", &both, &not(&same_index))?;

    // The entry applies iff its kind's conditions hold.
    let ok = mul(cs, "deposit applies", &is_deposit, &credit_ok)?
        .add(&mul(cs, "withdraw applies", &is_withdraw, &debit_ok)?)
        .add(&mul(cs, "transfer applies", &is_transfer, &both_distinct)?);
    let write_a = mul(cs, "debit write", &ok, &has_debit)?;
    let write_b = mul(cs, "credit write", &ok, &has_credit)?;

    // Debit write and path update.
    let a_balance = a
        .balance
        .sub(&mul(cs, "debited amount", &write_a, &amount)?);
    let a_nonce = a.nonce.add(&write_a);
    let a_hash = leaf_hash(
        &mut cs.namespace(|| "debit new leaf hash"),
        &a.key,
        &a_balance,
        &a_nonce,
    )?;
    let a_leaf = mul(cs, "debit new leaf", &not(&a.empty), &a_hash)?;
    let sib_a = smt::alloc_path(
        &mut cs.namespace(|| "debit path"),
        tree,
        w.map(|w| w.from.siblings.as_slice()),
    )?;
    let root_a = smt::update(
        &mut cs.namespace(|| "debit update"),
        tree,
        &a.old_leaf,
        &a_leaf,
        &from_bits,
        &sib_a,
        root,
    )?;

    // Credit write and path update (initialises an empty slot with `to_key`).
    let b_balance = b
        .balance
        .add(&mul(cs, "credited amount", &write_b, &amount)?);
    let b_key = select(cs, "credit new key", &write_b, &to_key, &b.key)?;
    let b_empty = mul(cs, "credit stays empty", &b.empty, &not(&write_b))?;
    let b_hash = leaf_hash(
        &mut cs.namespace(|| "credit new leaf hash"),
        &b_key,
        &b_balance,
        &b.nonce,
    )?;
    let b_leaf = mul(cs, "credit new leaf", &not(&b_empty), &b_hash)?;
    let sib_b = smt::alloc_path(
        &mut cs.namespace(|| "credit path"),
        tree,
        w.map(|w| w.to.siblings.as_slice()),
    )?;
    let root_b = smt::update(
        &mut cs.namespace(|| "credit update"),
        tree,
        &b.old_leaf,
        &b_leaf,
        &to_bits_,
        &sib_b,
        &root_a,
    )?;

    // Effect: [status, from_balance, from_nonce, to_balance], zero unless written.
    let status = not(&ok).add(&is_pad);
    let effect = [
        status,
        mul(cs, "effect from balance", &write_a, &a_balance)?,
        mul(cs, "effect from nonce", &write_a, &a_nonce)?,
        mul(cs, "effect to balance", &write_b, &b_balance)?,
    ];
    Ok(EntryOut {
        root: root_b,
        queue: next_queue,
        is_pad,
        effect,
    })
}

impl Circuit<Fr> for TransferCircuit {
    fn synthesize<CS: ConstraintSystem<Fr>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
        self.check_shape()?;
        let w = self.witness.as_ref();
        let chain_id_hash = Lin::alloc(
            cs,
            "chain id hash",
            w.map(|w| poseidon::hash_bytes(&w.chain_id)),
        )?;
        let program_id_hash = Lin::alloc(
            cs,
            "program id hash",
            w.map(|_| poseidon::hash_bytes(PROGRAM_ID.as_bytes())),
        )?;
        let program_version = Lin::alloc(
            cs,
            "program version",
            w.map(|w| Fr::from(u64::from(w.program_version))),
        )?;
        let old_root = Lin::alloc(cs, "old root", w.map(|w| w.old_root))?;
        let queue_before = Lin::alloc(cs, "queue before", w.map(|w| w.queue_before))?;
        let mut root = old_root.clone();
        let mut queue = queue_before.clone();
        let mut effects = Vec::with_capacity(4 * self.params.batch_size);
        let mut prev_pad: Option<Lin> = None;
        for i in 0..self.params.batch_size {
            let ew = w.map(|w| &w.entries[i]);
            let out = synthesize_entry(
                &mut cs.namespace(|| format!("entry {i}")),
                &self.params,
                ew,
                &root,
                &queue,
            )?;
            if let Some(p) = &prev_pad {
                // Padding only at the end: pad_{i-1} => pad_i.
                enforce_mul(
                    cs,
                    &format!("padding only at the end {i}"),
                    p,
                    &not(&out.is_pad),
                    &Lin::zero(),
                );
            }
            prev_pad = Some(out.is_pad);
            root = out.root;
            queue = out.queue;
            effects.extend(out.effect);
        }
        let deltas_commitment = pg::sponge(
            &mut cs.namespace(|| "deltas commitment"),
            tags::DELTAS,
            &effects,
        )?;
        enforce_public_input(
            &mut cs.namespace(|| "public input"),
            &PublicInputVars {
                chain_id_hash,
                program_id_hash,
                program_version,
                old_root,
                new_root: root,
                queue_before,
                queue_after: queue,
                deltas_commitment,
            },
        )
    }
}

#[cfg(test)]
mod tests;
