//! `coprod tx bank send FROM TO AMOUNT` and
//! `coprod query bank balance ADDRESS [--denom D] | balances ADDRESS | total`.

use anyhow::{Context as _, anyhow};
use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use copro_module::{Address, Keys, QueryPlan, Rendered, TxPlan};
use cosmrs::proto::cosmos::bank::v1beta1::{
    QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest, QueryBalanceResponse,
    QueryTotalSupplyRequest, QueryTotalSupplyResponse,
};
use cosmrs::proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use prost::Message;
use serde_json::{Value, json};

use crate::coins::Coins;
use crate::query::{ALL_BALANCES_PATH, BALANCE_PATH, TOTAL_SUPPLY_PATH};
use crate::{NATIVE_DENOM, msg_send};

// `coprod tx bank` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum TxCmd {
    /// Send coins: FROM (key name or address of a key) → TO.
    Send {
        /// Sender: key name or its address.
        from: String,
        /// Recipient address.
        to: String,
        /// Amount, e.g. 1000ucopro.
        amount: String,
    },
}

// `coprod query bank` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum QueryCmd {
    /// Balance of one denom.
    Balance {
        /// Address.
        address: String,
        /// Denom.
        #[arg(long, default_value = NATIVE_DENOM)]
        denom: String,
    },
    /// All balances.
    Balances {
        /// Address.
        address: String,
    },
    /// Total supply of every denom.
    Total,
}

fn bank_command(about: &'static str) -> Command {
    Command::new("bank")
        .about(about)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

pub(crate) fn tx_command() -> Command {
    TxCmd::augment_subcommands(bank_command("Bank transactions"))
}

pub(crate) fn query_command() -> Command {
    QueryCmd::augment_subcommands(bank_command("Bank queries"))
}

/// The messages of `coprod tx bank ...`. Addresses and amounts are parsed
/// here so typos fail before signing; the chain validates the rest.
pub(crate) fn tx(matches: &ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
    match TxCmd::from_arg_matches(matches)? {
        TxCmd::Send { from, to, amount } => {
            let from = keys.address(&from)?;
            let to = Address::parse(&to).map_err(|e| anyhow!(e.log))?;
            let amount = Coins::parse(&amount).map_err(|e| anyhow!(e.log))?;
            Ok(TxPlan {
                msgs: vec![msg_send::encode(&from, &to, &amount)],
                signer: from,
            })
        }
    }
}

/// The query of `coprod query bank ...`.
pub(crate) fn query_plan(matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
    Ok(match QueryCmd::from_arg_matches(matches)? {
        QueryCmd::Balance { address, denom } => QueryPlan::new(
            BALANCE_PATH,
            QueryBalanceRequest { address, denom }.encode_to_vec(),
            |value| {
                let coin = QueryBalanceResponse::decode(answer(value)?)?
                    .balance
                    .unwrap_or_default();
                let text = format!("{}{}", coin.amount, coin.denom);
                Ok(Rendered {
                    json: json!({"balance": {"denom": coin.denom, "amount": coin.amount}}),
                    text,
                    ..Default::default()
                })
            },
        ),
        QueryCmd::Balances { address } => QueryPlan::new(
            ALL_BALANCES_PATH,
            QueryAllBalancesRequest {
                address,
                ..Default::default()
            }
            .encode_to_vec(),
            |value| {
                let balances = QueryAllBalancesResponse::decode(answer(value)?)?.balances;
                Ok(render_coins("balances", balances, "no balances"))
            },
        ),
        QueryCmd::Total => QueryPlan::new(
            TOTAL_SUPPLY_PATH,
            QueryTotalSupplyRequest::default().encode_to_vec(),
            |value| {
                let supply = QueryTotalSupplyResponse::decode(answer(value)?)?.supply;
                Ok(render_coins("supply", supply, "no supply"))
            },
        ),
    })
}

/// `{"<field>": [{"denom", "amount"}...]}`, or one `AMOUNTdenom` a line.
fn render_coins(field: &str, coins: Vec<ProtoCoin>, none: &str) -> Rendered {
    let text = if coins.is_empty() {
        none.to_string()
    } else {
        coins
            .iter()
            .map(|c| format!("{}{}", c.amount, c.denom))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let list: Vec<Value> = coins
        .into_iter()
        .map(|c| json!({"denom": c.denom, "amount": c.amount}))
        .collect();
    Rendered {
        json: json!({ field: list }),
        text,
        ..Default::default()
    }
}

/// Bank queries always answer (a missing balance is zero).
fn answer(value: Option<&[u8]>) -> anyhow::Result<&[u8]> {
    value.context("the node answered 'not found' to a bank query")
}

#[cfg(test)]
mod tests {
    use cosmrs::proto::cosmos::bank::v1beta1::MsgSend as ProtoMsgSend;

    use super::*;
    use crate::MSG_SEND_TYPE_URL;

    /// A keyring holding one key, `alice`.
    struct OneKey(Address);

    impl Keys for OneKey {
        fn address(&self, name_or_address: &str) -> anyhow::Result<Address> {
            if name_or_address == "alice" || name_or_address == self.0.as_str() {
                Ok(self.0.clone())
            } else {
                anyhow::bail!("no key '{name_or_address}'")
            }
        }
    }

    fn coin(denom: &str, amount: &str) -> ProtoCoin {
        ProtoCoin {
            denom: denom.into(),
            amount: amount.into(),
        }
    }

    #[test]
    fn tx_bank_send_signs_one_msg_send_from_the_resolved_key() {
        let alice = copro_module::module_address("alice");
        let bob = copro_module::module_address("bob");
        let keys = OneKey(alice.clone());
        let send = |args: &[&str]| {
            let m = tx_command().try_get_matches_from(args).unwrap();
            tx(&m, &keys)
        };
        let plan = send(&["bank", "send", "alice", bob.as_str(), "500stake,1000ucopro"]).unwrap();
        assert_eq!(plan.signer, alice);
        assert_eq!(plan.msgs.len(), 1);
        assert_eq!(plan.msgs[0].type_url, MSG_SEND_TYPE_URL);
        let msg = ProtoMsgSend::decode(plan.msgs[0].value.as_slice()).unwrap();
        assert_eq!(msg.from_address, alice.as_str());
        assert_eq!(msg.to_address, bob.as_str());
        assert_eq!(
            msg.amount,
            vec![coin("stake", "500"), coin("ucopro", "1000")]
        );

        assert!(send(&["bank", "send", "carol", bob.as_str(), "1ucopro"]).is_err());
        let bad_to = send(&["bank", "send", "alice", "cosmos1xyz", "1ucopro"]).unwrap_err();
        assert!(
            bad_to
                .to_string()
                .starts_with("invalid address 'cosmos1xyz'"),
            "{bad_to}"
        );
        assert!(send(&["bank", "send", "alice", bob.as_str(), "1"]).is_err());
    }

    fn plan(args: &[&str]) -> QueryPlan {
        query_plan(&query_command().try_get_matches_from(args).unwrap()).unwrap()
    }

    #[test]
    fn query_bank_balance_defaults_to_the_native_denom_and_prints_as_before() {
        let p = plan(&["bank", "balance", "copro1xyz"]);
        assert_eq!(p.path, BALANCE_PATH);
        let req = QueryBalanceRequest::decode(p.data.as_slice()).unwrap();
        assert_eq!(
            (req.address.as_str(), req.denom.as_str()),
            ("copro1xyz", "ucopro")
        );
        let answer = QueryBalanceResponse {
            balance: Some(coin("ucopro", "42")),
        }
        .encode_to_vec();
        let out = (p.render)(Some(&answer)).unwrap();
        assert_eq!(
            out.json,
            json!({"balance": {"denom": "ucopro", "amount": "42"}})
        );
        assert_eq!(out.text, "42ucopro");

        let p = plan(&["bank", "balance", "copro1xyz", "--denom", "stake"]);
        assert_eq!(
            QueryBalanceRequest::decode(p.data.as_slice())
                .unwrap()
                .denom,
            "stake"
        );
    }

    #[test]
    fn query_bank_balances_lists_every_denom_or_says_none() {
        let p = plan(&["bank", "balances", "copro1xyz"]);
        assert_eq!(p.path, ALL_BALANCES_PATH);
        let answer = QueryAllBalancesResponse {
            balances: vec![coin("stake", "7"), coin("ucopro", "42")],
            pagination: None,
        }
        .encode_to_vec();
        let out = (p.render)(Some(&answer)).unwrap();
        assert_eq!(
            out.json,
            json!({"balances": [{"denom": "stake", "amount": "7"}, {"denom": "ucopro", "amount": "42"}]})
        );
        assert_eq!(out.text, "7stake\n42ucopro");
        let out = (plan(&["bank", "balances", "copro1xyz"]).render)(Some(&[])).unwrap();
        assert_eq!(out.json, json!({"balances": []}));
        assert_eq!(out.text, "no balances");
    }

    #[test]
    fn query_bank_total_asks_for_the_supply_and_lists_every_denom() {
        let p = plan(&["bank", "total"]);
        assert_eq!(p.path, TOTAL_SUPPLY_PATH);
        assert_eq!(p.data, QueryTotalSupplyRequest::default().encode_to_vec());
        let answer = QueryTotalSupplyResponse {
            supply: vec![coin("stake", "5"), coin("ucopro", "1000000")],
            pagination: None,
        }
        .encode_to_vec();
        let out = (p.render)(Some(&answer)).unwrap();
        assert_eq!(
            out.json,
            json!({"supply": [{"denom": "stake", "amount": "5"}, {"denom": "ucopro", "amount": "1000000"}]})
        );
        assert_eq!(out.text, "5stake\n1000000ucopro");
        assert!((plan(&["bank", "total"]).render)(None).is_err());
        assert!(
            query_command()
                .try_get_matches_from(["bank", "total", "x"])
                .is_err()
        );
    }
}
