//! What the module stores: the `copro.coprocessor.v1` messages, prost-encoded,
//! plus conversions between their byte fields and field elements. Field
//! elements are 32-byte big-endian canonical encodings; one that is not
//! canonical is refused, never reduced.

use bls12_381::Scalar as Fr;
use copro_circuits::field::{fr_from_be_bytes, fr_to_be_bytes};
use copro_circuits::smt::{Arity, TreeConfig};
use copro_circuits::spend_auth::PublicKey;
use copro_circuits::transfer::{EntryKind, EntryStatus, QueueEntry as CircuitEntry};
use copro_circuits::transfer_v2;
use ff::Field;
use prost::Message;

pub use copro_proto::coprocessor::v1 as pb;

use crate::error::{CoproCode, CoproError, Result};

/// The encoding of `x`.
pub fn fr_bytes(x: &Fr) -> Vec<u8> {
    fr_to_be_bytes(x).to_vec()
}

/// Decodes a submitted or stored element: exactly 32 bytes, below p.
pub fn fr_of(bytes: &[u8], what: &str) -> Result<Fr> {
    <[u8; 32]>::try_from(bytes)
        .ok()
        .and_then(|b| fr_from_be_bytes(&b))
        .ok_or_else(|| {
            CoproError::new(
                CoproCode::InvalidField,
                format!(
                    "{what} must be 32 bytes, big-endian, below the BLS12-381 scalar modulus (got {} bytes)",
                    bytes.len()
                ),
            )
        })
}

/// Like [`fr_of`], with empty bytes meaning 0 (unused queue-entry fields).
fn fr_or_zero(bytes: &[u8], what: &str) -> Result<Fr> {
    if bytes.is_empty() {
        Ok(Fr::ZERO)
    } else {
        fr_of(bytes, what)
    }
}

/// Decodes a stored message.
pub fn decode<T: Message + Default>(raw: &[u8], what: &str) -> Result<T> {
    T::decode(raw).map_err(|e| CoproError::internal(format!("corrupt {what}: {e}")))
}

/// The ledger tree shape of stored parameters or a program.
pub fn tree_config(arity: u32, depth: u32) -> Result<TreeConfig> {
    let arity = match arity {
        2 => Arity::Two,
        4 => Arity::Four,
        other => {
            return Err(CoproError::new(
                CoproCode::InvalidProgram,
                format!("tree arity {other} is not supported: use 2 or 4"),
            ));
        }
    };
    TreeConfig::new(arity, depth).ok_or_else(|| {
        CoproError::new(
            CoproCode::InvalidProgram,
            format!("tree depth {depth} does not fit 32-bit leaf indices at this arity"),
        )
    })
}

/// Debits of one account that wait in the queue (not a protocol message:
/// two big-endian u64, count then amount).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingDebits {
    /// How many.
    pub count: u64,
    /// Their total amount.
    pub amount: u64,
}

impl PendingDebits {
    /// Stored form.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = self.count.to_be_bytes().to_vec();
        out.extend_from_slice(&self.amount.to_be_bytes());
        out
    }

    /// From the stored form.
    pub fn from_bytes(raw: &[u8]) -> Result<Self> {
        let bytes: [u8; 16] = raw
            .try_into()
            .map_err(|_| CoproError::internal("corrupt pending debits"))?;
        let (count, amount) = bytes.split_at(8);
        Ok(Self {
            count: u64::from_be_bytes(count.try_into().unwrap_or_default()),
            amount: u64::from_be_bytes(amount.try_into().unwrap_or_default()),
        })
    }
}

/// Requests queued and not settled.
pub fn pending(queue: &pb::QueueState) -> u64 {
    queue.next_sequence.saturating_sub(queue.settled_up_to)
}

/// The empty queue (hash chain start `q_0 = 0`).
pub fn genesis_queue() -> pb::QueueState {
    pb::QueueState {
        next_sequence: 0,
        settled_up_to: 0,
        head_hash: fr_bytes(&Fr::ZERO),
        settled_hash: fr_bytes(&Fr::ZERO),
    }
}

/// The stored entry of the circuit's `entry`, number `seq`.
pub fn stored_entry(
    seq: u64,
    entry: &CircuitEntry,
    from_address: Option<&str>,
    to_address: Option<&str>,
    height: u64,
    chain_hash: &Fr,
) -> pb::QueueEntry {
    let key = |k: &Fr| {
        if k.is_zero_vartime() {
            Vec::new()
        } else {
            fr_bytes(k)
        }
    };
    pb::QueueEntry {
        sequence: seq,
        kind: match entry.kind {
            EntryKind::Padding => pb::EntryKind::Unspecified,
            EntryKind::Deposit => pb::EntryKind::Deposit,
            EntryKind::Transfer => pb::EntryKind::Transfer,
            EntryKind::Withdraw => pb::EntryKind::Withdraw,
        } as i32,
        from_address: from_address.unwrap_or_default().to_string(),
        from_index: entry.from_index,
        from_key: key(&entry.from_key),
        to_address: to_address.unwrap_or_default().to_string(),
        to_index: entry.to_index,
        to_key: key(&entry.to_key),
        amount: entry.amount,
        nonce: entry.nonce,
        enqueue_height: height,
        chain_hash: fr_bytes(chain_hash),
        spending_key: Vec::new(),
    }
}

/// The stored set-key entry number `seq` (`MsgSetLedgerKey`): the owner in
/// the `from` fields, the 32-byte key in `spending_key`; `to_key` stays
/// empty (the queue hash's lane is the key's `v`, derived from the key).
pub fn stored_set_key(
    seq: u64,
    owner: &str,
    index: u32,
    key: &Fr,
    spending_key: &[u8; 32],
    height: u64,
    chain_hash: &Fr,
) -> pb::QueueEntry {
    pb::QueueEntry {
        sequence: seq,
        kind: pb::EntryKind::SetKey as i32,
        from_address: owner.to_string(),
        from_index: index,
        from_key: fr_bytes(key),
        enqueue_height: height,
        chain_hash: fr_bytes(chain_hash),
        spending_key: spending_key.to_vec(),
        ..Default::default()
    }
}

/// The version-2 circuit's entry of a stored one (any kind).
pub fn circuit_entry_v2(stored: &pb::QueueEntry) -> Result<transfer_v2::QueueEntry> {
    if stored.kind != pb::EntryKind::SetKey as i32 {
        return circuit_entry(stored).map(transfer_v2::QueueEntry::V1);
    }
    let spend = PublicKey::from_bytes(&stored.spending_key).map_err(|e| {
        CoproError::internal(format!(
            "stored set-key entry {} has a bad key: {e}",
            stored.sequence
        ))
    })?;
    Ok(transfer_v2::QueueEntry::set_key(
        stored.from_index,
        fr_of(&stored.from_key, "stored key").map_err(|e| CoproError::internal(e.log))?,
        spend,
    ))
}

/// The circuit's entry of a stored one.
pub fn circuit_entry(stored: &pb::QueueEntry) -> Result<CircuitEntry> {
    let kind = match pb::EntryKind::try_from(stored.kind) {
        Ok(pb::EntryKind::Deposit) => EntryKind::Deposit,
        Ok(pb::EntryKind::Transfer) => EntryKind::Transfer,
        Ok(pb::EntryKind::Withdraw) => EntryKind::Withdraw,
        _ => {
            return Err(CoproError::internal(format!(
                "stored queue entry {} has kind {}",
                stored.sequence, stored.kind
            )));
        }
    };
    Ok(CircuitEntry {
        kind,
        from_index: stored.from_index,
        from_key: fr_or_zero(&stored.from_key, "stored key")?,
        to_index: stored.to_index,
        to_key: fr_or_zero(&stored.to_key, "stored key")?,
        amount: stored.amount,
        nonce: stored.nonce,
    })
}

/// The circuit's effect of a submitted one.
pub fn circuit_effect(effect: &pb::EntryEffect) -> Result<copro_circuits::transfer::EntryEffect> {
    let status = match pb::EntryStatus::try_from(effect.status) {
        Ok(pb::EntryStatus::Applied) => EntryStatus::Applied,
        Ok(pb::EntryStatus::Rejected) => EntryStatus::Rejected,
        Err(_) => {
            return Err(CoproError::new(
                CoproCode::EffectsMismatch,
                format!(
                    "effect status {} is neither applied (0) nor rejected (1)",
                    effect.status
                ),
            ));
        }
    };
    Ok(copro_circuits::transfer::EntryEffect {
        status,
        from_balance: effect.from_balance,
        from_nonce: effect.from_nonce,
        to_balance: effect.to_balance,
    })
}
