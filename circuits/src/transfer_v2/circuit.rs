//! The `transfer` circuit, version 2. See `docs/circuits.md` for the
//! constraint families.
//!
//! Queue slots are version 1's with a `spend` lane in every leaf and the
//! set-key kind; off-chain slots verify a spend-authorization signature
//! against the sender leaf's key and then apply the transfer unconditionally
//! (every rule is a hard constraint, gated only by the slot being real).

use bellman::{Circuit, ConstraintSystem, SynthesisError};
use ff::Field;

use super::{
    BY_KEY_INDEX, EntryWitness, OffchainWitness, PROGRAM_ID, PROGRAM_VERSION, SET_KEY_BIT,
    SlotWitness, TransferV2Params, TransferV2Witness,
};
use crate::field::{Fr, fr_pow2};
use crate::gadgets::{
    Lin, add_fits_u64, alloc_bit, enforce_mul, ge_u64, is_equal, is_zero, mul, not, select, to_bits,
};
use crate::poseidon::{self, gadget as pg, tags};
use crate::public_input::{PublicInputVars, enforce_public_input};
use crate::smt::gadget as smt;
use crate::spend_auth::gadget::{transfer_message_fields, verify_signature};
use crate::spend_auth::{coordinates, generator};

/// The version-2 `transfer` circuit for one shape; `witness` is `None` for
/// key generation.
#[derive(Debug, Clone)]
pub struct TransferV2Circuit {
    /// Shape.
    pub params: TransferV2Params,
    /// Private witness.
    pub witness: Option<TransferV2Witness>,
}

impl TransferV2Circuit {
    fn check_shape(&self) -> Result<(), SynthesisError> {
        let Some(w) = &self.witness else {
            return Ok(());
        };
        let depth = self.params.tree.depth as usize;
        let k = self.params.tree.arity.children() - 1;
        let path_ok =
            |s: &SlotWitness| s.siblings.len() == depth && s.siblings.iter().all(|r| r.len() == k);
        if w.entries.len() != self.params.queue_slots
            || w.offchain.len() != self.params.offchain_slots
            || !w.entries.iter().all(|e| path_ok(&e.from) && path_ok(&e.to))
            || !w
                .offchain
                .iter()
                .all(|e| path_ok(&e.from) && path_ok(&e.to))
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
    spend: Lin,
    empty: Lin,
    old_leaf: Lin,
}

fn leaf_hash<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    key: &Lin,
    balance: &Lin,
    nonce: &Lin,
    spend: &Lin,
) -> Result<Lin, SynthesisError> {
    pg::hash4(cs, tags::LEAF, [key, balance, nonce, spend])
}

/// Allocates a slot's stored account and its old leaf (`0` if the key is 0,
/// which forces balance, nonce and spend to 0).
fn alloc_slot<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    w: Option<&SlotWitness>,
) -> Result<Slot, SynthesisError> {
    let key = Lin::alloc(cs, "stored key", w.map(|s| s.key))?;
    let balance = Lin::alloc(cs, "stored balance", w.map(|s| Fr::from(s.balance)))?;
    let nonce = Lin::alloc(cs, "stored nonce", w.map(|s| Fr::from(s.nonce)))?;
    let spend = Lin::alloc(cs, "stored spend", w.map(|s| s.spend))?;
    let empty = is_zero(cs, "empty", &key)?;
    for (name, x) in [
        ("empty slot has zero balance", &balance),
        ("empty slot has zero nonce", &nonce),
        ("empty slot has zero spend", &spend),
    ] {
        enforce_mul(cs, name, &empty, x, &Lin::zero());
    }
    let h = leaf_hash(
        &mut cs.namespace(|| "old leaf hash"),
        &key,
        &balance,
        &nonce,
        &spend,
    )?;
    let old_leaf = mul(cs, "old leaf", &not(&empty), &h)?;
    Ok(Slot {
        key,
        balance,
        nonce,
        spend,
        empty,
        old_leaf,
    })
}

/// Enforces `x != 0` when `cond` is 1 (one constraint: `x * inv = cond`; with
/// `cond = 0` the witness `inv = 0` satisfies it).
fn enforce_nonzero_if<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    cond: &Lin,
    x: &Lin,
) -> Result<(), SynthesisError> {
    let inv = x.value().zip(cond.value()).map(|(x, c)| {
        if c == Fr::ZERO {
            Fr::ZERO
        } else {
            Option::<Fr>::from(x.invert()).unwrap_or(Fr::ZERO)
        }
    });
    let inv = Lin::alloc(cs, &format!("{name} inverse"), inv)?;
    enforce_mul(cs, name, x, &inv, cond);
    Ok(())
}

/// Per-slot results the batch-level constraints need.
struct SlotOut {
    root: Lin,
    queue: Lin,
    is_pad: Lin,
    commit: Vec<Lin>,
}

/// One queue slot: version 1's entry with a `spend` lane and the set-key kind.
fn synthesize_entry<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    params: &TransferV2Params,
    w: Option<&EntryWitness>,
    root: &Lin,
    queue: &Lin,
) -> Result<SlotOut, SynthesisError> {
    let tree = params.tree;
    let e = w.map(|w| w.entry);
    // Entry fields and their ranges. The kind is three bits; bit 2 (set-key)
    // excludes the other two, so the kinds are exactly 0..=4.
    let kind = e.map(|e| e.kind);
    let k0 = alloc_bit(cs, "kind bit 0", kind.map(|k| k & 1 == 1))?;
    let k1 = alloc_bit(cs, "kind bit 1", kind.map(|k| k & 2 == 2))?;
    let k2 = alloc_bit(cs, "kind bit 2", kind.map(|k| k & 4 == 4))?;
    enforce_mul(cs, "set-key excludes kind bit 0", &k2, &k0, &Lin::zero());
    enforce_mul(cs, "set-key excludes kind bit 1", &k2, &k1, &Lin::zero());
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

    // Kind indicators (k2 = 1 forces k0 = k1 = 0).
    let k01 = mul(cs, "k0*k1", &k0, &k1)?;
    let is_pad = Lin::one().sub(&k0).sub(&k1).add(&k01).sub(&k2);
    let is_deposit = k0.sub(&k01);
    let is_transfer = k1.sub(&k01);
    let is_withdraw = k01.clone();
    let is_set_key = k2.clone();
    let has_debit = k1.clone();
    let has_credit = k0.add(&k1).sub(&k01.scale(Fr::from(2u64)));

    // Queue hash chain: version 1's packing plus 2^194 for a set-key.
    let packed = k0
        .add(&k1.scale(Fr::from(2u64)))
        .add(&k2.scale(fr_pow2(SET_KEY_BIT)))
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

    // The entry applies iff its kind's conditions hold; a set-key needs the
    // debit slot to hold `from_key`.
    let ok = mul(cs, "deposit applies", &is_deposit, &credit_ok)?
        .add(&mul(cs, "withdraw applies", &is_withdraw, &debit_ok)?)
        .add(&mul(cs, "transfer applies", &is_transfer, &both_distinct)?)
        .add(&mul(cs, "set-key applies", &is_set_key, &a_key_ok)?);
    let write_a = mul(cs, "debit write", &ok, &has_debit)?;
    let write_b = mul(cs, "credit write", &ok, &has_credit)?;
    let write_spend = mul(cs, "spend write", &ok, &is_set_key)?;

    // Debit write (balance and nonce, or the new spend) and path update.
    let a_balance = a
        .balance
        .sub(&mul(cs, "debited amount", &write_a, &amount)?);
    let a_nonce = a.nonce.add(&write_a);
    let a_spend = select(cs, "debit new spend", &write_spend, &to_key, &a.spend)?;
    let a_hash = leaf_hash(
        &mut cs.namespace(|| "debit new leaf hash"),
        &a.key,
        &a_balance,
        &a_nonce,
        &a_spend,
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

    // Credit write and path update (a new account starts with no key).
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
        &b.spend,
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

    // Effect: [status, from_balance, from_nonce, to_balance] as in version 1
    // (a set-key writes no balance, so its values are zero).
    let status = not(&ok).add(&is_pad);
    let commit = vec![
        status,
        mul(cs, "effect from balance", &write_a, &a_balance)?,
        mul(cs, "effect from nonce", &write_a, &a_nonce)?,
        mul(cs, "effect to balance", &write_b, &b_balance)?,
    ];
    Ok(SlotOut {
        root: root_b,
        queue: next_queue,
        is_pad,
        commit,
    })
}

/// Running state of the off-chain section's allocator.
struct Allocator {
    start: Lin,
    created: Lin,
}

/// One off-chain slot: a signed transfer that must apply, or padding (no
/// writes, fixed commitment `[0, 0]`).
fn synthesize_offchain<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    params: &TransferV2Params,
    w: Option<&OffchainWitness>,
    root: &Lin,
    chain: &Lin,
    alloc: &mut Allocator,
) -> Result<SlotOut, SynthesisError> {
    let tree = params.tree;
    let real = alloc_bit(cs, "real", w.map(|w| w.real))?;
    let pad = not(&real);
    let from_index = Lin::alloc(
        cs,
        "from index",
        w.map(|w| Fr::from(u64::from(w.from_index))),
    )?;
    let to_index = Lin::alloc(cs, "to index", w.map(|w| Fr::from(u64::from(w.to_index))))?;
    let by_key = alloc_bit(cs, "signed by key", w.map(|w| w.by_key))?;
    let to_key = Lin::alloc(cs, "to key", w.map(|w| w.to_key))?;
    let amount = Lin::alloc(cs, "amount", w.map(|w| Fr::from(w.amount)))?;
    let from_bits = smt::index_bits(&mut cs.namespace(|| "from index range"), tree, &from_index)?;
    let to_bits_ = smt::index_bits(&mut cs.namespace(|| "to index range"), tree, &to_index)?;
    to_bits(cs, "amount range", &amount, 64)?;
    // Padding moves nothing: with amount 0 and the writes below gated by
    // `real`, its leaves are rewritten unchanged.
    enforce_mul(cs, "padding has amount zero", &pad, &amount, &Lin::zero());

    // Sender: a key must be set (spend != 0; an empty slot has spend 0, so
    // this also makes the sender exist), and nonce + 1 must fit.
    let a = alloc_slot(&mut cs.namespace(|| "sender slot"), w.map(|w| &w.from))?;
    enforce_nonzero_if(cs, "sender has a spending key", &real, &a.spend)?;
    enforce_nonzero_if(
        cs,
        "sender nonce below max",
        &real,
        &a.nonce.add_const(-Fr::from(u64::MAX)),
    )?;

    // Signature by the leaf's key (v = spend, u a witness checked on the
    // curve by the verifier) over the message with the leaf's nonce; padding
    // is signed by the public padding key G (secret 1).
    let pk_u = Lin::alloc(cs, "sender key u", w.map(|w| w.pk_u))?;
    let (g_u, g_v) = coordinates(&jubjub::ExtendedPoint::from(generator()));
    let key_u = select(cs, "key u", &real, &pk_u, &Lin::constant(g_u))?;
    let key_v = select(cs, "key v", &real, &a.spend, &Lin::constant(g_v))?;
    // The signed recipient index: the real one, or BY_KEY_INDEX (then the
    // recipient is only named by `to_key`, checked against its leaf below).
    let signed_to_index = select(
        cs,
        "signed to index",
        &by_key,
        &Lin::constant(Fr::from(u64::from(BY_KEY_INDEX))),
        &to_index,
    )?;
    let msg = transfer_message_fields(&from_index, &signed_to_index, &to_key, &amount, &a.nonce);
    verify_signature(
        &mut cs.namespace(|| "signature"),
        &key_u,
        &key_v,
        &msg,
        w.map(|w| &w.signature),
        chain,
    )?;

    // Sender write: balance - amount (a 64-bit range check: funds), nonce + 1.
    let a_balance = a.balance.sub(&amount);
    to_bits(cs, "sender funds", &a_balance, 64)?;
    let a_nonce = a.nonce.add(&real);
    let a_hash = leaf_hash(
        &mut cs.namespace(|| "sender new leaf hash"),
        &a.key,
        &a_balance,
        &a_nonce,
        &a.spend,
    )?;
    let a_leaf = mul(cs, "sender new leaf", &not(&a.empty), &a_hash)?;
    let sib_a = smt::alloc_path(
        &mut cs.namespace(|| "sender path"),
        tree,
        w.map(|w| w.from.siblings.as_slice()),
    )?;
    let root_a = smt::update(
        &mut cs.namespace(|| "sender update"),
        tree,
        &a.old_leaf,
        &a_leaf,
        &from_bits,
        &sib_a,
        root,
    )?;

    // Recipient, read after the sender's write.
    let b = alloc_slot(&mut cs.namespace(|| "recipient slot"), w.map(|w| &w.to))?;
    enforce_nonzero_if(
        cs,
        "sender and recipient differ",
        &real,
        &from_index.sub(&to_index),
    )?;
    enforce_nonzero_if(cs, "recipient key is not zero", &real, &to_key)?;
    let mismatch = mul(
        cs,
        "recipient key mismatch",
        &not(&b.empty),
        &b.key.sub(&to_key),
    )?;
    enforce_mul(
        cs,
        "recipient holds to key or is empty",
        &real,
        &mismatch,
        &Lin::zero(),
    );
    // One allocator: the j-th created account is at alloc_start + j.
    let created = mul(cs, "creates an account", &real, &b.empty)?;
    enforce_mul(
        cs,
        "new account at the next free index",
        &created,
        &to_index.sub(&alloc.start).sub(&alloc.created),
        &Lin::zero(),
    );
    alloc.created = alloc.created.add(&created);

    // Recipient write: balance + amount (64-bit range: no overflow), key set
    // if created, nonce and spend kept.
    let b_balance = b.balance.add(&amount);
    to_bits(cs, "recipient fits", &b_balance, 64)?;
    let b_key = select(cs, "recipient new key", &created, &to_key, &b.key)?;
    let b_empty = b.empty.sub(&created);
    let b_hash = leaf_hash(
        &mut cs.namespace(|| "recipient new leaf hash"),
        &b_key,
        &b_balance,
        &b.nonce,
        &b.spend,
    )?;
    let b_leaf = mul(cs, "recipient new leaf", &not(&b_empty), &b_hash)?;
    let sib_b = smt::alloc_path(
        &mut cs.namespace(|| "recipient path"),
        tree,
        w.map(|w| w.to.siblings.as_slice()),
    )?;
    let root_b = smt::update(
        &mut cs.namespace(|| "recipient update"),
        tree,
        &b.old_leaf,
        &b_leaf,
        &to_bits_,
        &sib_b,
        &root_a,
    )?;

    // Commitment: [1 + 2 created + 2^2 from + 2^34 to + 2^66 amount, to_key]
    // for a real slot, [0, 0] for padding.
    let packed = Lin::one()
        .add(&created.scale(Fr::from(2u64)))
        .add(&from_index.scale(fr_pow2(2)))
        .add(&to_index.scale(fr_pow2(34)))
        .add(&amount.scale(fr_pow2(66)));
    let commit = vec![
        mul(cs, "committed entry", &real, &packed)?,
        mul(cs, "committed to key", &real, &to_key)?,
    ];
    Ok(SlotOut {
        root: root_b,
        queue: Lin::zero(),
        is_pad: pad,
        commit,
    })
}

/// Enforces `pad_{i-1} => pad_i` along a section.
fn padding_at_end<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    name: &str,
    prev_pad: &mut Option<Lin>,
    is_pad: Lin,
) {
    if let Some(p) = prev_pad.as_ref() {
        enforce_mul(cs, name, p, &not(&is_pad), &Lin::zero());
    }
    *prev_pad = Some(is_pad);
}

impl Circuit<Fr> for TransferV2Circuit {
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
            w.map(|_| Fr::from(u64::from(PROGRAM_VERSION))),
        )?;
        let old_root = Lin::alloc(cs, "old root", w.map(|w| w.old_root))?;
        let queue_before = Lin::alloc(cs, "queue before", w.map(|w| w.queue_before))?;
        let alloc_start = Lin::alloc(
            cs,
            "alloc start",
            w.map(|w| Fr::from(u64::from(w.alloc_start))),
        )?;
        let mut root = old_root.clone();
        let mut queue = queue_before.clone();
        let p = &self.params;
        let mut commit = Vec::with_capacity(4 * p.queue_slots + 2 * p.offchain_slots + 2);
        let mut prev_pad: Option<Lin> = None;
        for i in 0..p.queue_slots {
            let out = synthesize_entry(
                &mut cs.namespace(|| format!("entry {i}")),
                p,
                w.map(|w| &w.entries[i]),
                &root,
                &queue,
            )?;
            padding_at_end(
                cs,
                &format!("padding only at the end {i}"),
                &mut prev_pad,
                out.is_pad,
            );
            root = out.root;
            queue = out.queue;
            commit.extend(out.commit);
        }
        let mut alloc = Allocator {
            start: alloc_start.clone(),
            created: Lin::zero(),
        };
        let mut prev_pad: Option<Lin> = None;
        for i in 0..p.offchain_slots {
            let out = synthesize_offchain(
                &mut cs.namespace(|| format!("offchain {i}")),
                p,
                w.map(|w| &w.offchain[i]),
                &root,
                &chain_id_hash,
                &mut alloc,
            )?;
            padding_at_end(
                cs,
                &format!("off-chain padding only at the end {i}"),
                &mut prev_pad,
                out.is_pad,
            );
            root = out.root;
            commit.extend(out.commit);
        }
        commit.push(alloc_start);
        commit.push(alloc.created);
        let deltas_commitment = pg::sponge(
            &mut cs.namespace(|| "deltas commitment"),
            tags::DELTAS,
            &commit,
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
