//! A small client library for wallets: the signed off-chain transfer
//! (`transfer` version 2) as a prover daemon's `POST /transfers` takes it,
//! and how to make one. The spending key signs
//! `(from_index, to_index, to_key, amount, nonce)` for one chain id
//! (`docs/protocol.md`, "Spend authorization"); the prover and the circuit
//! check it, validators never see it.

use copro_circuits::spend_auth::{Signature, SignedTransfer, SpendingKey, TransferMessage};
use copro_circuits::transfer::account_key;
pub use copro_circuits::transfer_v2::BY_KEY_INDEX;
use copro_module::Address;
use serde::{Deserialize, Serialize};

/// A signed transfer as a wallet posts it (`POST /transfers`). Numbers
/// above 2^53 are safe as strings, which is how `amount` and `nonce` are
/// written back; both forms are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The sender's ledger leaf index.
    pub from_index: u32,
    /// The recipient's leaf index as signed, or 4294967295 ("by key": the
    /// recipient's account wherever it is, created if it has none).
    pub to_index: u32,
    /// The recipient's chain address (its account key is derived from it).
    pub to_address: String,
    /// Amount, in the ledger's denomination.
    #[serde(with = "u64_string")]
    pub amount: u64,
    /// The sender leaf's nonce the transfer consumes.
    #[serde(with = "u64_string")]
    pub nonce: u64,
    /// The spending-key signature, 64 bytes hex (`R ‖ s`).
    pub signature: String,
}

impl TransferRequest {
    /// The signed transfer and the recipient's raw address, or what is wrong.
    pub fn decode(&self) -> Result<(SignedTransfer, [u8; 20]), String> {
        let address = Address::parse(&self.to_address).map_err(|e| format!("to_address: {e}"))?;
        let raw: [u8; 20] = address
            .to_bytes()
            .as_slice()
            .try_into()
            .map_err(|_| "to_address: not a 20-byte account address".to_string())?;
        let to_key =
            account_key(&raw).ok_or_else(|| "to_address: its account key is zero".to_string())?;
        let sig_bytes = hex::decode(self.signature.trim_start_matches("0x"))
            .map_err(|_| "signature: not hex".to_string())?;
        let signature = Signature::from_bytes(&sig_bytes).map_err(|e| format!("signature: {e}"))?;
        if self.amount == 0 {
            return Err("amount: must be positive".into());
        }
        Ok((
            SignedTransfer {
                message: TransferMessage {
                    from_index: self.from_index,
                    to_index: self.to_index,
                    to_key,
                    amount: self.amount,
                    nonce: self.nonce,
                },
                signature,
            },
            raw,
        ))
    }
}

/// Signs a transfer of `amount` from the ledger account at `from_index`
/// (whose spending key is `key`, whose leaf nonce is `nonce`) to the
/// account of address `to`: at `to_index` if it has a settled leaf, else
/// [`BY_KEY_INDEX`] ("wherever it is, created if it has none").
pub fn sign_transfer(
    key: &SpendingKey,
    chain_id: &str,
    from_index: u32,
    to_index: u32,
    to: &Address,
    amount: u64,
    nonce: u64,
) -> Result<TransferRequest, String> {
    let to_key = account_key(&to.to_bytes()).ok_or("the recipient's account key is zero")?;
    let message = TransferMessage {
        from_index,
        to_index,
        to_key,
        amount,
        nonce,
    };
    let signed = SignedTransfer::sign(key, chain_id.as_bytes(), message);
    Ok(TransferRequest {
        from_index,
        to_index,
        to_address: to.to_string(),
        amount,
        nonce,
        signature: hex::encode(signed.signature.to_bytes()),
    })
}

/// Serde for a u64 written as a decimal string and read from a string or
/// a number (JSON numbers lose precision above 2^53 in most clients).
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads a string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Str(String),
            Num(u64),
        }
        match Either::deserialize(d)? {
            Either::Num(n) => Ok(n),
            Either::Str(s) => s
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("not a u64: {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_decodes_to_a_transfer_that_verifies_only_as_signed() {
        let key = SpendingKey::from_seed(&[3; 32]).unwrap();
        let to = Address::from_bytes(&[5; 20]).unwrap();
        let req = sign_transfer(&key, "copro-test", 2, BY_KEY_INDEX, &to, 40, 1).unwrap();
        let (signed, raw) = req.decode().unwrap();
        assert_eq!(raw, [5; 20]);
        assert_eq!(signed.message.to_key, account_key(&raw).unwrap());
        signed.verify(&key.public_key(), b"copro-test").unwrap();
        assert!(signed.verify(&key.public_key(), b"copro-other").is_err());
        let mut more = req.clone();
        more.amount = 41;
        let (tampered, _) = more.decode().unwrap();
        assert!(tampered.verify(&key.public_key(), b"copro-test").is_err());
        let mut later = req;
        later.nonce = 2;
        let (replayed, _) = later.decode().unwrap();
        assert!(replayed.verify(&key.public_key(), b"copro-test").is_err());
    }
}
