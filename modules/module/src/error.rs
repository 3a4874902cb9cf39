//! Transaction errors: a Cosmos SDK code (codespace `sdk`) plus a readable log
//! that tells the sender what to do.

use std::fmt;

/// Codespace of every [`TxError`], as in the Cosmos SDK.
pub const CODESPACE: &str = "sdk";

/// ABCI result codes, numbered like the Cosmos SDK's `sdk` codespace so that
/// wallets and explorers interpret them unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Code {
    /// Internal error (a local fault, not the sender's).
    Internal = 1,
    /// The tx bytes do not decode as a `cosmos.tx.v1beta1.TxRaw`/`Tx`.
    TxDecode = 2,
    /// Signature verification failed: bad signature, wrong chain-id or wrong
    /// account number (all three only show up inside the signed bytes).
    Unauthorized = 4,
    /// Balance too low.
    InsufficientFunds = 5,
    /// Unknown message type.
    UnknownRequest = 6,
    /// Malformed or wrong-prefix address.
    InvalidAddress = 7,
    /// Malformed public key or signature encoding (not 33-byte compressed
    /// secp256k1 key; signature not 64 bytes or not low-S).
    InvalidPubKey = 8,
    /// Signer account does not exist.
    UnknownAddress = 9,
    /// Malformed, zero, duplicate or unsorted coins.
    InvalidCoins = 10,
    /// Gas used exceeds gas limit.
    OutOfGas = 11,
    /// Memo too long.
    MemoTooLarge = 12,
    /// Fee below the node's minimum gas price.
    InsufficientFee = 13,
    /// Missing signature.
    NoSignatures = 15,
    /// Malformed query request.
    InvalidRequest = 18,
    /// Tx bytes exceed the size limit.
    TxTooLarge = 21,
    /// Queried key not found.
    KeyNotFound = 22,
    /// Mismatched signers/signatures or a wrong signer.
    InvalidSigner = 24,
    /// Query height not stored.
    InvalidHeight = 26,
    /// Block height above the tx's timeout height.
    TxTimeoutHeight = 30,
    /// Tx extension options present.
    UnknownExtensionOptions = 31,
    /// Signed sequence differs from the account's sequence.
    WrongSequence = 32,
    /// Unsupported sign mode or unsupported tx feature.
    NotSupported = 37,
}

impl Code {
    /// The numeric ABCI code.
    pub fn value(self) -> u32 {
        self as u32
    }
}

/// A result code: a number within a codespace. The `sdk` codes are the
/// [`Code`] enum; a module with rules of its own (the coprocessor, codespace
/// `copro`) numbers them in its codespace. Compares equal to a [`Code`] when
/// it is that `sdk` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResultCode {
    /// Codespace (`sdk` for [`Code`]).
    pub codespace: &'static str,
    /// The number within it.
    pub code: u32,
}

impl ResultCode {
    /// A code of a module's own codespace.
    pub const fn new(codespace: &'static str, code: u32) -> Self {
        Self { codespace, code }
    }

    /// The numeric ABCI code.
    pub fn value(self) -> u32 {
        self.code
    }
}

impl From<Code> for ResultCode {
    fn from(code: Code) -> Self {
        Self::new(CODESPACE, code.value())
    }
}

impl PartialEq<Code> for ResultCode {
    fn eq(&self, other: &Code) -> bool {
        *self == ResultCode::from(*other)
    }
}

/// A failed check or execution: a result code and a log for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxError {
    /// Result code and its codespace.
    pub code: ResultCode,
    /// What failed and what to do about it.
    pub log: String,
}

impl TxError {
    /// A new error.
    pub fn new(code: impl Into<ResultCode>, log: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            log: log.into(),
        }
    }

    /// An internal error (store failure and the like).
    pub fn internal(e: impl fmt::Display) -> Self {
        Self::new(Code::Internal, format!("internal error: {e}"))
    }

    /// The codespace of the code.
    pub fn codespace(&self) -> &'static str {
        self.code.codespace
    }
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "code {} ({}): {}",
            self.code.value(),
            self.code.codespace,
            self.log
        )
    }
}

impl std::error::Error for TxError {}

impl From<copro_store::StoreError> for TxError {
    fn from(e: copro_store::StoreError) -> Self {
        Self::internal(e)
    }
}
