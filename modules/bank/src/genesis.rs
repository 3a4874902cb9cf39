//! Genesis of the bank module: `app_state.bank` in genesis.json.
//!
//! ```json
//! {"balances": [{"address": "copro1...", "coins": [{"denom": "ucopro", "amount": "1000"}]}]}
//! ```
//! The supply of each denom is the sum of its genesis balances. An address
//! with a balance but no `auth` account gets an account (after the listed
//! auth accounts, in balance order). An export lists every non-zero
//! balance, by address.

use copro_auth::AuthWrite;
use copro_module::{Address, Code, TxError};
use copro_store::{StateRead, StateWrite};
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
    pub fn init<S: StateWrite + ?Sized>(&self, state: &mut S) -> Result<(), TxError> {
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

    /// Every non-zero balance in `state`, by address then denom.
    pub fn export<S: StateRead + ?Sized>(state: &S) -> Result<Self, TxError> {
        let prefix = crate::state_key::BALANCE_PREFIX.as_bytes();
        let mut balances: Vec<GenesisBalance> = Vec::new();
        for (key, value) in state.prefix_raw(prefix, usize::MAX)? {
            let corrupt = || TxError::internal("corrupt balance in state");
            let (address, denom) = std::str::from_utf8(&key[prefix.len()..])
                .ok()
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(corrupt)?;
            let amount = u128::from_be_bytes(value.as_slice().try_into().map_err(|_| corrupt())?);
            let coin = GenesisCoin {
                denom: denom.to_string(),
                amount: amount.to_string(),
            };
            match balances.last_mut() {
                Some(last) if last.address == address => last.coins.push(coin),
                _ => balances.push(GenesisBalance {
                    address: address.to_string(),
                    coins: vec![coin],
                }),
            }
        }
        Ok(Self { balances })
    }

    /// Adds `coins` to the genesis balance of `address` (listed after the
    /// others if it has none yet) and returns its new balance. An amount
    /// already listed that does not parse, or a sum above 2^128, is an error.
    pub fn add_coins(&mut self, address: &Address, coins: &Coins) -> Result<Coins, TxError> {
        let mut merged: Vec<Coin> = Vec::new();
        let existing = self
            .balances
            .iter()
            .position(|b| b.address == address.as_str());
        if let Some(i) = existing {
            for c in &self.balances[i].coins {
                let amount = c.amount.parse::<u128>().map_err(|_| {
                    TxError::new(
                        Code::InvalidCoins,
                        format!("bad amount in genesis: {}", c.amount),
                    )
                })?;
                merged.push(Coin {
                    denom: c.denom.clone(),
                    amount,
                });
            }
        }
        for c in coins.iter() {
            match merged.iter_mut().find(|m| m.denom == c.denom) {
                Some(m) => {
                    m.amount = m.amount.checked_add(c.amount).ok_or_else(|| {
                        TxError::new(
                            Code::InvalidCoins,
                            format!("genesis balance of {} at {address} overflows u128", c.denom),
                        )
                    })?;
                }
                None => merged.push(c.clone()),
            }
        }
        merged.sort();
        let entry = GenesisBalance {
            address: address.to_string(),
            coins: merged.iter().map(Into::into).collect(),
        };
        match existing {
            Some(i) => self.balances[i] = entry,
            None => self.balances.push(entry),
        }
        Coins::new(merged)
    }
}

#[cfg(test)]
mod tests {
    use copro_module::module_address;

    use super::*;

    #[test]
    fn add_coins_merges_sorts_and_appends_new_addresses_last() {
        let (a, b) = (module_address("a"), module_address("b"));
        let mut g = GenesisState::default();
        let total = g.add_coins(&a, &Coins::parse("10ucopro").unwrap()).unwrap();
        assert_eq!(total.to_string(), "10ucopro");
        g.add_coins(&b, &Coins::parse("1ucopro").unwrap()).unwrap();
        let total = g
            .add_coins(&a, &Coins::parse("5ucopro,3stake").unwrap())
            .unwrap();
        assert_eq!(total.to_string(), "3stake,15ucopro");
        assert_eq!(g.balances.len(), 2);
        assert_eq!(g.balances[0].address, a.as_str());
        assert_eq!(
            g.balances[0].coins,
            vec![
                GenesisCoin::from(&Coin::new("stake", 3).unwrap()),
                GenesisCoin::from(&Coin::new("ucopro", 15).unwrap()),
            ]
        );
        assert_eq!(g.balances[1].address, b.as_str());
    }

    #[test]
    fn an_export_starts_a_state_with_the_same_balances_and_supply() {
        use copro_store::{EmptyState as Empty, StateDelta};

        use crate::view::BankRead;

        let (a, b) = (module_address("a"), module_address("b"));
        let mut g = GenesisState::default();
        g.add_coins(&a, &Coins::parse("10ucopro,3stake").unwrap())
            .unwrap();
        g.add_coins(&b, &Coins::parse("7ucopro").unwrap()).unwrap();
        let mut state = StateDelta::new(Empty);
        g.init(&mut state).unwrap();
        // b spends everything: a zero balance is not exported.
        state
            .sub_balance(&b, &Coin::new("ucopro", 7).unwrap())
            .unwrap();
        state
            .add_balance(&a, &Coin::new("ucopro", 7).unwrap())
            .unwrap();

        let export = GenesisState::export(&state).unwrap();
        assert_eq!(export.balances.len(), 1);
        assert_eq!(export.balances[0].address, a.as_str());
        let mut again = StateDelta::new(Empty);
        export.init(&mut again).unwrap();
        for (who, denom, amount) in [(&a, "ucopro", 17), (&a, "stake", 3), (&b, "ucopro", 0)] {
            assert_eq!(again.balance(who, denom).unwrap(), amount);
        }
        assert_eq!(
            again.supply("ucopro").unwrap(),
            state.supply("ucopro").unwrap()
        );
        assert_eq!(again.supply("ucopro").unwrap(), 17);
    }

    #[test]
    fn add_coins_refuses_overflow_and_unparsable_listed_amounts() {
        let a = module_address("a");
        let mut g = GenesisState::default();
        g.add_coins(
            &a,
            &Coins::new(vec![Coin::new("ucopro", u128::MAX).unwrap()]).unwrap(),
        )
        .unwrap();
        let e = g
            .add_coins(&a, &Coins::parse("1ucopro").unwrap())
            .unwrap_err();
        assert_eq!(e.code, Code::InvalidCoins);
        g.balances[0].coins[0].amount = "x".into();
        let e = g
            .add_coins(&a, &Coins::parse("1ucopro").unwrap())
            .unwrap_err();
        assert_eq!(e.log, "bad amount in genesis: x");
    }
}
