//! Behaviour of the on-disk Merkle store.

use copro_store::{StateDelta, StateRead, StateWrite, Storage, proof_spec};
use ics23::HostFunctionsManager;

fn commit_block(storage: &Storage, version: u64, writes: &[(&str, Option<&str>)]) -> [u8; 32] {
    let snapshot = storage.latest_snapshot().unwrap();
    let mut delta = StateDelta::new(snapshot);
    for (k, v) in writes {
        match v {
            Some(v) => delta.put_raw(k.as_bytes().to_vec(), v.as_bytes().to_vec()),
            None => delta.delete_raw(k.as_bytes().to_vec()),
        }
    }
    let (root, pending) = storage.compute_root(delta.changes(), version).unwrap();
    storage.commit(pending).unwrap();
    root
}

#[test]
fn proofs_of_present_and_absent_keys_verify_against_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    commit_block(&storage, 0, &[("bank/a", Some("1")), ("bank/b", Some("2"))]);
    let root = commit_block(&storage, 1, &[("bank/c", Some("3")), ("bank/a", None)]);
    assert_eq!(storage.root_hash(1).unwrap(), Some(root));

    let snap = storage.snapshot(1).unwrap();
    let (value, proof) = snap.get_with_proof(b"bank/b").unwrap();
    assert_eq!(value.as_deref(), Some(&b"2"[..]));
    assert!(ics23::verify_membership::<HostFunctionsManager>(
        &proof,
        &proof_spec(),
        &root.to_vec(),
        b"bank/b",
        b"2"
    ));
    // A wrong value does not verify.
    assert!(!ics23::verify_membership::<HostFunctionsManager>(
        &proof,
        &proof_spec(),
        &root.to_vec(),
        b"bank/b",
        b"3"
    ));

    // Deleted and never-written keys get non-existence proofs.
    for absent in [&b"bank/a"[..], b"nothing"] {
        let (value, proof) = snap.get_with_proof(absent).unwrap();
        assert_eq!(value, None);
        assert!(ics23::verify_non_membership::<HostFunctionsManager>(
            &proof,
            &proof_spec(),
            &root.to_vec(),
            absent
        ));
    }

    // The old version still proves the old value.
    let root0 = storage.root_hash(0).unwrap().unwrap();
    let (value, proof) = storage
        .snapshot(0)
        .unwrap()
        .get_with_proof(b"bank/a")
        .unwrap();
    assert_eq!(value.as_deref(), Some(&b"1"[..]));
    assert!(ics23::verify_membership::<HostFunctionsManager>(
        &proof,
        &proof_spec(),
        &root0.to_vec(),
        b"bank/a",
        b"1"
    ));
}

#[test]
fn reopening_gives_the_same_root_and_uncommitted_blocks_are_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let root1 = {
        let storage = Storage::open(&path).unwrap();
        commit_block(&storage, 0, &[("k/1", Some("a"))]);
        let root1 = commit_block(&storage, 1, &[("k/2", Some("b"))]);
        // Block 2 is hashed but never committed: a crash before Commit.
        let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
        delta.put_raw(b"k/3".to_vec(), b"c".to_vec());
        let (_root2, _pending) = storage.compute_root(delta.changes(), 2).unwrap();
        root1
    };
    let storage = Storage::open(&path).unwrap();
    assert_eq!(storage.latest_version().unwrap(), Some(1));
    assert_eq!(storage.root_hash(1).unwrap(), Some(root1));
    assert_eq!(storage.root_hash(2).unwrap(), None);
    let snap = storage.latest_snapshot().unwrap();
    assert_eq!(snap.get_raw(b"k/3").unwrap(), None);
    assert_eq!(snap.get_raw(b"k/2").unwrap(), Some(b"b".to_vec()));
    assert_eq!(
        snap.prefix_raw(b"k/", 10).unwrap(),
        vec![
            (b"k/1".to_vec(), b"a".to_vec()),
            (b"k/2".to_vec(), b"b".to_vec())
        ]
    );
}

#[test]
fn empty_blocks_keep_the_root_and_versions_must_follow_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    assert_eq!(storage.latest_version().unwrap(), None);
    let empty_genesis = commit_block(&storage, 0, &[]);
    let r1 = commit_block(&storage, 1, &[("x", Some("1"))]);
    let r2 = commit_block(&storage, 2, &[]);
    assert_eq!(r1, r2);
    assert_ne!(empty_genesis, r1);
    let snap = storage.latest_snapshot().unwrap();
    let delta = StateDelta::new(snap);
    assert!(storage.compute_root(delta.changes(), 4).is_err());
    // A pending commit made against a version that has since moved on is refused.
    let (_, stale) = storage.compute_root(delta.changes(), 3).unwrap();
    commit_block(&storage, 3, &[]);
    assert!(storage.commit(stale).is_err());
}

#[test]
fn two_stores_fed_the_same_changes_agree_on_every_root() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = Storage::open(a.path().join("db")).unwrap();
    let sb = Storage::open(b.path().join("db")).unwrap();
    for v in 0..5u64 {
        let key = format!("k/{}", v % 3);
        let val = format!("{v}");
        let writes = [(key.as_str(), Some(val.as_str()))];
        assert_eq!(commit_block(&sa, v, &writes), commit_block(&sb, v, &writes));
    }
}

#[test]
fn the_root_depends_only_on_the_final_contents_not_on_history() {
    // A small deterministic generator (xorshift) drives random puts/deletes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let dir = tempfile::tempdir().unwrap();
    let incremental = Storage::open(dir.path().join("a")).unwrap();
    let mut model = std::collections::BTreeMap::new();
    let mut root = [0u8; 32];
    for version in 0..20u64 {
        let mut delta = StateDelta::new(incremental.latest_snapshot().unwrap());
        for _ in 0..(next() % 8) {
            let key = format!("k/{}", next() % 16).into_bytes();
            if next() % 3 == 0 {
                delta.delete_raw(key.clone());
                model.remove(&key);
            } else {
                let value = format!("v{}", next() % 1000).into_bytes();
                delta.put_raw(key.clone(), value.clone());
                model.insert(key, value);
            }
        }
        let (r, pending) = incremental.compute_root(delta.changes(), version).unwrap();
        incremental.commit(pending).unwrap();
        root = r;
    }
    let oneshot = Storage::open(dir.path().join("b")).unwrap();
    let mut delta = StateDelta::new(oneshot.latest_snapshot().unwrap());
    for (k, v) in &model {
        delta.put_raw(k.clone(), v.clone());
    }
    let (r, pending) = oneshot.compute_root(delta.changes(), 0).unwrap();
    oneshot.commit(pending).unwrap();
    assert_eq!(r, root);
    // And the latest-value index lists exactly the model.
    let listed = incremental
        .latest_snapshot()
        .unwrap()
        .prefix_raw(b"k/", 100)
        .unwrap();
    assert_eq!(listed, model.into_iter().collect::<Vec<_>>());
}

#[test]
fn rollback_removes_the_latest_version_and_the_next_commit_redoes_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    let root0 = commit_block(&storage, 0, &[("a", Some("1")), ("b", Some("2"))]);
    let root1 = commit_block(&storage, 1, &[("a", Some("10")), ("c", Some("3"))]);
    let block2 = [("a", None), ("b", Some("20")), ("d", Some("4"))];
    let root2 = commit_block(&storage, 2, &block2);
    let entries_at_1 = storage.snapshot(1).unwrap().entries().unwrap();

    assert_eq!(storage.rollback().unwrap(), 1);
    assert_eq!(storage.latest_version().unwrap(), Some(1));
    assert_eq!(storage.root_hash(1).unwrap(), Some(root1));
    assert_eq!(storage.root_hash(2).unwrap(), None);
    let latest = storage.latest_snapshot().unwrap();
    // The latest-value index is back to version 1: `a` returns, `d` goes.
    assert_eq!(latest.entries().unwrap(), entries_at_1);
    assert_eq!(latest.get_raw(b"a").unwrap().as_deref(), Some(&b"10"[..]));
    assert_eq!(latest.get_raw(b"d").unwrap(), None);
    assert_eq!(latest.prefix_raw(b"", 10).unwrap(), entries_at_1);
    drop(latest);

    // Committing block 2 again gives the same root; another block goes on.
    assert_eq!(commit_block(&storage, 2, &block2), root2);
    commit_block(&storage, 3, &[("e", Some("5"))]);

    // Down to genesis, and no further.
    for expected in [2, 1, 0] {
        assert_eq!(storage.rollback().unwrap(), expected);
    }
    assert_eq!(storage.root_hash(0).unwrap(), Some(root0));
    let e = storage.rollback().unwrap_err().to_string();
    assert!(e.starts_with("nothing to roll back"), "{e}");
    assert!(
        Storage::open(dir.path().join("empty"))
            .unwrap()
            .rollback()
            .is_err()
    );
}

#[test]
fn entries_list_exactly_the_keys_of_each_version() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    commit_block(&storage, 0, &[("a", Some("1")), ("b", Some("2"))]);
    commit_block(&storage, 1, &[("a", None), ("c", Some("3"))]);
    commit_block(&storage, 2, &[("b", Some("22")), ("a", Some("111"))]);
    let kv = |pairs: &[(&str, &str)]| -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    };
    let at = |v| storage.snapshot(v).unwrap().entries().unwrap();
    assert_eq!(at(0), kv(&[("a", "1"), ("b", "2")]));
    assert_eq!(at(1), kv(&[("b", "2"), ("c", "3")]));
    assert_eq!(at(2), kv(&[("a", "111"), ("b", "22"), ("c", "3")]));
    assert_eq!(storage.latest_snapshot().unwrap().entries().unwrap(), at(2));
}
