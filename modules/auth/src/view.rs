//! Extension traits: the auth module's named reads and writes.

use copro_store::{StateRead, StateWrite};
use cosmrs::Any;
use cosmrs::proto::cosmos::auth::v1beta1::BaseAccount;
use cosmrs::proto::cosmos::crypto::secp256k1::PubKey;
use prost::Message;

use crate::state_key;
use copro_module::Address;
use copro_module::{Code, TxError};

/// Type URL of a secp256k1 public key in an `Any`.
pub const SECP256K1_PUBKEY_TYPE_URL: &str = "/cosmos.crypto.secp256k1.PubKey";

/// Wraps a 33-byte compressed secp256k1 key as the `Any` stored in accounts.
pub fn encode_pubkey(compressed: &[u8]) -> Any {
    Any {
        type_url: SECP256K1_PUBKEY_TYPE_URL.to_string(),
        value: PubKey {
            key: compressed.to_vec(),
        }
        .encode_to_vec(),
    }
}

/// Parses an `Any` public key; only 33-byte compressed secp256k1 keys on the
/// curve are accepted (code 8 otherwise).
pub fn decode_pubkey(any: &Any) -> Result<k256::ecdsa::VerifyingKey, TxError> {
    if any.type_url != SECP256K1_PUBKEY_TYPE_URL {
        return Err(TxError::new(
            Code::InvalidPubKey,
            format!(
                "unsupported public key type '{}'; sign with a secp256k1 key ({SECP256K1_PUBKEY_TYPE_URL})",
                any.type_url
            ),
        ));
    }
    let pk = PubKey::decode(any.value.as_slice())
        .map_err(|e| TxError::new(Code::InvalidPubKey, format!("malformed public key: {e}")))?;
    if pk.key.len() != 33 {
        return Err(TxError::new(
            Code::InvalidPubKey,
            format!(
                "public key is {} bytes; expected a 33-byte compressed secp256k1 key",
                pk.key.len()
            ),
        ));
    }
    k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk.key).map_err(|_| {
        TxError::new(
            Code::InvalidPubKey,
            "public key is not a point on secp256k1",
        )
    })
}

/// Reads of the auth module.
pub trait AuthRead: StateRead {
    /// The account at `address`, if it exists.
    fn account(&self, address: &Address) -> Result<Option<BaseAccount>, TxError> {
        match self.get_raw(&state_key::account(address.as_str()))? {
            Some(raw) => BaseAccount::decode(raw.as_slice())
                .map(Some)
                .map_err(|e| TxError::internal(format!("corrupt account {address}: {e}"))),
            None => Ok(None),
        }
    }

    /// The account number the next new account receives.
    fn next_account_number(&self) -> Result<u64, TxError> {
        match self.get_raw(&state_key::next_account_number())? {
            Some(raw) => {
                let bytes: [u8; 8] = raw
                    .as_slice()
                    .try_into()
                    .map_err(|_| TxError::internal("corrupt next account number"))?;
                Ok(u64::from_be_bytes(bytes))
            }
            None => Ok(0),
        }
    }
}

impl<T: StateRead + ?Sized> AuthRead for T {}

/// Writes of the auth module.
pub trait AuthWrite: StateWrite {
    /// Stores `account` (under its own address).
    fn put_account(&mut self, account: &BaseAccount) {
        self.put_raw(
            state_key::account(&account.address),
            account.encode_to_vec(),
        );
    }

    /// Returns the account at `address`, creating it (next account number,
    /// no pubkey, sequence 0) if it does not exist.
    fn ensure_account(&mut self, address: &Address) -> Result<BaseAccount, TxError> {
        if let Some(account) = self.account(address)? {
            return Ok(account);
        }
        let number = self.next_account_number()?;
        let next = number
            .checked_add(1)
            .ok_or_else(|| TxError::internal("account numbers exhausted"))?;
        self.put_raw(
            state_key::next_account_number(),
            next.to_be_bytes().to_vec(),
        );
        let account = BaseAccount {
            address: address.to_string(),
            pub_key: None,
            account_number: number,
            sequence: 0,
        };
        self.put_account(&account);
        Ok(account)
    }
}

impl<T: StateWrite + ?Sized> AuthWrite for T {}
