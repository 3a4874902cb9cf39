//! The on-disk store: jmt nodes and versioned values in redb.

use std::path::Path;
use std::sync::Arc;

use jmt::storage::{HasPreimage, LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition};
use sha2::Sha256;

use crate::delta::{Changes, StateRead};
use crate::{Result, RootHash, StoreError};

/// jmt nodes: borsh(NodeKey) → borsh(Node).
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_nodes");
/// Versioned values: key_hash (32) ‖ version (u64 big-endian) → tag ‖ value,
/// tag 1 = present, tag 0 = deleted at that version.
const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_values");
/// Latest committed value of every live raw key (the key preimages).
const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("latest");
/// Key preimages: key_hash (32) → raw key. jmt needs them for the
/// neighbour keys of non-existence proofs. Never deleted (old versions may
/// still need them).
const PREIMAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("preimages");
/// Bookkeeping.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_LATEST_VERSION: &str = "latest_version";

fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Sha256>(key)
}

fn value_key(kh: &KeyHash, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&kh.0);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

fn tree_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Tree(e.to_string())
}

/// Handle to the store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Storage {
    db: Arc<Database>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

/// The result of hashing one block's changes into the tree: the new root and
/// everything [`Storage::commit`] must write. Dropping it discards the block.
#[derive(Debug)]
pub struct PendingCommit {
    version: Version,
    root: RootHash,
    batch: TreeUpdateBatch,
    changes: Changes,
}

impl PendingCommit {
    /// The version (block height) this commit creates.
    pub fn version(&self) -> Version {
        self.version
    }
    /// The root hash (app hash) at that version.
    pub fn root(&self) -> RootHash {
        self.root
    }
}

impl Storage {
    /// Opens (or creates) the store at `path` (a file; parent directories are
    /// created).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Db(e.to_string()))?;
        }
        let db = Database::create(path)?;
        let wtx = db.begin_write()?;
        {
            wtx.open_table(NODES)?;
            wtx.open_table(VALUES)?;
            wtx.open_table(LATEST)?;
            wtx.open_table(PREIMAGES)?;
            wtx.open_table(META)?;
        }
        wtx.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The latest committed version, `None` before the first commit.
    pub fn latest_version(&self) -> Result<Option<Version>> {
        let rtx = self.db.begin_read()?;
        read_latest_version(&rtx)
    }

    /// The root hash at `version`, `None` if that version is not stored.
    pub fn root_hash(&self, version: Version) -> Result<Option<RootHash>> {
        let rtx = self.db.begin_read()?;
        let reader = Reader::new(&rtx)?;
        let root = Sha256Jmt::new(&reader)
            .get_root_hash_option(version)
            .map_err(tree_err)?;
        Ok(root.map(|r| r.0))
    }

    /// A read-only view of the latest committed state (empty before the
    /// first commit).
    pub fn latest_snapshot(&self) -> Result<Snapshot> {
        let rtx = self.db.begin_read()?;
        let version = read_latest_version(&rtx)?;
        Snapshot::new(rtx, version, true)
    }

    /// A read-only view of the state at `version` (an error if not stored).
    pub fn snapshot(&self, version: Version) -> Result<Snapshot> {
        let rtx = self.db.begin_read()?;
        let latest = read_latest_version(&rtx)?;
        match latest {
            Some(l) if version <= l => Snapshot::new(rtx, Some(version), version == l),
            _ => Err(StoreError::MissingVersion(version, latest)),
        }
    }

    /// Hashes `changes` into the tree at `version`, which must be the next
    /// version (latest + 1; 0 for the very first commit). Writes nothing.
    pub fn compute_root(
        &self,
        changes: &Changes,
        version: Version,
    ) -> Result<(RootHash, PendingCommit)> {
        let rtx = self.db.begin_read()?;
        let latest = read_latest_version(&rtx)?;
        check_next(latest, version)?;
        let reader = Reader::new(&rtx)?;
        let (root, batch) = tree_update(&reader, changes, version)?;
        let pending = PendingCommit {
            version,
            root: root.0,
            batch,
            changes: changes.clone(),
        };
        Ok((root.0, pending))
    }

    /// Durably and atomically writes a pending commit (one redb write
    /// transaction). Refuses a commit that does not follow the latest version.
    pub fn commit(&self, pending: PendingCommit) -> Result<()> {
        let wtx = self.db.begin_write()?;
        {
            let mut meta = wtx.open_table(META)?;
            let latest = meta.get(META_LATEST_VERSION)?.map(|g| g.value());
            check_next(latest, pending.version)?;
            meta.insert(META_LATEST_VERSION, pending.version)?;

            let mut nodes = wtx.open_table(NODES)?;
            for (node_key, node) in pending.batch.node_batch.nodes() {
                let k = borsh::to_vec(node_key).map_err(tree_err)?;
                let v = borsh::to_vec(node).map_err(tree_err)?;
                nodes.insert(k.as_slice(), v.as_slice())?;
            }
            let mut values = wtx.open_table(VALUES)?;
            for ((version, kh), value) in pending.batch.node_batch.values() {
                let encoded = encode_value(value.as_deref());
                values.insert(value_key(kh, *version).as_slice(), encoded.as_slice())?;
            }
            let mut latest_tbl = wtx.open_table(LATEST)?;
            let mut preimages = wtx.open_table(PREIMAGES)?;
            for (k, v) in &pending.changes {
                preimages.insert(key_hash(k).0.as_slice(), k.as_slice())?;
                match v {
                    Some(v) => {
                        latest_tbl.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        latest_tbl.remove(k.as_slice())?;
                    }
                }
            }
        }
        wtx.commit()?;
        Ok(())
    }
}

impl Storage {
    /// Removes the latest committed version, as if its block had never been
    /// committed: its tree nodes and versioned values go, and every key it
    /// changed takes back its value at the version before. Returns the new
    /// latest version. Refuses when fewer than two versions are stored (the
    /// genesis version stays). One write transaction: all or nothing.
    ///
    /// Only for a stopped node (`coprod rollback`); scans the whole store.
    pub fn rollback(&self) -> Result<Version> {
        let wtx = self.db.begin_write()?;
        let target;
        {
            let mut meta = wtx.open_table(META)?;
            let latest = meta.get(META_LATEST_VERSION)?.map(|g| g.value());
            let Some(latest) = latest.filter(|l| *l > 0) else {
                return Err(StoreError::NothingToRollBack(latest));
            };
            target = latest - 1;

            // Values written at `latest`: removed; their keys are the ones
            // the block changed.
            let mut values = wtx.open_table(VALUES)?;
            let mut changed = Vec::new();
            for entry in values.iter()? {
                let (k, _) = entry?;
                let k = k.value();
                if k.len() == 40 && k[32..] == latest.to_be_bytes() {
                    changed.push(k.to_vec());
                }
            }
            let preimages = wtx.open_table(PREIMAGES)?;
            let mut latest_tbl = wtx.open_table(LATEST)?;
            for k in &changed {
                values.remove(k.as_slice())?;
                let raw_key = preimages
                    .get(&k[..32])?
                    .map(|g| g.value().to_vec())
                    .ok_or_else(|| StoreError::Tree("a changed key has no preimage".into()))?;
                // The value at `target`: the last entry of this key at or
                // below it.
                let lo = [&k[..32], &0u64.to_be_bytes()[..]].concat();
                let hi = [&k[..32], &target.to_be_bytes()[..]].concat();
                let before = match values.range(lo.as_slice()..=hi.as_slice())?.next_back() {
                    Some(entry) => decode_value(entry?.1.value())?,
                    None => None,
                };
                match before {
                    Some(v) => {
                        latest_tbl.insert(raw_key.as_slice(), v.as_slice())?;
                    }
                    None => {
                        latest_tbl.remove(raw_key.as_slice())?;
                    }
                }
            }

            // Tree nodes created at `latest` (nodes are never rewritten, so
            // the older versions' tree is intact).
            let mut nodes = wtx.open_table(NODES)?;
            let mut created = Vec::new();
            for entry in nodes.iter()? {
                let (k, _) = entry?;
                let key: NodeKey = borsh::from_slice(k.value()).map_err(tree_err)?;
                if key.version() == latest {
                    created.push(k.value().to_vec());
                }
            }
            for k in &created {
                nodes.remove(k.as_slice())?;
            }
            meta.insert(META_LATEST_VERSION, target)?;
        }
        wtx.commit()?;
        Ok(target)
    }
}

/// Hashes `changes` into the tree `reader` holds, as version `version`: the
/// new root and the nodes and values to write.
///
/// A block that only writes goes down the tree in one descent (jmt's
/// `batch_put_value_sets`): every node on a changed path is rebuilt and
/// hashed once. jmt's batched walk takes no deletions and no empty set, so
/// those blocks go [`per_key_update`]. Both walks give the same root and the
/// same nodes (a Jellyfish Merkle tree's shape is a function of its keys;
/// tested against each other over random blocks below), so the walk is no
/// part of the app hash. Measured by the `tree_walk_cost` test below and
/// the coprocessor's `offchain_cost` example (`docs/performance.md`).
fn tree_update<R: TreeReader>(
    reader: &R,
    changes: &Changes,
    version: Version,
) -> Result<(jmt::RootHash, TreeUpdateBatch)> {
    if changes.is_empty() || changes.values().any(Option::is_none) {
        return per_key_update(reader, changes, version);
    }
    let writes = changes
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (key_hash(k), v.clone())))
        .collect();
    let (roots, batch) = Sha256Jmt::new(reader)
        .batch_put_value_sets(vec![writes], None, version)
        .map_err(tree_err)?;
    let root = *roots
        .first()
        .ok_or_else(|| tree_err("jmt returned no root for one value set"))?;
    Ok((root, batch))
}

/// [`tree_update`] one key at a time (jmt's `put_value_set`): every key
/// rewrites and rehashes its whole path, so a node above many changed keys
/// is hashed once per key.
fn per_key_update<R: TreeReader>(
    reader: &R,
    changes: &Changes,
    version: Version,
) -> Result<(jmt::RootHash, TreeUpdateBatch)> {
    Sha256Jmt::new(reader)
        .put_value_set(
            changes.iter().map(|(k, v)| (key_hash(k), v.clone())),
            version,
        )
        .map_err(tree_err)
}

fn check_next(latest: Option<Version>, version: Version) -> Result<()> {
    let expected = latest.map_or(0, |l| l + 1);
    if version == expected {
        Ok(())
    } else {
        Err(StoreError::OutOfOrder {
            pending: version,
            latest,
        })
    }
}

fn read_latest_version(rtx: &ReadTransaction) -> Result<Option<Version>> {
    let meta = rtx.open_table(META)?;
    Ok(meta.get(META_LATEST_VERSION)?.map(|g| g.value()))
}

fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(1);
            out.extend_from_slice(v);
            out
        }
        None => vec![0],
    }
}

fn decode_value(raw: &[u8]) -> Result<Option<Vec<u8>>> {
    match raw.split_first() {
        Some((1, v)) => Ok(Some(v.to_vec())),
        Some((0, [])) => Ok(None),
        _ => Err(StoreError::Tree("corrupt value encoding".into())),
    }
}

/// jmt's view of the committed tree inside one read transaction.
struct Reader {
    nodes: ReadOnlyTable<&'static [u8], &'static [u8]>,
    values: ReadOnlyTable<&'static [u8], &'static [u8]>,
    preimages: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Reader {
    fn new(rtx: &ReadTransaction) -> Result<Self> {
        Ok(Self {
            nodes: rtx.open_table(NODES)?,
            values: rtx.open_table(VALUES)?,
            preimages: rtx.open_table(PREIMAGES)?,
        })
    }
}

impl HasPreimage for Reader {
    fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .preimages
            .get(key_hash.0.as_slice())?
            .map(|g| g.value().to_vec()))
    }
}

impl TreeReader for Reader {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let k = borsh::to_vec(node_key)?;
        match self.nodes.get(k.as_slice())? {
            Some(raw) => Ok(Some(borsh::from_slice(raw.value())?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let lo = value_key(&key_hash, 0);
        let hi = value_key(&key_hash, max_version);
        let mut range = self.values.range(lo.as_slice()..=hi.as_slice())?;
        match range.next_back() {
            Some(entry) => {
                let (_, v) = entry?;
                Ok(decode_value(v.value())?)
            }
            None => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's state-sync restore, which copro does not use; a
        // full scan is correct and simple.
        let mut best: Option<(NodeKey, LeafNode)> = None;
        for entry in self.nodes.iter()? {
            let (k, v) = entry?;
            if let Node::Leaf(leaf) = borsh::from_slice::<Node>(v.value())? {
                let better = best
                    .as_ref()
                    .is_none_or(|(_, b)| leaf.key_hash() > b.key_hash());
                if better {
                    best = Some((borsh::from_slice(k.value())?, leaf));
                }
            }
        }
        Ok(best)
    }
}

/// A read-only view of the state at one committed version (or of the empty
/// state before the first commit). Holds a redb read transaction, so it stays
/// consistent while later blocks commit.
pub struct Snapshot {
    rtx: ReadTransaction,
    version: Option<Version>,
    is_latest: bool,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("is_latest", &self.is_latest)
            .finish()
    }
}

impl Snapshot {
    fn new(rtx: ReadTransaction, version: Option<Version>, is_latest: bool) -> Result<Self> {
        Ok(Self {
            rtx,
            version,
            is_latest,
        })
    }

    /// The version this snapshot reads (`None`: nothing committed yet).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The root hash at this snapshot's version (`None` before the first commit).
    pub fn root_hash(&self) -> Result<Option<RootHash>> {
        let Some(version) = self.version else {
            return Ok(None);
        };
        let reader = Reader::new(&self.rtx)?;
        let root = Sha256Jmt::new(&reader)
            .get_root_hash_option(version)
            .map_err(tree_err)?;
        Ok(root.map(|r| r.0))
    }

    /// Every key of this version and its value, in key order. Exact at any
    /// version (unlike [`StateRead::prefix_raw`] on an old snapshot, which
    /// misses keys deleted since), at the cost of a scan of the whole store.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let Some(version) = self.version else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if self.is_latest {
            for entry in self.rtx.open_table(LATEST)?.iter()? {
                let (k, v) = entry?;
                out.push((k.value().to_vec(), v.value().to_vec()));
            }
            return Ok(out);
        }
        // (key hash, version) ascending: the last entry of a key hash at or
        // below `version` is its value then.
        let values = self.rtx.open_table(VALUES)?;
        let preimages = self.rtx.open_table(PREIMAGES)?;
        let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        let mut flush = |current: Option<(Vec<u8>, Option<Vec<u8>>)>| -> Result<()> {
            if let Some((kh, Some(value))) = current {
                let key = preimages
                    .get(kh.as_slice())?
                    .ok_or_else(|| StoreError::Tree("a stored key has no preimage".into()))?;
                out.push((key.value().to_vec(), value));
            }
            Ok(())
        };
        for entry in values.iter()? {
            let (k, v) = entry?;
            let k = k.value();
            if k.len() != 40 {
                return Err(StoreError::Tree("corrupt value key".into()));
            }
            let (kh, ver) = k.split_at(32);
            let ver = u64::from_be_bytes(ver.try_into().unwrap_or_default());
            if current.as_ref().is_none_or(|(c, _)| c.as_slice() != kh) {
                flush(current.take())?;
                current = Some((kh.to_vec(), None));
            }
            if ver <= version
                && let Some((_, value)) = current.as_mut()
            {
                *value = decode_value(v.value())?;
            }
        }
        flush(current)?;
        out.sort();
        Ok(out)
    }

    /// The value of `key` and an ICS-23 proof of it against this version's
    /// root: an existence proof when the key is present, a non-existence proof
    /// otherwise. Verify with [`crate::proof_spec`].
    pub fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof)> {
        let version = self.version.ok_or(StoreError::MissingVersion(0, None))?;
        let reader = Reader::new(&self.rtx)?;
        Sha256Jmt::new(&reader)
            .get_with_ics23_proof(key.to_vec(), version)
            .map_err(tree_err)
    }
}

impl StateRead for Snapshot {
    fn committed_version(&self) -> Option<u64> {
        self.version
    }

    fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof)> {
        Snapshot::get_with_proof(self, key)
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(version) = self.version else {
            return Ok(None);
        };
        if self.is_latest {
            let latest = self.rtx.open_table(LATEST)?;
            return Ok(latest.get(key)?.map(|g| g.value().to_vec()));
        }
        let reader = Reader::new(&self.rtx)?;
        Sha256Jmt::new(&reader)
            .get(key_hash(key), version)
            .map_err(tree_err)
    }

    /// Lists keys from the latest-value index. On a historical snapshot the
    /// values are read at this snapshot's version, but keys deleted since then
    /// are not listed (the index only knows live keys).
    fn prefix_raw(&self, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if self.version.is_none() {
            return Ok(Vec::new());
        }
        let latest = self.rtx.open_table(LATEST)?;
        let mut out = Vec::new();
        for entry in latest.range(prefix..)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            if self.is_latest {
                out.push((k.to_vec(), v.value().to_vec()));
            } else if let Some(v) = self.get_raw(k)? {
                out.push((k.to_vec(), v));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// xorshift64*: a fixed pseudo-random workload without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Hashes `changes` both ways over the latest committed tree, asserts
    /// the same root and the same nodes and values, and returns the batched
    /// result to commit.
    fn both_walks(storage: &Storage, changes: &Changes, version: Version) -> PendingCommit {
        let rtx = storage.db.begin_read().unwrap();
        let reader = Reader::new(&rtx).unwrap();
        let (per_key_root, per_key) = per_key_update(&reader, changes, version).unwrap();
        let (root, batch) = tree_update(&reader, changes, version).unwrap();
        assert_eq!(per_key_root, root, "roots differ at version {version}");
        assert_eq!(
            per_key.node_batch, batch.node_batch,
            "nodes or values differ at version {version}"
        );
        PendingCommit {
            version,
            root: root.0,
            batch,
            changes: changes.clone(),
        }
    }

    /// Blocks of every shape: the first on an empty tree, one key, hundreds
    /// of keys (new ones splitting leaves, updates of live ones), blocks
    /// with deletions (which take the per-key walk), empty blocks, a block
    /// that deletes every key and the writes after it.
    #[test]
    fn the_batched_walk_gives_the_per_key_walks_root_nodes_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().join("store.redb")).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut live = BTreeSet::new();
        let mut batched_blocks = 0;
        for version in 0..90u64 {
            let writes = match version % 6 {
                0 => 1,
                1 => 700,
                5 => 0,
                _ => rng.below(250) + 1,
            };
            let mut changes = Changes::new();
            for _ in 0..writes {
                let key = format!("key/{:05}", rng.below(4000)).into_bytes();
                let len = usize::try_from(rng.below(48)).unwrap() + 1;
                let value = (0..len).map(|_| rng.next() as u8).collect();
                changes.insert(key, Some(value));
            }
            if version % 4 == 3 {
                let doomed: Vec<Vec<u8>> =
                    live.iter().filter(|_| rng.below(8) == 0).cloned().collect();
                for key in doomed {
                    changes.insert(key, None);
                }
            }
            if version == 60 {
                // Everything goes; the next block writes on an empty root
                // again (jmt's Null node at a later version).
                changes = live.iter().map(|k| (k.clone(), None)).collect();
            }
            if !changes.is_empty() && changes.values().all(Option::is_some) {
                batched_blocks += 1;
            }
            let pending = both_walks(&storage, &changes, version);
            storage.commit(pending).unwrap();
            for (k, v) in &changes {
                if v.is_some() {
                    live.insert(k.clone());
                } else {
                    live.remove(k);
                }
            }
        }
        assert!(batched_blocks >= 50, "only {batched_blocks} batched blocks");
        // What was committed reads back, with proofs, at the latest version.
        let snapshot = storage.latest_snapshot().unwrap();
        let root = snapshot.root_hash().unwrap().unwrap();
        assert_eq!(snapshot.entries().unwrap().len(), live.len());
        for key in live.iter().step_by(37) {
            let (value, proof) = snapshot.get_with_proof(key).unwrap();
            let value = value.expect("a live key has a value");
            assert!(ics23::verify_membership::<ics23::HostFunctionsManager>(
                &proof,
                &crate::proof_spec(),
                &root.to_vec(),
                key,
                &value,
            ));
        }
    }

    /// What each walk costs, interleaved in one run (medians, µs; a figure,
    /// not an assertion): a store of 4,000 keys, then blocks that update
    /// `n` of them, as a settled batch updates its accounts.
    /// `cargo test --release -p copro-store --lib -- --ignored --nocapture tree_walk_cost`
    #[test]
    #[ignore = "a benchmark: run it in release with --nocapture"]
    #[allow(clippy::disallowed_methods)] // it reads the clock
    fn tree_walk_cost() {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().join("store.redb")).unwrap();
        let mut rng = Rng(7);
        let value = |rng: &mut Rng| -> Vec<u8> { (0..120).map(|_| rng.next() as u8).collect() };
        let mut genesis = Changes::new();
        for i in 0..4000u32 {
            genesis.insert(format!("key/{i:05}").into_bytes(), Some(value(&mut rng)));
        }
        storage.commit(both_walks(&storage, &genesis, 0)).unwrap();
        for n in [8u64, 64, 512] {
            let mut changes = Changes::new();
            while changes.len() < usize::try_from(n).unwrap() {
                let key = format!("key/{:05}", rng.below(4000)).into_bytes();
                changes.insert(key, Some(value(&mut rng)));
            }
            let rtx = storage.db.begin_read().unwrap();
            let reader = Reader::new(&rtx).unwrap();
            let mut times: [Vec<Duration>; 2] = Default::default();
            for _ in 0..31 {
                type Walk =
                    fn(&Reader, &Changes, Version) -> Result<(jmt::RootHash, TreeUpdateBatch)>;
                let walks: [Walk; 2] = [per_key_update, tree_update];
                for (walk, samples) in walks.into_iter().zip(&mut times) {
                    let start = Instant::now();
                    std::hint::black_box(walk(&reader, &changes, 1).unwrap());
                    samples.push(start.elapsed());
                }
            }
            let [per_key, batched] = times.map(|mut t| {
                t.sort();
                t[t.len() / 2].as_secs_f64() * 1e6
            });
            println!(
                "tree_walk.{n}_keys: per_key_us {per_key:.0} batched_us {batched:.0} \
                 per_key_us_per_key {:.1} batched_us_per_key {:.1} speedup {:.2}",
                per_key / n as f64,
                batched / n as f64,
                per_key / batched
            );
        }
    }
}
