//! Extension traits: the bank module's named reads and writes.

use copro_module::{Address, Code, TxError};
use copro_store::{StateRead, StateWrite};

use crate::coins::{Coin, Coins};
use crate::{MAX_DENOMS_LISTED, state_key};

fn decode_amount(raw: &[u8]) -> Result<u128, TxError> {
    let bytes: [u8; 16] = raw
        .try_into()
        .map_err(|_| TxError::internal("corrupt amount encoding"))?;
    Ok(u128::from_be_bytes(bytes))
}

fn read_amount<S: StateRead + ?Sized>(state: &S, key: &[u8]) -> Result<u128, TxError> {
    match state.get_raw(key)? {
        Some(raw) => decode_amount(&raw),
        None => Ok(0),
    }
}

fn write_amount<S: StateWrite + ?Sized>(state: &mut S, key: Vec<u8>, amount: u128) {
    if amount == 0 {
        state.delete_raw(key);
    } else {
        state.put_raw(key, amount.to_be_bytes().to_vec());
    }
}

fn insufficient_funds(address: &Address, current: u128, needed: &Coin) -> TxError {
    TxError::new(
        Code::InsufficientFunds,
        format!(
            "insufficient funds: {address} has {current}{denom} but needs {amount}{denom}; fund the account or send less",
            denom = needed.denom,
            amount = needed.amount
        ),
    )
}

/// Reads of the bank module.
pub trait BankRead: StateRead {
    /// Balance of `denom` at `address` (0 if none).
    fn balance(&self, address: &Address, denom: &str) -> Result<u128, TxError> {
        read_amount(self, &state_key::balance(address.as_str(), denom))
    }

    /// All non-zero balances of `address`, ordered by denom (at most
    /// [`MAX_DENOMS_LISTED`]).
    fn balances(&self, address: &Address) -> Result<Vec<Coin>, TxError> {
        let prefix = state_key::balances_of(address.as_str());
        self.prefix_raw(&prefix, MAX_DENOMS_LISTED)?
            .into_iter()
            .map(|(k, v)| {
                let denom = std::str::from_utf8(&k[prefix.len()..])
                    .map_err(|_| TxError::internal("corrupt balance key"))?;
                Ok(Coin {
                    denom: denom.to_string(),
                    amount: decode_amount(&v)?,
                })
            })
            .collect()
    }

    /// Checks that `address` holds at least `coins`: code 5, with the same
    /// log as a failed [`BankWrite::sub_balance`], if it does not.
    fn check_funds(&self, address: &Address, coins: &Coins) -> Result<(), TxError> {
        for coin in coins.iter() {
            let current = self.balance(address, &coin.denom)?;
            if current < coin.amount {
                return Err(insufficient_funds(address, current, coin));
            }
        }
        Ok(())
    }

    /// Total supply of `denom`.
    fn supply(&self, denom: &str) -> Result<u128, TxError> {
        read_amount(self, &state_key::supply(denom))
    }

    /// Supply of every denom, ordered by denom (at most [`MAX_DENOMS_LISTED`]).
    fn total_supply(&self) -> Result<Vec<Coin>, TxError> {
        let prefix = state_key::SUPPLY_PREFIX.as_bytes();
        self.prefix_raw(prefix, MAX_DENOMS_LISTED)?
            .into_iter()
            .map(|(k, v)| {
                let denom = std::str::from_utf8(&k[prefix.len()..])
                    .map_err(|_| TxError::internal("corrupt supply key"))?;
                Ok(Coin {
                    denom: denom.to_string(),
                    amount: decode_amount(&v)?,
                })
            })
            .collect()
    }
}

impl<T: StateRead + ?Sized> BankRead for T {}

/// Writes of the bank module. Every amount change is checked: an overflow is
/// an error, never a wrap.
pub trait BankWrite: StateWrite {
    /// Adds `coin` to `address`.
    fn add_balance(&mut self, address: &Address, coin: &Coin) -> Result<(), TxError> {
        let current = self.balance(address, &coin.denom)?;
        let new = current.checked_add(coin.amount).ok_or_else(|| {
            TxError::new(
                Code::InvalidCoins,
                format!("balance of {} at {address} would overflow", coin.denom),
            )
        })?;
        write_amount(self, state_key::balance(address.as_str(), &coin.denom), new);
        Ok(())
    }

    /// Subtracts `coin` from `address`; code 5 if the balance is too low.
    fn sub_balance(&mut self, address: &Address, coin: &Coin) -> Result<(), TxError> {
        let current = self.balance(address, &coin.denom)?;
        let new = current
            .checked_sub(coin.amount)
            .ok_or_else(|| insufficient_funds(address, current, coin))?;
        write_amount(self, state_key::balance(address.as_str(), &coin.denom), new);
        Ok(())
    }

    /// Creates `coin` at `address`, raising the supply (genesis only).
    fn mint(&mut self, address: &Address, coin: &Coin) -> Result<(), TxError> {
        let supply = self.supply(&coin.denom)?;
        let new_supply = supply.checked_add(coin.amount).ok_or_else(|| {
            TxError::new(
                Code::InvalidCoins,
                format!("supply of {} would overflow", coin.denom),
            )
        })?;
        self.add_balance(address, coin)?;
        write_amount(self, state_key::supply(&coin.denom), new_supply);
        Ok(())
    }

    /// Moves `coins` from `from` to `to` (all or nothing when run on a
    /// transaction's own delta).
    fn transfer(&mut self, from: &Address, to: &Address, coins: &Coins) -> Result<(), TxError> {
        for coin in coins.iter() {
            self.sub_balance(from, coin)?;
            self.add_balance(to, coin)?;
        }
        Ok(())
    }
}

impl<T: StateWrite + ?Sized> BankWrite for T {}
