//! copro-store: the chain's one Merkle store.
//!
//! A [Jellyfish Merkle Tree](jmt) (SHA-256) persisted in [redb]. The tree's root
//! at version `H` is the app hash after block `H`; it appears in the header of
//! block `H + 1`.
//!
//! Life cycle of one block:
//!
//! 1. [`Storage::latest_snapshot`] gives a read-only view of the last committed
//!    state; a [`StateDelta`] over it collects the block's writes in memory.
//! 2. In FinalizeBlock, [`Storage::compute_root`] hashes the delta into the tree
//!    at the next version and returns the root plus a [`PendingCommit`] — nothing
//!    is written to disk yet.
//! 3. In ABCI Commit, [`Storage::commit`] writes the tree nodes, the versioned
//!    values and the latest-value index in ONE redb write transaction. A crash
//!    before that loses the block, which CometBFT then replays.
//!
//! Besides the tree, redb keeps:
//! - `values`: `(key_hash ‖ version)` → value, so jmt can read any version;
//! - `latest`: raw key → latest value, so modules can iterate keys by
//!   prefix (the tree itself only knows key hashes);
//! - `preimages`: key hash → raw key, for the neighbour keys of ICS-23
//!   non-existence proofs;
//! - `meta`: the latest committed version.
//!
//! Old versions are kept (no pruning yet), so queries and proofs work at any
//! committed height.
//!
//! Modules never handle key strings directly: they read and write through
//! extension traits over [`StateRead`] / [`StateWrite`] (see `copro-bank`).

#![warn(missing_docs)]

mod delta;
mod storage;

pub use delta::{EmptyState, StateDelta, StateRead, StateWrite};
pub use storage::{PendingCommit, Snapshot, Storage};

/// The ICS-23 proof spec of this store (jmt's spec: SHA-256 leaves and nodes).
pub fn proof_spec() -> ics23::ProofSpec {
    jmt::ics23_spec()
}

/// The 32-byte root hash of the store at some version (the app hash).
pub type RootHash = [u8; 32];

/// Errors of the store. They are all local faults (disk, corruption, misuse),
/// never caused by transaction contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The redb database failed.
    #[error("database error: {0}")]
    Db(String),
    /// The Merkle tree failed (missing node, corrupt encoding...).
    #[error("merkle tree error: {0}")]
    Tree(String),
    /// A version that is not (or no longer) stored was requested.
    #[error("version {0} is not stored (latest committed: {1:?})")]
    MissingVersion(u64, Option<u64>),
    /// A proof was asked of a state that is not a committed version.
    #[error("only a committed version of the state can prove its values")]
    NotProvable,
    /// A pending commit does not follow the latest committed version.
    #[error("pending commit for version {pending} does not follow latest committed {latest:?}")]
    OutOfOrder {
        /// Version of the rejected pending commit.
        pending: u64,
        /// Latest committed version.
        latest: Option<u64>,
    },
    /// A rollback needs a version before the latest one.
    #[error("nothing to roll back: the store's latest version is {0:?}, and the first one stays")]
    NothingToRollBack(Option<u64>),
}

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

macro_rules! impl_db_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
impl_db_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
