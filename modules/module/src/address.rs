//! Account addresses: bech32 with prefix [`BECH32_PREFIX`] over 20 bytes.

use std::fmt;
use std::str::FromStr;

use cosmrs::AccountId;
use sha2::{Digest, Sha256};

use crate::error::{Code, TxError};

/// Bech32 human-readable prefix of account addresses (`copro1...`).
pub const BECH32_PREFIX: &str = "copro";

/// A validated account address: canonical lower-case bech32 with prefix
/// [`BECH32_PREFIX`] over 20 bytes (key-derived) or 32 bytes (reserved for
/// future module accounts). Holding one proves the string is well-formed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(String);

impl Address {
    /// The address of raw address bytes (20 or 32 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TxError> {
        if bytes.len() != 20 && bytes.len() != 32 {
            return Err(TxError::new(
                Code::InvalidAddress,
                format!("invalid address: {} bytes, expected 20 or 32", bytes.len()),
            ));
        }
        let id = AccountId::new(BECH32_PREFIX, bytes).map_err(|e| {
            TxError::new(Code::InvalidAddress, format!("invalid address bytes: {e}"))
        })?;
        Ok(Self(id.to_string()))
    }

    /// Parses a bech32 address; it must use the prefix [`BECH32_PREFIX`].
    pub fn parse(s: &str) -> Result<Self, TxError> {
        let id = AccountId::from_str(s).map_err(|e| {
            TxError::new(
                Code::InvalidAddress,
                format!("invalid address '{s}': {e}; expected a bech32 address starting with {BECH32_PREFIX}1"),
            )
        })?;
        if id.prefix() != BECH32_PREFIX {
            return Err(TxError::new(
                Code::InvalidAddress,
                format!(
                    "invalid address '{s}': prefix '{}' but this chain uses '{BECH32_PREFIX}'",
                    id.prefix()
                ),
            ));
        }
        Self::from_bytes(&id.to_bytes())
    }

    /// The bech32 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw address bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        AccountId::from_str(&self.0)
            .map(|id| id.to_bytes())
            .unwrap_or_default()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Address {
    type Err = TxError;
    fn from_str(s: &str) -> Result<Self, TxError> {
        Self::parse(s)
    }
}

/// The address of a secp256k1 public key: `ripemd160(sha256(compressed key))`,
/// as in the Cosmos SDK.
pub fn address_from_pubkey(key: &k256::ecdsa::VerifyingKey) -> Address {
    let id = tendermint_account_bytes(key);
    // 20 bytes always form a valid address.
    Address::from_bytes(&id).unwrap_or_else(|_| Address(String::new()))
}

fn tendermint_account_bytes(key: &k256::ecdsa::VerifyingKey) -> Vec<u8> {
    cosmrs::crypto::PublicKey::from(key)
        .account_id(BECH32_PREFIX)
        .map(|id| id.to_bytes())
        .unwrap_or_default()
}

/// The address of a module account named `name`: `sha256(name)[..20]`, as the
/// Cosmos SDK's `authtypes.NewModuleAddress`.
pub fn module_address(name: &str) -> Address {
    let digest = Sha256::digest(name.as_bytes());
    Address::from_bytes(&digest[..20]).unwrap_or_else(|_| Address(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_only_with_our_prefix_and_valid_checksum() {
        let a = module_address("fee_collector");
        assert!(a.as_str().starts_with("copro1"));
        assert_eq!(Address::parse(a.as_str()).unwrap(), a);
        assert_eq!(Address::from_bytes(&a.to_bytes()).unwrap(), a);
        let cosmos = AccountId::new("cosmos", &a.to_bytes()).unwrap().to_string();
        assert_eq!(
            Address::parse(&cosmos).unwrap_err().code,
            Code::InvalidAddress
        );
        let mut broken = a.as_str().to_string();
        broken.pop();
        broken.push(if a.as_str().ends_with('q') { 'p' } else { 'q' });
        assert_eq!(
            Address::parse(&broken).unwrap_err().code,
            Code::InvalidAddress
        );
        assert_eq!(Address::parse("").unwrap_err().code, Code::InvalidAddress);
    }
}
