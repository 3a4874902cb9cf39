//! Program `transfer`, version 2: the version-1 queue section (deposits,
//! transfers, withdrawals, in queue order, same hash chain and rules) plus a
//! set-key queue entry, FOLLOWED BY a section of off-chain transfers signed
//! with the sender's Jubjub spending key ([`crate::spend_auth`]) and checked
//! in the circuit.
//!
//! The spec is `docs/protocol.md` ("Transfer version 2"); the constraint
//! families are in `docs/circuits.md`. In short:
//!
//! * leaf `hash4(LEAF, [key, balance, nonce, spend])`, `spend` the `v`
//!   coordinate of the account's spending key (0: none), so a version-1 leaf
//!   is a version-2 leaf without a key;
//! * queue entry kind 4 (`SetKey`) binds or rotates the key; its packing sets
//!   bit 194 of `packed`, above every version-1 field, so version-1 packings
//!   and queue hashes are unchanged;
//! * an off-chain transfer that would not apply makes the proof
//!   unsatisfiable (the prover leaves it out): there is no rejected status
//!   for them, and the chain replays them from the data it receives
//!   ([`expand_batch`]);
//! * the `j`-th account created by the off-chain section is at
//!   `alloc_start + j`, both bound by the public input.

pub mod circuit;

use std::collections::{BTreeMap, BTreeSet};

use ff::Field;

use crate::field::{Fr, fr_pow2};
use crate::poseidon::{self, tags};
use crate::program::Program;
use crate::public_input::PublicInputs;
use crate::smt::{MemoryStore, NodeStore, SmtError, SparseMerkleTree, TreeConfig};
use crate::spend_auth::{
    PublicKey, SignedTransfer, SpendAuthError, SpendingKey, TransferMessage, chain_id_element,
};
use crate::transfer::{self, EntryEffect, EntryStatus, TransferError, Withdrawal};

pub use circuit::TransferV2Circuit;

/// Registry id (the same program as version 1).
pub const PROGRAM_ID: &str = transfer::PROGRAM_ID;
/// Version of this circuit.
pub const PROGRAM_VERSION: u32 = 2;
/// Largest supported size of either section.
pub const MAX_BATCH: usize = transfer::MAX_BATCH;
/// Bit of `packed` that marks a set-key entry (version 1 uses bits 0..=193).
pub const SET_KEY_BIT: u32 = 194;
/// `to_index` a wallet signs when it does not know the recipient's leaf
/// index: "the account whose key is `to_key`, wherever it is, created at the
/// next free index if it has none". The chain never allocates this index
/// (with 2^32 leaves it is the last one), so it never names a real leaf.
pub const BY_KEY_INDEX: u32 = u32::MAX;
/// Bytes of a ledger account's address (the chain's raw address).
pub const ADDRESS_BYTES: usize = 20;

/// The `spend` value of a leaf for an optional key: the key's `v` coordinate,
/// or 0 for none. `v` names the key up to the sign of `u`, i.e. `PK` or `-PK`,
/// whose secrets `sk` and `-sk` are both the owner's; no point of the
/// prime-order subgroup other than the identity has `v = 0`, so 0 is free to
/// mean "no key".
pub fn spend_value(key: Option<&PublicKey>) -> Fr {
    key.map_or(Fr::ZERO, |k| k.coordinates().1)
}

/// A ledger account of version 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Account key (`transfer::account_key` of the owner's address).
    pub key: Fr,
    /// Balance.
    pub balance: u64,
    /// Number of debits applied (next expected nonce).
    pub nonce: u64,
    /// Spending key, if one was set by a set-key entry.
    pub spend: Option<PublicKey>,
}

impl Account {
    /// The leaf `hash4(LEAF, [key, balance, nonce, spend_value(spend)])`; with
    /// no key it is the version-1 leaf.
    pub fn leaf(&self) -> Fr {
        poseidon::hash4(
            tags::LEAF,
            [
                self.key,
                Fr::from(self.balance),
                Fr::from(self.nonce),
                spend_value(self.spend.as_ref()),
            ],
        )
    }

    /// The key, balance and nonce (what version 1 and the chain's balance
    /// mirror hold).
    pub fn v1(&self) -> transfer::Account {
        transfer::Account {
            key: self.key,
            balance: self.balance,
            nonce: self.nonce,
        }
    }
}

impl From<transfer::Account> for Account {
    fn from(a: transfer::Account) -> Self {
        Account {
            key: a.key,
            balance: a.balance,
            nonce: a.nonce,
            spend: None,
        }
    }
}

/// A queue entry of version 2: a version-1 entry, unchanged, or a set-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEntry {
    /// A deposit, transfer or withdrawal, exactly as in version 1.
    V1(transfer::QueueEntry),
    /// Binds or rotates the spending key of the account at `index` whose
    /// account key is `key` (`MsgSetLedgerKey`, signed on chain by the
    /// owner). The chain queues only keys `PublicKey::from_bytes` accepts.
    SetKey {
        /// Leaf index of the account.
        index: u32,
        /// Its account key.
        key: Fr,
        /// The new spending key.
        spend: PublicKey,
    },
}

/// Kind of a version-2 queue entry as the circuit numbers it (`EntryKind` 4
/// in the chain's protobuf).
pub const KIND_SET_KEY: u64 = 4;

/// The scalar fields of a queue entry as the circuit sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryFields {
    /// 0 padding, 1 deposit, 2 transfer, 3 withdraw, 4 set-key.
    pub kind: u64,
    /// Debit slot index (set-key: the account).
    pub from_index: u32,
    /// Debit key (set-key: the account key).
    pub from_key: Fr,
    /// Credit slot index (0 for withdraw and set-key).
    pub to_index: u32,
    /// Credit key (set-key: the new `spend` value).
    pub to_key: Fr,
    /// Amount (0 for set-key).
    pub amount: u64,
    /// Nonce (0 for set-key).
    pub nonce: u64,
}

impl EntryFields {
    /// The padding slot (all zero).
    pub const PADDING: EntryFields = EntryFields {
        kind: 0,
        from_index: 0,
        from_key: Fr::ZERO,
        to_index: 0,
        to_key: Fr::ZERO,
        amount: 0,
        nonce: 0,
    };
}

impl QueueEntry {
    /// A set-key entry.
    pub fn set_key(index: u32, key: Fr, spend: PublicKey) -> Self {
        QueueEntry::SetKey { index, key, spend }
    }

    /// The circuit's view of the entry.
    pub fn fields(&self) -> EntryFields {
        match self {
            QueueEntry::V1(e) => EntryFields {
                kind: e.kind as u64,
                from_index: e.from_index,
                from_key: e.from_key,
                to_index: e.to_index,
                to_key: e.to_key,
                amount: e.amount,
                nonce: e.nonce,
            },
            QueueEntry::SetKey { index, key, spend } => EntryFields {
                kind: KIND_SET_KEY,
                from_index: *index,
                from_key: *key,
                to_index: 0,
                to_key: spend_value(Some(spend)),
                amount: 0,
                nonce: 0,
            },
        }
    }

    /// Packing: a version-1 entry packs as in version 1; a set-key is
    /// `2^194 + 2^2 index` (bit 194 is above every version-1 field, so the
    /// two never collide and version-1 queue hashes do not change).
    pub fn packed(&self) -> Fr {
        match self {
            QueueEntry::V1(e) => e.packed(),
            QueueEntry::SetKey { index, .. } => {
                fr_pow2(SET_KEY_BIT) + Fr::from(u64::from(*index)) * fr_pow2(2)
            }
        }
    }

    /// The queue hash chain step `hash4(QUEUE, [prev, packed, from_key,
    /// to_key])`; a set-key puts the account key and the new `spend` value
    /// in the last two lanes.
    pub fn queue_step(&self, prev: Fr) -> Fr {
        let f = self.fields();
        poseidon::hash4(tags::QUEUE, [prev, self.packed(), f.from_key, f.to_key])
    }

    /// What the chain checks before enqueueing (version 1's rules; a set-key
    /// needs an index in the tree and a non-zero account key; its key is
    /// valid by construction).
    pub fn validate(&self, tree: TreeConfig, position: usize) -> Result<(), TransferError> {
        match self {
            QueueEntry::V1(e) => e.validate(tree, position),
            QueueEntry::SetKey { index, key, .. } => {
                if u64::from(*index) >= tree.capacity() {
                    Err(TransferError::MalformedEntry {
                        position,
                        reason: "leaf index outside the tree",
                    })
                } else if *key == Fr::ZERO {
                    Err(TransferError::MalformedEntry {
                        position,
                        reason: "zero account key",
                    })
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl From<transfer::QueueEntry> for QueueEntry {
    fn from(e: transfer::QueueEntry) -> Self {
        QueueEntry::V1(e)
    }
}

/// The set-key application rule: the account at the index exists and holds
/// the entry's account key. Balance and nonce stay as they are: the request
/// is authorised by the owner's on-chain signature (replay-protected by the
/// Cosmos sequence), not by the ledger nonce, and it is not a debit, so the
/// chain's nonce assignment for queued debits (leaf nonce + queued debits)
/// is unaffected. Outstanding signatures of the old key die anyway: they are
/// checked against the leaf's current key.
pub fn set_key_applies(key: Fr, account: Option<&Account>) -> bool {
    key != Fr::ZERO && account.is_some_and(|a| a.key == key)
}

/// Who receives an off-chain transfer, as the chain's data carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recipient {
    /// An account that exists at this index (its key is in the chain's mirror).
    Existing(u32),
    /// A new account for this address, created at the next free index
    /// (`alloc_start + j`); its key is `transfer::account_key(address)`.
    New([u8; ADDRESS_BYTES]),
}

/// An off-chain transfer as `MsgSubmitProof` carries it: no signature, no
/// nonce (the sender leaf's nonce, which the chain's mirror knows), no key
/// (in the mirror, or the hash of the new account's address). 16 bytes of
/// payload to an existing account, 32 to a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffchainEntry {
    /// Sender's leaf index.
    pub from_index: u32,
    /// Recipient.
    pub recipient: Recipient,
    /// Amount.
    pub amount: u64,
}

/// An off-chain entry with everything the commitment binds, as the chain
/// reconstructs it ([`expand_batch`]) and the prover computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedOffchain {
    /// Sender's leaf index.
    pub from_index: u32,
    /// Recipient's leaf index.
    pub to_index: u32,
    /// Recipient's account key.
    pub to_key: Fr,
    /// Amount.
    pub amount: u64,
    /// Whether the transfer created the recipient's account.
    pub created: bool,
}

impl ResolvedOffchain {
    /// Field encoding `[1 + 2 created + 2^2 from_index + 2^34 to_index +
    /// 2^66 amount, to_key]`; the padding slot is `[0, 0]` (the low 1 tells a
    /// real entry from padding).
    pub fn to_fields(&self) -> [Fr; 2] {
        [
            Fr::ONE
                + Fr::from(u64::from(self.created)) * Fr::from(2u64)
                + Fr::from(u64::from(self.from_index)) * fr_pow2(2)
                + Fr::from(u64::from(self.to_index)) * fr_pow2(34)
                + Fr::from(self.amount) * fr_pow2(66),
            self.to_key,
        ]
    }
}

/// A signed transfer handed to the prover, with the recipient resolved (the
/// prover knows the chain's address-to-index map).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffchainTransfer {
    /// The transfer and its signature.
    pub signed: SignedTransfer,
    /// Its recipient: the account that exists at the signed `to_index` (or,
    /// for [`BY_KEY_INDEX`], the one holding `to_key`), or a new account for
    /// an address that has no leaf index yet.
    pub recipient: Recipient,
}

/// Why an off-chain transfer cannot be in a batch (the prover drops it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffchainReject {
    /// The sender's slot is empty.
    #[error("the sender has no ledger account")]
    NoSender,
    /// The sender's account has no spending key.
    #[error("the sender has no spending key")]
    NoSpendingKey,
    /// The signature does not verify against the sender's key.
    #[error("bad signature: {0}")]
    BadSignature(SpendAuthError),
    /// The signed nonce is not the sender's current nonce (a replay, or one
    /// signed ahead).
    #[error("nonce {signed} is not the sender's nonce {current}")]
    WrongNonce {
        /// Signed.
        signed: u64,
        /// In the leaf.
        current: u64,
    },
    /// The sender's nonce cannot move any more.
    #[error("the sender's nonce is exhausted")]
    NonceExhausted,
    /// Balance below the amount.
    #[error("insufficient balance")]
    InsufficientFunds,
    /// The recipient's balance would overflow.
    #[error("the recipient's balance would overflow")]
    Overflow,
    /// Sender and recipient are the same leaf.
    #[error("transfer to oneself")]
    SelfTransfer,
    /// The recipient does not match what was signed or what the ledger holds.
    #[error("recipient mismatch: {0}")]
    Recipient(&'static str),
}

/// Why submitted off-chain data cannot apply to the chain's mirror
/// ([`expand_batch`]); the chain gives each its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffchainDataFault {
    /// The sender's index has no settled account.
    #[error("sender has no account")]
    NoSender,
    /// An existing recipient's index has no settled account.
    #[error("recipient has no account")]
    NoRecipient,
    /// The amount is above the sender's balance (after earlier entries).
    #[error("amount above the sender's balance")]
    Overdraft,
    /// The sender's nonce cannot move any more.
    #[error("sender nonce exhausted")]
    NonceExhausted,
    /// The recipient's balance would pass 2^64 - 1.
    #[error("recipient balance overflows")]
    Overflow,
    /// Sender and recipient are the same leaf.
    #[error("transfer to oneself")]
    SelfTransfer,
    /// A new account for an address that has an index (or a second one in
    /// the batch).
    #[error("new account for an address that has one")]
    AddressBound,
    /// The allocator is past the allocation limit.
    #[error("no free leaf index")]
    NoFreeIndex,
    /// The address hashes to the zero key (never happens for real hashes).
    #[error("address key is zero")]
    ZeroAddressKey,
    /// The next free index holds an account: the mirror's allocator and its
    /// leaves disagree.
    #[error("next free index is occupied")]
    IndexOccupied,
}

/// Errors of version 2's native execution and of the chain-side functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferV2Error {
    /// A version-1 style error (entries, effects, tree).
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// An off-chain transfer that would not apply.
    #[error("off-chain transfer {position} cannot apply: {reason}")]
    OffchainRejected {
        /// Position in the off-chain section.
        position: usize,
        /// Why.
        reason: OffchainReject,
    },
    /// The chain's data is inconsistent with its mirror (a refused proof).
    #[error("off-chain entry {position} is inconsistent: {reason}")]
    BadOffchainEntry {
        /// Position in the off-chain section.
        position: usize,
        /// What is wrong.
        reason: OffchainDataFault,
    },
    /// A set-key effect that is not canonical.
    #[error("set-key entry {0} has a non-zero effect")]
    BadSetKeyEffect(usize),
}

impl From<SmtError> for TransferV2Error {
    fn from(e: SmtError) -> Self {
        TransferV2Error::Transfer(TransferError::Tree(e))
    }
}

/// Shape of a version-2 circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferV2Params {
    /// Queue slots per batch (`B_q`, at least 1).
    pub queue_slots: usize,
    /// Off-chain slots per batch (`B_s`, may be 0).
    pub offchain_slots: usize,
    /// Ledger tree shape.
    pub tree: TreeConfig,
}

impl TransferV2Params {
    fn check(&self) -> Result<(), TransferError> {
        if self.queue_slots == 0 || self.queue_slots > MAX_BATCH || self.offchain_slots > MAX_BATCH
        {
            return Err(TransferError::BadBatchSize);
        }
        Ok(())
    }

    /// The first index the chain can never allocate: the tree's capacity, or
    /// [`BY_KEY_INDEX`] if that is smaller (2^32 leaves).
    pub fn allocation_limit(&self) -> u64 {
        self.tree.capacity().min(u64::from(BY_KEY_INDEX))
    }
}

/// Refuses more queue entries than `B_q` or off-chain entries than `B_s`.
fn check_sizes(
    params: &TransferV2Params,
    queue: usize,
    offchain: usize,
) -> Result<(), TransferError> {
    for (got, max) in [
        (queue, params.queue_slots),
        (offchain, params.offchain_slots),
    ] {
        if got > max {
            return Err(TransferError::TooManyEntries { got, max });
        }
    }
    Ok(())
}

/// The deltas commitment of version 2:
/// `sponge(DELTAS, effects ++ effect padding ++ off-chain ++ off-chain padding
/// ++ [alloc_start, created])`, with `4 B_q` effect elements exactly as in
/// version 1, `2 B_s` off-chain elements ([`ResolvedOffchain::to_fields`],
/// padding `[0, 0]`) and `created` the number of entries with `created` set.
pub fn deltas_commitment(
    params: &TransferV2Params,
    effects: &[EntryEffect],
    offchain: &[ResolvedOffchain],
    alloc_start: u32,
) -> Result<Fr, TransferError> {
    Ok(poseidon::sponge(
        tags::DELTAS,
        &deltas_elements(params, effects, offchain, alloc_start)?,
    ))
}

/// The elements [`deltas_commitment`] hashes (after checking its inputs as
/// it does), for callers that hash them their own way (a memo).
pub fn deltas_elements(
    params: &TransferV2Params,
    effects: &[EntryEffect],
    offchain: &[ResolvedOffchain],
    alloc_start: u32,
) -> Result<Vec<Fr>, TransferError> {
    params.check()?;
    if effects.len() > params.queue_slots {
        return Err(TransferError::TooManyEntries {
            got: effects.len(),
            max: params.queue_slots,
        });
    }
    // Version 1's canonical form of the effects.
    for e in effects {
        match e.status {
            EntryStatus::Padding => {
                return Err(TransferError::MalformedDeltas(
                    "padding effect among real entries",
                ));
            }
            EntryStatus::Rejected if (e.from_balance, e.from_nonce, e.to_balance) != (0, 0, 0) => {
                return Err(TransferError::MalformedDeltas(
                    "rejected entry with non-zero values",
                ));
            }
            _ => {}
        }
    }
    if offchain.len() > params.offchain_slots {
        return Err(TransferError::TooManyEntries {
            got: offchain.len(),
            max: params.offchain_slots,
        });
    }
    let mut elements = Vec::with_capacity(4 * params.queue_slots + 2 * params.offchain_slots + 2);
    for e in effects {
        elements.extend_from_slice(&e.to_fields());
    }
    for _ in effects.len()..params.queue_slots {
        elements.extend_from_slice(&EntryEffect::PADDING.to_fields());
    }
    let mut created = 0u64;
    for o in offchain {
        elements.extend_from_slice(&o.to_fields());
        created += u64::from(o.created);
    }
    for _ in offchain.len()..params.offchain_slots {
        elements.extend_from_slice(&[Fr::ZERO, Fr::ZERO]);
    }
    elements.push(Fr::from(u64::from(alloc_start)));
    elements.push(Fr::from(created));
    Ok(elements)
}

/// The public inputs of a version-2 proof: `PublicInputs { chain_id,
/// "transfer", 2, old_root, new_root, queue_before, queue_after,
/// deltas_commitment }`, whose [`PublicInputs::commitment`] is the proof's one
/// public input. The chain computes `deltas_commitment` with
/// [`deltas_commitment`] from the submitted data over
/// [`BatchDeltas::resolved`] of [`expand_batch`].
pub fn public_inputs(
    chain_id: &[u8],
    old_root: Fr,
    new_root: Fr,
    queue_before: Fr,
    queue_after: Fr,
    deltas_commitment: Fr,
) -> PublicInputs {
    PublicInputs {
        chain_id: chain_id.to_vec(),
        program_id: PROGRAM_ID.to_owned(),
        program_version: PROGRAM_VERSION,
        old_root,
        new_root,
        queue_before,
        queue_after,
        deltas_commitment,
    }
}

/// One write to the chain's ledger mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerWrite {
    /// Balance (and nonce) write, as in version 1.
    Account(transfer::AccountWrite),
    /// The account at `index` now has spending key `spend`.
    SpendKey {
        /// Leaf index.
        index: u32,
        /// The key (from the set-key queue entry).
        spend: PublicKey,
    },
}

/// An account created by the off-chain section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAccount {
    /// Its leaf index (`alloc_start + j`).
    pub index: u32,
    /// The owner's address, bound to the index for ever.
    pub address: [u8; ADDRESS_BYTES],
    /// `transfer::account_key(address)`.
    pub key: Fr,
}

/// Everything a version-2 batch changes, in application order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchDeltas {
    /// Mirror writes: the queue section's (debit before credit, set-keys),
    /// then each off-chain transfer's sender and recipient.
    pub writes: Vec<LedgerWrite>,
    /// Withdrawals to pay from escrow, in queue order.
    pub withdrawals: Vec<Withdrawal>,
    /// Accounts created by the off-chain section, in index order.
    pub new_accounts: Vec<NewAccount>,
    /// The off-chain entries as the commitment binds them.
    pub resolved: Vec<ResolvedOffchain>,
}

impl BatchDeltas {
    /// How far the chain's next free index moves.
    pub fn created(&self) -> u32 {
        // At most MAX_BATCH entries.
        u32::try_from(self.new_accounts.len()).unwrap_or(u32::MAX)
    }
}

/// What the chain knows before applying a batch.
pub trait MirrorView {
    /// The settled account at `index` (key, balance, nonce), if any.
    fn account(&self, index: u32) -> Option<transfer::Account>;
    /// Whether `address` already has a leaf index.
    fn has_index(&self, address: &[u8; ADDRESS_BYTES]) -> bool;
}

/// Turns a verified (or to-be-verified) batch into mirror writes: the queue
/// section from `entries` and their `effects` (version 1's
/// `expand_deltas`, plus set-keys), then the `offchain` entries replayed over
/// the mirror with checked arithmetic. Any inconsistency (a sender or an
/// existing recipient without an account, a balance or nonce that does not
/// fit, a new account for an address that has an index or appears twice, an
/// index at or past the allocation limit, a self-transfer) is an error: the
/// chain refuses the submission. The chain then computes the public input
/// from [`deltas_commitment`] over [`BatchDeltas::resolved`], so an entry that
/// differs from what was proven fails the proof.
pub fn expand_batch<M: MirrorView>(
    params: &TransferV2Params,
    mirror: &M,
    entries: &[QueueEntry],
    effects: &[EntryEffect],
    offchain: &[OffchainEntry],
    alloc_start: u32,
) -> Result<BatchDeltas, TransferV2Error> {
    params.check()?;
    if entries.len() != effects.len() {
        return Err(
            TransferError::MalformedDeltas("one effect per consumed entry expected").into(),
        );
    }
    check_sizes(params, entries.len(), offchain.len())?;
    let mut out = BatchDeltas::default();
    // Accounts as changed by this batch so far.
    let mut overlay: BTreeMap<u32, transfer::Account> = BTreeMap::new();
    let get = |overlay: &BTreeMap<u32, transfer::Account>, i: u32| {
        overlay.get(&i).copied().or_else(|| mirror.account(i))
    };
    for (position, (e, fx)) in entries.iter().zip(effects).enumerate() {
        match e {
            QueueEntry::V1(v1) => {
                let d =
                    transfer::expand_deltas(std::slice::from_ref(v1), std::slice::from_ref(fx))?;
                for w in d.writes {
                    let nonce = match w.nonce {
                        Some(n) => n,
                        None => get(&overlay, w.index).map_or(0, |a| a.nonce),
                    };
                    overlay.insert(
                        w.index,
                        transfer::Account {
                            key: w.key,
                            balance: w.balance,
                            nonce,
                        },
                    );
                    out.writes.push(LedgerWrite::Account(w));
                }
                out.withdrawals.extend(d.withdrawals);
            }
            QueueEntry::SetKey { index, spend, .. } => {
                if (fx.from_balance, fx.from_nonce, fx.to_balance) != (0, 0, 0) {
                    return Err(TransferV2Error::BadSetKeyEffect(position));
                }
                match fx.status {
                    EntryStatus::Applied => out.writes.push(LedgerWrite::SpendKey {
                        index: *index,
                        spend: *spend,
                    }),
                    EntryStatus::Rejected => {}
                    EntryStatus::Padding => {
                        return Err(TransferError::MalformedDeltas(
                            "padding effect among real entries",
                        )
                        .into());
                    }
                }
            }
        }
    }
    let mut addresses = BTreeSet::new();
    let limit = params.allocation_limit();
    for (position, o) in offchain.iter().enumerate() {
        let bad = |reason| TransferV2Error::BadOffchainEntry { position, reason };
        let sender = get(&overlay, o.from_index).ok_or(bad(OffchainDataFault::NoSender))?;
        let sender_new = transfer::Account {
            key: sender.key,
            balance: sender
                .balance
                .checked_sub(o.amount)
                .ok_or(bad(OffchainDataFault::Overdraft))?,
            nonce: sender
                .nonce
                .checked_add(1)
                .ok_or(bad(OffchainDataFault::NonceExhausted))?,
        };
        let (to_index, recipient, created) = match o.recipient {
            Recipient::Existing(i) => {
                let r = get(&overlay, i).ok_or(bad(OffchainDataFault::NoRecipient))?;
                (i, r, false)
            }
            Recipient::New(address) => {
                let index = u64::from(alloc_start) + out.new_accounts.len() as u64;
                if index >= limit {
                    return Err(bad(OffchainDataFault::NoFreeIndex));
                }
                let index =
                    u32::try_from(index).map_err(|_| bad(OffchainDataFault::NoFreeIndex))?;
                if mirror.has_index(&address) || !addresses.insert(address) {
                    return Err(bad(OffchainDataFault::AddressBound));
                }
                let key = transfer::account_key(&address)
                    .ok_or(bad(OffchainDataFault::ZeroAddressKey))?;
                if get(&overlay, index).is_some() {
                    return Err(bad(OffchainDataFault::IndexOccupied));
                }
                out.new_accounts.push(NewAccount {
                    index,
                    address,
                    key,
                });
                (
                    index,
                    transfer::Account {
                        key,
                        balance: 0,
                        nonce: 0,
                    },
                    true,
                )
            }
        };
        if to_index == o.from_index {
            return Err(bad(OffchainDataFault::SelfTransfer));
        }
        let recipient_new = transfer::Account {
            balance: recipient
                .balance
                .checked_add(o.amount)
                .ok_or(bad(OffchainDataFault::Overflow))?,
            ..recipient
        };
        overlay.insert(o.from_index, sender_new);
        overlay.insert(to_index, recipient_new);
        out.writes
            .push(LedgerWrite::Account(transfer::AccountWrite {
                index: o.from_index,
                key: sender_new.key,
                balance: sender_new.balance,
                nonce: Some(sender_new.nonce),
            }));
        out.writes
            .push(LedgerWrite::Account(transfer::AccountWrite {
                index: to_index,
                key: recipient_new.key,
                balance: recipient_new.balance,
                nonce: None,
            }));
        out.resolved.push(ResolvedOffchain {
            from_index: o.from_index,
            to_index,
            to_key: recipient.key,
            amount: o.amount,
            created,
        });
    }
    Ok(out)
}

/// The version-2 ledger: accounts by leaf index and the tree of their leaves.
/// A version-1 tree is a version-2 tree whose accounts have no key, so a
/// version-1 store opens here unchanged.
#[derive(Debug, Clone)]
pub struct Ledger<S: NodeStore = MemoryStore> {
    tree: SparseMerkleTree<S>,
    accounts: BTreeMap<u32, Account>,
}

impl Ledger<MemoryStore> {
    /// An empty in-memory ledger.
    pub fn new(tree: TreeConfig) -> Self {
        Ledger {
            tree: SparseMerkleTree::new(tree, MemoryStore::default()),
            accounts: BTreeMap::new(),
        }
    }
}

impl<S: NodeStore> Ledger<S> {
    /// A ledger over `store`, which must already hold the tree of exactly
    /// `accounts` (see `transfer::Ledger::with_store`).
    pub fn with_store(tree: TreeConfig, store: S, accounts: BTreeMap<u32, Account>) -> Self {
        Ledger {
            tree: SparseMerkleTree::new(tree, store),
            accounts,
        }
    }

    /// Every initialised account, by leaf index.
    pub fn accounts(&self) -> &BTreeMap<u32, Account> {
        &self.accounts
    }

    /// The root.
    pub fn root(&self) -> Result<Fr, SmtError> {
        self.tree.root()
    }

    /// The tree.
    pub fn tree(&self) -> &SparseMerkleTree<S> {
        &self.tree
    }

    /// The account at `index`, if initialised.
    pub fn account(&self, index: u32) -> Option<Account> {
        self.accounts.get(&index).copied()
    }

    /// Writes an account.
    pub fn set_account(&mut self, index: u32, account: Account) -> Result<Fr, SmtError> {
        let root = self.tree.update(u64::from(index), account.leaf())?;
        self.accounts.insert(index, account);
        Ok(root)
    }

    /// Applies [`BatchDeltas::writes`] (what the chain's mirror does; here for
    /// tests and replays).
    pub fn apply_writes(&mut self, writes: &[LedgerWrite]) -> Result<Fr, TransferV2Error> {
        for w in writes {
            match w {
                LedgerWrite::Account(w) => {
                    let old = self.account(w.index);
                    let nonce = match w.nonce {
                        Some(n) => n,
                        None => old.map_or(0, |a| a.nonce),
                    };
                    self.set_account(
                        w.index,
                        Account {
                            key: w.key,
                            balance: w.balance,
                            nonce,
                            spend: old.and_then(|a| a.spend),
                        },
                    )?;
                }
                LedgerWrite::SpendKey { index, spend } => {
                    let mut a = self.account(*index).ok_or(TransferV2Error::Transfer(
                        TransferError::MalformedDeltas("spending key for an empty slot"),
                    ))?;
                    a.spend = Some(*spend);
                    self.set_account(*index, a)?;
                }
            }
        }
        Ok(self.root()?)
    }

    fn slot(&self, index: u32) -> Result<SlotWitness, SmtError> {
        let a = self.account(index);
        Ok(SlotWitness {
            key: a.map_or(Fr::ZERO, |a| a.key),
            balance: a.map_or(0, |a| a.balance),
            nonce: a.map_or(0, |a| a.nonce),
            spend: spend_value(a.and_then(|a| a.spend).as_ref()),
            siblings: self.tree.path(u64::from(index))?.siblings,
        })
    }
}

/// Witness of one account slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWitness {
    /// Stored key (0 if empty).
    pub key: Fr,
    /// Stored balance.
    pub balance: u64,
    /// Stored nonce.
    pub nonce: u64,
    /// Stored `spend` value.
    pub spend: Fr,
    /// Siblings of the slot's path in the tree it is read from.
    pub siblings: Vec<Vec<Fr>>,
}

/// Witness of one queue slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryWitness {
    /// The entry's fields (padding for unused slots).
    pub entry: EntryFields,
    /// Debit slot, read before the entry.
    pub from: SlotWitness,
    /// Credit slot, read after the debit write.
    pub to: SlotWitness,
}

/// Witness of one off-chain slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffchainWitness {
    /// A real transfer (false: padding).
    pub real: bool,
    /// Sender index.
    pub from_index: u32,
    /// Recipient index (where the credit is written).
    pub to_index: u32,
    /// The signed `to_index` is [`BY_KEY_INDEX`] rather than `to_index`.
    pub by_key: bool,
    /// Recipient key (signed).
    pub to_key: Fr,
    /// Amount (signed).
    pub amount: u64,
    /// `u` coordinate of the sender's key (its `v` is the leaf's `spend`).
    pub pk_u: Fr,
    /// The signature (padding: by the public padding key, secret 1).
    pub signature: crate::spend_auth::gadget::SignatureWitness,
    /// Sender slot, read before the transfer.
    pub from: SlotWitness,
    /// Recipient slot, read after the sender's write.
    pub to: SlotWitness,
}

/// Private witness of a version-2 proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferV2Witness {
    /// Chain-id bytes.
    pub chain_id: Vec<u8>,
    /// Root before the batch.
    pub old_root: Fr,
    /// Queue hash before the batch.
    pub queue_before: Fr,
    /// The chain's next free index when it verifies.
    pub alloc_start: u32,
    /// Exactly `queue_slots` queue slots.
    pub entries: Vec<EntryWitness>,
    /// Exactly `offchain_slots` off-chain slots.
    pub offchain: Vec<OffchainWitness>,
}

/// Native result of a version-2 batch: what the prover submits and the chain
/// recomputes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferV2Outcome {
    /// The values bound by the proof.
    pub public: PublicInputs,
    /// Effects of the consumed queue entries, in queue order.
    pub effects: Vec<EntryEffect>,
    /// The off-chain entries for `MsgSubmitProof` (data, no signatures).
    pub offchain: Vec<OffchainEntry>,
    /// The chain's next free index the proof assumed.
    pub alloc_start: u32,
    /// Everything the batch changes (what [`expand_batch`] gives the chain).
    pub deltas: BatchDeltas,
}

/// The secret key of padding signatures: 1, so its public key is the
/// generator and anyone can sign for it. Padding slots write nothing, so a
/// signature by a public key authorises nothing.
fn padding_key() -> SpendingKey {
    let mut one = [0u8; 32];
    one[0] = 1;
    // 1 is a canonical non-zero scalar.
    SpendingKey::from_bytes(&one).unwrap_or_else(|_| unreachable!("1 is a valid secret key"))
}

/// Checks one off-chain transfer against the ledger as it stands (after the
/// queue section and earlier off-chain transfers) and returns the recipient
/// index and whether it is created. The prover runs this to filter its pool.
pub fn check_offchain<S: NodeStore>(
    ledger: &Ledger<S>,
    chain_id: &[u8],
    t: &OffchainTransfer,
    next_new_index: u64,
    limit: u64,
) -> Result<(u32, bool), OffchainReject> {
    let m = &t.signed.message;
    let sender = ledger
        .account(m.from_index)
        .ok_or(OffchainReject::NoSender)?;
    let pk = sender.spend.ok_or(OffchainReject::NoSpendingKey)?;
    t.signed
        .verify(&pk, chain_id)
        .map_err(OffchainReject::BadSignature)?;
    if m.nonce != sender.nonce {
        return Err(OffchainReject::WrongNonce {
            signed: m.nonce,
            current: sender.nonce,
        });
    }
    if m.nonce == u64::MAX {
        // As for version-1 debits: nonce + 1 must fit in 64 bits.
        return Err(OffchainReject::NonceExhausted);
    }
    if sender.balance < m.amount {
        return Err(OffchainReject::InsufficientFunds);
    }
    let (to_index, created, balance) = match t.recipient {
        Recipient::Existing(i) => {
            if m.to_index != BY_KEY_INDEX && m.to_index != i {
                return Err(OffchainReject::Recipient("signed index differs"));
            }
            let r = ledger
                .account(i)
                .ok_or(OffchainReject::Recipient("no account at the index"))?;
            if r.key != m.to_key {
                return Err(OffchainReject::Recipient("key differs from the leaf's"));
            }
            (i, false, r.balance)
        }
        Recipient::New(address) => {
            if transfer::account_key(&address) != Some(m.to_key) {
                return Err(OffchainReject::Recipient("key is not the address's"));
            }
            if next_new_index >= limit {
                return Err(OffchainReject::Recipient("no free leaf index"));
            }
            let i = u32::try_from(next_new_index)
                .map_err(|_| OffchainReject::Recipient("no free leaf index"))?;
            if m.to_index != BY_KEY_INDEX && m.to_index != i {
                return Err(OffchainReject::Recipient(
                    "signed index is not the next free one",
                ));
            }
            if ledger.account(i).is_some() {
                return Err(OffchainReject::Recipient("next free index is occupied"));
            }
            (i, true, 0)
        }
    };
    if to_index == m.from_index {
        return Err(OffchainReject::SelfTransfer);
    }
    balance
        .checked_add(m.amount)
        .ok_or(OffchainReject::Overflow)?;
    Ok((to_index, created))
}

/// Runs a version-2 batch natively: the consumed queue `entries` (at most
/// `queue_slots`, in order, from queue hash `queue_before`), then the
/// `offchain` transfers (at most `offchain_slots`), creating new accounts
/// from `alloc_start`. An off-chain transfer that cannot apply is an error
/// ([`TransferV2Error::OffchainRejected`]; the ledger may then be partly
/// written: run on a copy). Returns the outcome and the witness.
pub fn execute<S: NodeStore>(
    params: &TransferV2Params,
    chain_id: &[u8],
    ledger: &mut Ledger<S>,
    queue_before: Fr,
    entries: &[QueueEntry],
    offchain: &[OffchainTransfer],
    alloc_start: u32,
) -> Result<(TransferV2Outcome, TransferV2Witness), TransferV2Error> {
    execute_inner(
        params,
        chain_id,
        ledger,
        queue_before,
        entries,
        offchain,
        alloc_start,
        true,
    )
}

/// [`execute`] without the off-chain checks (wrapping arithmetic, no
/// signature check): the witness of a transfer the rules refuse, for tests
/// that show the circuit refuses it too.
#[cfg(test)]
pub(crate) fn execute_unchecked(
    params: &TransferV2Params,
    chain_id: &[u8],
    ledger: &mut Ledger,
    queue_before: Fr,
    entries: &[QueueEntry],
    offchain: &[OffchainTransfer],
    alloc_start: u32,
) -> Result<(TransferV2Outcome, TransferV2Witness), TransferV2Error> {
    execute_inner(
        params,
        chain_id,
        ledger,
        queue_before,
        entries,
        offchain,
        alloc_start,
        false,
    )
}

#[allow(clippy::too_many_arguments)]
fn execute_inner<S: NodeStore>(
    params: &TransferV2Params,
    chain_id: &[u8],
    ledger: &mut Ledger<S>,
    queue_before: Fr,
    entries: &[QueueEntry],
    offchain: &[OffchainTransfer],
    alloc_start: u32,
    checked: bool,
) -> Result<(TransferV2Outcome, TransferV2Witness), TransferV2Error> {
    params.check()?;
    check_sizes(params, entries.len(), offchain.len())?;
    if ledger.tree().config() != params.tree {
        return Err(TransferError::MalformedEntry {
            position: 0,
            reason: "ledger tree shape differs from the circuit's",
        }
        .into());
    }
    for (i, e) in entries.iter().enumerate() {
        e.validate(params.tree, i)?;
    }
    let old_root = ledger.root()?;
    let mut queue = queue_before;
    let mut effects = Vec::with_capacity(entries.len());
    let mut witnesses = Vec::with_capacity(params.queue_slots);
    let mut deltas = BatchDeltas::default();
    for slot in 0..params.queue_slots {
        let entry = entries.get(slot);
        let f = entry.map_or(EntryFields::PADDING, QueueEntry::fields);
        let from = ledger.account(f.from_index);
        let to = ledger.account(f.to_index);
        let from_w = ledger.slot(f.from_index)?;
        let mut effect = EntryEffect {
            status: EntryStatus::Padding,
            from_balance: 0,
            from_nonce: 0,
            to_balance: 0,
        };
        let to_w;
        match entry {
            None => to_w = ledger.slot(f.to_index)?,
            Some(QueueEntry::SetKey { index, key, spend }) => {
                let applies = set_key_applies(*key, from.as_ref());
                if let Some(mut a) = from.filter(|_| applies) {
                    a.spend = Some(*spend);
                    ledger.set_account(*index, a)?;
                    deltas.writes.push(LedgerWrite::SpendKey {
                        index: *index,
                        spend: *spend,
                    });
                }
                effect.status = if applies {
                    EntryStatus::Applied
                } else {
                    EntryStatus::Rejected
                };
                to_w = ledger.slot(f.to_index)?;
            }
            Some(QueueEntry::V1(e)) => {
                let applies = transfer::entry_applies(
                    e,
                    from.map(|a| a.v1()).as_ref(),
                    to.map(|a| a.v1()).as_ref(),
                );
                effect.status = if applies {
                    EntryStatus::Applied
                } else {
                    EntryStatus::Rejected
                };
                let kind = e.kind;
                let debit = applies
                    && matches!(
                        kind,
                        transfer::EntryKind::Transfer | transfer::EntryKind::Withdraw
                    );
                let credit = applies
                    && matches!(
                        kind,
                        transfer::EntryKind::Deposit | transfer::EntryKind::Transfer
                    );
                if debit {
                    let a = from.ok_or(TransferError::MalformedDeltas("debit of an empty slot"))?;
                    let updated = Account {
                        balance: a
                            .balance
                            .checked_sub(e.amount)
                            .ok_or(TransferError::MalformedDeltas("underflow"))?,
                        nonce: a
                            .nonce
                            .checked_add(1)
                            .ok_or(TransferError::MalformedDeltas("nonce overflow"))?,
                        ..a
                    };
                    ledger.set_account(e.from_index, updated)?;
                    effect.from_balance = updated.balance;
                    effect.from_nonce = updated.nonce;
                    deltas
                        .writes
                        .push(LedgerWrite::Account(transfer::AccountWrite {
                            index: e.from_index,
                            key: a.key,
                            balance: updated.balance,
                            nonce: Some(updated.nonce),
                        }));
                    if kind == transfer::EntryKind::Withdraw {
                        deltas.withdrawals.push(Withdrawal {
                            index: e.from_index,
                            key: a.key,
                            amount: e.amount,
                        });
                    }
                }
                to_w = ledger.slot(e.to_index)?;
                if credit {
                    let old = to.map_or(
                        Account {
                            key: e.to_key,
                            balance: 0,
                            nonce: 0,
                            spend: None,
                        },
                        |a| a,
                    );
                    let updated = Account {
                        key: e.to_key,
                        balance: old
                            .balance
                            .checked_add(e.amount)
                            .ok_or(TransferError::MalformedDeltas("overflow"))?,
                        ..old
                    };
                    ledger.set_account(e.to_index, updated)?;
                    effect.to_balance = updated.balance;
                    deltas
                        .writes
                        .push(LedgerWrite::Account(transfer::AccountWrite {
                            index: e.to_index,
                            key: e.to_key,
                            balance: updated.balance,
                            nonce: None,
                        }));
                }
            }
        }
        if let Some(e) = entry {
            queue = e.queue_step(queue);
            effects.push(effect);
        }
        witnesses.push(EntryWitness {
            entry: f,
            from: from_w,
            to: to_w,
        });
    }

    // Off-chain section.
    let chain = chain_id_element(chain_id);
    let limit = params.allocation_limit();
    let mut off_witnesses = Vec::with_capacity(params.offchain_slots);
    let mut data = Vec::with_capacity(offchain.len());
    for slot in 0..params.offchain_slots {
        let Some(t) = offchain.get(slot) else {
            // Padding: no writes; signed by the public padding key over the
            // message its (zero) fields and index 0's nonce make.
            let from = ledger.slot(0)?;
            let to = ledger.slot(0)?;
            let msg = TransferMessage {
                from_index: 0,
                to_index: 0,
                to_key: Fr::ZERO,
                amount: 0,
                nonce: from.nonce,
            };
            let sig = padding_key().sign(chain, &msg.fields());
            off_witnesses.push(OffchainWitness {
                real: false,
                from_index: 0,
                to_index: 0,
                by_key: false,
                to_key: Fr::ZERO,
                amount: 0,
                pk_u: Fr::ZERO,
                signature: sig
                    .witness()
                    .map_err(|reason| TransferV2Error::OffchainRejected {
                        position: slot,
                        reason: OffchainReject::BadSignature(reason),
                    })?,
                from,
                to,
            });
            continue;
        };
        let rejected = |reason| TransferV2Error::OffchainRejected {
            position: slot,
            reason,
        };
        let next_new = u64::from(alloc_start) + deltas.new_accounts.len() as u64;
        let m = t.signed.message;
        if let Recipient::New(address) = t.recipient
            && checked
            && deltas.new_accounts.iter().any(|a| a.address == address)
        {
            // The chain refuses a second leaf for one address: the second
            // transfer must name the account created by the first.
            return Err(rejected(OffchainReject::Recipient(
                "address already created in this batch",
            )));
        }
        let (to_index, created) = if checked {
            check_offchain(ledger, chain_id, t, next_new, limit).map_err(rejected)?
        } else {
            let i = match t.recipient {
                Recipient::Existing(i) => i,
                Recipient::New(_) => u32::try_from(next_new).unwrap_or(u32::MAX),
            };
            (i, ledger.account(i).is_none())
        };
        let sender = match ledger.account(m.from_index) {
            Some(a) => a,
            None if !checked => Account {
                key: Fr::ZERO,
                balance: 0,
                nonce: 0,
                spend: None,
            },
            None => return Err(rejected(OffchainReject::NoSender)),
        };
        let pk_u = match sender.spend {
            Some(pk) => pk.coordinates().0,
            None if !checked => Fr::ZERO,
            None => return Err(rejected(OffchainReject::NoSpendingKey)),
        };
        let signature = t
            .signed
            .signature
            .witness()
            .map_err(|e| rejected(OffchainReject::BadSignature(e)))?;
        let from_w = ledger.slot(m.from_index)?;
        // check_offchain established that the arithmetic below cannot fail;
        // unchecked runs (tests) wrap instead.
        let sender_new = Account {
            balance: if checked {
                sender
                    .balance
                    .checked_sub(m.amount)
                    .ok_or(rejected(OffchainReject::InsufficientFunds))?
            } else {
                sender.balance.wrapping_sub(m.amount)
            },
            nonce: if checked {
                sender
                    .nonce
                    .checked_add(1)
                    .ok_or(rejected(OffchainReject::NonceExhausted))?
            } else {
                sender.nonce.wrapping_add(1)
            },
            ..sender
        };
        ledger.set_account(m.from_index, sender_new)?;
        let to_w = ledger.slot(to_index)?;
        let old = ledger.account(to_index).unwrap_or(Account {
            key: m.to_key,
            balance: 0,
            nonce: 0,
            spend: None,
        });
        let recipient_new = Account {
            balance: if checked {
                old.balance
                    .checked_add(m.amount)
                    .ok_or(rejected(OffchainReject::Overflow))?
            } else {
                old.balance.wrapping_add(m.amount)
            },
            ..old
        };
        ledger.set_account(to_index, recipient_new)?;
        deltas
            .writes
            .push(LedgerWrite::Account(transfer::AccountWrite {
                index: m.from_index,
                key: sender_new.key,
                balance: sender_new.balance,
                nonce: Some(sender_new.nonce),
            }));
        deltas
            .writes
            .push(LedgerWrite::Account(transfer::AccountWrite {
                index: to_index,
                key: recipient_new.key,
                balance: recipient_new.balance,
                nonce: None,
            }));
        if let Recipient::New(address) = t.recipient {
            deltas.new_accounts.push(NewAccount {
                index: to_index,
                address,
                key: m.to_key,
            });
        }
        deltas.resolved.push(ResolvedOffchain {
            from_index: m.from_index,
            to_index,
            to_key: m.to_key,
            amount: m.amount,
            created,
        });
        data.push(OffchainEntry {
            from_index: m.from_index,
            recipient: t.recipient,
            amount: m.amount,
        });
        off_witnesses.push(OffchainWitness {
            real: true,
            from_index: m.from_index,
            to_index,
            by_key: m.to_index == BY_KEY_INDEX,
            to_key: m.to_key,
            amount: m.amount,
            pk_u,
            signature,
            from: from_w,
            to: to_w,
        });
    }
    let public = public_inputs(
        chain_id,
        old_root,
        ledger.root()?,
        queue_before,
        queue,
        deltas_commitment(params, &effects, &deltas.resolved, alloc_start)?,
    );
    let witness = TransferV2Witness {
        chain_id: chain_id.to_vec(),
        old_root,
        queue_before,
        alloc_start,
        entries: witnesses,
        offchain: off_witnesses,
    };
    Ok((
        TransferV2Outcome {
            public,
            effects,
            offchain: data,
            alloc_start,
            deltas,
        },
        witness,
    ))
}

/// The `transfer` program, version 2.
#[derive(Debug, Clone, Copy)]
pub struct TransferV2;

/// A batch for [`TransferV2`].
#[derive(Debug, Clone)]
pub struct TransferV2Batch {
    /// Queue hash before the first entry.
    pub queue_before: Fr,
    /// Consumed queue entries in order.
    pub entries: Vec<QueueEntry>,
    /// Off-chain transfers, in the order they apply.
    pub offchain: Vec<OffchainTransfer>,
    /// The chain's next free leaf index.
    pub alloc_start: u32,
}

/// Proves a version-2 batch (compiled here, in an optimised crate, for the
/// reason `transfer::prove` gives).
pub fn prove(
    params: &TransferV2Params,
    witness: TransferV2Witness,
    key: &bellman::groth16::Parameters<bls12_381::Bls12>,
    rng_seed: [u8; 32],
) -> Result<bellman::groth16::Proof<bls12_381::Bls12>, bellman::SynthesisError> {
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(rng_seed);
    bellman::groth16::create_random_proof(TransferV2::circuit(params, Some(witness)), key, &mut rng)
}

impl Program for TransferV2 {
    const ID: &'static str = PROGRAM_ID;
    const VERSION: u32 = PROGRAM_VERSION;
    type Params = TransferV2Params;
    type State = Ledger<MemoryStore>;
    type Batch = TransferV2Batch;
    type Outcome = TransferV2Outcome;
    type Witness = TransferV2Witness;
    type Error = TransferV2Error;
    type Circuit = TransferV2Circuit;

    fn execute(
        params: &Self::Params,
        chain_id: &[u8],
        state: &mut Self::State,
        batch: &Self::Batch,
    ) -> Result<(Self::Outcome, Self::Witness), Self::Error> {
        execute(
            params,
            chain_id,
            state,
            batch.queue_before,
            &batch.entries,
            &batch.offchain,
            batch.alloc_start,
        )
    }

    fn circuit(params: &Self::Params, witness: Option<Self::Witness>) -> Self::Circuit {
        TransferV2Circuit {
            params: *params,
            witness,
        }
    }

    fn public_input(outcome: &Self::Outcome) -> Fr {
        outcome.public.commitment()
    }
}

#[cfg(test)]
mod tests;
