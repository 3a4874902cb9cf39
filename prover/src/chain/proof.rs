//! The pure half of reading the chain: checking that a value a node returned
//! is the value committed under a given app hash (ICS-23 over the jmt store).
//!
//! Nothing here talks to the network or trusts a node: the app hash comes
//! from a header the light client verified ([`super::VerifiedChain`]); these
//! functions only decide whether a proof binds `key → value` (or `key`
//! absent) to that hash, and say precisely what is wrong when it does not.

use ibc_proto::ibc::core::commitment::v1::MerkleProof;
use ics23::commitment_proof::Proof;
use ics23::{CommitmentProof, HostFunctionsManager};
use prost::Message;
use tendermint::merkle::proof::ProofOps;

/// `ProofOp.type` of coprod's `/store/key` proofs (ICS-23 over the jmt);
/// must match `abci-app/src/query.rs`.
pub const STORE_PROOF_OP_TYPE: &str = "ics23:jmt";

/// Why a proven value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The node sent no proof although one was asked for.
    #[error("the node returned no proof for {key}")]
    Missing {
        /// The store key (printable form).
        key: String,
    },
    /// The module's `MerkleProof` must hold exactly one ICS-23 proof (the
    /// store is one tree whose root is the app hash).
    #[error("the node returned {count} proofs for {key}, expected exactly one")]
    NotExactlyOne {
        /// The store key.
        key: String,
        /// How many there were.
        count: usize,
    },
    /// A `/store/key` proof op of another kind.
    #[error("unknown proof op type '{got}' for {key} (expected '{STORE_PROOF_OP_TYPE}')")]
    UnknownOpType {
        /// The store key.
        key: String,
        /// The type the node sent.
        got: String,
    },
    /// The proof bytes are not a protobuf `CommitmentProof`/`MerkleProof`.
    #[error("undecodable proof for {key}: {reason}")]
    Undecodable {
        /// The store key.
        key: String,
        /// The decoder's message.
        reason: String,
    },
    /// The proof is about another key than the one asked for.
    #[error("the proof is for key {proven}, not for the requested {key}")]
    WrongKey {
        /// The requested key.
        key: String,
        /// The key the proof is about.
        proven: String,
    },
    /// The proof proves a value, but the node's answer carries another one.
    #[error(
        "the node lied about the value of {key}: its answer differs from the value its proof commits to"
    )]
    ValueMismatch {
        /// The store key.
        key: String,
    },
    /// The node says the key is absent but its proof shows it present.
    #[error("the node claims {key} is absent, but its proof shows a value")]
    HiddenValue {
        /// The store key.
        key: String,
    },
    /// The node answers with a value but proves absence.
    #[error("the node answers a value for {key}, but its proof is a non-existence proof")]
    ClaimedValueWithoutExistence {
        /// The store key.
        key: String,
    },
    /// The proof does not hash up to the verified app hash.
    #[error("the {kind} proof of {key} does not verify against app hash {app_hash}")]
    DoesNotVerify {
        /// The store key.
        key: String,
        /// "existence" or "non-existence".
        kind: &'static str,
        /// The verified app hash (hex).
        app_hash: String,
    },
}

/// A store key as people read it: our keys are UTF-8 paths, except for
/// a few with binary suffixes, which are shown in hex.
pub fn printable_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => format!("0x{}", hex::encode(key)),
    }
}

/// The single ICS-23 proof inside a module query's encoded `MerkleProof`.
pub fn from_merkle_proof(key: &[u8], bytes: &[u8]) -> Result<CommitmentProof, ProofError> {
    let k = || printable_key(key);
    if bytes.is_empty() {
        return Err(ProofError::Missing { key: k() });
    }
    let merkle = MerkleProof::decode(bytes).map_err(|e| ProofError::Undecodable {
        key: k(),
        reason: e.to_string(),
    })?;
    let count = merkle.proofs.len();
    <[CommitmentProof; 1]>::try_from(merkle.proofs)
        .map(|[p]| p)
        .map_err(|_| ProofError::NotExactlyOne { key: k(), count })
}

/// The single ICS-23 proof of a `/store/key` answer's `ProofOps`.
pub fn from_proof_ops(key: &[u8], ops: Option<&ProofOps>) -> Result<CommitmentProof, ProofError> {
    let k = || printable_key(key);
    let ops = ops.map(|o| o.ops.as_slice()).unwrap_or_default();
    let op = match ops {
        [] => return Err(ProofError::Missing { key: k() }),
        [op] => op,
        more => {
            return Err(ProofError::NotExactlyOne {
                key: k(),
                count: more.len(),
            });
        }
    };
    if op.field_type != STORE_PROOF_OP_TYPE {
        return Err(ProofError::UnknownOpType {
            key: k(),
            got: op.field_type.clone(),
        });
    }
    CommitmentProof::decode(op.data.as_slice()).map_err(|e| ProofError::Undecodable {
        key: k(),
        reason: e.to_string(),
    })
}

/// Checks that `proof` commits `key → value` (or, with `None`, that `key` is
/// absent) under `app_hash`.
///
/// Before the cryptographic check, the proof's own key and value are
/// compared with the answer, so that a refusal says whether the node sent a
/// proof of something else, lied about the value, or sent a proof that does
/// not hash to the verified app hash at all.
pub fn verify(
    proof: &CommitmentProof,
    app_hash: &[u8; 32],
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), ProofError> {
    let k = || printable_key(key);
    let spec = copro_store::proof_spec();
    let root = app_hash.to_vec();
    match (&proof.proof, value) {
        (Some(Proof::Exist(exist)), Some(value)) => {
            if exist.key != key {
                return Err(ProofError::WrongKey {
                    key: k(),
                    proven: printable_key(&exist.key),
                });
            }
            if exist.value != value {
                return Err(ProofError::ValueMismatch { key: k() });
            }
        }
        (Some(Proof::Exist(exist)), None) if exist.key == key => {
            return Err(ProofError::HiddenValue { key: k() });
        }
        (Some(Proof::Nonexist(_)), Some(_)) => {
            return Err(ProofError::ClaimedValueWithoutExistence { key: k() });
        }
        // Other shapes (batches, or an existence proof of a neighbour as a
        // claimed absence) are left to ics23, which refuses what it must.
        _ => {}
    }
    let (ok, kind) = match value {
        Some(value) => (
            ics23::verify_membership::<HostFunctionsManager>(proof, &spec, &root, key, value),
            "existence",
        ),
        None => (
            ics23::verify_non_membership::<HostFunctionsManager>(proof, &spec, &root, key),
            "non-existence",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(ProofError::DoesNotVerify {
            key: k(),
            kind,
            app_hash: hex::encode_upper(app_hash),
        })
    }
}

/// Checks a module query's proven message: `message` (absent = `None`) must
/// be what `merkle_proof` commits under `app_hash` at store key `key`. The
/// committed value is the prost encoding of the stored record, which prost
/// reproduces exactly from the decoded message (our records are written by
/// prost, so canonically encoded).
pub fn verify_message<M: Message>(
    app_hash: &[u8; 32],
    key: &[u8],
    message: Option<&M>,
    merkle_proof: &[u8],
) -> Result<(), ProofError> {
    let proof = from_merkle_proof(key, merkle_proof)?;
    let value = message.map(Message::encode_to_vec);
    verify(&proof, app_hash, key, value.as_deref())
}

#[cfg(test)]
mod tests {
    //! Proofs made by the real store and the real module queries, checked
    //! against the store's root as the verified app hash would be.

    use super::*;
    use copro_coprocessor::record::pb;
    use copro_coprocessor::{query, state_key};
    use copro_store::{StateDelta, StateWrite, Storage};
    use tendermint::merkle::proof::ProofOp;

    const ACCOUNT_KEY: &[u8] = b"coprocessor/ledger/account/copro1someone";

    struct Chain {
        _dir: tempfile::TempDir,
        storage: Storage,
        app_hash: [u8; 32],
    }

    fn root_record() -> pb::RootRecord {
        pb::RootRecord {
            set_height: 4,
            root: vec![7; 32],
            history_index: 2,
            history_root: vec![9; 32],
        }
    }

    fn result_record() -> pb::VerifiedResult {
        pb::VerifiedResult {
            id: 0,
            program_id: "transfer".into(),
            program_version: 1,
            start_sequence: 0,
            end_sequence: 3,
            old_root: vec![1; 32],
            new_root: vec![7; 32],
            ..Default::default()
        }
    }

    fn account_record() -> pb::LedgerAccount {
        pb::LedgerAccount {
            address: "copro1someone".into(),
            ledger_index: 3,
            key: vec![5; 32],
            balance: 40,
            nonce: 1,
            spending_key: Vec::new(),
        }
    }

    /// A store at version 0 holding a root record, one result and one account.
    fn chain() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().join("store")).unwrap();
        let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
        delta.put_raw(state_key::ledger_root(), root_record().encode_to_vec());
        delta.put_raw(state_key::result(0), result_record().encode_to_vec());
        delta.put_raw(state_key::result_count(), 1u64.to_be_bytes().to_vec());
        delta.put_raw(ACCOUNT_KEY.to_vec(), account_record().encode_to_vec());
        let (app_hash, pending) = storage.compute_root(delta.changes(), 0).unwrap();
        storage.commit(pending).unwrap();
        Chain {
            _dir: dir,
            storage,
            app_hash,
        }
    }

    fn ask<Req: Message, Resp: Message + Default>(c: &Chain, method: &str, req: Req) -> Resp {
        let snap = c.storage.snapshot(0).unwrap();
        let path = format!("{}{method}", query::PREFIX);
        let raw = query::handle(&snap, &path, &req.encode_to_vec())
            .unwrap()
            .unwrap();
        Resp::decode(raw.as_slice()).unwrap()
    }

    fn root_answer(c: &Chain) -> pb::QueryRootResponse {
        ask(
            c,
            "Root",
            pb::QueryRootRequest {
                height: 0,
                prove: true,
            },
        )
    }

    fn result_answer(c: &Chain, id: u64) -> pb::QueryResultResponse {
        ask(c, "Result", pb::QueryResultRequest { id, prove: true })
    }

    /// What `/store/key` returns for `key`, with `prove`.
    fn store_key_answer(c: &Chain, key: &[u8]) -> (Option<Vec<u8>>, ProofOps) {
        let (value, proof) = c.storage.snapshot(0).unwrap().get_with_proof(key).unwrap();
        let ops = ProofOps {
            ops: vec![ProofOp {
                field_type: STORE_PROOF_OP_TYPE.into(),
                key: key.to_vec(),
                data: proof.encode_to_vec(),
            }],
        };
        (value, ops)
    }

    #[test]
    fn the_root_answer_verifies_against_the_app_hash() {
        let c = chain();
        let resp = root_answer(&c);
        assert_eq!(resp.root, Some(root_record()));
        verify_message(
            &c.app_hash,
            &state_key::ledger_root(),
            resp.root.as_ref(),
            &resp.proof,
        )
        .unwrap();
    }

    #[test]
    fn a_tampered_value_is_a_lie_about_the_value() {
        let c = chain();
        let mut resp = root_answer(&c);
        resp.root.as_mut().unwrap().root = vec![8; 32];
        assert_eq!(
            verify_message(
                &c.app_hash,
                &state_key::ledger_root(),
                resp.root.as_ref(),
                &resp.proof
            ),
            Err(ProofError::ValueMismatch {
                key: "coprocessor/ledger/root".into()
            })
        );
    }

    #[test]
    fn a_tampered_proof_or_another_app_hash_does_not_verify() {
        let c = chain();
        let resp = root_answer(&c);
        let key = state_key::ledger_root();
        let value = resp.root.as_ref().unwrap().encode_to_vec();
        let mut proof = from_merkle_proof(&key, &resp.proof).unwrap();
        let mut other_hash = c.app_hash;
        other_hash[0] ^= 1;
        assert!(matches!(
            verify(&proof, &other_hash, &key, Some(&value)),
            Err(ProofError::DoesNotVerify {
                kind: "existence",
                ..
            })
        ));
        // The node forges the value in its answer and in the proof alike:
        // the leaf hash changes and the path no longer reaches the app hash.
        let mut forged = resp.root.clone().unwrap();
        forged.set_height += 1;
        let Some(Proof::Exist(exist)) = proof.proof.as_mut() else {
            panic!("an existence proof was expected");
        };
        exist.value = forged.encode_to_vec();
        assert!(matches!(
            verify(&proof, &c.app_hash, &key, Some(&forged.encode_to_vec())),
            Err(ProofError::DoesNotVerify { .. })
        ));
        // A corrupted inner node.
        let mut proof = from_merkle_proof(&key, &resp.proof).unwrap();
        let Some(Proof::Exist(exist)) = proof.proof.as_mut() else {
            panic!("an existence proof was expected");
        };
        let step = exist.path.first_mut().expect("a path above the leaf");
        match step.suffix.last_mut() {
            Some(b) => *b ^= 1,
            None => step.prefix.push(0),
        }
        assert!(matches!(
            verify(&proof, &c.app_hash, &key, Some(&value)),
            Err(ProofError::DoesNotVerify { .. })
        ));
    }

    #[test]
    fn a_proof_of_another_key_is_refused() {
        let c = chain();
        let resp = root_answer(&c);
        // The root record's proof offered as the proof of result 0.
        assert_eq!(
            verify_message(
                &c.app_hash,
                &state_key::result(0),
                resp.root.as_ref(),
                &resp.proof
            ),
            Err(ProofError::WrongKey {
                key: "coprocessor/result/00000000000000000000".into(),
                proven: "coprocessor/ledger/root".into(),
            })
        );
    }

    #[test]
    fn results_present_and_absent_verify_and_hiding_or_inventing_one_is_refused() {
        let c = chain();
        let present = result_answer(&c, 0);
        let absent = result_answer(&c, 1);
        assert_eq!(present.result, Some(result_record()));
        assert_eq!(absent.result, None);
        verify_message(
            &c.app_hash,
            &state_key::result(0),
            present.result.as_ref(),
            &present.proof,
        )
        .unwrap();
        verify_message::<pb::VerifiedResult>(
            &c.app_hash,
            &state_key::result(1),
            None,
            &absent.proof,
        )
        .unwrap();
        // Hiding result 0 behind its own existence proof.
        assert_eq!(
            verify_message::<pb::VerifiedResult>(
                &c.app_hash,
                &state_key::result(0),
                None,
                &present.proof
            ),
            Err(ProofError::HiddenValue {
                key: "coprocessor/result/00000000000000000000".into()
            })
        );
        // Inventing result 1 with the non-existence proof.
        assert_eq!(
            verify_message(
                &c.app_hash,
                &state_key::result(1),
                Some(&result_record()),
                &absent.proof
            ),
            Err(ProofError::ClaimedValueWithoutExistence {
                key: "coprocessor/result/00000000000000000001".into()
            })
        );
        // An absence proof of result 1 offered as the absence of result 0.
        assert!(matches!(
            verify_message::<pb::VerifiedResult>(
                &c.app_hash,
                &state_key::result(0),
                None,
                &absent.proof
            ),
            Err(ProofError::DoesNotVerify {
                kind: "non-existence",
                ..
            })
        ));
    }

    #[test]
    fn store_key_proofs_verify_and_malformed_ones_are_refused() {
        let c = chain();
        let (value, ops) = store_key_answer(&c, ACCOUNT_KEY);
        assert_eq!(value, Some(account_record().encode_to_vec()));
        let proof = from_proof_ops(ACCOUNT_KEY, Some(&ops)).unwrap();
        verify(&proof, &c.app_hash, ACCOUNT_KEY, value.as_deref()).unwrap();

        assert!(matches!(
            from_proof_ops(ACCOUNT_KEY, None),
            Err(ProofError::Missing { .. })
        ));
        let mut two = ops.clone();
        two.ops.push(two.ops[0].clone());
        assert!(matches!(
            from_proof_ops(ACCOUNT_KEY, Some(&two)),
            Err(ProofError::NotExactlyOne { count: 2, .. })
        ));
        let mut other = ops.clone();
        other.ops[0].field_type = "ics23:iavl".into();
        assert!(matches!(
            from_proof_ops(ACCOUNT_KEY, Some(&other)),
            Err(ProofError::UnknownOpType { .. })
        ));
        let mut garbage = ops;
        garbage.ops[0].data = vec![0xff; 5];
        assert!(matches!(
            from_proof_ops(ACCOUNT_KEY, Some(&garbage)),
            Err(ProofError::Undecodable { .. })
        ));
        assert!(matches!(
            from_merkle_proof(ACCOUNT_KEY, &[]),
            Err(ProofError::Missing { .. })
        ));
        assert!(matches!(
            from_merkle_proof(ACCOUNT_KEY, &[0xff, 0xff]),
            Err(ProofError::Undecodable { .. })
        ));
        // An empty `MerkleProof` encodes to no bytes: no proof at all.
        assert!(matches!(
            from_merkle_proof(ACCOUNT_KEY, &MerkleProof { proofs: vec![] }.encode_to_vec()),
            Err(ProofError::Missing { .. })
        ));
        let two = MerkleProof {
            proofs: vec![proof.clone(), proof],
        };
        assert!(matches!(
            from_merkle_proof(ACCOUNT_KEY, &two.encode_to_vec()),
            Err(ProofError::NotExactlyOne { count: 2, .. })
        ));
    }

    #[test]
    fn binary_keys_print_in_hex() {
        assert_eq!(printable_key(b"coprocessor/params"), "coprocessor/params");
        assert_eq!(printable_key(&[0, 1, 0xff]), "0x0001ff");
    }
}
