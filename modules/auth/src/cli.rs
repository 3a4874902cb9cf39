//! `coprod query account ADDRESS`.

use anyhow::{Context as _, bail};
use clap::{ArgMatches, Args, Command, FromArgMatches};
use copro_module::{QueryPlan, Rendered};
use cosmrs::proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use prost::Message;
use serde_json::json;

use crate::BASE_ACCOUNT_TYPE_URL;
use crate::query::ACCOUNT_PATH;

// `coprod query account` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct AccountArgs {
    /// Address.
    address: String,
}

/// `coprod query account ADDRESS`.
pub(crate) fn query_command() -> Command {
    AccountArgs::augment_args(Command::new("account").about("Account (number, sequence, pubkey)"))
}

/// The account query of `matches`; a missing account is an error naming it.
pub(crate) fn query_plan(matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
    let AccountArgs { address } = AccountArgs::from_arg_matches(matches)?;
    let data = QueryAccountRequest {
        address: address.clone(),
    }
    .encode_to_vec();
    Ok(QueryPlan::new(ACCOUNT_PATH, data, move |value| {
        let value = value.with_context(|| format!("account {address} not found"))?;
        let any = QueryAccountResponse::decode(value)?
            .account
            .context("empty account response")?;
        if any.type_url != BASE_ACCOUNT_TYPE_URL {
            bail!("unexpected account type {}", any.type_url);
        }
        Ok(render(&BaseAccount::decode(any.value.as_slice())?))
    }))
}

fn render(account: &BaseAccount) -> Rendered {
    let pubkey = account
        .pub_key
        .as_ref()
        .and_then(|pk| cosmrs::crypto::PublicKey::try_from(pk).ok())
        .map(|pk| pk.to_json());
    Rendered {
        json: json!({
            "address": account.address,
            "account_number": account.account_number.to_string(),
            "sequence": account.sequence.to_string(),
            "pubkey": pubkey,
        }),
        text: format!(
            "address: {}\naccount_number: {}\nsequence: {}\npubkey: {}",
            account.address,
            account.account_number,
            account.sequence,
            pubkey.unwrap_or_else(|| "none".into())
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use cosmrs::Any;

    use super::*;

    fn plan(args: &[&str]) -> QueryPlan {
        let matches = query_command().try_get_matches_from(args).unwrap();
        query_plan(&matches).unwrap()
    }

    #[test]
    fn query_account_asks_for_the_address_and_prints_number_and_sequence_as_strings() {
        let p = plan(&["account", "copro1xyz"]);
        assert_eq!(p.path, "/cosmos.auth.v1beta1.Query/Account");
        assert_eq!(
            QueryAccountRequest::decode(p.data.as_slice())
                .unwrap()
                .address,
            "copro1xyz"
        );
        let answer = QueryAccountResponse {
            account: Some(Any {
                type_url: BASE_ACCOUNT_TYPE_URL.into(),
                value: BaseAccount {
                    address: "copro1xyz".into(),
                    pub_key: None,
                    account_number: 3,
                    sequence: 7,
                }
                .encode_to_vec(),
            }),
        }
        .encode_to_vec();
        let out = (p.render)(Some(&answer)).unwrap();
        assert_eq!(
            out.json,
            json!({"address": "copro1xyz", "account_number": "3", "sequence": "7", "pubkey": null})
        );
        assert_eq!(
            out.text,
            "address: copro1xyz\naccount_number: 3\nsequence: 7\npubkey: none"
        );
    }

    #[test]
    fn a_missing_account_is_an_error_naming_it() {
        let p = plan(&["account", "copro1nobody"]);
        let e = (p.render)(None).unwrap_err();
        assert_eq!(e.to_string(), "account copro1nobody not found");
    }
}
