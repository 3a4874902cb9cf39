//! Genesis of the bank module: `app_state.bank` in genesis.json.
//!
//! ```json
//! {"balances": [{"address": "copro1...", "coins": [{"denom": "ucopro", "amount": "1000"}]}]}
//! ```
//! The supply of each denom is the sum of its genesis balances. An address
//! with a balance but no `auth` account gets an account (after the listed
//! auth accounts, in balance order).

use copro_auth::{Address, AuthWrite, Code, TxError};
use copro_store::StateWrite;
use serde::{Deserialize, Serialize};

use crate::coins::{Coin, Coins};
use crate::view::BankWrite;

/// `app_state.bank`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    /// Initial balances.
    #[serde(default)]
    pub balances: Vec<GenesisBalance>,
}

/// Initial balance of one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBalance {
    /// Bech32 address.
    pub address: String,
    /// Coins (`amount` is a decimal string, as in the Cosmos SDK).
    pub coins: Vec<GenesisCoin>,
}

/// A coin in genesis JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisCoin {
    /// Denom.
    pub denom: String,
    /// Decimal amount.
    pub amount: String,
}

impl From<&Coin> for GenesisCoin {
    fn from(c: &Coin) -> Self {
        Self {
            denom: c.denom.clone(),
            amount: c.amount.to_string(),
        }
    }
}

impl GenesisState {
    /// Writes balances and supply into `state`.
    pub fn init<S: StateWrite>(&self, state: &mut S) -> Result<(), TxError> {
        let mut seen = std::collections::BTreeSet::new();
        for entry in &self.balances {
            let address = Address::parse(&entry.address)?;
            if !seen.insert(address.clone()) {
                return Err(TxError::new(
                    Code::InvalidAddress,
                    format!("genesis lists balances of {address} twice"),
                ));
            }
            let mut coins = entry
                .coins
                .iter()
                .map(|c| {
                    Coin::from_proto(&cosmrs::proto::cosmos::base::v1beta1::Coin {
                        denom: c.denom.clone(),
                        amount: c.amount.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            coins.sort();
            let coins = Coins::new(coins)?;
            state.ensure_account(&address)?;
            for coin in coins.iter() {
                state.mint(&address, coin)?;
            }
        }
        Ok(())
    }
}
