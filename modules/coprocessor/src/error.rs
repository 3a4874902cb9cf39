//! Rejections of the coprocessor module: a code in the `copro` codespace
//! and a log that says what to do. Each rule has its own code, so a client
//! (and the prover daemon) can tell them apart without parsing logs.

use std::fmt;

/// Codespace of every [`CoproError`].
pub const CODESPACE: &str = "copro";

/// Result codes of the `copro` codespace (1 is reserved, as in the SDK).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum CoproCode {
    /// A local fault (corrupt state), never the sender's.
    Internal = 1,
    /// The submitter of a proof is not the registered prover.
    NotProver = 2,
    /// No program with that id and version is registered.
    UnknownProgram = 3,
    /// The program version is frozen (a newer version replaced it).
    FrozenProgram = 4,
    /// `old_root` is not the current ledger root.
    StaleRoot = 5,
    /// The queue range does not start where the last settled one ended.
    QueueGap = 6,
    /// The queue range runs past the last queued request, or is empty.
    QueueRange = 7,
    /// This exact proof was accepted before.
    Replay = 8,
    /// The effects do not fit the consumed entries (count, padding,
    /// non-canonical values, effects impossible for the entry kind).
    EffectsMismatch = 9,
    /// The Groth16 proof does not verify for the public input the chain
    /// computed (tampered effects or roots, another chain-id, program or
    /// version).
    InvalidProof = 10,
    /// The proof bytes are not a canonical proof encoding (length, points).
    MalformedProof = 11,
    /// More entries than the program's batch size.
    TooManyEntries = 12,
    /// An amount of zero, or one over the ledger's 64-bit range.
    InvalidAmount = 13,
    /// A withdrawal or transfer of more than the ledger balance left after
    /// the debits already queued.
    InsufficientLedgerBalance = 14,
    /// A message only the chain's authority may send.
    Unauthorized = 15,
    /// The sender (or recipient) has no ledger account yet: deposit first.
    NoLedgerAccount = 16,
    /// A root, key or field element that is not a canonical encoding.
    InvalidField = 17,
    /// A program registration that is malformed (verifying key, batch size,
    /// tree shape) or that clashes with the registry.
    InvalidProgram = 18,
    /// The ledger tree has no free leaf index left.
    LedgerFull = 19,
    /// The queue holds as many pending requests as it may.
    QueueFull = 20,
    /// A malformed message (missing or oversized field).
    InvalidRequest = 21,
    /// The proof leaves unsettled a request that was queued at least
    /// `inclusion_delay_blocks` (K) blocks ago while its batch had room:
    /// a prover may not skip (censor) on-chain requests.
    OverdueRequest = 22,
    /// A spending key that is not a Jubjub point encoding: not 32 bytes,
    /// not canonical, or not on the curve.
    InvalidSpendingKey = 23,
    /// A spending key of small order or outside the prime-order subgroup.
    SpendingKeyNotInSubgroup = 24,
    /// The identity as a spending key (anyone could sign for it).
    IdentitySpendingKey = 25,
    /// The active `transfer` program cannot consume this request (a set-key
    /// needs the version-2 circuit).
    UnsupportedByProgram = 26,
    /// An off-chain entry names a sender or an existing recipient index
    /// that has no ledger account.
    OffchainNoAccount = 27,
    /// An off-chain entry moves more than the sender's balance (after the
    /// entries before it), or from a sender whose nonce is exhausted.
    OffchainOverdraft = 28,
    /// An off-chain entry would overflow the recipient's 64-bit balance.
    OffchainOverflow = 29,
    /// An off-chain entry sends to its own sender.
    OffchainSelfTransfer = 30,
    /// An off-chain entry creates an account for an address that has a
    /// leaf index already.
    AddressAlreadyBound = 31,
    /// Two off-chain entries of one batch create an account for the same
    /// address.
    DuplicateNewAddress = 32,
    /// The proof was made for another next free leaf index (`alloc_start`):
    /// an account was created since.
    StaleAllocation = 33,
    /// A contract asked for a settlement callback with a gas limit of 0 or
    /// above [`crate::callback::MAX_CALLBACK_GAS`].
    InvalidCallback = 34,
}

impl CoproCode {
    /// The numeric ABCI code.
    pub fn value(self) -> u32 {
        self as u32
    }
}

/// A failed check or execution of the coprocessor module: a code in the
/// `copro` codespace, or an `sdk` code passed on from the bank or auth
/// module (insufficient funds, a bad address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoproError {
    /// Codespace of `code`.
    pub codespace: &'static str,
    /// Result code.
    pub code: u32,
    /// What failed and what to do about it.
    pub log: String,
}

impl CoproError {
    /// A new error of this module.
    pub fn new(code: CoproCode, log: impl Into<String>) -> Self {
        Self {
            codespace: CODESPACE,
            code: code.value(),
            log: log.into(),
        }
    }

    /// A local fault (corrupt state and the like).
    pub fn internal(e: impl fmt::Display) -> Self {
        Self::new(CoproCode::Internal, format!("internal error: {e}"))
    }

    /// Whether this is `code` of this module.
    pub fn is(&self, code: CoproCode) -> bool {
        self.codespace == CODESPACE && self.code == code.value()
    }
}

impl fmt::Display for CoproError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {} ({}): {}", self.code, self.codespace, self.log)
    }
}

impl std::error::Error for CoproError {}

impl From<copro_store::StoreError> for CoproError {
    fn from(e: copro_store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<copro_module::TxError> for CoproError {
    fn from(e: copro_module::TxError) -> Self {
        Self {
            codespace: e.codespace(),
            code: e.code.value(),
            log: e.log,
        }
    }
}

impl From<CoproError> for copro_module::TxError {
    fn from(e: CoproError) -> Self {
        copro_module::TxError::new(copro_module::ResultCode::new(e.codespace, e.code), e.log)
    }
}

/// Shorthand.
pub type Result<T, E = CoproError> = std::result::Result<T, E>;
