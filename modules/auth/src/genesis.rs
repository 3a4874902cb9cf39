//! Genesis of the auth module: `app_state.auth` in genesis.json.
//!
//! ```json
//! {"accounts": [{"address": "copro1..."}]}
//! ```
//! Accounts get account numbers 0, 1, ... in the listed order. An export
//! lists the accounts by account number, so a chain started from it gives
//! them the same numbers; sequences and public keys start afresh.

use copro_store::{StateRead, StateWrite};
use cosmrs::proto::cosmos::auth::v1beta1::BaseAccount;
use prost::Message;
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

    /// The accounts of `state`, by account number.
    pub fn export<S: StateRead + ?Sized>(state: &S) -> Result<Self, TxError> {
        let mut accounts = state
            .prefix_raw(crate::state_key::ACCOUNT_PREFIX.as_bytes(), usize::MAX)?
            .into_iter()
            .map(|(_, v)| {
                BaseAccount::decode(v.as_slice())
                    .map_err(|_| TxError::internal("corrupt account in state"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        accounts.sort_by_key(|a| a.account_number);
        Ok(Self {
            accounts: accounts
                .into_iter()
                .map(|a| GenesisAccount { address: a.address })
                .collect(),
        })
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
    use copro_store::{EmptyState as Empty, StateDelta};

    use super::*;
    use crate::view::AuthRead;

    #[test]
    fn an_export_lists_accounts_by_number_and_gives_them_the_same_numbers_again() {
        // Numbers 0, 1, 2 in an order that is not the addresses' order.
        let addrs = ["zed", "amy", "mid"].map(module_address);
        let mut state = StateDelta::new(Empty);
        for a in &addrs {
            state.ensure_account(a).unwrap();
        }
        let export = GenesisState::export(&state).unwrap();
        let listed: Vec<_> = export.accounts.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(listed, addrs.iter().map(|a| a.as_str()).collect::<Vec<_>>());
        let mut again = StateDelta::new(Empty);
        export.init(&mut again).unwrap();
        for a in &addrs {
            assert_eq!(
                again.account(a).unwrap().unwrap().account_number,
                state.account(a).unwrap().unwrap().account_number
            );
        }
        assert_eq!(
            GenesisState::export(&Empty).unwrap(),
            GenesisState::default()
        );
    }

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
