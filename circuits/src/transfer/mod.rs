//! Program `transfer`: deposits, transfers and withdrawals over the ledger
//! sparse Merkle tree, in batches of up to `B` queue entries.
//!
//! Every entry touches two leaf slots in order: the *debit* slot (`from`) and
//! then the *credit* slot (`to`), so a batch moves the root
//! `r_0 -> r_1 -> ... -> r_2B`. An entry that cannot apply is a recorded no-op
//! (status [`EntryStatus::Rejected`]); the queue still advances. The exact rules
//! are in [`entry_applies`]; the encodings are in `docs/protocol.md`.

pub mod circuit;

use std::collections::BTreeMap;

use ff::Field;

use crate::field::{Fr, fr_pow2};
use crate::poseidon::{self, tags};
use crate::program::Program;
use crate::public_input::PublicInputs;
use crate::smt::{MemoryStore, NodeStore, SmtError, SparseMerkleTree, TreeConfig};

pub use circuit::TransferCircuit;

/// Registry id of this program.
pub const PROGRAM_ID: &str = "transfer";
/// Version of this program's circuit.
pub const PROGRAM_VERSION: u32 = 1;
/// Largest supported batch size.
pub const MAX_BATCH: usize = 1024;

/// Kind of a queue entry (its field encoding is the discriminant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// Fills unused batch slots; never in the queue.
    Padding = 0,
    /// Credit `amount` to `to` (funds came from bank escrow).
    Deposit = 1,
    /// Move `amount` from `from` to `to`; consumes `from`'s nonce.
    Transfer = 2,
    /// Debit `amount` from `from`; paid out of escrow by the chain.
    Withdraw = 3,
}

/// The ledger key of an account address (the chain's address bytes):
/// `sponge(ACCOUNT_KEY, bytes_to_fields(address))`. `None` in the
/// (cryptographically negligible) case that it is zero, which is reserved for
/// empty leaves; the chain then refuses the address.
pub fn account_key(address: &[u8]) -> Option<Fr> {
    let k = poseidon::sponge(tags::ACCOUNT_KEY, &crate::field::bytes_to_fields(address));
    if k == Fr::ZERO { None } else { Some(k) }
}

/// A ledger account as committed in its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Account key (non-zero field element chosen by the chain, e.g. a hash of the address).
    pub key: Fr,
    /// Balance.
    pub balance: u64,
    /// Number of debits applied (next expected nonce).
    pub nonce: u64,
}

impl Account {
    /// The leaf: `hash4(LEAF, [key, balance, nonce, 0])`.
    pub fn leaf(&self) -> Fr {
        poseidon::hash4(
            tags::LEAF,
            [
                self.key,
                Fr::from(self.balance),
                Fr::from(self.nonce),
                Fr::ZERO,
            ],
        )
    }
}

/// One queue entry. Unused fields are zero (see the constructors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueEntry {
    /// Entry kind.
    pub kind: EntryKind,
    /// Leaf index of the debited account (0 for deposits).
    pub from_index: u32,
    /// Key of the debited account (0 for deposits).
    pub from_key: Fr,
    /// Leaf index of the credited account (0 for withdrawals).
    pub to_index: u32,
    /// Key of the credited account (0 for withdrawals).
    pub to_key: Fr,
    /// Amount.
    pub amount: u64,
    /// Expected nonce of the debited account (0 for deposits).
    pub nonce: u64,
}

/// Errors in entries, effects or native execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// More entries than the batch size.
    #[error("batch has {got} entries but the circuit takes at most {max}")]
    TooManyEntries {
        /// Entries given.
        got: usize,
        /// Batch size.
        max: usize,
    },
    /// An entry is malformed for its kind.
    #[error("entry {position} is malformed: {reason}")]
    MalformedEntry {
        /// Position in the batch.
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Effects do not match the entries or are not canonical.
    #[error("deltas are malformed: {0}")]
    MalformedDeltas(&'static str),
    /// Bad batch size.
    #[error("batch size must be between 1 and {MAX_BATCH}")]
    BadBatchSize,
    /// Tree failure.
    #[error(transparent)]
    Tree(#[from] SmtError),
}

impl QueueEntry {
    /// A deposit of `amount` to `(to_index, to_key)`.
    pub fn deposit(to_index: u32, to_key: Fr, amount: u64) -> Self {
        QueueEntry {
            kind: EntryKind::Deposit,
            from_index: 0,
            from_key: Fr::ZERO,
            to_index,
            to_key,
            amount,
            nonce: 0,
        }
    }

    /// A transfer of `amount` from `(from_index, from_key)` with `nonce` to `(to_index, to_key)`.
    pub fn transfer(
        from_index: u32,
        from_key: Fr,
        to_index: u32,
        to_key: Fr,
        amount: u64,
        nonce: u64,
    ) -> Self {
        QueueEntry {
            kind: EntryKind::Transfer,
            from_index,
            from_key,
            to_index,
            to_key,
            amount,
            nonce,
        }
    }

    /// A withdrawal of `amount` from `(from_index, from_key)` with `nonce`.
    pub fn withdraw(from_index: u32, from_key: Fr, amount: u64, nonce: u64) -> Self {
        QueueEntry {
            kind: EntryKind::Withdraw,
            from_index,
            from_key,
            to_index: 0,
            to_key: Fr::ZERO,
            amount,
            nonce,
        }
    }

    /// The padding entry (all zero).
    pub fn padding() -> Self {
        QueueEntry {
            kind: EntryKind::Padding,
            from_index: 0,
            from_key: Fr::ZERO,
            to_index: 0,
            to_key: Fr::ZERO,
            amount: 0,
            nonce: 0,
        }
    }

    /// Checks what the chain must check before enqueueing: indices fit the
    /// tree, used keys are non-zero, unused fields are zero, not padding.
    pub fn validate(&self, tree: TreeConfig, position: usize) -> Result<(), TransferError> {
        let bad = |reason| Err(TransferError::MalformedEntry { position, reason });
        let cap = tree.capacity();
        if u64::from(self.from_index) >= cap || u64::from(self.to_index) >= cap {
            return bad("leaf index outside the tree");
        }
        let zero_from = self.from_index == 0 && self.from_key == Fr::ZERO && self.nonce == 0;
        let zero_to = self.to_index == 0 && self.to_key == Fr::ZERO;
        match self.kind {
            EntryKind::Padding => bad("padding is not a queue entry"),
            EntryKind::Deposit if !zero_from => bad("deposit with from fields"),
            EntryKind::Withdraw if !zero_to => bad("withdraw with to fields"),
            EntryKind::Deposit | EntryKind::Transfer if self.to_key == Fr::ZERO => {
                bad("zero to key")
            }
            EntryKind::Withdraw | EntryKind::Transfer if self.from_key == Fr::ZERO => {
                bad("zero from key")
            }
            _ => Ok(()),
        }
    }

    /// Packs the scalar fields into one element:
    /// `kind + 2^2 from_index + 2^34 to_index + 2^66 amount + 2^130 nonce`.
    pub fn packed(&self) -> Fr {
        Fr::from(self.kind as u64)
            + Fr::from(u64::from(self.from_index)) * fr_pow2(2)
            + Fr::from(u64::from(self.to_index)) * fr_pow2(34)
            + Fr::from(self.amount) * fr_pow2(66)
            + Fr::from(self.nonce) * fr_pow2(130)
    }

    /// The queue hash chain step: `hash4(QUEUE, [prev, packed, from_key, to_key])`.
    /// The chain computes this once per enqueued entry.
    pub fn queue_step(&self, prev: Fr) -> Fr {
        poseidon::hash4(
            tags::QUEUE,
            [prev, self.packed(), self.from_key, self.to_key],
        )
    }
}

/// Outcome status of one batch slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryStatus {
    /// The entry changed the ledger.
    Applied = 0,
    /// The entry could not apply and is a no-op.
    Rejected = 1,
    /// Unused batch slot.
    Padding = 2,
}

/// What one batch slot did, as committed by the deltas commitment.
/// Non-applied slots have all amounts zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryEffect {
    /// Status.
    pub status: EntryStatus,
    /// Balance of the debited account after the entry (0 if no debit).
    pub from_balance: u64,
    /// Nonce of the debited account after the entry (0 if no debit).
    pub from_nonce: u64,
    /// Balance of the credited account after the entry (0 if no credit).
    pub to_balance: u64,
}

impl EntryEffect {
    /// The padding effect.
    pub const PADDING: EntryEffect = EntryEffect {
        status: EntryStatus::Padding,
        from_balance: 0,
        from_nonce: 0,
        to_balance: 0,
    };

    /// Field encoding `[status, from_balance, from_nonce, to_balance]`.
    pub fn to_fields(&self) -> [Fr; 4] {
        [
            Fr::from(self.status as u64),
            Fr::from(self.from_balance),
            Fr::from(self.from_nonce),
            Fr::from(self.to_balance),
        ]
    }
}

/// The deltas commitment of a batch: `sponge(DELTAS, effects ++ padding)` over
/// the `4 * batch_size` elements of [`EntryEffect::to_fields`]. `effects` are
/// the real entries' effects in queue order (no padding); they must be
/// canonical (rejected entries carry zeros).
pub fn deltas_commitment(effects: &[EntryEffect], batch_size: usize) -> Result<Fr, TransferError> {
    Ok(poseidon::sponge(
        tags::DELTAS,
        &deltas_elements(effects, batch_size)?,
    ))
}

/// The elements [`deltas_commitment`] hashes (after checking `effects` as
/// it does), for callers that hash them their own way (a memo).
pub fn deltas_elements(
    effects: &[EntryEffect],
    batch_size: usize,
) -> Result<Vec<Fr>, TransferError> {
    if batch_size == 0 || batch_size > MAX_BATCH {
        return Err(TransferError::BadBatchSize);
    }
    if effects.len() > batch_size {
        return Err(TransferError::TooManyEntries {
            got: effects.len(),
            max: batch_size,
        });
    }
    let mut elements = Vec::with_capacity(4 * batch_size);
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
        elements.extend_from_slice(&e.to_fields());
    }
    for _ in effects.len()..batch_size {
        elements.extend_from_slice(&EntryEffect::PADDING.to_fields());
    }
    Ok(elements)
}

/// The public input a validator expects for a submitted transfer proof,
/// computed from chain state and the submitted effects only:
/// `PublicInputs { chain_id, "transfer", PROGRAM_VERSION, old_root, new_root,
/// queue_before, queue_after, deltas_commitment(effects, batch_size) }.commitment()`.
pub fn public_input(
    chain_id: &[u8],
    old_root: Fr,
    new_root: Fr,
    queue_before: Fr,
    queue_after: Fr,
    effects: &[EntryEffect],
    batch_size: usize,
) -> Result<Fr, TransferError> {
    Ok(PublicInputs {
        chain_id: chain_id.to_vec(),
        program_id: PROGRAM_ID.to_owned(),
        program_version: PROGRAM_VERSION,
        old_root,
        new_root,
        queue_before,
        queue_after,
        deltas_commitment: deltas_commitment(effects, batch_size)?,
    }
    .commitment())
}

/// One account write the chain's ledger mirror applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountWrite {
    /// Leaf index.
    pub index: u32,
    /// Account key (set on first credit).
    pub key: Fr,
    /// New balance.
    pub balance: u64,
    /// New nonce; `None` keeps the stored nonce (0 for a new account).
    pub nonce: Option<u64>,
}

/// A withdrawal the chain pays out of escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawal {
    /// Leaf index of the debited account.
    pub index: u32,
    /// Its key.
    pub key: Fr,
    /// Amount to pay.
    pub amount: u64,
}

/// The ledger changes of a batch, in application order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deltas {
    /// Account writes, in order (debit before credit within an entry).
    pub writes: Vec<AccountWrite>,
    /// Withdrawal outputs, in queue order.
    pub withdrawals: Vec<Withdrawal>,
}

/// Turns the proven effects of the consumed `entries` (same order, same length)
/// into ledger writes and withdrawal outputs. Validators call this after the
/// proof verified (the effects are bound by the deltas commitment).
pub fn expand_deltas(
    entries: &[QueueEntry],
    effects: &[EntryEffect],
) -> Result<Deltas, TransferError> {
    if entries.len() != effects.len() {
        return Err(TransferError::MalformedDeltas(
            "one effect per consumed entry expected",
        ));
    }
    let mut out = Deltas::default();
    for (e, fx) in entries.iter().zip(effects) {
        match fx.status {
            EntryStatus::Padding => {
                return Err(TransferError::MalformedDeltas(
                    "padding effect among real entries",
                ));
            }
            EntryStatus::Rejected => continue,
            EntryStatus::Applied => {}
        }
        let debit = matches!(e.kind, EntryKind::Transfer | EntryKind::Withdraw);
        let credit = matches!(e.kind, EntryKind::Deposit | EntryKind::Transfer);
        if debit {
            out.writes.push(AccountWrite {
                index: e.from_index,
                key: e.from_key,
                balance: fx.from_balance,
                nonce: Some(fx.from_nonce),
            });
        }
        if credit {
            out.writes.push(AccountWrite {
                index: e.to_index,
                key: e.to_key,
                balance: fx.to_balance,
                nonce: None,
            });
        }
        if e.kind == EntryKind::Withdraw {
            out.withdrawals.push(Withdrawal {
                index: e.from_index,
                key: e.from_key,
                amount: e.amount,
            });
        }
    }
    Ok(out)
}

/// Shape of a transfer circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferParams {
    /// Entries per batch (`B`).
    pub batch_size: usize,
    /// Ledger tree shape.
    pub tree: TreeConfig,
}

/// The ledger: account data by leaf index plus the sparse Merkle tree of leaves.
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
    /// `accounts` (a persistent copy being reopened, or an overlay over
    /// one). Nothing is recomputed: a store that disagrees with `accounts`
    /// gives a ledger whose root disagrees with the chain's, which the
    /// caller's root check reports.
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

    /// Writes an account (used by genesis/tests and by the executor).
    pub fn set_account(&mut self, index: u32, account: Account) -> Result<Fr, SmtError> {
        let root = self.tree.update(u64::from(index), account.leaf())?;
        self.accounts.insert(index, account);
        Ok(root)
    }

    /// Applies proven [`Deltas`] (what the chain's mirror does, here for tests).
    pub fn apply_deltas(&mut self, deltas: &Deltas) -> Result<Fr, SmtError> {
        for w in &deltas.writes {
            let nonce = match w.nonce {
                Some(n) => n,
                None => self.account(w.index).map_or(0, |a| a.nonce),
            };
            self.set_account(
                w.index,
                Account {
                    key: w.key,
                    balance: w.balance,
                    nonce,
                },
            )?;
        }
        self.root()
    }
}

/// Witness of one account slot: what the leaf held and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWitness {
    /// Stored key (0 if the slot is empty).
    pub key: Fr,
    /// Stored balance.
    pub balance: u64,
    /// Stored nonce.
    pub nonce: u64,
    /// Siblings of the slot's path, in the tree the slot is read from.
    pub siblings: Vec<Vec<Fr>>,
}

/// Witness of one batch slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryWitness {
    /// The entry (padding for unused slots).
    pub entry: QueueEntry,
    /// Debit slot, read from the root before the entry.
    pub from: SlotWitness,
    /// Credit slot, read from the root after the debit write.
    pub to: SlotWitness,
}

/// Private witness of a transfer proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferWitness {
    /// Chain-id bytes.
    pub chain_id: Vec<u8>,
    /// The registered version the proof claims ([`PROGRAM_VERSION`] unless
    /// the same circuit was registered again under a later version, e.g.
    /// with keys from a new setup). The verifying key pins the circuit; the
    /// version is the registry's label, bound through the public input.
    pub program_version: u32,
    /// Root before the batch.
    pub old_root: Fr,
    /// Queue hash before the batch.
    pub queue_before: Fr,
    /// One per batch slot (exactly `batch_size`).
    pub entries: Vec<EntryWitness>,
}

/// Native result of a batch, everything the prover submits and the chain needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOutcome {
    /// The values bound by the proof.
    pub public: PublicInputs,
    /// Effects of the real entries (no padding), in queue order.
    pub effects: Vec<EntryEffect>,
    /// Ledger writes and withdrawals.
    pub deltas: Deltas,
}

/// The application rule, shared by executor and circuit: does `entry` apply
/// given the debit slot `from` and credit slot `to` (as stored before the entry)?
pub fn entry_applies(entry: &QueueEntry, from: Option<&Account>, to: Option<&Account>) -> bool {
    let from_key = from.map_or(Fr::ZERO, |a| a.key);
    let from_nonce = from.map_or(0, |a| a.nonce);
    let from_balance = from.map_or(0, |a| a.balance);
    let debit_ok = entry.from_key != Fr::ZERO
        && from_key == entry.from_key
        && entry.nonce == from_nonce
        && entry.nonce != u64::MAX
        && from_balance >= entry.amount;
    let to_ok = entry.to_key != Fr::ZERO && to.is_none_or(|a| a.key == entry.to_key);
    let credit_ok = to_ok
        && to
            .map_or(0, |a| a.balance)
            .checked_add(entry.amount)
            .is_some();
    match entry.kind {
        EntryKind::Padding => false,
        EntryKind::Deposit => credit_ok,
        EntryKind::Withdraw => debit_ok,
        EntryKind::Transfer => debit_ok && credit_ok && entry.from_index != entry.to_index,
    }
}

/// Runs a batch natively. `entries` are the consumed queue entries in order
/// (at most `params.batch_size`, no padding); `queue_before` is the queue hash
/// before the first one.
pub fn execute<S: NodeStore>(
    params: &TransferParams,
    chain_id: &[u8],
    ledger: &mut Ledger<S>,
    queue_before: Fr,
    entries: &[QueueEntry],
) -> Result<(TransferOutcome, TransferWitness), TransferError> {
    if params.batch_size == 0 || params.batch_size > MAX_BATCH {
        return Err(TransferError::BadBatchSize);
    }
    if entries.len() > params.batch_size {
        return Err(TransferError::TooManyEntries {
            got: entries.len(),
            max: params.batch_size,
        });
    }
    if ledger.tree().config() != params.tree {
        return Err(TransferError::MalformedEntry {
            position: 0,
            reason: "ledger tree shape differs from the circuit's",
        });
    }
    for (i, e) in entries.iter().enumerate() {
        e.validate(params.tree, i)?;
    }
    let old_root = ledger.root()?;
    let mut queue = queue_before;
    let mut effects = Vec::with_capacity(entries.len());
    let mut witnesses = Vec::with_capacity(params.batch_size);
    let mut deltas = Deltas::default();
    let padding = QueueEntry::padding();
    for slot in 0..params.batch_size {
        let entry = entries.get(slot).copied().unwrap_or(padding);
        let from = ledger.account(entry.from_index);
        let to = ledger.account(entry.to_index);
        let applies = entry_applies(&entry, from.as_ref(), to.as_ref());
        let debit = applies && matches!(entry.kind, EntryKind::Transfer | EntryKind::Withdraw);
        let credit = applies && matches!(entry.kind, EntryKind::Deposit | EntryKind::Transfer);
        let slot_witness = |ledger: &Ledger<S>, index: u32| -> Result<SlotWitness, TransferError> {
            let a = ledger.account(index);
            Ok(SlotWitness {
                key: a.map_or(Fr::ZERO, |a| a.key),
                balance: a.map_or(0, |a| a.balance),
                nonce: a.map_or(0, |a| a.nonce),
                siblings: ledger.tree().path(u64::from(index))?.siblings,
            })
        };
        let from_w = slot_witness(ledger, entry.from_index)?;
        let mut effect = EntryEffect {
            status: if entry.kind == EntryKind::Padding {
                EntryStatus::Padding
            } else if applies {
                EntryStatus::Applied
            } else {
                EntryStatus::Rejected
            },
            from_balance: 0,
            from_nonce: 0,
            to_balance: 0,
        };
        if debit {
            let a = from.ok_or(TransferError::MalformedDeltas("debit of an empty slot"))?;
            let updated = Account {
                key: a.key,
                balance: a
                    .balance
                    .checked_sub(entry.amount)
                    .ok_or(TransferError::MalformedDeltas("underflow"))?,
                nonce: a
                    .nonce
                    .checked_add(1)
                    .ok_or(TransferError::MalformedDeltas("nonce overflow"))?,
            };
            ledger.set_account(entry.from_index, updated)?;
            effect.from_balance = updated.balance;
            effect.from_nonce = updated.nonce;
            deltas.writes.push(AccountWrite {
                index: entry.from_index,
                key: a.key,
                balance: updated.balance,
                nonce: Some(updated.nonce),
            });
            if entry.kind == EntryKind::Withdraw {
                deltas.withdrawals.push(Withdrawal {
                    index: entry.from_index,
                    key: a.key,
                    amount: entry.amount,
                });
            }
        }
        let to_w = slot_witness(ledger, entry.to_index)?;
        if credit {
            let (balance, nonce) = to.map_or((0, 0), |a| (a.balance, a.nonce));
            let updated = Account {
                key: entry.to_key,
                balance: balance
                    .checked_add(entry.amount)
                    .ok_or(TransferError::MalformedDeltas("overflow"))?,
                nonce,
            };
            ledger.set_account(entry.to_index, updated)?;
            effect.to_balance = updated.balance;
            deltas.writes.push(AccountWrite {
                index: entry.to_index,
                key: entry.to_key,
                balance: updated.balance,
                nonce: None,
            });
        }
        if entry.kind != EntryKind::Padding {
            queue = entry.queue_step(queue);
            effects.push(effect);
        }
        witnesses.push(EntryWitness {
            entry,
            from: from_w,
            to: to_w,
        });
    }
    let public = PublicInputs {
        chain_id: chain_id.to_vec(),
        program_id: PROGRAM_ID.to_owned(),
        program_version: PROGRAM_VERSION,
        old_root,
        new_root: ledger.root()?,
        queue_before,
        queue_after: queue,
        deltas_commitment: deltas_commitment(&effects, params.batch_size)?,
    };
    let witness = TransferWitness {
        chain_id: chain_id.to_vec(),
        program_version: PROGRAM_VERSION,
        old_root,
        queue_before,
        entries: witnesses,
    };
    Ok((
        TransferOutcome {
            public,
            effects,
            deltas,
        },
        witness,
    ))
}

/// The `transfer` program.
#[derive(Debug, Clone, Copy)]
pub struct Transfer;

/// A batch for [`Transfer`]: the queue hash before it and the entries.
#[derive(Debug, Clone)]
pub struct TransferBatch {
    /// Queue hash before the first entry.
    pub queue_before: Fr,
    /// Consumed entries in queue order.
    pub entries: Vec<QueueEntry>,
}

/// Proves a batch with a Groth16 key of its shape.
///
/// It lives here rather than in its callers on purpose: bellman's prover is
/// generic, so it is compiled in the crate that names the concrete circuit,
/// and this crate is optimised even in dev builds. Instantiated in an
/// unoptimised crate (the chain module, the prover binary), the same proof
/// took 4x as long on one core instead of two.
pub fn prove(
    params: &TransferParams,
    witness: TransferWitness,
    key: &bellman::groth16::Parameters<bls12_381::Bls12>,
    rng_seed: [u8; 32],
) -> Result<bellman::groth16::Proof<bls12_381::Bls12>, bellman::SynthesisError> {
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(rng_seed);
    bellman::groth16::create_random_proof(Transfer::circuit(params, Some(witness)), key, &mut rng)
}

impl Program for Transfer {
    const ID: &'static str = PROGRAM_ID;
    const VERSION: u32 = PROGRAM_VERSION;
    type Params = TransferParams;
    type State = Ledger<MemoryStore>;
    type Batch = TransferBatch;
    type Outcome = TransferOutcome;
    type Witness = TransferWitness;
    type Error = TransferError;
    type Circuit = TransferCircuit;

    fn execute(
        params: &Self::Params,
        chain_id: &[u8],
        state: &mut Self::State,
        batch: &Self::Batch,
    ) -> Result<(Self::Outcome, Self::Witness), Self::Error> {
        execute(params, chain_id, state, batch.queue_before, &batch.entries)
    }

    fn circuit(params: &Self::Params, witness: Option<Self::Witness>) -> Self::Circuit {
        TransferCircuit {
            params: *params,
            witness,
        }
    }

    fn public_input(outcome: &Self::Outcome) -> Fr {
        outcome.public.commitment()
    }
}
