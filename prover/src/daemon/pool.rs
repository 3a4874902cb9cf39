//! The pool of signed off-chain transfers (`transfer` version 2): what
//! `POST /transfers` accepted, kept in the job store's file until a proof
//! that carries it is committed, or until it can no longer apply.
//!
//! Life of a transfer: `pending` (accepted, waiting for a batch) →
//! `batched` (in job `job`) → `committed` (with the height and tx hash of
//! the proof that settled it). A batch that is given up puts its transfers
//! back to `pending`; one that can no longer apply (its nonce was used by an
//! on-chain debit, the balance went) is `dropped` with the reason. Nothing
//! accepted is ever deleted: the record stays for `GET /transfers/{id}`.

use copro_circuits::field::{Fr, fr_from_hex, fr_to_hex};
use copro_circuits::spend_auth::{Signature, SignedTransfer, TransferMessage};
pub use copro_coprocessor::wallet::TransferRequest;
use copro_coprocessor::wallet::u64_string;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::jobs::{JobStore, JobStoreError, db_err};

/// Transfers by id → JSON [`PooledTransfer`].
pub(super) const TRANSFERS: TableDefinition<u64, &[u8]> = TableDefinition::new("transfers");
/// Ids of the transfers that are `pending` or `batched` (the pool proper).
pub(super) const OPEN_TRANSFERS: TableDefinition<u64, ()> = TableDefinition::new("open_transfers");

/// Where a transfer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Accepted, waiting for a batch.
    Pending,
    /// In the batch of job `job`, being proved or submitted.
    Batched,
    /// Settled on chain by an accepted proof.
    Committed,
    /// Can no longer apply (see `reason`); sign a new one.
    Dropped,
}

/// A transfer in the pool, as stored and as `GET /transfers/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PooledTransfer {
    /// Id, from 1, in acceptance order (which is batch order).
    pub id: u64,
    /// Lifecycle state.
    pub state: TransferState,
    /// Sender's leaf index.
    pub from_index: u32,
    /// Signed recipient index (4294967295: by key).
    pub to_index: u32,
    /// Recipient's address.
    pub to_address: String,
    /// Recipient's account key (0x-hex).
    pub to_key: String,
    /// Amount.
    #[serde(with = "u64_string")]
    pub amount: u64,
    /// Nonce consumed.
    #[serde(with = "u64_string")]
    pub nonce: u64,
    /// Signature (hex).
    pub signature: String,
    /// The job whose batch carries it (latest).
    #[serde(default)]
    pub job: Option<u64>,
    /// Height whose state first showed it settled.
    #[serde(default)]
    pub height: u64,
    /// Hash of the tx that settled it (upper-case hex).
    #[serde(default)]
    pub tx_hash: String,
    /// Why it was dropped, or why its last batch was given up.
    #[serde(default)]
    pub reason: String,
    /// Unix time it was accepted.
    pub received_at: u64,
    /// Unix time of the last change.
    pub updated_at: u64,
}

impl PooledTransfer {
    /// The signed transfer it holds.
    pub fn signed(&self) -> Result<SignedTransfer, String> {
        let to_key: Fr =
            fr_from_hex(&self.to_key).map_err(|_| "stored to_key is not a field element")?;
        let sig = hex::decode(&self.signature).map_err(|_| "stored signature is not hex")?;
        Ok(SignedTransfer {
            message: TransferMessage {
                from_index: self.from_index,
                to_index: self.to_index,
                to_key,
                amount: self.amount,
                nonce: self.nonce,
            },
            signature: Signature::from_bytes(&sig).map_err(|e| e.to_string())?,
        })
    }

    /// A new pending record of an accepted request.
    pub fn accepted(id: u64, signed: &SignedTransfer, to_address: &str, now: u64) -> Self {
        let m = &signed.message;
        PooledTransfer {
            id,
            state: TransferState::Pending,
            from_index: m.from_index,
            to_index: m.to_index,
            to_address: to_address.to_string(),
            to_key: fr_to_hex(&m.to_key),
            amount: m.amount,
            nonce: m.nonce,
            signature: hex::encode(signed.signature.to_bytes()),
            job: None,
            height: 0,
            tx_hash: String::new(),
            reason: String::new(),
            received_at: now,
            updated_at: now,
        }
    }

    /// Whether the pool still holds it (pending or batched).
    pub fn is_open(&self) -> bool {
        matches!(self.state, TransferState::Pending | TransferState::Batched)
    }
}

impl JobStore {
    /// Stores a new transfer under the next id (one transaction); returns it.
    pub fn add_transfer(
        &self,
        make: impl FnOnce(u64) -> PooledTransfer,
    ) -> Result<PooledTransfer, JobStoreError> {
        let wtx = self.db.begin_write().map_err(db_err)?;
        let t = {
            let mut table = wtx.open_table(TRANSFERS).map_err(db_err)?;
            let id = table
                .last()
                .map_err(db_err)?
                .map_or(1, |(k, _)| k.value().saturating_add(1));
            let t = make(id);
            let raw = serde_json::to_vec(&t).map_err(|e| self.corrupt(e.to_string()))?;
            table.insert(id, raw.as_slice()).map_err(db_err)?;
            wtx.open_table(OPEN_TRANSFERS)
                .map_err(db_err)?
                .insert(id, ())
                .map_err(db_err)?;
            t
        };
        wtx.commit().map_err(db_err)?;
        Ok(t)
    }

    /// Writes transfers back (their state changed), in one transaction.
    pub fn put_transfers(&self, transfers: &[PooledTransfer]) -> Result<(), JobStoreError> {
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(TRANSFERS).map_err(db_err)?;
            let mut open = wtx.open_table(OPEN_TRANSFERS).map_err(db_err)?;
            for t in transfers {
                let raw = serde_json::to_vec(t).map_err(|e| self.corrupt(e.to_string()))?;
                table.insert(t.id, raw.as_slice()).map_err(db_err)?;
                if t.is_open() {
                    open.insert(t.id, ()).map_err(db_err)?;
                } else {
                    open.remove(t.id).map_err(db_err)?;
                }
            }
        }
        wtx.commit().map_err(db_err)
    }

    /// One transfer.
    pub fn transfer(&self, id: u64) -> Result<Option<PooledTransfer>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = match rtx.open_table(TRANSFERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        let Some(raw) = table.get(id).map_err(db_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(raw.value())
            .map(Some)
            .map_err(|e| self.corrupt(format!("transfer {id}: {e}")))
    }

    /// The pool: every pending or batched transfer, by id.
    pub fn open_transfers(&self) -> Result<Vec<PooledTransfer>, JobStoreError> {
        let rtx = self.db.begin_read().map_err(db_err)?;
        let (open, table) = match (rtx.open_table(OPEN_TRANSFERS), rtx.open_table(TRANSFERS)) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(redb::TableError::TableDoesNotExist(_)), _)
            | (_, Err(redb::TableError::TableDoesNotExist(_))) => return Ok(Vec::new()),
            (Err(e), _) | (_, Err(e)) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for row in open.iter().map_err(db_err)? {
            let id = row.map_err(db_err)?.0.value();
            let raw = table
                .get(id)
                .map_err(db_err)?
                .ok_or_else(|| self.corrupt(format!("open transfer {id} has no record")))?;
            out.push(
                serde_json::from_slice(raw.value())
                    .map_err(|e| self.corrupt(format!("transfer {id}: {e}")))?,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::spend_auth::SpendingKey;
    use copro_circuits::transfer::account_key;
    use copro_module::Address;

    fn request(key: &SpendingKey, to: &str, amount: u64, nonce: u64) -> TransferRequest {
        let raw = Address::parse(to).unwrap().to_bytes();
        let message = TransferMessage {
            from_index: 0,
            to_index: copro_circuits::transfer_v2::BY_KEY_INDEX,
            to_key: account_key(&raw).unwrap(),
            amount,
            nonce,
        };
        let signed = SignedTransfer::sign(key, b"copro-test", message);
        TransferRequest {
            from_index: 0,
            to_index: message.to_index,
            to_address: to.to_string(),
            amount,
            nonce,
            signature: hex::encode(signed.signature.to_bytes()),
        }
    }

    fn bob() -> String {
        Address::from_bytes(&[1; 20]).unwrap().to_string()
    }

    #[test]
    fn a_request_decodes_to_the_transfer_it_signs_and_bad_fields_are_named() {
        let key = SpendingKey::from_seed(&[7; 32]).unwrap();
        let req = request(&key, &bob(), 5, 3);
        let (signed, _) = req.decode().unwrap();
        signed.verify(&key.public_key(), b"copro-test").unwrap();
        assert!(signed.verify(&key.public_key(), b"other-chain").is_err());

        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"amount\":\"5\""), "{json}");
        let numbers = json.replace("\"5\"", "5");
        assert_eq!(
            serde_json::from_str::<TransferRequest>(&numbers).unwrap(),
            req
        );

        let bad = |f: &dyn Fn(&mut TransferRequest), what: &str| {
            let mut r = req.clone();
            f(&mut r);
            let e = r.decode().unwrap_err();
            assert!(e.starts_with(what), "{e}");
        };
        bad(&|r| r.to_address = "cosmos1xyz".into(), "to_address");
        bad(&|r| r.signature = "zz".into(), "signature");
        bad(&|r| r.signature = "00".repeat(10), "signature");
        bad(&|r| r.amount = 0, "amount");
        assert!(
            serde_json::from_str::<TransferRequest>(
                &json.replace("\"nonce\"", "\"extra\":1,\"nonce\"")
            )
            .is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn the_pool_survives_a_reopen_and_keeps_only_open_transfers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.redb");
        let key = SpendingKey::from_seed(&[7; 32]).unwrap();
        let (signed, _) = request(&key, &bob(), 5, 0).decode().unwrap();
        {
            let store = JobStore::open(&path).unwrap();
            let a = store
                .add_transfer(|id| PooledTransfer::accepted(id, &signed, &bob(), 10))
                .unwrap();
            let mut b = store
                .add_transfer(|id| PooledTransfer::accepted(id, &signed, &bob(), 11))
                .unwrap();
            assert_eq!((a.id, b.id), (1, 2));
            b.state = TransferState::Dropped;
            b.reason = "nonce used".into();
            store.put_transfers(&[b]).unwrap();
        }
        let store = JobStore::open(&path).unwrap();
        let open = store.open_transfers().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, 1);
        assert_eq!(open[0].signed().unwrap(), signed);
        assert_eq!(
            store.transfer(2).unwrap().unwrap().state,
            TransferState::Dropped
        );
        assert_eq!(store.transfer(3).unwrap(), None);
    }
}
