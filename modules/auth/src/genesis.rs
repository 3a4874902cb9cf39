//! Genesis of the auth module: `app_state.auth` in genesis.json.
//!
//! ```json
//! {"accounts": [{"address": "copro1..."}]}
//! ```
//! Accounts get account numbers 0, 1, ... in the listed order.

use copro_store::StateWrite;
use serde::{Deserialize, Serialize};

use crate::view::AuthWrite;
use copro_module::Address;
use copro_module::TxError;

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
    pub fn init<S: StateWrite + ?Sized>(&self, state: &mut S) -> Result<(), TxError> {
        let mut seen = std::collections::BTreeSet::new();
        for account in &self.accounts {
            let address = Address::parse(&account.address)?;
            if !seen.insert(address.clone()) {
                return Err(TxError::new(
                    copro_module::Code::InvalidAddress,
                    format!("genesis lists account {address} twice"),
                ));
            }
            state.ensure_account(&address)?;
        }
        Ok(())
    }

    /// Lists `address` (after the accounts already listed) unless it is
    /// listed already.
    pub fn add_account(&mut self, address: &Address) {
        if !self.accounts.iter().any(|a| a.address == address.as_str()) {
            self.accounts.push(GenesisAccount {
                address: address.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use copro_module::module_address;

    use super::*;

    #[test]
    fn add_account_lists_an_address_once_in_order() {
        let (a, b) = (module_address("a"), module_address("b"));
        let mut g = GenesisState::default();
        g.add_account(&a);
        g.add_account(&b);
        g.add_account(&a);
        let listed: Vec<_> = g.accounts.iter().map(|x| x.address.as_str()).collect();
        assert_eq!(listed, [a.as_str(), b.as_str()]);
    }
}
