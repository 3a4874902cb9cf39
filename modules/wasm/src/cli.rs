//! `coprod tx wasm store|instantiate|execute|migrate` and
//! `coprod query wasm smart|raw|code|contract`, as wasmd's CLI spells them.

use std::io::Write;

use anyhow::{Context as _, anyhow, bail};
use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use copro_bank::Coins;
use copro_module::{Address, Keys, QueryPlan, Rendered, TxPlan};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    QueryCodeRequest, QueryCodeResponse, QueryContractInfoRequest, QueryContractInfoResponse,
    QueryRawContractStateRequest, QueryRawContractStateResponse, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use prost::Message;
use serde_json::{Value, json};

use crate::limits::MAX_WASM_BYTES;
use crate::msgs;
use crate::query::{CODE_PATH, CONTRACT_INFO_PATH, RAW_PATH, SMART_PATH};

// `coprod tx wasm` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum TxCmd {
    /// Upload a contract's wasm (sent gzipped); prints the tx, whose
    /// `store_code` event names the code id.
    Store {
        /// Uploader: key name or its address.
        from: String,
        /// Path of the .wasm file.
        file: std::path::PathBuf,
    },
    /// Create a contract of a stored code; its address is in the
    /// `instantiate` event (`_contract_address`).
    Instantiate {
        /// Sender: key name or its address.
        from: String,
        /// Code id.
        code_id: u64,
        /// Instantiate message (JSON).
        msg: String,
        /// A label for the contract.
        #[arg(long)]
        label: String,
        /// Address that may migrate the contract.
        #[arg(long, conflicts_with = "no_admin")]
        admin: Option<String>,
        /// No admin: nobody can migrate the contract (the default).
        #[arg(long)]
        no_admin: bool,
        /// Funds sent to the contract, e.g. 1000ucopro.
        #[arg(long)]
        amount: Option<String>,
    },
    /// Call a contract's execute entry point.
    Execute {
        /// Sender: key name or its address.
        from: String,
        /// Contract address.
        contract: String,
        /// Execute message (JSON).
        msg: String,
        /// Funds sent with the call, e.g. 1000ucopro.
        #[arg(long)]
        amount: Option<String>,
    },
    /// Move a contract to another code (the contract's admin only).
    Migrate {
        /// The admin: key name or its address.
        from: String,
        /// Contract address.
        contract: String,
        /// New code id.
        code_id: u64,
        /// Migrate message (JSON).
        msg: String,
    },
}

// `coprod query wasm` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum QueryCmd {
    /// Ask a contract (its query entry point) with a JSON message.
    Smart {
        /// Contract address.
        contract: String,
        /// Query message (JSON).
        msg: String,
    },
    /// A raw value of a contract's storage.
    Raw {
        /// Contract address.
        contract: String,
        /// The key (UTF-8, or hex with --hex).
        key: String,
        /// The key is hex.
        #[arg(long)]
        hex: bool,
    },
    /// A stored code's info (creator, checksum, size); --save writes its wasm.
    Code {
        /// Code id.
        code_id: u64,
        /// Write the wasm to this file.
        #[arg(long)]
        save: Option<std::path::PathBuf>,
    },
    /// A contract's info (code id, creator, admin, label).
    Contract {
        /// Contract address.
        address: String,
    },
}

fn wasm_command(about: &'static str) -> Command {
    Command::new("wasm")
        .about(about)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

pub(crate) fn tx_command() -> Command {
    TxCmd::augment_subcommands(wasm_command("CosmWasm transactions"))
}

pub(crate) fn query_command() -> Command {
    QueryCmd::augment_subcommands(wasm_command("CosmWasm queries"))
}

fn json_bytes(msg: &str) -> anyhow::Result<Vec<u8>> {
    let v: Value = serde_json::from_str(msg).with_context(|| format!("'{msg}' is not JSON"))?;
    Ok(serde_json::to_vec(&v)?)
}

fn coins(amount: Option<&str>) -> anyhow::Result<Coins> {
    match amount {
        None => Ok(Coins::default()),
        Some(a) => Coins::parse(a).map_err(|e| anyhow!(e.log)),
    }
}

fn address(s: &str) -> anyhow::Result<Address> {
    Address::parse(s).map_err(|e| anyhow!(e.log))
}

/// Gzips wasm for upload (as wasmd's CLI does): the chain gunzips it.
fn gzip(wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(wasm)?;
    Ok(e.finish()?)
}

/// The messages of `coprod tx wasm ...`.
pub(crate) fn tx(matches: &ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
    match TxCmd::from_arg_matches(matches)? {
        TxCmd::Store { from, file } => {
            let sender = keys.address(&from)?;
            let wasm =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            if wasm.len() > MAX_WASM_BYTES {
                bail!(
                    "{} is {} bytes; the chain accepts at most {MAX_WASM_BYTES}",
                    file.display(),
                    wasm.len()
                );
            }
            let body = if wasm.starts_with(&[0x1f, 0x8b]) {
                wasm
            } else {
                gzip(&wasm)?
            };
            Ok(TxPlan {
                msgs: vec![msgs::encode_store(&sender, body)],
                signer: sender,
            })
        }
        TxCmd::Instantiate {
            from,
            code_id,
            msg,
            label,
            admin,
            no_admin: _,
            amount,
        } => {
            let sender = keys.address(&from)?;
            let admin = admin
                .as_deref()
                .map(|a| keys.address(a).or_else(|_| address(a)))
                .transpose()?;
            Ok(TxPlan {
                msgs: vec![msgs::encode_instantiate(
                    &sender,
                    admin.as_ref(),
                    code_id,
                    &label,
                    json_bytes(&msg)?,
                    &coins(amount.as_deref())?,
                )],
                signer: sender,
            })
        }
        TxCmd::Execute {
            from,
            contract,
            msg,
            amount,
        } => {
            let sender = keys.address(&from)?;
            Ok(TxPlan {
                msgs: vec![msgs::encode_execute(
                    &sender,
                    &address(&contract)?,
                    json_bytes(&msg)?,
                    &coins(amount.as_deref())?,
                )],
                signer: sender,
            })
        }
        TxCmd::Migrate {
            from,
            contract,
            code_id,
            msg,
        } => {
            let sender = keys.address(&from)?;
            Ok(TxPlan {
                msgs: vec![msgs::encode_migrate(
                    &sender,
                    &address(&contract)?,
                    code_id,
                    json_bytes(&msg)?,
                )],
                signer: sender,
            })
        }
    }
}

fn answer(value: Option<&[u8]>, what: &str) -> anyhow::Result<Vec<u8>> {
    value
        .map(<[u8]>::to_vec)
        .with_context(|| format!("not found: {what}"))
}

/// The query of `coprod query wasm ...`.
pub(crate) fn query_plan(matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
    Ok(match QueryCmd::from_arg_matches(matches)? {
        QueryCmd::Smart { contract, msg } => {
            address(&contract)?;
            QueryPlan::new(
                SMART_PATH,
                QuerySmartContractStateRequest {
                    address: contract.clone(),
                    query_data: json_bytes(&msg)?,
                }
                .encode_to_vec(),
                move |value| {
                    let data = QuerySmartContractStateResponse::decode(
                        answer(value, &contract)?.as_slice(),
                    )?
                    .data;
                    let json: Value = serde_json::from_slice(&data)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into()));
                    Ok(Rendered {
                        text: serde_json::to_string(&json)?,
                        json: json!({ "data": json }),
                        ..Default::default()
                    })
                },
            )
        }
        QueryCmd::Raw { contract, key, hex } => {
            address(&contract)?;
            let key = if hex {
                hex::decode(&key).context("--hex: the key is not hex")?
            } else {
                key.into_bytes()
            };
            QueryPlan::new(
                RAW_PATH,
                QueryRawContractStateRequest {
                    address: contract.clone(),
                    query_data: key,
                }
                .encode_to_vec(),
                move |value| {
                    let data = QueryRawContractStateResponse::decode(
                        answer(value, &contract)?.as_slice(),
                    )?
                    .data;
                    let text = String::from_utf8(data.clone())
                        .unwrap_or_else(|_| format!("0x{}", hex::encode(&data)));
                    Ok(Rendered {
                        json: json!({"data": base64_of(&data), "text": text}),
                        text,
                        ..Default::default()
                    })
                },
            )
        }
        QueryCmd::Code { code_id, save } => QueryPlan::new(
            CODE_PATH,
            QueryCodeRequest { code_id }.encode_to_vec(),
            move |value| {
                let resp = QueryCodeResponse::decode(
                    answer(value, &format!("code {code_id}"))?.as_slice(),
                )?;
                let info = resp.code_info.unwrap_or_default();
                if let Some(path) = &save {
                    std::fs::write(path, &resp.data)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                let checksum = hex::encode(&info.data_hash);
                Ok(Rendered {
                    text: format!(
                        "code_id: {}\ncreator: {}\nchecksum: {checksum}\nsize: {} bytes",
                        info.code_id,
                        info.creator,
                        resp.data.len()
                    ),
                    json: json!({
                        "code_id": info.code_id.to_string(),
                        "creator": info.creator,
                        "checksum": checksum,
                        "size": resp.data.len(),
                    }),
                    ..Default::default()
                })
            },
        ),
        QueryCmd::Contract { address: addr } => {
            address(&addr)?;
            QueryPlan::new(
                CONTRACT_INFO_PATH,
                QueryContractInfoRequest {
                    address: addr.clone(),
                }
                .encode_to_vec(),
                move |value| {
                    let resp = QueryContractInfoResponse::decode(answer(value, &addr)?.as_slice())?;
                    let info = resp.contract_info.unwrap_or_default();
                    Ok(Rendered {
                        text: format!(
                            "address: {}\ncode_id: {}\ncreator: {}\nadmin: {}\nlabel: {}",
                            resp.address, info.code_id, info.creator, info.admin, info.label
                        ),
                        json: json!({
                            "address": resp.address,
                            "contract_info": {
                                "code_id": info.code_id.to_string(),
                                "creator": info.creator,
                                "admin": info.admin,
                                "label": info.label,
                            }
                        }),
                        ..Default::default()
                    })
                },
            )
        }
    })
}

fn base64_of(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
