//! Coins: validated denoms and u128 amounts.

use std::fmt;
use std::str::FromStr;

use copro_module::{Code, TxError};
use cosmrs::proto::cosmos::base::v1beta1::Coin as ProtoCoin;

/// A positive amount of one denom.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Coin {
    /// Denomination, e.g. `ucopro`.
    pub denom: String,
    /// Amount in base units.
    pub amount: u128,
}

/// Validates a denom like the Cosmos SDK: `[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`.
pub fn validate_denom(denom: &str) -> Result<(), TxError> {
    let bytes = denom.as_bytes();
    let ok = (3..=128).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b':' | b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TxError::new(
            Code::InvalidCoins,
            format!("invalid denom '{denom}': 3-128 chars, a letter then letters, digits or /:._-"),
        ))
    }
}

fn parse_amount(amount: &str) -> Result<u128, TxError> {
    if amount.is_empty() || amount.len() > 39 || !amount.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TxError::new(
            Code::InvalidCoins,
            format!("invalid amount '{amount}': expected a decimal integer below 2^128"),
        ));
    }
    amount.parse::<u128>().map_err(|_| {
        TxError::new(
            Code::InvalidCoins,
            format!("invalid amount '{amount}': expected a decimal integer below 2^128"),
        )
    })
}

impl Coin {
    /// A coin; the denom must be valid and the amount positive.
    pub fn new(denom: impl Into<String>, amount: u128) -> Result<Self, TxError> {
        let denom = denom.into();
        validate_denom(&denom)?;
        if amount == 0 {
            return Err(TxError::new(
                Code::InvalidCoins,
                format!("zero amount of {denom}: amounts must be positive"),
            ));
        }
        Ok(Self { denom, amount })
    }

    /// Validates a protobuf coin.
    pub fn from_proto(coin: &ProtoCoin) -> Result<Self, TxError> {
        Self::new(coin.denom.clone(), parse_amount(&coin.amount)?)
    }

    /// The protobuf coin.
    pub fn to_proto(&self) -> ProtoCoin {
        ProtoCoin {
            denom: self.denom.clone(),
            amount: self.amount.to_string(),
        }
    }
}

impl fmt::Display for Coin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.denom)
    }
}

impl FromStr for Coin {
    type Err = TxError;
    /// Parses `1000ucopro`.
    fn from_str(s: &str) -> Result<Self, TxError> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (amount, denom) = s.split_at(split);
        Coin::new(denom, parse_amount(amount)?)
    }
}

/// A non-empty-or-empty set of coins with distinct denoms, sorted by denom
/// (the Cosmos SDK's canonical form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coins(Vec<Coin>);

impl Coins {
    /// Validates coins: each valid and positive, denoms strictly ascending
    /// (sorted, no duplicates).
    pub fn new(coins: Vec<Coin>) -> Result<Self, TxError> {
        for pair in coins.windows(2) {
            if pair[0].denom >= pair[1].denom {
                return Err(TxError::new(
                    Code::InvalidCoins,
                    format!(
                        "coins must be sorted by denom without duplicates: '{}' then '{}'",
                        pair[0].denom, pair[1].denom
                    ),
                ));
            }
        }
        Ok(Self(coins))
    }

    /// Validates protobuf coins.
    pub fn from_proto(coins: &[ProtoCoin]) -> Result<Self, TxError> {
        Self::new(
            coins
                .iter()
                .map(Coin::from_proto)
                .collect::<Result<_, _>>()?,
        )
    }

    /// Parses `1000ucopro,500stake` (any order; sorted here).
    pub fn parse(s: &str) -> Result<Self, TxError> {
        let mut coins = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Coin::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        coins.sort();
        Self::new(coins)
    }

    /// The coins.
    pub fn iter(&self) -> std::slice::Iter<'_, Coin> {
        self.0.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The amount of `denom` (0 if absent).
    pub fn amount_of(&self, denom: &str) -> u128 {
        self.0
            .iter()
            .find(|c| c.denom == denom)
            .map_or(0, |c| c.amount)
    }

    /// Protobuf coins.
    pub fn to_proto(&self) -> Vec<ProtoCoin> {
        self.0.iter().map(Coin::to_proto).collect()
    }
}

impl fmt::Display for Coins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coins_parse_sort_and_reject_bad_input() {
        let c = Coins::parse("500stake,1000ucopro").unwrap();
        assert_eq!(c.to_string(), "500stake,1000ucopro");
        assert_eq!(c.amount_of("ucopro"), 1000);
        for bad in [
            "0ucopro",
            "ucopro",
            "10u",
            "10ucopro,5ucopro",
            "-1ucopro",
            "1 0ucopro",
            "99999999999999999999999999999999999999999ucopro",
        ] {
            assert_eq!(
                Coins::parse(bad).unwrap_err().code,
                Code::InvalidCoins,
                "{bad}"
            );
        }
        let unsorted = vec![Coin::new("zz1", 1).unwrap(), Coin::new("aa1", 1).unwrap()];
        assert!(Coins::new(unsorted).is_err());
    }
}
