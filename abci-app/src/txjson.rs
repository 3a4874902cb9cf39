//! Transactions as files: what `coprod tx ... --generate-only` prints,
//! `coprod tx sign` signs, `coprod tx broadcast` sends and `coprod tx
//! decode` shows. The JSON has the shape of the Cosmos SDK's
//! (`body`, `auth_info`, `signatures`; 64-bit integers as strings, bytes as
//! base64):
//!
//! ```json
//! {"body": {"messages": [{"@type": "/cosmos.bank.v1beta1.MsgSend",
//!                         "from_address": "copro1...", "to_address": "copro1...",
//!                         "amount": [{"denom": "ucopro", "amount": "1000"}]}],
//!           "memo": "", "timeout_height": "0"},
//!  "auth_info": {"signer_infos": [], "fee": {"amount": [{"denom": "ucopro", "amount": "5000"}],
//!                                          "gas_limit": "200000", "payer": "", "granter": ""}},
//!  "signatures": []}
//! ```
//!
//! A `MsgSend` and a secp256k1 public key are written field by field; any
//! other message as `{"@type": URL, "value": BASE64}` of its protobuf
//! bytes, so every message survives the round trip unchanged. Protobuf
//! encoding is deterministic, so the bytes signed from a file are the bytes
//! broadcast from the signed file.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use copro_bank::Coins;
use cosmrs::Any;
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::proto::cosmos::bank::v1beta1::MsgSend;
use cosmrs::proto::cosmos::base::v1beta1::Coin;
use cosmrs::proto::cosmos::crypto::secp256k1::PubKey;
use cosmrs::proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmrs::proto::cosmos::tx::v1beta1::{
    AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, TxBody, TxRaw, mode_info,
};
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PUBKEY_TYPE_URL: &str = "/cosmos.crypto.secp256k1.PubKey";

/// A transaction, signed or not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tx {
    /// Messages, memo, timeout.
    pub body: TxBody,
    /// Signers and fee.
    pub auth_info: AuthInfo,
    /// One signature per signer (none before signing).
    pub signatures: Vec<Vec<u8>>,
}

impl Tx {
    /// An unsigned tx of `msgs` paying `fee` for `gas_limit` gas.
    pub fn unsigned(msgs: Vec<Any>, memo: &str, fee: &Coins, gas_limit: u64) -> Self {
        Self {
            body: TxBody {
                messages: msgs,
                memo: memo.to_string(),
                ..Default::default()
            },
            auth_info: AuthInfo {
                signer_infos: Vec::new(),
                fee: Some(Fee {
                    amount: fee
                        .iter()
                        .map(|c| Coin {
                            denom: c.denom.to_string(),
                            amount: c.amount.to_string(),
                        })
                        .collect(),
                    gas_limit,
                    payer: String::new(),
                    granter: String::new(),
                }),
                ..Default::default()
            },
            signatures: Vec::new(),
        }
    }

    /// Decodes `TxRaw` bytes.
    pub fn from_raw(bytes: &[u8]) -> anyhow::Result<Self> {
        let raw = TxRaw::decode(bytes).context("not a protobuf cosmos.tx.v1beta1.TxRaw")?;
        Ok(Self {
            body: TxBody::decode(raw.body_bytes.as_slice())
                .context("the tx body is not a cosmos.tx.v1beta1.TxBody")?,
            auth_info: AuthInfo::decode(raw.auth_info_bytes.as_slice())
                .context("the tx auth info is not a cosmos.tx.v1beta1.AuthInfo")?,
            signatures: raw.signatures,
        })
    }

    /// The `TxRaw` bytes (what is broadcast).
    pub fn to_raw(&self) -> Vec<u8> {
        TxRaw {
            body_bytes: self.body.encode_to_vec(),
            auth_info_bytes: self.auth_info.encode_to_vec(),
            signatures: self.signatures.clone(),
        }
        .encode_to_vec()
    }

    /// The CometBFT hash of [`Self::to_raw`] (upper-case hex).
    pub fn hash(&self) -> String {
        hex::encode_upper(Sha256::digest(self.to_raw()))
    }

    /// The gas limit (0 without a fee).
    pub fn gas_limit(&self) -> u64 {
        self.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit)
    }

    /// Sets the gas limit.
    pub fn set_gas_limit(&mut self, gas_limit: u64) {
        self.auth_info
            .fee
            .get_or_insert_with(Fee::default)
            .gas_limit = gas_limit;
    }

    /// Signs (SIGN_MODE_DIRECT) as the single signer `key` with `sequence`,
    /// for `chain_id` and `account_number`; replaces any earlier signature.
    pub fn sign(
        &mut self,
        key: &SigningKey,
        chain_id: &str,
        account_number: u64,
        sequence: u64,
    ) -> anyhow::Result<()> {
        self.auth_info.signer_infos = vec![SignerInfo {
            public_key: Some(Any {
                type_url: PUBKEY_TYPE_URL.to_string(),
                value: PubKey {
                    key: key.public_key().to_bytes(),
                }
                .encode_to_vec(),
            }),
            mode_info: Some(ModeInfo {
                sum: Some(mode_info::Sum::Single(mode_info::Single {
                    mode: SignMode::Direct as i32,
                })),
            }),
            sequence,
        }];
        let sign_doc = SignDoc {
            body_bytes: self.body.encode_to_vec(),
            auth_info_bytes: self.auth_info.encode_to_vec(),
            chain_id: chain_id.to_string(),
            account_number,
        }
        .encode_to_vec();
        let signature = key
            .sign(&sign_doc)
            .map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
        self.signatures = vec![signature.to_bytes().to_vec()];
        Ok(())
    }

    /// The JSON form (see the module docs).
    pub fn to_json(&self) -> Value {
        let body = &self.body;
        let fee = self.auth_info.fee.clone().unwrap_or_default();
        json!({
            "body": {
                "messages": body.messages.iter().map(any_to_json).collect::<Vec<_>>(),
                "memo": body.memo,
                "timeout_height": body.timeout_height.to_string(),
                "extension_options": body.extension_options.iter().map(any_to_json).collect::<Vec<_>>(),
                "non_critical_extension_options":
                    body.non_critical_extension_options.iter().map(any_to_json).collect::<Vec<_>>(),
            },
            "auth_info": {
                "signer_infos": self.auth_info.signer_infos.iter().map(signer_to_json).collect::<Vec<_>>(),
                "fee": {
                    "amount": coins_to_json(&fee.amount),
                    "gas_limit": fee.gas_limit.to_string(),
                    "payer": fee.payer,
                    "granter": fee.granter,
                },
            },
            "signatures": self.signatures.iter().map(|s| B64.encode(s)).collect::<Vec<_>>(),
        })
    }

    /// Reads the JSON form; an error names the field to fix.
    pub fn from_json(doc: &Value) -> anyhow::Result<Self> {
        let body = field(doc, "body")?;
        let auth = field(doc, "auth_info")?;
        let fee = field(auth, "fee")?;
        Ok(Self {
            body: TxBody {
                messages: list(body, "messages", "body.messages", any_from_json)?,
                memo: opt_str(body, "memo", "body.memo")?.to_string(),
                timeout_height: opt_u64(body, "timeout_height", "body.timeout_height")?,
                extension_options: list(
                    body,
                    "extension_options",
                    "body.extension_options",
                    any_from_json,
                )?,
                non_critical_extension_options: list(
                    body,
                    "non_critical_extension_options",
                    "body.non_critical_extension_options",
                    any_from_json,
                )?,
            },
            auth_info: AuthInfo {
                signer_infos: list(
                    auth,
                    "signer_infos",
                    "auth_info.signer_infos",
                    signer_from_json,
                )?,
                fee: Some(Fee {
                    amount: coins_from_json(fee.get("amount"), "auth_info.fee.amount")?,
                    gas_limit: opt_u64(fee, "gas_limit", "auth_info.fee.gas_limit")?,
                    payer: opt_str(fee, "payer", "auth_info.fee.payer")?.to_string(),
                    granter: opt_str(fee, "granter", "auth_info.fee.granter")?.to_string(),
                }),
                ..Default::default()
            },
            signatures: list(doc, "signatures", "signatures", |v, what| {
                base64_str(v, what)
            })?,
        })
    }
}

fn field<'a>(doc: &'a Value, name: &str) -> anyhow::Result<&'a Value> {
    doc.get(name)
        .filter(|v| v.is_object())
        .with_context(|| format!("the tx JSON has no object `{name}`"))
}

fn opt_str<'a>(doc: &'a Value, name: &str, what: &str) -> anyhow::Result<&'a str> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => bail!("{what} must be a string"),
    }
}

/// A 64-bit integer, as a string (the SDK's way) or a JSON number.
fn opt_u64(doc: &Value, name: &str, what: &str) -> anyhow::Result<u64> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .with_context(|| format!("{what} must be an unsigned integer, not '{s}'")),
        Some(v) => v
            .as_u64()
            .with_context(|| format!("{what} must be an unsigned integer")),
    }
}

fn base64_str(v: &Value, what: &str) -> anyhow::Result<Vec<u8>> {
    let s = v
        .as_str()
        .with_context(|| format!("{what} must be a base64 string"))?;
    B64.decode(s)
        .with_context(|| format!("{what} is not valid base64"))
}

fn list<T>(
    doc: &Value,
    name: &str,
    what: &str,
    item: impl Fn(&Value, &str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| item(v, &format!("{what}[{i}]")))
            .collect(),
        Some(_) => bail!("{what} must be a list"),
    }
}

fn coins_to_json(coins: &[Coin]) -> Value {
    coins
        .iter()
        .map(|c| json!({"denom": c.denom, "amount": c.amount}))
        .collect()
}

fn coins_from_json(v: Option<&Value>, what: &str) -> anyhow::Result<Vec<Coin>> {
    let wrapper = json!({ "c": v.cloned().unwrap_or(Value::Null) });
    list(&wrapper, "c", what, |c, what| {
        let denom = opt_str(c, "denom", &format!("{what}.denom"))?;
        let amount = opt_str(c, "amount", &format!("{what}.amount"))?;
        if denom.is_empty() || amount.is_empty() {
            bail!(
                "{what} needs a denom and an amount, e.g. {{\"denom\": \"ucopro\", \"amount\": \"5000\"}}"
            );
        }
        Ok(Coin {
            denom: denom.to_string(),
            amount: amount.to_string(),
        })
    })
}

/// An `Any` as JSON: field by field for the types this file knows, else its
/// bytes in base64.
fn any_to_json(any: &Any) -> Value {
    if any.type_url == copro_bank::MSG_SEND_TYPE_URL
        && let Ok(m) = MsgSend::decode(any.value.as_slice())
        && m.encode_to_vec() == any.value
    {
        return json!({
            "@type": any.type_url,
            "from_address": m.from_address,
            "to_address": m.to_address,
            "amount": coins_to_json(&m.amount),
        });
    }
    if any.type_url == PUBKEY_TYPE_URL
        && let Ok(k) = PubKey::decode(any.value.as_slice())
        && k.encode_to_vec() == any.value
    {
        return json!({"@type": any.type_url, "key": B64.encode(&k.key)});
    }
    json!({"@type": any.type_url, "value": B64.encode(&any.value)})
}

fn any_from_json(v: &Value, what: &str) -> anyhow::Result<Any> {
    let type_url = opt_str(v, "@type", &format!("{what}.@type"))?;
    if type_url.is_empty() {
        bail!("{what} has no \"@type\"");
    }
    let value = if let Some(bytes) = v.get("value") {
        base64_str(bytes, &format!("{what}.value"))?
    } else if type_url == copro_bank::MSG_SEND_TYPE_URL {
        MsgSend {
            from_address: opt_str(v, "from_address", &format!("{what}.from_address"))?.to_string(),
            to_address: opt_str(v, "to_address", &format!("{what}.to_address"))?.to_string(),
            amount: coins_from_json(v.get("amount"), &format!("{what}.amount"))?,
        }
        .encode_to_vec()
    } else if type_url == PUBKEY_TYPE_URL {
        PubKey {
            key: base64_str(v.get("key").unwrap_or(&Value::Null), &format!("{what}.key"))?,
        }
        .encode_to_vec()
    } else {
        bail!("{what} ({type_url}) needs its protobuf bytes as \"value\" (base64)");
    };
    Ok(Any {
        type_url: type_url.to_string(),
        value,
    })
}

fn signer_to_json(s: &SignerInfo) -> Value {
    let mode_info = match s.mode_info.as_ref().and_then(|m| m.sum.as_ref()) {
        Some(mode_info::Sum::Single(single)) => {
            let mode = SignMode::try_from(single.mode)
                .map(|m| m.as_str_name().to_string())
                .unwrap_or_else(|_| single.mode.to_string());
            json!({"single": {"mode": mode}})
        }
        Some(mode_info::Sum::Multi(_)) => json!({"multi": "not supported by copro"}),
        None => Value::Null,
    };
    json!({
        "public_key": s.public_key.as_ref().map(any_to_json),
        "mode_info": mode_info,
        "sequence": s.sequence.to_string(),
    })
}

fn signer_from_json(v: &Value, what: &str) -> anyhow::Result<SignerInfo> {
    let public_key = match v.get("public_key") {
        None | Some(Value::Null) => None,
        Some(pk) => Some(any_from_json(pk, &format!("{what}.public_key"))?),
    };
    let mode_info = match v.get("mode_info") {
        None | Some(Value::Null) => None,
        Some(m) => {
            let mode = m
                .get("single")
                .and_then(|s| s.get("mode"))
                .and_then(Value::as_str)
                .with_context(|| {
                    format!("{what}.mode_info must be {{\"single\": {{\"mode\": \"SIGN_MODE_DIRECT\"}}}}")
                })?;
            let mode = SignMode::from_str_name(mode)
                .with_context(|| format!("{what}.mode_info: unknown sign mode '{mode}'"))?;
            Some(ModeInfo {
                sum: Some(mode_info::Sum::Single(mode_info::Single {
                    mode: mode as i32,
                })),
            })
        }
    };
    Ok(SignerInfo {
        public_key,
        mode_info,
        sequence: opt_u64(v, "sequence", &format!("{what}.sequence"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn send() -> Any {
        Any {
            type_url: copro_bank::MSG_SEND_TYPE_URL.into(),
            value: MsgSend {
                from_address: "copro1from".into(),
                to_address: "copro1to".into(),
                amount: vec![Coin {
                    denom: "ucopro".into(),
                    amount: "1000".into(),
                }],
            }
            .encode_to_vec(),
        }
    }

    fn other() -> Any {
        Any {
            type_url: "/copro.coprocessor.v1.MsgDeposit".into(),
            value: vec![10, 3, 1, 2, 3],
        }
    }

    #[test]
    fn an_unsigned_tx_reads_as_the_sdk_prints_it_and_round_trips() {
        let fee = Coins::parse("5000ucopro").unwrap();
        let tx = Tx::unsigned(vec![send(), other()], "hi", &fee, 200_000);
        let doc = tx.to_json();
        assert_eq!(
            doc["body"]["messages"][0],
            json!({"@type": "/cosmos.bank.v1beta1.MsgSend", "from_address": "copro1from",
                   "to_address": "copro1to", "amount": [{"denom": "ucopro", "amount": "1000"}]})
        );
        assert_eq!(
            doc["body"]["messages"][1],
            json!({"@type": "/copro.coprocessor.v1.MsgDeposit", "value": "CgMBAgM="})
        );
        assert_eq!(doc["auth_info"]["fee"]["gas_limit"], "200000");
        assert_eq!(doc["auth_info"]["signer_infos"], json!([]));
        assert_eq!(doc["signatures"], json!([]));
        let back = Tx::from_json(&serde_json::from_str(&doc.to_string()).unwrap()).unwrap();
        assert_eq!(back, tx);
        assert_eq!(back.to_raw(), tx.to_raw());
    }

    #[test]
    fn a_tx_signed_from_json_verifies_and_survives_json_and_raw_round_trips() {
        let fee = Coins::parse("5000ucopro").unwrap();
        let mut tx =
            Tx::from_json(&Tx::unsigned(vec![send()], "", &fee, 90_000).to_json()).unwrap();
        let k = key(7);
        tx.sign(&k, "copro-e2e", 4, 9).unwrap();
        assert_eq!(tx.signatures.len(), 1);
        let doc = tx.to_json();
        assert_eq!(doc["auth_info"]["signer_infos"][0]["sequence"], "9");
        assert_eq!(
            doc["auth_info"]["signer_infos"][0]["mode_info"],
            json!({"single": {"mode": "SIGN_MODE_DIRECT"}})
        );
        assert_eq!(
            doc["auth_info"]["signer_infos"][0]["public_key"]["@type"],
            PUBKEY_TYPE_URL
        );
        let back = Tx::from_json(&doc).unwrap();
        assert_eq!(back.to_raw(), tx.to_raw(), "the signed bytes are kept");
        assert_eq!(Tx::from_raw(&tx.to_raw()).unwrap(), tx);
        assert_eq!(back.hash(), tx.hash());

        // The signature is over SignDoc(body, auth_info, chain-id, number).
        use k256::ecdsa::signature::Verifier;
        let raw = TxRaw::decode(tx.to_raw().as_slice()).unwrap();
        let doc = |chain_id: &str, number| {
            SignDoc {
                body_bytes: raw.body_bytes.clone(),
                auth_info_bytes: raw.auth_info_bytes.clone(),
                chain_id: chain_id.into(),
                account_number: number,
            }
            .encode_to_vec()
        };
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&k.public_key().to_bytes()).unwrap();
        let sig = k256::ecdsa::Signature::from_slice(&raw.signatures[0]).unwrap();
        assert!(vk.verify(&doc("copro-e2e", 4), &sig).is_ok());
        assert!(vk.verify(&doc("copro-e2e", 5), &sig).is_err());
        assert!(vk.verify(&doc("other", 4), &sig).is_err());
    }

    #[test]
    fn broken_tx_json_is_an_error_naming_the_field() {
        let fee = Coins::parse("5000ucopro").unwrap();
        let good = Tx::unsigned(vec![send(), other()], "", &fee, 1).to_json();
        let err = |edit: &dyn Fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            format!("{:#}", Tx::from_json(&doc).unwrap_err())
        };
        assert_eq!(
            err(&|d| d["body"] = Value::Null),
            "the tx JSON has no object `body`"
        );
        assert_eq!(
            err(&|d| d["auth_info"]["fee"]["gas_limit"] = json!("lots")),
            "auth_info.fee.gas_limit must be an unsigned integer, not 'lots': invalid digit found in string"
        );
        assert_eq!(
            err(&|d| d["body"]["messages"][1]["value"] = json!("!!")),
            "body.messages[1].value is not valid base64: Invalid symbol 33, offset 0."
        );
        assert_eq!(
            err(&|d| d["body"]["messages"][1] = json!({"@type": "/x.Msg"})),
            "body.messages[1] (/x.Msg) needs its protobuf bytes as \"value\" (base64)"
        );
        assert_eq!(
            err(&|d| d["body"]["messages"][0]["amount"] = json!([{"denom": "ucopro"}])),
            "body.messages[0].amount[0] needs a denom and an amount, e.g. {\"denom\": \"ucopro\", \"amount\": \"5000\"}"
        );
        assert!(Tx::from_raw(&[0xff, 0xff]).is_err());
    }
}
