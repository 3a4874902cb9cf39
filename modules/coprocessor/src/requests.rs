//! Ledger requests: validated and queued by validators, never executed by
//! them. Each costs the chain one Poseidon hash (the queue chain step) and a
//! few store writes; the ledger changes only when a proof settles it.
//!
//! Leaf indices: an address gets the next free index the first time it is
//! credited (a deposit, or a transfer to it) and keeps it for ever.
//!
//! Debits (transfers and withdrawals) carry the nonce the sender's leaf will
//! have when the entry is settled: the mirrored nonce plus the debits of the
//! sender still in the queue. A debit that would overdraw once the queued
//! debits are settled is refused here, so queued debits settle in order and
//! one refused debit cannot make every later one miss its nonce.

use copro_bank::{BankWrite, Coin, Coins};
use copro_circuits::spend_auth::{PublicKey, SpendAuthError};
use copro_circuits::transfer::{QueueEntry, account_key};
use copro_circuits::transfer_v2::{self, BY_KEY_INDEX};
use copro_module::{Address, Event, module_address};
use copro_store::{StateRead, StateWrite};

use crate::error::{CoproCode, CoproError, Result};
use crate::events::TypedEvent;
use crate::record::{fr_bytes, fr_of, pb, pending, stored_entry, stored_set_key, tree_config};
use crate::registry::{ProgramKind, kind};
use crate::view::{CoproRead, CoproWrite};

/// Most requests the queue holds unsettled; more are refused until the
/// prover catches up (bounds the state an idle prover lets grow).
pub const MAX_PENDING: u64 = 1 << 20;

/// The module account that holds deposited coins until they are withdrawn.
pub fn escrow_address() -> Address {
    module_address("copro/escrow")
}

/// `MsgDeposit`: bank coins of `signer` → escrow, credited to the signer's
/// ledger account when settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// Depositor (signs the tx).
    pub signer: Address,
    /// Amount of the ledger denom.
    pub amount: u64,
}

/// `MsgTransfer`: ledger → ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Sender (signs the tx).
    pub signer: Address,
    /// Recipient.
    pub recipient: Address,
    /// Amount.
    pub amount: u64,
}

/// `MsgSetLedgerKey`: binds or rotates the spending key of the signer's
/// ledger account (queued; applied by a `transfer` version-2 proof).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetLedgerKey {
    /// Owner of the ledger account (signs the tx).
    pub signer: Address,
    /// The key, checked: canonical, in the prime-order subgroup, not the
    /// identity.
    pub spending_key: PublicKey,
}

impl SetLedgerKey {
    /// Decodes and checks the key (stateless): each way a key can be unfit
    /// has its own code, so a wallet can tell a bad encoding from a point
    /// nobody may use.
    pub fn new(signer: Address, spending_key: &[u8]) -> Result<Self> {
        let spending_key = PublicKey::from_bytes(spending_key).map_err(|e| {
            let code = match e {
                SpendAuthError::IdentityPoint(_) => CoproCode::IdentitySpendingKey,
                SpendAuthError::SmallOrderPoint(_) | SpendAuthError::NotInSubgroup(_) => {
                    CoproCode::SpendingKeyNotInSubgroup
                }
                _ => CoproCode::InvalidSpendingKey,
            };
            let what = match code {
                CoproCode::IdentitySpendingKey => {
                    "the identity is no key: anyone could sign for it"
                }
                CoproCode::SpendingKeyNotInSubgroup => {
                    "keys must be in Jubjub's prime-order subgroup (no small-order component)"
                }
                _ => "a spending key is a canonical 32-byte Jubjub point encoding",
            };
            CoproError::new(
                code,
                format!(
                    "spending key refused ({e}): {what}; derive it with `spend_auth::SpendingKey::public_key`"
                ),
            )
        })?;
        Ok(Self {
            signer,
            spending_key,
        })
    }
}

/// `MsgWithdraw`: ledger → bank, paid out of escrow when settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdraw {
    /// Owner of the ledger account (signs the tx).
    pub signer: Address,
    /// Amount.
    pub amount: u64,
}

fn nonzero(amount: u64) -> Result<()> {
    if amount == 0 {
        return Err(CoproError::new(
            CoproCode::InvalidAmount,
            "amount must be positive",
        ));
    }
    Ok(())
}

impl Deposit {
    /// Stateless checks.
    pub fn check_stateless(&self) -> Result<()> {
        nonzero(self.amount)
    }
}

impl Transfer {
    /// Stateless checks.
    pub fn check_stateless(&self) -> Result<()> {
        nonzero(self.amount)?;
        if self.signer == self.recipient {
            return Err(CoproError::new(
                CoproCode::InvalidRequest,
                "a ledger transfer to yourself changes nothing; name another recipient",
            ));
        }
        Ok(())
    }
}

impl Withdraw {
    /// Stateless checks.
    pub fn check_stateless(&self) -> Result<()> {
        nonzero(self.amount)
    }
}

/// The account key of `address`.
fn key_of(address: &Address) -> Result<bls12_381::Scalar> {
    account_key(&address.to_bytes())
        .ok_or_else(|| CoproError::internal("address hashes to the reserved key 0"))
}

/// The ledger account of `address`, binding it to the next free leaf index
/// if it has none. A new account shows balance 0 until a credit settles.
fn account_or_bind<S: StateWrite + ?Sized>(
    state: &mut S,
    address: &Address,
) -> Result<pb::LedgerAccount> {
    if let Some(account) = state.ledger_account(address.as_str())? {
        return Ok(account);
    }
    let index = state.next_index()?;
    let limit = allocation_limit(state)?;
    if index >= limit {
        return Err(CoproError::new(
            CoproCode::LedgerFull,
            format!("the ledger's {limit} allocatable leaves are all taken"),
        ));
    }
    let account = pb::LedgerAccount {
        address: address.as_str().to_string(),
        ledger_index: u32::try_from(index).map_err(CoproError::internal)?,
        key: fr_bytes(&key_of(address)?),
        balance: 0,
        nonce: 0,
        spending_key: Vec::new(),
    };
    state.put_ledger_account(&account);
    state.put_next_index(index + 1);
    Ok(account)
}

/// The first leaf index the chain never allocates: the tree's capacity, or
/// `transfer_v2::BY_KEY_INDEX` (2^32 - 1) when the tree has 2^32 leaves,
/// because a signed off-chain transfer uses that index to mean "by key"
/// (`TransferV2Params::allocation_limit`). One rule for deposits, on-chain
/// transfers and off-chain transfers: one allocator.
pub fn allocation_limit<S: StateRead + ?Sized>(state: &S) -> Result<u64> {
    let params = state.params()?;
    let tree = tree_config(params.tree_arity, params.tree_depth)?;
    Ok(tree.capacity().min(u64::from(BY_KEY_INDEX)))
}

/// The ledger account of `address`, which must exist.
fn existing_account<S: CoproRead + ?Sized>(
    state: &S,
    address: &Address,
    who: &str,
) -> Result<pb::LedgerAccount> {
    state.ledger_account(address.as_str())?.ok_or_else(|| {
        CoproError::new(
            CoproCode::NoLedgerAccount,
            format!("{who} {address} has no ledger account: deposit first"),
        )
    })
}

/// Reserves a debit of `amount` from `account`: returns the nonce the entry
/// must carry. Refused if the balance left after the queued debits is short.
fn reserve_debit<S: StateWrite + ?Sized>(
    state: &mut S,
    account: &pb::LedgerAccount,
    amount: u64,
) -> Result<u64> {
    let mut pending = state.pending_debits(account.ledger_index)?;
    let available = account.balance.saturating_sub(pending.amount);
    if amount > available {
        return Err(CoproError::new(
            CoproCode::InsufficientLedgerBalance,
            format!(
                "ledger balance {} minus {} in queued debits leaves {available}, less than {amount}",
                account.balance, pending.amount
            ),
        ));
    }
    let entry_nonce = account
        .nonce
        .checked_add(pending.count)
        .filter(|n| *n < u64::MAX)
        .ok_or_else(|| CoproError::new(CoproCode::InvalidRequest, "ledger nonce exhausted"))?;
    pending.count += 1;
    pending.amount = pending
        .amount
        .checked_add(amount)
        .ok_or_else(|| CoproError::internal("pending debits overflow"))?;
    state.put_pending_debits(account.ledger_index, pending);
    Ok(entry_nonce)
}

/// Appends `entry` to the queue: one hash-chain step. Returns its sequence
/// number and the queue head after it.
fn enqueue<S: StateWrite + ?Sized>(
    state: &mut S,
    entry: &QueueEntry,
    from: Option<&Address>,
    to: Option<&Address>,
    height: u64,
) -> Result<(u64, Vec<u8>)> {
    enqueue_any(state, &transfer_v2::QueueEntry::V1(*entry), |seq, head| {
        stored_entry(
            seq,
            entry,
            from.map(Address::as_str),
            to.map(Address::as_str),
            height,
            head,
        )
    })
}

/// [`enqueue`] for any entry the circuits know, stored as `store` makes it
/// from the sequence and the new head.
fn enqueue_any<S: StateWrite + ?Sized>(
    state: &mut S,
    entry: &transfer_v2::QueueEntry,
    store: impl FnOnce(u64, &bls12_381::Scalar) -> pb::QueueEntry,
) -> Result<(u64, Vec<u8>)> {
    let params = state.params()?;
    let tree = tree_config(params.tree_arity, params.tree_depth)?;
    entry.validate(tree, 0).map_err(|e| {
        CoproError::new(
            CoproCode::InvalidRequest,
            format!("queue entry refused: {e}"),
        )
    })?;
    let mut queue = state.queue_state()?;
    if pending(&queue) >= MAX_PENDING {
        return Err(CoproError::new(
            CoproCode::QueueFull,
            format!("{MAX_PENDING} requests wait for the prover already; try again later"),
        ));
    }
    let seq = queue.next_sequence;
    let head = entry.queue_step(fr_of(&queue.head_hash, "stored queue head")?);
    state.put_queued(&store(seq, &head));
    queue.next_sequence = seq
        .checked_add(1)
        .ok_or_else(|| CoproError::internal("queue sequence overflow"))?;
    queue.head_hash = fr_bytes(&head);
    state.put_queue_state(&queue);
    Ok((seq, queue.head_hash))
}

/// Executes a deposit: escrows the coins and queues the credit.
pub fn deposit<S: StateWrite + ?Sized>(
    state: &mut S,
    msg: &Deposit,
    height: u64,
) -> Result<(u64, Vec<Event>)> {
    msg.check_stateless()?;
    let denom = state.params()?.ledger_denom;
    let coins = Coins::new(vec![Coin::new(denom, u128::from(msg.amount))?])?;
    state.transfer(&msg.signer, &escrow_address(), &coins)?;
    let account = account_or_bind(state, &msg.signer)?;
    let entry = QueueEntry::deposit(account.ledger_index, key_of(&msg.signer)?, msg.amount);
    let (seq, chain_hash) = enqueue(state, &entry, None, Some(&msg.signer), height)?;
    let event = pb::EventDepositEnqueued {
        sequence: seq,
        depositor: msg.signer.to_string(),
        ledger_index: account.ledger_index,
        amount: msg.amount,
        chain_hash,
    };
    Ok((seq, vec![event.event()]))
}

/// Executes a transfer request: reserves the debit and queues it.
pub fn transfer<S: StateWrite + ?Sized>(
    state: &mut S,
    msg: &Transfer,
    height: u64,
) -> Result<(u64, Vec<Event>)> {
    msg.check_stateless()?;
    let from = existing_account(state, &msg.signer, "sender")?;
    let to = account_or_bind(state, &msg.recipient)?;
    let nonce = reserve_debit(state, &from, msg.amount)?;
    let entry = QueueEntry::transfer(
        from.ledger_index,
        key_of(&msg.signer)?,
        to.ledger_index,
        key_of(&msg.recipient)?,
        msg.amount,
        nonce,
    );
    let (seq, chain_hash) = enqueue(
        state,
        &entry,
        Some(&msg.signer),
        Some(&msg.recipient),
        height,
    )?;
    let event = pb::EventTransferEnqueued {
        sequence: seq,
        sender: msg.signer.to_string(),
        sender_index: from.ledger_index,
        recipient: msg.recipient.to_string(),
        recipient_index: to.ledger_index,
        amount: msg.amount,
        nonce,
        chain_hash,
    };
    Ok((seq, vec![event.event()]))
}

/// Executes a withdrawal request: reserves the debit and queues it.
pub fn withdraw<S: StateWrite + ?Sized>(
    state: &mut S,
    msg: &Withdraw,
    height: u64,
) -> Result<(u64, Vec<Event>)> {
    msg.check_stateless()?;
    let from = existing_account(state, &msg.signer, "owner")?;
    let nonce = reserve_debit(state, &from, msg.amount)?;
    let entry = QueueEntry::withdraw(from.ledger_index, key_of(&msg.signer)?, msg.amount, nonce);
    let (seq, chain_hash) = enqueue(state, &entry, Some(&msg.signer), None, height)?;
    let event = pb::EventWithdrawEnqueued {
        sequence: seq,
        sender: msg.signer.to_string(),
        sender_index: from.ledger_index,
        amount: msg.amount,
        nonce,
        chain_hash,
    };
    Ok((seq, vec![event.event()]))
}

/// Executes `MsgSetLedgerKey`: checks that the signer has a ledger account
/// and that the active `transfer` program can consume a set-key entry (the
/// version-1 circuit cannot: the entry would stop the queue), then queues it.
pub fn set_ledger_key<S: StateWrite + ?Sized>(
    state: &mut S,
    msg: &SetLedgerKey,
    height: u64,
) -> Result<(u64, Vec<Event>)> {
    let active = state
        .program_versions(transfer_v2::PROGRAM_ID, 1024)?
        .into_iter()
        .find(|p| p.status == pb::ProgramStatus::Active as i32);
    match active {
        Some(p) if kind(&p) == ProgramKind::TransferV2 => {}
        other => {
            let which = other.map_or_else(
                || "no active 'transfer' program".to_string(),
                |p| format!("the active 'transfer' is version {}", p.version),
            );
            return Err(CoproError::new(
                CoproCode::UnsupportedByProgram,
                format!(
                    "{which}, whose circuit cannot consume a spending-key change; \
                     spending keys need the version-2 circuit (MsgUpdateProgram)"
                ),
            ));
        }
    }
    let owner = existing_account(state, &msg.signer, "owner")?;
    let key = key_of(&msg.signer)?;
    let entry = transfer_v2::QueueEntry::set_key(owner.ledger_index, key, msg.spending_key);
    let bytes = msg.spending_key.to_bytes();
    let (seq, chain_hash) = enqueue_any(state, &entry, |seq, head| {
        stored_set_key(
            seq,
            msg.signer.as_str(),
            owner.ledger_index,
            &key,
            &bytes,
            height,
            head,
        )
    })?;
    let event = pb::EventLedgerKeyEnqueued {
        sequence: seq,
        owner: msg.signer.to_string(),
        ledger_index: owner.ledger_index,
        spending_key: bytes.to_vec(),
        chain_hash,
    };
    Ok((seq, vec![event.event()]))
}
