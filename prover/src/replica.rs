//! The prover's ledger replica: a persistent copy of the chain's Poseidon
//! ledger tree (nodes and account data) in one redb file.
//!
//! Writes are staged in memory and reach the file only through
//! [`Replica::commit_checked`], which first compares the replica's root with
//! the root the chain proved for that height. On agreement the staged writes
//! and the agreed `(height, root)` are written in one transaction; on
//! disagreement they are dropped and a [`ReplicaError::Diverged`] is
//! returned. So the file only ever holds a state the chain agreed with, and
//! a disagreement is always an error for the operator, never a silent
//! re-sync.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use copro_circuits::field::{Fr, fr_from_be_bytes, fr_to_be_bytes, fr_to_hex};
use copro_circuits::smt::{MerklePath, NodeStore, SmtError, SparseMerkleTree, TreeConfig};
use copro_circuits::spend_auth::PublicKey;
use copro_circuits::transfer::{Account, Deltas, Ledger};
use copro_circuits::transfer_v2::{self, LedgerWrite};
use redb::{Database, ReadableTable, TableDefinition};

/// Tree nodes: level (u32 BE) ‖ index at that level (u64 BE) → node (32 bytes BE).
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ledger_nodes");
/// Accounts: leaf index (u32 BE) → key (32) ‖ balance (u64 BE) ‖ nonce (u64 BE)
/// [‖ spending key (32), `transfer` version 2, if the account has one]. A
/// version-1 file reads unchanged.
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ledger_accounts");
/// What the file is and the last state the chain agreed with.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("replica_meta");

const META_FORMAT: &str = "format";
const META_TREE: &str = "tree";
const META_SYNCED: &str = "synced";
/// Written once at creation; a file without it is not ours.
const FORMAT: &[u8] = b"copro-prover ledger replica v2";

/// Errors of the replica.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The file could not be opened as a database (not a redb file, corrupt,
    /// or in use by another process).
    #[error("cannot open ledger replica {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// redb's reason.
        reason: String,
    },
    /// A database that is not a copro prover replica.
    #[error("{path} is not a copro prover ledger replica ({found}); refusing to use it")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// A replica of another tree shape than the chain's.
    #[error(
        "ledger replica {path} holds a tree of arity {stored_arity} depth {stored_depth}, the chain uses arity {arity} depth {depth}"
    )]
    TreeMismatch {
        /// The file.
        path: PathBuf,
        /// Stored arity.
        stored_arity: u8,
        /// Stored depth.
        stored_depth: u32,
        /// Wanted arity.
        arity: u8,
        /// Wanted depth.
        depth: u32,
    },
    /// A stored record does not decode.
    #[error("ledger replica {path} is corrupt: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not decode.
        what: String,
    },
    /// A database operation failed.
    #[error("ledger replica database error: {0}")]
    Db(String),
    /// The tree refused an operation (index out of range, store failure).
    #[error("ledger tree: {0}")]
    Tree(#[from] SmtError),
    /// Commit for a height or a queue position below the last agreed one.
    #[error(
        "the replica already agreed with the chain at height {synced} (queue settled up to {synced_queue}); refusing to commit height {height} (queue settled up to {queue})"
    )]
    StaleHeight {
        /// Last agreed height.
        synced: u64,
        /// Last agreed queue position.
        synced_queue: u64,
        /// Height given.
        height: u64,
        /// Queue position given.
        queue: u64,
    },
    /// THE loud one: the replica computed another root than the chain's
    /// proven root. The staged writes were dropped; the file still holds
    /// the last agreed state.
    #[error(
        "LEDGER REPLICA DISAGREES WITH THE CHAIN at height {height}: replica root {replica}, chain root {chain}; the prover must stop (investigate; do not delete the replica to make this go away)"
    )]
    Diverged {
        /// Height of the chain's root.
        height: u64,
        /// The replica's root (hex).
        replica: String,
        /// The chain's proven root (hex).
        chain: String,
    },
}

fn db_err(e: impl Into<redb::Error>) -> ReplicaError {
    ReplicaError::Db(e.into().to_string())
}

/// The last state at which the replica agreed with the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPoint {
    /// Chain height.
    pub height: u64,
    /// Ledger root at that height.
    pub root: Fr,
    /// The queue position the ledger is settled up to at that height
    /// (`QueueState.settled_up_to`): every request below it is in the
    /// replica, none above.
    pub settled_up_to: u64,
}

impl SyncPoint {
    fn to_bytes(self) -> Vec<u8> {
        let mut out = self.height.to_be_bytes().to_vec();
        out.extend_from_slice(&fr_to_be_bytes(&self.root));
        out.extend_from_slice(&self.settled_up_to.to_be_bytes());
        out
    }

    fn from_bytes(raw: &[u8]) -> Option<Self> {
        let (height, rest) = raw.split_at_checked(8)?;
        let (root, settled) = rest.split_at_checked(32)?;
        Some(SyncPoint {
            height: u64::from_be_bytes(height.try_into().ok()?),
            root: fr_from_be_bytes(root.try_into().ok()?)?,
            settled_up_to: u64::from_be_bytes(settled.try_into().ok()?),
        })
    }
}

fn node_key(level: u32, index: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&level.to_be_bytes());
    k[4..].copy_from_slice(&index.to_be_bytes());
    k
}

fn account_bytes(a: &transfer_v2::Account) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    out.extend_from_slice(&fr_to_be_bytes(&a.key));
    out.extend_from_slice(&a.balance.to_be_bytes());
    out.extend_from_slice(&a.nonce.to_be_bytes());
    if let Some(spend) = &a.spend {
        out.extend_from_slice(&spend.to_bytes());
    }
    out
}

fn account_of(raw: &[u8]) -> Option<transfer_v2::Account> {
    let (fixed, spend) = raw.split_at_checked(48)?;
    let spend = match spend.len() {
        0 => None,
        32 => Some(PublicKey::from_bytes(spend).ok()?),
        _ => return None,
    };
    Some(transfer_v2::Account {
        key: fr_from_be_bytes(fixed[..32].try_into().ok()?)?,
        balance: u64::from_be_bytes(fixed[32..40].try_into().ok()?),
        nonce: u64::from_be_bytes(fixed[40..48].try_into().ok()?),
        spend,
    })
}

fn tree_bytes(config: TreeConfig) -> [u8; 5] {
    let mut out = [0u8; 5];
    out[0] = config.arity.children() as u8;
    out[1..].copy_from_slice(&config.depth.to_be_bytes());
    out
}

/// Staged node writes, shared by the tree's store and the replica (which
/// flushes or drops them).
type Staged = Arc<Mutex<StagedNodes>>;
/// Node writes by `(level, index)`.
type StagedNodes = BTreeMap<(u32, u64), Fr>;

fn lock(staged: &Staged) -> Result<MutexGuard<'_, StagedNodes>, SmtError> {
    staged
        .lock()
        .map_err(|_| SmtError::Store("staged node writes poisoned".into()))
}

/// [`NodeStore`] over the replica file: reads staged writes first, then the
/// file; writes only stage.
#[derive(Debug)]
pub struct ReplicaNodes {
    db: Arc<Database>,
    staged: Staged,
}

/// A node as last committed to the replica file.
fn committed_node(db: &Database, level: u32, index: u64) -> Result<Option<Fr>, SmtError> {
    let store = |e: &dyn std::fmt::Display| SmtError::Store(e.to_string());
    let rtx = db.begin_read().map_err(|e| store(&e))?;
    let table = rtx.open_table(NODES).map_err(|e| store(&e))?;
    let Some(raw) = table
        .get(node_key(level, index).as_slice())
        .map_err(|e| store(&e))?
    else {
        return Ok(None);
    };
    <[u8; 32]>::try_from(raw.value())
        .ok()
        .and_then(|b| fr_from_be_bytes(&b))
        .map(Some)
        .ok_or_else(|| SmtError::Store(format!("corrupt node at level {level} index {index}")))
}

impl NodeStore for ReplicaNodes {
    fn get(&self, level: u32, index: u64) -> Result<Option<Fr>, SmtError> {
        if let Some(v) = lock(&self.staged)?.get(&(level, index)) {
            return Ok(Some(*v));
        }
        committed_node(&self.db, level, index)
    }

    fn put(&mut self, level: u32, index: u64, value: Fr) -> Result<(), SmtError> {
        lock(&self.staged)?.insert((level, index), value);
        Ok(())
    }
}

/// [`NodeStore`] of a speculative ledger: its writes stay in memory,
/// reads fall through to the nodes last committed to the replica file.
///
/// The prover executes the next batches on it while earlier ones are still
/// being proved or confirmed. The replica only ever commits batches the
/// chain accepted, which are a prefix of the ones executed here, so every
/// node such a commit changes is one this overlay already wrote: the
/// overlay's view stays consistent until it is dropped.
#[derive(Debug)]
pub struct OverlayNodes {
    db: Arc<Database>,
    writes: StagedNodes,
}

impl NodeStore for OverlayNodes {
    fn get(&self, level: u32, index: u64) -> Result<Option<Fr>, SmtError> {
        match self.writes.get(&(level, index)) {
            Some(v) => Ok(Some(*v)),
            None => committed_node(&self.db, level, index),
        }
    }

    fn put(&mut self, level: u32, index: u64, value: Fr) -> Result<(), SmtError> {
        self.writes.insert((level, index), value);
        Ok(())
    }
}

/// A ledger that starts at the replica's committed state and advances in
/// memory only (see [`OverlayNodes`]).
pub type SpeculativeLedger = Ledger<OverlayNodes>;

/// [`SpeculativeLedger`] of `transfer` version 2.
pub type SpeculativeLedgerV2 = transfer_v2::Ledger<OverlayNodes>;

/// The persistent ledger replica. Same operations as the circuits'
/// `Ledger` (accounts by leaf index, the Poseidon tree of their leaves),
/// kept in one redb file.
#[derive(Debug)]
pub struct Replica {
    path: PathBuf,
    db: Arc<Database>,
    tree: SparseMerkleTree<ReplicaNodes>,
    staged_nodes: Staged,
    staged_accounts: BTreeMap<u32, transfer_v2::Account>,
    synced: Option<SyncPoint>,
}

impl Replica {
    /// Opens the replica at `path`, or creates an empty one if there is no
    /// file. An existing file must be a replica of tree shape `tree`;
    /// anything else is refused (never overwritten).
    pub fn open(path: impl AsRef<Path>, tree: TreeConfig) -> Result<Self, ReplicaError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |e: &dyn std::fmt::Display| ReplicaError::Open {
            path: path.clone(),
            reason: e.to_string(),
        };
        let db = if path.exists() {
            Database::open(&path).map_err(|e| open_err(&e))?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
            }
            let db = Database::create(&path).map_err(|e| open_err(&e))?;
            let wtx = db.begin_write().map_err(db_err)?;
            {
                let mut meta = wtx.open_table(META).map_err(db_err)?;
                meta.insert(META_FORMAT, FORMAT).map_err(db_err)?;
                meta.insert(META_TREE, tree_bytes(tree).as_slice())
                    .map_err(db_err)?;
                // Create the data tables so readers never meet a missing one.
                wtx.open_table(NODES).map_err(db_err)?;
                wtx.open_table(ACCOUNTS).map_err(db_err)?;
            }
            wtx.commit().map_err(db_err)?;
            db
        };
        let synced = Self::check_meta(&path, &db, tree)?;
        let db = Arc::new(db);
        let staged_nodes = Staged::default();
        Ok(Replica {
            tree: SparseMerkleTree::new(
                tree,
                ReplicaNodes {
                    db: Arc::clone(&db),
                    staged: Arc::clone(&staged_nodes),
                },
            ),
            path,
            db,
            staged_nodes,
            staged_accounts: BTreeMap::new(),
            synced,
        })
    }

    /// Checks that `db` is a replica of shape `tree`; returns its sync point.
    fn check_meta(
        path: &Path,
        db: &Database,
        tree: TreeConfig,
    ) -> Result<Option<SyncPoint>, ReplicaError> {
        let foreign = |found: &str| ReplicaError::Foreign {
            path: path.to_path_buf(),
            found: found.to_string(),
        };
        let rtx = db.begin_read().map_err(db_err)?;
        let meta = match rtx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(foreign("a redb database without replica metadata"));
            }
            Err(e) => return Err(foreign(&e.to_string())),
        };
        let get = |k: &str| -> Result<Option<Vec<u8>>, ReplicaError> {
            Ok(meta.get(k).map_err(db_err)?.map(|v| v.value().to_vec()))
        };
        match get(META_FORMAT)? {
            Some(f) if f == FORMAT => {}
            Some(f) => {
                return Err(foreign(&format!(
                    "format marker '{}'",
                    String::from_utf8_lossy(&f)
                )));
            }
            None => return Err(foreign("no format marker")),
        }
        let stored = get(META_TREE)?.unwrap_or_default();
        let (arity, depth) = match stored.split_first() {
            Some((&a, d)) if d.len() == 4 => {
                (a, u32::from_be_bytes(d.try_into().unwrap_or_default()))
            }
            _ => {
                return Err(ReplicaError::Corrupt {
                    path: path.to_path_buf(),
                    what: "tree shape record".into(),
                });
            }
        };
        if stored != tree_bytes(tree) {
            return Err(ReplicaError::TreeMismatch {
                path: path.to_path_buf(),
                stored_arity: arity,
                stored_depth: depth,
                arity: tree.arity.children() as u8,
                depth: tree.depth,
            });
        }
        get(META_SYNCED)?
            .map(|raw| {
                SyncPoint::from_bytes(&raw).ok_or_else(|| ReplicaError::Corrupt {
                    path: path.to_path_buf(),
                    what: "sync point record".into(),
                })
            })
            .transpose()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tree shape.
    pub fn tree_config(&self) -> TreeConfig {
        self.tree.config()
    }

    /// The last height and root the chain agreed with; `None` for a replica
    /// never synced (to be rebuilt from chain data).
    pub fn synced(&self) -> Option<SyncPoint> {
        self.synced
    }

    /// Whether writes are staged and not committed.
    pub fn has_staged(&self) -> bool {
        !self.staged_accounts.is_empty() || lock(&self.staged_nodes).is_ok_and(|s| !s.is_empty())
    }

    /// The current root (staged writes included).
    pub fn root(&self) -> Result<Fr, ReplicaError> {
        Ok(self.tree.root()?)
    }

    /// The leaf at `index` (0 if empty).
    pub fn leaf(&self, index: u32) -> Result<Fr, ReplicaError> {
        Ok(self.tree.get(u64::from(index))?)
    }

    /// The authentication path of leaf `index`.
    pub fn path_of(&self, index: u32) -> Result<MerklePath, ReplicaError> {
        Ok(self.tree.path(u64::from(index))?)
    }

    /// The account at `index`, if initialised (staged writes included).
    pub fn account(&self, index: u32) -> Result<Option<Account>, ReplicaError> {
        Ok(self.account_v2(index)?.map(|a| a.v1()))
    }

    /// The account at `index` with its spending key (`transfer` version 2).
    pub fn account_v2(&self, index: u32) -> Result<Option<transfer_v2::Account>, ReplicaError> {
        if let Some(a) = self.staged_accounts.get(&index) {
            return Ok(Some(*a));
        }
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(ACCOUNTS).map_err(db_err)?;
        let Some(raw) = table.get(index.to_be_bytes().as_slice()).map_err(db_err)? else {
            return Ok(None);
        };
        account_of(raw.value())
            .map(Some)
            .ok_or_else(|| ReplicaError::Corrupt {
                path: self.path.clone(),
                what: format!("account {index}"),
            })
    }

    /// Stages an account write, keeping the account's spending key; returns
    /// the new root.
    pub fn set_account(&mut self, index: u32, account: Account) -> Result<Fr, ReplicaError> {
        let spend = self.account_v2(index)?.and_then(|a| a.spend);
        self.set_account_v2(
            index,
            transfer_v2::Account {
                spend,
                ..account.into()
            },
        )
    }

    /// Stages an account write, spending key included; returns the new root.
    pub fn set_account_v2(
        &mut self,
        index: u32,
        account: transfer_v2::Account,
    ) -> Result<Fr, ReplicaError> {
        let root = self.tree.update(u64::from(index), account.leaf())?;
        self.staged_accounts.insert(index, account);
        Ok(root)
    }

    /// Stages a settled batch's ledger writes, as the chain applies them
    /// (a write without a nonce keeps the stored one, 0 for a new account).
    pub fn apply_deltas(&mut self, deltas: &Deltas) -> Result<Fr, ReplicaError> {
        for w in &deltas.writes {
            let nonce = match w.nonce {
                Some(n) => n,
                None => self.account(w.index)?.map_or(0, |a| a.nonce),
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

    /// Stages a settled version-2 batch's writes (`BatchDeltas::writes`).
    pub fn apply_writes(&mut self, writes: &[LedgerWrite]) -> Result<Fr, ReplicaError> {
        for w in writes {
            match w {
                LedgerWrite::Account(w) => {
                    let old = self.account_v2(w.index)?;
                    self.set_account_v2(
                        w.index,
                        transfer_v2::Account {
                            key: w.key,
                            balance: w.balance,
                            nonce: w.nonce.unwrap_or_else(|| old.map_or(0, |a| a.nonce)),
                            spend: old.and_then(|a| a.spend),
                        },
                    )?;
                }
                LedgerWrite::SpendKey { index, spend } => {
                    let Some(mut a) = self.account_v2(*index)? else {
                        return Err(ReplicaError::Corrupt {
                            path: self.path.clone(),
                            what: format!("a spending key for the empty leaf {index}"),
                        });
                    };
                    a.spend = Some(*spend);
                    self.set_account_v2(*index, a)?;
                }
            }
        }
        self.root()
    }

    /// Drops every staged write: the replica is back at its last commit.
    pub fn rollback(&mut self) {
        self.staged_accounts.clear();
        if let Ok(mut s) = lock(&self.staged_nodes) {
            s.clear();
        }
    }

    /// Compares the replica's root with `chain_root`, the root the chain
    /// proved at `height`, where its queue was settled up to
    /// `settled_up_to`. Equal: writes the staged changes and the sync point
    /// durably, in one transaction. Different: drops the staged changes and
    /// returns [`ReplicaError::Diverged`].
    pub fn commit_checked(
        &mut self,
        height: u64,
        chain_root: Fr,
        settled_up_to: u64,
    ) -> Result<(), ReplicaError> {
        if let Some(s) = self
            .synced
            .filter(|s| height < s.height || settled_up_to < s.settled_up_to)
        {
            self.rollback();
            return Err(ReplicaError::StaleHeight {
                synced: s.height,
                synced_queue: s.settled_up_to,
                height,
                queue: settled_up_to,
            });
        }
        let root = match self.root() {
            Ok(r) => r,
            Err(e) => {
                self.rollback();
                return Err(e);
            }
        };
        if root != chain_root {
            self.rollback();
            return Err(ReplicaError::Diverged {
                height,
                replica: fr_to_hex(&root),
                chain: fr_to_hex(&chain_root),
            });
        }
        let point = SyncPoint {
            height,
            root,
            settled_up_to,
        };
        let nodes = std::mem::take(&mut *lock(&self.staged_nodes)?);
        let accounts = std::mem::take(&mut self.staged_accounts);
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(NODES).map_err(db_err)?;
            for ((level, index), v) in &nodes {
                table
                    .insert(
                        node_key(*level, *index).as_slice(),
                        fr_to_be_bytes(v).as_slice(),
                    )
                    .map_err(db_err)?;
            }
            let mut table = wtx.open_table(ACCOUNTS).map_err(db_err)?;
            for (index, a) in &accounts {
                table
                    .insert(index.to_be_bytes().as_slice(), account_bytes(a).as_slice())
                    .map_err(db_err)?;
            }
            let mut meta = wtx.open_table(META).map_err(db_err)?;
            meta.insert(META_SYNCED, point.to_bytes().as_slice())
                .map_err(db_err)?;
        }
        wtx.commit().map_err(db_err)?;
        self.synced = Some(point);
        Ok(())
    }

    /// A ledger at the replica's last committed state whose changes stay in
    /// memory: the prover's working copy for batches not settled yet.
    /// Version 1's view: spending keys are left out of the accounts, so it
    /// computes version-1 leaves (a version-1 program never runs on a
    /// ledger with keys: it cannot consume the entry that sets one).
    pub fn speculative(&self) -> Result<SpeculativeLedger, ReplicaError> {
        Ok(Ledger::with_store(
            self.tree_config(),
            self.overlay(),
            self.committed_accounts_v2()?
                .into_iter()
                .map(|(i, a)| (i, a.v1()))
                .collect(),
        ))
    }

    /// [`Replica::speculative`] for `transfer` version 2 (accounts with
    /// their spending keys).
    pub fn speculative_v2(&self) -> Result<SpeculativeLedgerV2, ReplicaError> {
        Ok(transfer_v2::Ledger::with_store(
            self.tree_config(),
            self.overlay(),
            self.committed_accounts_v2()?,
        ))
    }

    fn overlay(&self) -> OverlayNodes {
        OverlayNodes {
            db: Arc::clone(&self.db),
            writes: StagedNodes::new(),
        }
    }

    /// Every committed account, by leaf index (for checks and rebuild
    /// comparisons; staged writes are not included).
    pub fn committed_accounts(&self) -> Result<BTreeMap<u32, Account>, ReplicaError> {
        Ok(self
            .committed_accounts_v2()?
            .into_iter()
            .map(|(i, a)| (i, a.v1()))
            .collect())
    }

    /// Every committed account with its spending key.
    pub fn committed_accounts_v2(
        &self,
    ) -> Result<BTreeMap<u32, transfer_v2::Account>, ReplicaError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(ACCOUNTS).map_err(db_err)?;
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let corrupt = || ReplicaError::Corrupt {
                path: self.path.clone(),
                what: "account record".into(),
            };
            let index = u32::from_be_bytes(k.value().try_into().map_err(|_| corrupt())?);
            out.insert(index, account_of(v.value()).ok_or_else(corrupt)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::smt::Arity;
    use copro_circuits::transfer::AccountWrite;

    fn config() -> TreeConfig {
        TreeConfig::new(Arity::Four, 4).unwrap()
    }

    fn account(seed: u64) -> Account {
        Account {
            key: Fr::from(1000 + seed),
            balance: 10 * seed,
            nonce: seed % 3,
        }
    }

    fn deltas() -> Deltas {
        Deltas {
            writes: vec![
                AccountWrite {
                    index: 3,
                    key: Fr::from(1003),
                    balance: 7,
                    nonce: Some(4),
                },
                // No nonce: keeps the stored one (account 200 exists).
                AccountWrite {
                    index: 200,
                    key: Fr::from(1200),
                    balance: 99,
                    nonce: None,
                },
                // No nonce on a new account: 0.
                AccountWrite {
                    index: 255,
                    key: Fr::from(1255),
                    balance: 1,
                    nonce: None,
                },
            ],
            withdrawals: Vec::new(),
        }
    }

    #[test]
    fn a_reopened_replica_has_the_memory_ledgers_root_leaves_and_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("replica.redb");
        let mut memory = Ledger::new(config());
        {
            let mut replica = Replica::open(&file, config()).unwrap();
            assert_eq!(replica.synced(), None);
            assert_eq!(replica.root().unwrap(), memory.root().unwrap());
            for i in [0u32, 3, 17, 200] {
                memory.set_account(i, account(u64::from(i))).unwrap();
                replica.set_account(i, account(u64::from(i))).unwrap();
            }
            replica
                .commit_checked(5, memory.root().unwrap(), 4)
                .unwrap();
            memory.apply_deltas(&deltas()).unwrap();
            replica.apply_deltas(&deltas()).unwrap();
            replica
                .commit_checked(6, memory.root().unwrap(), 7)
                .unwrap();
            // Staged and not committed: must not survive the reopen.
            replica.set_account(9, account(9)).unwrap();
        }
        let replica = Replica::open(&file, config()).unwrap();
        let root = memory.root().unwrap();
        assert_eq!(replica.root().unwrap(), root);
        assert_eq!(
            replica.synced(),
            Some(SyncPoint {
                height: 6,
                root,
                settled_up_to: 7
            })
        );
        for i in 0..config().capacity() as u32 {
            assert_eq!(
                replica.leaf(i).unwrap(),
                memory.tree().get(u64::from(i)).unwrap(),
                "leaf {i}"
            );
            assert_eq!(
                replica.account(i).unwrap(),
                memory.account(i),
                "account {i}"
            );
        }
        assert_eq!(
            replica.path_of(200).unwrap(),
            memory.tree().path(200).unwrap()
        );
        assert_eq!(replica.account(200).unwrap().unwrap().nonce, 200 % 3);
        assert_eq!(replica.account(255).unwrap().unwrap().nonce, 0);
        assert_eq!(replica.committed_accounts().unwrap().len(), 5);
    }

    #[test]
    fn a_root_the_chain_disagrees_with_is_a_loud_error_and_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("replica.redb");
        let mut replica = Replica::open(&file, config()).unwrap();
        replica.set_account(1, account(1)).unwrap();
        let agreed = replica.root().unwrap();
        replica.commit_checked(3, agreed, 1).unwrap();

        replica.set_account(2, account(2)).unwrap();
        let err = replica.commit_checked(4, agreed, 2).unwrap_err();
        assert!(
            matches!(err, ReplicaError::Diverged { height: 4, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("DISAGREES WITH THE CHAIN"));
        // Back at the agreed state, in memory and on disk.
        assert!(!replica.has_staged());
        assert_eq!(replica.root().unwrap(), agreed);
        assert_eq!(replica.account(2).unwrap(), None);
        drop(replica);
        let replica = Replica::open(&file, config()).unwrap();
        assert_eq!(
            replica.synced(),
            Some(SyncPoint {
                height: 3,
                root: agreed,
                settled_up_to: 1
            })
        );
        assert_eq!(replica.root().unwrap(), agreed);
    }

    #[test]
    fn a_commit_below_the_agreed_height_or_queue_position_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut replica = Replica::open(dir.path().join("r"), config()).unwrap();
        let root = replica.root().unwrap();
        replica.commit_checked(10, root, 4).unwrap();
        assert!(matches!(
            replica.commit_checked(9, root, 4),
            Err(ReplicaError::StaleHeight {
                synced: 10,
                height: 9,
                ..
            })
        ));
        // Nor may the queue position go back.
        assert!(matches!(
            replica.commit_checked(11, root, 3),
            Err(ReplicaError::StaleHeight {
                synced_queue: 4,
                queue: 3,
                ..
            })
        ));
        // The same height again is fine (nothing settled in between).
        replica.commit_checked(10, root, 4).unwrap();
    }

    #[test]
    fn garbage_foreign_databases_and_other_tree_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();

        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let err = Replica::open(&garbage, config()).unwrap_err();
        assert!(matches!(err, ReplicaError::Open { .. }), "{err}");

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(Replica::open(&empty, config()).is_err());

        let foreign = dir.path().join("foreign");
        {
            let db = Database::create(&foreign).unwrap();
            let wtx = db.begin_write().unwrap();
            {
                let def: TableDefinition<&str, u64> = TableDefinition::new("other");
                wtx.open_table(def).unwrap().insert("x", 1).unwrap();
            }
            wtx.commit().unwrap();
        }
        let err = Replica::open(&foreign, config()).unwrap_err();
        assert!(matches!(err, ReplicaError::Foreign { .. }), "{err}");

        let other_shape = dir.path().join("binary");
        drop(Replica::open(&other_shape, TreeConfig::new(Arity::Two, 8).unwrap()).unwrap());
        let err = Replica::open(&other_shape, config()).unwrap_err();
        assert!(
            matches!(
                err,
                ReplicaError::TreeMismatch {
                    stored_arity: 2,
                    stored_depth: 8,
                    arity: 4,
                    depth: 4,
                    ..
                }
            ),
            "{err}"
        );
        // Refusing never rewrote the file.
        assert!(Replica::open(&other_shape, TreeConfig::new(Arity::Two, 8).unwrap()).is_ok());
    }

    #[test]
    fn a_speculative_ledger_advances_in_memory_and_agrees_once_the_replica_catches_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut replica = Replica::open(dir.path().join("r"), config()).unwrap();
        let mut memory = Ledger::new(config());
        for i in [2u32, 40] {
            memory.set_account(i, account(u64::from(i))).unwrap();
            replica.set_account(i, account(u64::from(i))).unwrap();
        }
        replica
            .commit_checked(1, memory.root().unwrap(), 2)
            .unwrap();

        let mut spec = replica.speculative().unwrap();
        assert_eq!(spec.root().unwrap(), memory.root().unwrap());
        assert_eq!(spec.account(40), memory.account(40));
        // Two batches ahead of the replica, in memory only.
        spec.apply_deltas(&deltas()).unwrap();
        memory.apply_deltas(&deltas()).unwrap();
        spec.set_account(9, account(9)).unwrap();
        memory.set_account(9, account(9)).unwrap();
        assert_eq!(spec.root().unwrap(), memory.root().unwrap());
        assert_ne!(replica.root().unwrap(), spec.root().unwrap());
        assert_eq!(replica.account(9).unwrap(), None);

        // The replica commits the first batch: the overlay still sees its
        // own later state.
        replica.apply_deltas(&deltas()).unwrap();
        let first = replica.root().unwrap();
        replica.commit_checked(2, first, 5).unwrap();
        assert_eq!(spec.root().unwrap(), memory.root().unwrap());
        assert_eq!(spec.tree().path(9).unwrap(), memory.tree().path(9).unwrap());
        // A fresh overlay starts from the new committed state.
        assert_eq!(replica.speculative().unwrap().root().unwrap(), first);
    }

    /// Version 2: spending keys are stored with their accounts, survive a
    /// reopen, stay through a version-1 write, and the leaves are version
    /// 2's (the circuits' `transfer_v2::Ledger` computes the same root).
    #[test]
    fn spending_keys_round_trip_and_give_the_version_2_root() {
        use copro_circuits::spend_auth::SpendingKey;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("replica.redb");
        let key = SpendingKey::from_seed(&[4; 32]).unwrap().public_key();
        let mut memory = transfer_v2::Ledger::new(config());
        {
            let mut replica = Replica::open(&file, config()).unwrap();
            for i in [1u32, 2] {
                memory.set_account(i, account(u64::from(i)).into()).unwrap();
                replica.set_account(i, account(u64::from(i))).unwrap();
            }
            let writes = [LedgerWrite::SpendKey {
                index: 2,
                spend: key,
            }];
            memory.apply_writes(&writes).unwrap();
            replica.apply_writes(&writes).unwrap();
            // A version-1 write (balance, nonce) keeps the key.
            let moved = Account {
                balance: 77,
                ..account(2)
            };
            let mut with_key: transfer_v2::Account = moved.into();
            with_key.spend = Some(key);
            memory.set_account(2, with_key).unwrap();
            replica.set_account(2, moved).unwrap();
            replica
                .commit_checked(3, memory.root().unwrap(), 1)
                .unwrap();
        }
        let replica = Replica::open(&file, config()).unwrap();
        assert_eq!(replica.root().unwrap(), memory.root().unwrap());
        assert_eq!(replica.account_v2(2).unwrap().unwrap().spend, Some(key));
        assert_eq!(replica.account_v2(1).unwrap().unwrap().spend, None);
        assert_eq!(replica.account(2).unwrap().unwrap().balance, 77);
        let spec = replica.speculative_v2().unwrap();
        assert_eq!(spec.root().unwrap(), memory.root().unwrap());
        assert_eq!(spec.account(2).unwrap().spend, Some(key));
        // A record of another length is corrupt, not silently keyless.
        assert!(account_of(&[0u8; 60]).is_none());
        assert!(account_of(&account_bytes(&memory.account(2).unwrap())).is_some());
    }
}
