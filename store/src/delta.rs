//! Read/write traits and the in-memory write overlay.

use std::collections::BTreeMap;

use crate::Result;

/// Read access to a key-value state (a committed snapshot or an overlay).
pub trait StateRead {
    /// The value stored under `key`, if any.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Every `(key, value)` whose key starts with `prefix`, in ascending key
    /// order, at most `limit` of them.
    fn prefix_raw(&self, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The committed version (block height) this state is, if it is one: an
    /// overlay of uncommitted writes is `None`.
    fn committed_version(&self) -> Option<u64> {
        None
    }

    /// The value under `key` with an ICS-23 proof (existence, or
    /// non-existence if absent) against the root of this committed version.
    /// Only a committed snapshot can prove; anything else is
    /// [`StoreError::NotProvable`](crate::StoreError::NotProvable).
    fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof)> {
        let _ = key;
        Err(crate::StoreError::NotProvable)
    }
}

/// The empty state: the base of a [`StateDelta`] that holds a whole state
/// of its own (a genesis being built, an export being read back).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyState;

impl StateRead for EmptyState {
    fn get_raw(&self, _key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn prefix_raw(&self, _prefix: &[u8], _limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(Vec::new())
    }
}

/// Write access to a key-value state. Writes only ever land in memory
/// ([`StateDelta`]); the storage persists them at Commit.
pub trait StateWrite: StateRead {
    /// Sets `key` to `value`.
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Removes `key`.
    fn delete_raw(&mut self, key: Vec<u8>);
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get_raw(key)
    }
    fn prefix_raw(&self, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        (**self).prefix_raw(prefix, limit)
    }
    fn committed_version(&self) -> Option<u64> {
        (**self).committed_version()
    }
    fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof)> {
        (**self).get_with_proof(key)
    }
}

/// The set of changes of a delta: `None` is a deletion.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// An in-memory overlay of writes over a read-only base.
///
/// A block executes on one delta over the committed snapshot; each transaction
/// executes on a nested delta over the block delta (`StateDelta::new(&block)`),
/// whose [`changes`](Self::into_changes) are [applied](Self::apply) to the
/// block delta only if the transaction succeeds.
#[derive(Debug)]
pub struct StateDelta<S> {
    base: S,
    changes: Changes,
}

impl<S: StateRead> StateDelta<S> {
    /// An empty overlay over `base`.
    pub fn new(base: S) -> Self {
        Self {
            base,
            changes: BTreeMap::new(),
        }
    }

    /// The collected changes (ascending key order, deterministic).
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Consumes the overlay, returning its changes.
    pub fn into_changes(self) -> Changes {
        self.changes
    }

    /// Applies changes collected elsewhere (e.g. by a nested delta) on top.
    pub fn apply(&mut self, changes: Changes) {
        self.changes.extend(changes);
    }

    /// The read-only base.
    pub fn base(&self) -> &S {
        &self.base
    }
}

impl<S: StateRead> StateRead for StateDelta<S> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.changes.get(key) {
            Some(change) => Ok(change.clone()),
            None => self.base.get_raw(key),
        }
    }

    fn prefix_raw(&self, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        // Base entries overridden or deleted here may hide up to `changes.len()`
        // entries, so ask the base for enough to still fill `limit`.
        let local: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = self
            .changes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect();
        let base_limit = limit.saturating_add(local.len());
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self
            .base
            .prefix_raw(prefix, base_limit)?
            .into_iter()
            .collect();
        for (k, v) in local {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().take(limit).collect())
    }
}

impl<S: StateRead> StateWrite for StateDelta<S> {
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.changes.insert(key, Some(value));
    }
    fn delete_raw(&mut self, key: Vec<u8>) {
        self.changes.insert(key, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(BTreeMap<Vec<u8>, Vec<u8>>);
    impl StateRead for Fixed {
        fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(self.0.get(key).cloned())
        }
        fn prefix_raw(&self, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            Ok(self
                .0
                .range(prefix.to_vec()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
    }

    #[test]
    fn overlay_shadows_base_and_nested_changes_apply_only_when_asked() {
        let base = Fixed(
            [
                (b"a/1".to_vec(), b"x".to_vec()),
                (b"a/2".to_vec(), b"y".to_vec()),
            ]
            .into_iter()
            .collect(),
        );
        let mut block = StateDelta::new(&base);
        block.delete_raw(b"a/1".to_vec());
        block.put_raw(b"a/3".to_vec(), b"z".to_vec());
        assert_eq!(block.get_raw(b"a/1").unwrap(), None);
        let listed = block.prefix_raw(b"a/", 10).unwrap();
        assert_eq!(
            listed,
            vec![
                (b"a/2".to_vec(), b"y".to_vec()),
                (b"a/3".to_vec(), b"z".to_vec())
            ]
        );
        assert_eq!(block.prefix_raw(b"a/", 1).unwrap().len(), 1);

        let discarded = {
            let mut tx = StateDelta::new(&block);
            tx.put_raw(b"a/4".to_vec(), b"w".to_vec());
            tx.into_changes()
        };
        drop(discarded);
        assert_eq!(block.get_raw(b"a/4").unwrap(), None);
        let kept = {
            let mut tx = StateDelta::new(&block);
            tx.put_raw(b"a/4".to_vec(), b"w".to_vec());
            tx.into_changes()
        };
        block.apply(kept);
        assert_eq!(block.get_raw(b"a/4").unwrap(), Some(b"w".to_vec()));
    }
}
