//! Genesis of the auth module: `app_state.auth` in genesis.json.
//!
//! ```json
//! {"accounts": [{"address": "copro1..."}]}
//! ```
//! Accounts get account numbers 0, 1, ... in the listed order.

use copro_store::StateWrite;
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::error::TxError;
use crate::view::AuthWrite;

/// `app_state.auth`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    /// Accounts to create.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
}

/// One genesis account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// Bech32 address (`copro1...`).
    pub address: String,
}

impl GenesisState {
    /// Writes the accounts into `state`. Duplicate addresses are an error.
    pub fn init<S: StateWrite>(&self, state: &mut S) -> Result<(), TxError> {
        let mut seen = std::collections::BTreeSet::new();
        for account in &self.accounts {
            let address = Address::parse(&account.address)?;
            if !seen.insert(address.clone()) {
                return Err(TxError::new(
                    crate::Code::InvalidAddress,
                    format!("genesis lists account {address} twice"),
                ));
            }
            state.ensure_account(&address)?;
        }
        Ok(())
    }
}
