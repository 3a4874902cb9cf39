//! The prover's persistent job queue (one redb file, `jobs.redb`).
//!
//! A job is one batch: a range `[start, end)` of the chain's request queue.
//! Its lifecycle is
//!
//! ```text
//! pending → witness → proving → proved → submitted → committed
//!                                  ↘ failed (reason; retried after a backoff, or given up) ↙
//! ```
//!
//! Every transition is written as it happens (a proof is stored before it
//! is broadcast; a kill between a broadcast and its record costs one more
//! broadcast of the same proof), so a restart (after a crash or SIGKILL at
//! any moment) resumes from the file:
//! - a job whose range the chain has settled is `committed`, whatever
//!   state it was left in (recognised from chain state, never resubmitted);
//! - a `proved`/`submitted` job still holds its proof and is broadcast
//!   again (the chain refuses a second copy by queue range and replay);
//! - a job interrupted before its proof existed is proved again.
//!
//! The queue entries a job consumes are stored here too, by sequence, as
//! they were read from the verified chain: the chain deletes settled
//! entries, and the ledger replica needs them to catch up after a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use copro_coprocessor::record::pb;
use prost::Message;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Jobs: id (u64) → JSON of [`Job`].
const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
/// Queue entries seen on the chain: sequence → protobuf `QueueEntry`.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("queue_entries");
/// Small records (the light client's latest verified header).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_FORMAT: &str = "format";
const META_TRUSTED: &str = "trusted_header";
/// Every job below this id is final (committed or given up).
const META_FIRST_OPEN: &str = "first_open";
/// Jobs by state name, kept with every write (the metrics and `/status`
/// read it each round; a full scan would grow with the prover's age).
const COUNTS: TableDefinition<&str, u64> = TableDefinition::new("job_counts");
const FORMAT: &[u8] = b"copro-prover jobs v1";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Range chosen, nothing done yet.
    Pending,
    /// Native execution and witness generation.
    Witness,
    /// Waiting for or running on a proving worker.
    Proving,
    /// Proof made; waiting for the previous batch to land.
    Proved,
    /// Broadcast; waiting for a block to include it.
    Submitted,
    /// The chain settled the range.
    Committed,
    /// Something went wrong; see `reason` and `retry_at`.
    Failed,
}

impl JobState {
    /// The name used in the API, the CLI and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Witness => "witness",
            JobState::Proving => "proving",
            JobState::Proved => "proved",
            JobState::Submitted => "submitted",
            JobState::Committed => "committed",
            JobState::Failed => "failed",
        }
    }

    /// Whether nothing more happens to a job in this state (a failed job
    /// with no retry time is given up).
    pub fn is_final(self, retry_at: Option<u64>) -> bool {
        self == JobState::Committed || (self == JobState::Failed && retry_at.is_none())
    }
}

/// One batch and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Job id, from 1, in creation order.
    pub id: u64,
    /// First queue sequence of the batch.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Lifecycle state.
    pub state: JobState,
    /// Ledger root before the batch (0x-hex; empty until executed).
    #[serde(default)]
    pub old_root: String,
    /// Ledger root after it (0x-hex; empty until executed).
    #[serde(default)]
    pub new_root: String,
    /// The `MsgSubmitProof`, protobuf, hex (empty until proved).
    #[serde(default)]
    pub msg: String,
    /// Hash of the last broadcast tx (upper-case hex).
    #[serde(default)]
    pub tx_hash: String,
    /// Chain height when it was last broadcast.
    #[serde(default)]
    pub submitted_height: u64,
    /// Height whose state first showed the range settled.
    #[serde(default)]
    pub committed_height: u64,
    /// Broadcasts and proving attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Why it failed (last failure; kept after a successful retry).
    #[serde(default)]
    pub reason: String,
    /// Unix time of the next retry of a failed job; `None`: given up.
    #[serde(default)]
    pub retry_at: Option<u64>,
    /// The state a failed job returns to when retried.
    #[serde(default)]
    pub retry_state: Option<JobState>,
    /// Unix time the job was created.
    pub created_at: u64,
    /// Unix time of the last state change.
    pub updated_at: u64,
    /// Native execution and witness, milliseconds.
    #[serde(default)]
    pub witness_ms: u64,
    /// Proving, milliseconds (synthesis, FFTs and multi-exponentiations).
    #[serde(default)]
    pub proving_ms: u64,
    /// `transfer` version 2: ids of the pooled off-chain transfers the batch
    /// carries, in order (empty for version 1).
    #[serde(default)]
    pub transfers: Vec<u64>,
    /// `transfer` version 2: the next free leaf index the batch was
    /// executed with.
    #[serde(default)]
    pub alloc_start: u32,
}

impl Job {
    /// A new `pending` job for requests `[start, end)`, created at `now`
    /// (unix seconds).
    pub fn new(id: u64, start: u64, end: u64, now: u64) -> Job {
        Job {
            id,
            start,
            end,
            state: JobState::Pending,
            old_root: String::new(),
            new_root: String::new(),
            msg: String::new(),
            tx_hash: String::new(),
            submitted_height: 0,
            committed_height: 0,
            attempts: 0,
            reason: String::new(),
            retry_at: None,
            retry_state: None,
            created_at: now,
            updated_at: now,
            witness_ms: 0,
            proving_ms: 0,
            transfers: Vec::new(),
            alloc_start: 0,
        }
    }

    /// The decoded proof message, once proved.
    pub fn submit_msg(&self) -> Option<pb::MsgSubmitProof> {
        if self.msg.is_empty() {
            return None;
        }
        let bytes = hex::decode(&self.msg).ok()?;
        pb::MsgSubmitProof::decode(bytes.as_slice()).ok()
    }

    /// Number of requests in the batch.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the batch is empty (never, for a job the daemon made).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Errors of the job store.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// The file could not be opened (corrupt, or another prover uses it).
    #[error(
        "cannot open the job store {path}: {reason} (is another copro-prover running with the same data directory?)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not our file.
    #[error("{path} is not a copro-prover job store; refusing to use it")]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// A record does not decode.
    #[error("job store {path} is corrupt: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What.
        what: String,
    },
    /// A database operation failed.
    #[error("job store database error: {0}")]
    Db(String),
}

pub(super) fn db_err(e: impl Into<redb::Error>) -> JobStoreError {
    JobStoreError::Db(e.into().to_string())
}

/// The job store.
#[derive(Debug)]
pub struct JobStore {
    path: PathBuf,
    pub(super) db: Database,
}

impl JobStore {
    /// Opens the store at `path`, creating it if there is no file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JobStoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |e: &dyn std::fmt::Display| JobStoreError::Open {
            path: path.clone(),
            reason: e.to_string(),
        };
        let fresh = !path.exists();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        }
        let db = if fresh {
            Database::create(&path)
        } else {
            Database::open(&path)
        }
        .map_err(|e| open_err(&e))?;
        if fresh {
            let wtx = db.begin_write().map_err(db_err)?;
            {
                wtx.open_table(META)
                    .map_err(db_err)?
                    .insert(META_FORMAT, FORMAT)
                    .map_err(db_err)?;
                wtx.open_table(JOBS).map_err(db_err)?;
                wtx.open_table(ENTRIES).map_err(db_err)?;
                wtx.open_table(COUNTS).map_err(db_err)?;
            }
            wtx.commit().map_err(db_err)?;
        }
        {
            // The off-chain pool's tables (added with `transfer` version 2;
            // a store from before gets them here, empty).
            let wtx = db.begin_write().map_err(db_err)?;
            wtx.open_table(super::pool::TRANSFERS).map_err(db_err)?;
            wtx.open_table(super::pool::OPEN_TRANSFERS)
                .map_err(db_err)?;
            wtx.commit().map_err(db_err)?;
        }
        let store = JobStore { path, db };
        if store.meta(META_FORMAT)?.as_deref() != Some(FORMAT) {
            return Err(JobStoreError::Foreign { path: store.path });
        }
        Ok(store)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = match rtx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    pub(super) fn corrupt(&self, what: String) -> JobStoreError {
        JobStoreError::Corrupt {
            path: self.path.clone(),
            what,
        }
    }

    /// Every job, by id.
    pub fn jobs(&self) -> Result<Vec<Job>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(JOBS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (id, raw) = row.map_err(db_err)?;
            let job: Job = serde_json::from_slice(raw.value())
                .map_err(|e| self.corrupt(format!("job {}: {e}", id.value())))?;
            out.push(job);
        }
        Ok(out)
    }

    /// The jobs that may still change, in id order: from the first one that
    /// is not final on (final ones after it included, the caller filters).
    /// Cost grows with the jobs in flight, not with the prover's age.
    pub fn open_jobs(&self) -> Result<Vec<Job>, JobStoreError> {
        let first = self
            .meta(META_FIRST_OPEN)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(JOBS).map_err(db_err)?;
        let mut out = Vec::new();
        let mut leading_final = None;
        for row in table.range(first..).map_err(db_err)? {
            let (id, raw) = row.map_err(db_err)?;
            let job: Job = serde_json::from_slice(raw.value())
                .map_err(|e| self.corrupt(format!("job {}: {e}", id.value())))?;
            if out.is_empty() && job.state.is_final(job.retry_at) {
                leading_final = Some(job.id);
                continue;
            }
            out.push(job);
        }
        drop(table);
        drop(rtx);
        if let Some(id) = leading_final {
            // Skip them next time. (Best effort: a failure only costs a
            // longer scan.)
            let next = out.first().map_or(id.saturating_add(1), |j| j.id);
            let _ = self.put_meta(META_FIRST_OPEN, &next.to_be_bytes());
        }
        Ok(out)
    }

    /// The newest `limit` jobs (in `state`, if given), newest first.
    pub fn recent(&self, limit: usize, state: Option<&str>) -> Result<Vec<Job>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(JOBS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)?.rev() {
            if out.len() >= limit {
                break;
            }
            let (id, raw) = row.map_err(db_err)?;
            let job: Job = serde_json::from_slice(raw.value())
                .map_err(|e| self.corrupt(format!("job {}: {e}", id.value())))?;
            if state.is_none_or(|s| job.state.as_str() == s) {
                out.push(job);
            }
        }
        Ok(out)
    }

    /// Jobs by state name.
    pub fn counts(&self) -> Result<BTreeMap<String, u64>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(COUNTS).map_err(db_err)?;
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            if v.value() > 0 {
                out.insert(k.value().to_string(), v.value());
            }
        }
        Ok(out)
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), JobStoreError> {
        let wtx = self.db.begin_write().map_err(db_err)?;
        wtx.open_table(META)
            .map_err(db_err)?
            .insert(key, value)
            .map_err(db_err)?;
        wtx.commit().map_err(db_err)
    }

    /// One job.
    pub fn job(&self, id: u64) -> Result<Option<Job>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(JOBS).map_err(db_err)?;
        table
            .get(id)
            .map_err(db_err)?
            .map(|raw| {
                serde_json::from_slice(raw.value())
                    .map_err(|e| self.corrupt(format!("job {id}: {e}")))
            })
            .transpose()
    }

    /// The next job id.
    pub fn next_id(&self) -> Result<u64, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(JOBS).map_err(db_err)?;
        let last = table.last().map_err(db_err)?.map(|(k, _)| k.value());
        Ok(last.map_or(1, |l| l.saturating_add(1)))
    }

    /// Writes `job` (insert or replace) and the state counts, durably, in
    /// one transaction.
    pub fn put(&self, job: &Job) -> Result<(), JobStoreError> {
        let raw = serde_json::to_vec(job).map_err(|e| JobStoreError::Db(e.to_string()))?;
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut jobs = wtx.open_table(JOBS).map_err(db_err)?;
            let old = jobs
                .insert(job.id, raw.as_slice())
                .map_err(db_err)?
                .and_then(|v| serde_json::from_slice::<Job>(v.value()).ok())
                .map(|j| j.state);
            let mut counts = wtx.open_table(COUNTS).map_err(db_err)?;
            if old != Some(job.state) {
                if let Some(old) = old {
                    let n = counts
                        .get(old.as_str())
                        .map_err(db_err)?
                        .map_or(0, |v| v.value());
                    counts
                        .insert(old.as_str(), n.saturating_sub(1))
                        .map_err(db_err)?;
                }
                let n = counts
                    .get(job.state.as_str())
                    .map_err(db_err)?
                    .map_or(0, |v| v.value());
                counts
                    .insert(job.state.as_str(), n.saturating_add(1))
                    .map_err(db_err)?;
            }
        }
        wtx.commit().map_err(db_err)
    }

    /// Records queue entries read from the verified chain (an entry seen
    /// before is overwritten with the same bytes).
    pub fn put_entries(&self, entries: &[pb::QueueEntry]) -> Result<(), JobStoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(ENTRIES).map_err(db_err)?;
            for e in entries {
                table
                    .insert(e.sequence, e.encode_to_vec().as_slice())
                    .map_err(db_err)?;
            }
        }
        wtx.commit().map_err(db_err)
    }

    /// The recorded entries `[start, end)`, in order; `None` if any is
    /// missing.
    pub fn entries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Option<Vec<pb::QueueEntry>>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(ENTRIES).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.range(start..end).map_err(db_err)? {
            let (seq, raw) = row.map_err(db_err)?;
            let entry = pb::QueueEntry::decode(raw.value())
                .map_err(|e| self.corrupt(format!("queue entry {}: {e}", seq.value())))?;
            if entry.sequence != seq.value() {
                return Err(self.corrupt(format!(
                    "queue entry {} is stored as {}",
                    entry.sequence,
                    seq.value()
                )));
            }
            out.push(entry);
        }
        let complete = u64::try_from(out.len()).is_ok_and(|n| n == end.saturating_sub(start));
        Ok(complete.then_some(out))
    }

    /// Forgets entries below `below` (settled and in the replica).
    pub fn prune_entries(&self, below: u64) -> Result<(), JobStoreError> {
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(ENTRIES).map_err(db_err)?;
            table.retain_in(..below, |_, _| false).map_err(db_err)?;
        }
        wtx.commit().map_err(db_err)
    }

    /// The latest header the light client verified: `(height, hash)`.
    pub fn trusted_header(&self) -> Result<Option<(u64, [u8; 32])>, JobStoreError> {
        let Some(raw) = self.meta(META_TRUSTED)? else {
            return Ok(None);
        };
        let parsed = (raw.len() == 40).then(|| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&raw[8..]);
            let mut h = [0u8; 8];
            h.copy_from_slice(&raw[..8]);
            (u64::from_be_bytes(h), hash)
        });
        parsed
            .map(Some)
            .ok_or_else(|| self.corrupt("trusted header record".into()))
    }

    /// Records a header the light client verified, as the next start's
    /// trust root.
    pub fn put_trusted_header(&self, height: u64, hash: [u8; 32]) -> Result<(), JobStoreError> {
        let mut raw = height.to_be_bytes().to_vec();
        raw.extend_from_slice(&hash);
        let wtx = self.db.begin_write().map_err(db_err)?;
        wtx.open_table(META)
            .map_err(db_err)?
            .insert(META_TRUSTED, raw.as_slice())
            .map_err(db_err)?;
        wtx.commit().map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, start: u64, end: u64) -> Job {
        Job::new(id, start, end, 1)
    }

    fn entry(sequence: u64) -> pb::QueueEntry {
        pb::QueueEntry {
            sequence,
            ..Default::default()
        }
    }

    #[test]
    fn jobs_entries_and_the_trusted_header_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("d").join("jobs.redb");
        {
            let store = JobStore::open(&file).unwrap();
            assert_eq!(store.next_id().unwrap(), 1);
            let mut j = job(1, 0, 4);
            store.put(&j).unwrap();
            j.state = JobState::Submitted;
            j.msg = "0a00".into();
            store.put(&j).unwrap();
            store.put(&job(2, 4, 6)).unwrap();
            store
                .put_entries(&(0..6).map(entry).collect::<Vec<_>>())
                .unwrap();
            store.put_trusted_header(42, [7; 32]).unwrap();
        }
        let store = JobStore::open(&file).unwrap();
        let jobs = store.jobs().unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].state, JobState::Submitted);
        assert_eq!(jobs[0].msg, "0a00");
        assert_eq!(store.job(2).unwrap().unwrap().start, 4);
        assert_eq!(store.job(3).unwrap(), None);
        assert_eq!(store.next_id().unwrap(), 3);
        assert_eq!(store.trusted_header().unwrap(), Some((42, [7; 32])));
        let got = store.entries(2, 5).unwrap().unwrap();
        assert_eq!(
            got.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        // A gap is reported as missing, not papered over.
        assert_eq!(store.entries(4, 7).unwrap(), None);
        store.prune_entries(3).unwrap();
        assert_eq!(store.entries(2, 4).unwrap(), None);
        assert!(store.entries(3, 6).unwrap().is_some());
        let counts = store.counts().unwrap();
        assert_eq!(counts.get("submitted"), Some(&1));
        assert_eq!(counts.get("pending"), Some(&1));
        assert_eq!(counts.len(), 2, "{counts:?}");
        let recent = store.recent(1, None).unwrap();
        assert_eq!(recent.iter().map(|j| j.id).collect::<Vec<_>>(), [2]);
        assert_eq!(store.recent(10, Some("submitted")).unwrap()[0].id, 1);
    }

    #[test]
    fn a_foreign_or_garbage_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, vec![0x11; 4096]).unwrap();
        assert!(matches!(
            JobStore::open(&garbage),
            Err(JobStoreError::Open { .. })
        ));
        let other = dir.path().join("other");
        Database::create(&other).unwrap();
        assert!(matches!(
            JobStore::open(&other),
            Err(JobStoreError::Foreign { .. })
        ));
    }

    #[test]
    fn final_states() {
        assert!(JobState::Committed.is_final(None));
        assert!(JobState::Failed.is_final(None));
        assert!(!JobState::Failed.is_final(Some(5)));
        assert!(!JobState::Submitted.is_final(None));
        let p = job(1, 3, 7);
        assert_eq!(p.len(), 4);
        assert_eq!(p.submit_msg(), None);
    }

    #[test]
    fn open_jobs_skip_the_final_ones_before_the_first_open_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::open(dir.path().join("jobs.redb")).unwrap();
        for id in 1..=5 {
            let mut j = job(id, id * 4, id * 4 + 4);
            j.state = if id <= 3 {
                JobState::Committed
            } else {
                JobState::Proving
            };
            store.put(&j).unwrap();
        }
        let open = store.open_jobs().unwrap();
        assert_eq!(open.iter().map(|j| j.id).collect::<Vec<_>>(), [4, 5]);
        // A given-up job after an open one is still listed (callers filter).
        let mut given_up = job(6, 24, 28);
        given_up.state = JobState::Failed;
        store.put(&given_up).unwrap();
        let mut four = store.job(4).unwrap().unwrap();
        four.state = JobState::Committed;
        store.put(&four).unwrap();
        let open = store.open_jobs().unwrap();
        assert_eq!(open.iter().map(|j| j.id).collect::<Vec<_>>(), [5, 6]);
        assert_eq!(store.open_jobs().unwrap().len(), 2, "the skip was kept");
        let counts = store.counts().unwrap();
        assert_eq!(counts.get("committed"), Some(&4));
        assert_eq!(counts.get("proving"), Some(&1));
        assert_eq!(counts.get("failed"), Some(&1));
    }
}
