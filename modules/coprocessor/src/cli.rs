//! The module's commands:
//!
//! ```text
//! coprod tx copro deposit FROM AMOUNT | transfer FROM TO AMOUNT | withdraw FROM AMOUNT
//!                | set-ledger-key FROM KEY_HEX
//! coprod tx copro register-program AUTHORITY --keys DIR | update-program AUTHORITY --keys DIR
//!                | set-prover AUTHORITY PROVER
//! coprod query copro params | root [--prove] | account ADDR [--prove] | queue
//! coprod query copro program ID [--version V] | result ID [--prove] | results
//! coprod genesis add-program --keys DIR | set-prover ADDR | set-authority ADDR
//!               | set-inclusion-delay K
//! ```
//!
//! Amounts are integers in the ledger denom (`query copro params`). With
//! `--prove` the node answers with an ICS-23 proof of the value's store key;
//! `coprod` verifies it against the app hash of the next header before it
//! prints anything (see [`copro_module::ProvenValue`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::{ArgMatches, Command, FromArgMatches, Subcommand};
use copro_module::{Address, Keys, ProvenValue, QueryPlan, Rendered, TxPlan};
use prost::{Message, Name};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::genesis::{GenesisProgram, GenesisState};
use crate::module::any;
use crate::record::pb;
use crate::state_key;

/// The name of the module's `tx`, `query` subcommand.
pub const COMMAND: &str = "copro";

// `coprod tx copro` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum TxCmd {
    /// Move AMOUNT of the ledger denom from FROM's bank balance into its
    /// ledger account (settled by the next proof).
    Deposit {
        /// Key name or its address.
        from: String,
        /// Amount, an integer in the ledger denom.
        amount: String,
    },
    /// Transfer AMOUNT inside the ledger from FROM to TO (queued, settled by
    /// a proof; refused if FROM's settled balance minus its queued debits is
    /// short).
    Transfer {
        /// Key name or its address.
        from: String,
        /// Recipient address.
        to: String,
        /// Amount, an integer in the ledger denom.
        amount: String,
    },
    /// Withdraw AMOUNT from FROM's ledger account back to its bank balance
    /// (paid when a proof settles it).
    Withdraw {
        /// Key name or its address.
        from: String,
        /// Amount, an integer in the ledger denom.
        amount: String,
    },
    /// Bind or rotate FROM's ledger spending key (queued; applied by the
    /// next proof of `transfer` version 2). KEY is the 32-byte Jubjub public
    /// key in hex.
    SetLedgerKey {
        /// Key name or its address (owner of the ledger account).
        from: String,
        /// Spending public key, 64 hex digits (optionally 0x-prefixed).
        key: String,
    },
    /// Register a program version from a `copro-prover setup` directory
    /// (signed by the authority).
    RegisterProgram {
        /// The authority's key name or address.
        authority: String,
        /// Directory with verifying_key.bin and setup.toml.
        #[arg(long)]
        keys: PathBuf,
    },
    /// Register a new version of a registered program from a `copro-prover
    /// setup` directory and freeze the active one (signed by the authority):
    /// the prover must then prove with the new version.
    UpdateProgram {
        /// The authority's key name or address.
        authority: String,
        /// Directory with verifying_key.bin and setup.toml (its version
        /// above every registered one).
        #[arg(long)]
        keys: PathBuf,
    },
    /// Make PROVER the only account that may submit proofs (signed by the
    /// authority).
    SetProver {
        /// The authority's key name or address.
        authority: String,
        /// The new prover's address (or key name).
        prover: String,
    },
}

// `coprod query copro` (no `///`: it would replace the command's about).
#[derive(Subcommand, Debug)]
enum QueryCmd {
    /// Ledger parameters, the authority and the prover.
    Params,
    /// The ledger's Poseidon root and its root-history accumulator.
    Root {
        /// Ask for a proof and verify it against the app hash of the next header.
        #[arg(long)]
        prove: bool,
        /// Read the state after block H (0: the latest).
        #[arg(long, default_value_t = 0)]
        height: u64,
    },
    /// A ledger account: leaf index, settled balance and nonce.
    Account {
        /// Address.
        address: String,
        /// Ask for a proof (of existence or absence) and verify it.
        #[arg(long)]
        prove: bool,
        /// Read the state after block H (0: the latest).
        #[arg(long, default_value_t = 0)]
        height: u64,
    },
    /// The unsettled requests, oldest first, and the queue's hash chain.
    Queue {
        /// First sequence number to list (default: the oldest unsettled).
        #[arg(long)]
        from: Option<u64>,
        /// How many entries (the node caps it at 1000).
        #[arg(long)]
        limit: Option<u64>,
    },
    /// A registered program (the active version unless --version).
    Program {
        /// Program id, e.g. transfer.
        id: String,
        /// Version (0: the active one).
        #[arg(long, default_value_t = 0)]
        version: u32,
    },
    /// A verified result (one accepted proof) by id.
    Result {
        /// Result id (0, 1, ...).
        id: u64,
        /// Ask for a proof (of existence or absence) and verify it.
        #[arg(long)]
        prove: bool,
        /// Read the state after block H (0: the latest).
        #[arg(long, default_value_t = 0)]
        height: u64,
    },
    /// The callback of a contract's request (by its queue sequence):
    /// pending, succeeded or failed with its error.
    Callback {
        /// The request's sequence (what the contract's reply got).
        sequence: u64,
        /// Ask for a proof (of existence or absence) and verify it.
        #[arg(long)]
        prove: bool,
        /// Read the state after block H (0: the latest).
        #[arg(long, default_value_t = 0)]
        height: u64,
    },
    /// Verified results, oldest first.
    Results {
        /// Only results accepted at this height or later.
        #[arg(long, default_value_t = 0)]
        from_height: u64,
        /// First result id to list (the `next` id a previous page printed).
        #[arg(long)]
        from: Option<u64>,
        /// How many results (the node caps it at 100).
        #[arg(long)]
        limit: Option<u64>,
    },
}

// `coprod genesis ...` commands of the module.
#[derive(Subcommand, Debug)]
enum GenesisCmd {
    /// Register a program version in genesis from a `copro-prover setup`
    /// directory (verifying_key.bin and setup.toml); the first program also
    /// sets the ledger's tree shape.
    AddProgram {
        /// Directory written by `copro-prover setup --out DIR`.
        #[arg(long)]
        keys: PathBuf,
    },
    /// Set the account that may submit proofs.
    SetProver {
        /// Address or key name.
        address_or_key: String,
    },
    /// Set the account that may register programs and change the prover
    /// (none: the registry and the prover are fixed by genesis).
    SetAuthority {
        /// Address or key name.
        address_or_key: String,
    },
    /// Set K, the inclusion rule: a proof must settle every request queued
    /// K or more blocks before its block, as far as its batch has room
    /// (0: no rule). Choose K above the prover's proving time in blocks.
    SetInclusionDelay {
        /// K, in blocks.
        blocks: u64,
    },
}

/// The registration of the program version in a `copro-prover setup`
/// directory, signed by `authority`.
fn program_registration(authority: &Address, dir: &Path) -> anyhow::Result<pb::MsgRegisterProgram> {
    let p = SetupDir::read(dir)?;
    Ok(pb::MsgRegisterProgram {
        authority: authority.to_string(),
        program_id: p.program,
        version: p.version,
        verifying_key: p.verifying_key,
        vk_hash: p.vk_hash,
        batch_size: p.batch,
        tree_arity: p.arity,
        tree_depth: p.depth,
        offchain_batch_size: p.offchain_batch,
    })
}

fn copro_command(about: &'static str) -> Command {
    Command::new(COMMAND)
        .about(about)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

pub(crate) fn tx_command() -> Command {
    TxCmd::augment_subcommands(copro_command(
        "Coprocessor transactions (ledger requests, registry)",
    ))
}

pub(crate) fn query_command() -> Command {
    QueryCmd::augment_subcommands(copro_command(
        "Coprocessor queries (ledger, queue, programs, results)",
    ))
}

pub(crate) fn genesis_commands() -> Vec<Command> {
    GenesisCmd::augment_subcommands(Command::new("genesis"))
        .get_subcommands()
        .cloned()
        .collect()
}

/// An amount in the ledger denom: a positive integer.
fn parse_amount(amount: &str) -> anyhow::Result<u64> {
    let value: u64 = amount.parse().map_err(|_| {
        anyhow!(
            "amount '{amount}' is not an integer: give it in the ledger denom without a suffix, \
             e.g. 1000 (`coprod query copro params` shows the denom)"
        )
    })?;
    if value == 0 {
        bail!("amount must be positive");
    }
    Ok(value)
}

/// `Keys::address` for a key name, or the address itself when it is one.
fn address_or_key(keys: &dyn Keys, s: &str) -> anyhow::Result<Address> {
    match Address::parse(s) {
        Ok(a) => Ok(a),
        Err(_) => keys.address(s),
    }
}

/// The messages of `coprod tx copro ...`.
pub(crate) fn tx(matches: &ArgMatches, keys: &dyn Keys) -> anyhow::Result<TxPlan> {
    let (signer, msg) = match TxCmd::from_arg_matches(matches)? {
        TxCmd::Deposit { from, amount } => {
            let signer = keys.address(&from)?;
            let msg = any(&pb::MsgDeposit {
                signer: signer.to_string(),
                amount: parse_amount(&amount)?,
            });
            (signer, msg)
        }
        TxCmd::Transfer { from, to, amount } => {
            let signer = keys.address(&from)?;
            let recipient = Address::parse(&to).map_err(|e| anyhow!(e.log))?;
            let msg = any(&pb::MsgTransfer {
                signer: signer.to_string(),
                recipient: recipient.to_string(),
                amount: parse_amount(&amount)?,
            });
            (signer, msg)
        }
        TxCmd::Withdraw { from, amount } => {
            let signer = keys.address(&from)?;
            let msg = any(&pb::MsgWithdraw {
                signer: signer.to_string(),
                amount: parse_amount(&amount)?,
            });
            (signer, msg)
        }
        TxCmd::SetLedgerKey { from, key } => {
            let signer = keys.address(&from)?;
            let bytes = hex::decode(key.strip_prefix("0x").unwrap_or(&key))
                .map_err(|e| anyhow!("spending key '{key}' is not hex: {e}"))?;
            // The node's checks, before signing: a refused key costs no fee.
            crate::requests::SetLedgerKey::new(signer.clone(), &bytes)
                .map_err(|e| anyhow!(e.log))?;
            let msg = any(&pb::MsgSetLedgerKey {
                signer: signer.to_string(),
                spending_key: bytes,
            });
            (signer, msg)
        }
        TxCmd::RegisterProgram {
            authority,
            keys: dir,
        } => {
            let signer = keys.address(&authority)?;
            let msg = any(&program_registration(&signer, &dir)?);
            (signer, msg)
        }
        TxCmd::UpdateProgram {
            authority,
            keys: dir,
        } => {
            let signer = keys.address(&authority)?;
            // The same fields, under the message that freezes the active
            // version.
            let r = program_registration(&signer, &dir)?;
            let msg = any(&pb::MsgUpdateProgram {
                authority: r.authority,
                program_id: r.program_id,
                version: r.version,
                verifying_key: r.verifying_key,
                vk_hash: r.vk_hash,
                batch_size: r.batch_size,
                tree_arity: r.tree_arity,
                tree_depth: r.tree_depth,
                offchain_batch_size: r.offchain_batch_size,
            });
            (signer, msg)
        }
        TxCmd::SetProver { authority, prover } => {
            let signer = keys.address(&authority)?;
            let prover = address_or_key(keys, &prover)?;
            let msg = any(&pb::MsgSetProver {
                authority: signer.to_string(),
                prover: prover.to_string(),
            });
            (signer, msg)
        }
    };
    Ok(TxPlan {
        signer,
        msgs: vec![msg],
    })
}

fn page(from: Option<u64>, limit: Option<u64>) -> Option<pb::PageRequest> {
    (from.is_some() || limit.is_some()).then(|| pb::PageRequest {
        key: from.map(|f| f.to_be_bytes().to_vec()).unwrap_or_default(),
        limit: limit.unwrap_or(0),
    })
}

/// The next page's first id or sequence, from a `PageResponse`.
fn next_of(page: Option<&pb::PageResponse>) -> Option<u64> {
    let key: [u8; 8] = page?.next_key.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(key))
}

fn path<M: Name>() -> String {
    format!("{}{}", crate::query::PREFIX, method_of::<M>())
}

/// `QueryRootRequest` → `Root`: the method a request type belongs to.
fn method_of<M: Name>() -> String {
    M::NAME
        .strip_prefix("Query")
        .and_then(|n| n.strip_suffix("Request"))
        .unwrap_or(M::NAME)
        .to_string()
}

fn decode<M: Message + Default>(value: Option<&[u8]>, what: &str) -> anyhow::Result<M> {
    let bytes = value.with_context(|| format!("not found: {what}"))?;
    M::decode(bytes).with_context(|| format!("the node's answer is not a {what}"))
}

/// The query of `coprod query copro ...`.
pub(crate) fn query_plan(matches: &ArgMatches) -> anyhow::Result<QueryPlan> {
    Ok(match QueryCmd::from_arg_matches(matches)? {
        QueryCmd::Params => QueryPlan::new(
            path::<pb::QueryParamsRequest>(),
            pb::QueryParamsRequest {}.encode_to_vec(),
            |value| {
                let r: pb::QueryParamsResponse = decode(value, "QueryParamsResponse")?;
                let p = r.params.unwrap_or_default();
                let none = |s: &str| {
                    if s.is_empty() {
                        "none".to_string()
                    } else {
                        s.to_string()
                    }
                };
                Ok(Rendered {
                    text: format!(
                        "ledger denom: {}\ntree: arity {}, depth {}\ninclusion delay: {} blocks\nauthority: {}\nprover: {}",
                        p.ledger_denom,
                        p.tree_arity,
                        p.tree_depth,
                        p.inclusion_delay_blocks,
                        none(&r.authority),
                        none(&r.prover)
                    ),
                    json: json!({
                        "params": {
                            "ledger_denom": p.ledger_denom,
                            "tree_arity": p.tree_arity,
                            "tree_depth": p.tree_depth,
                            "inclusion_delay_blocks": p.inclusion_delay_blocks.to_string(),
                        },
                        "authority": r.authority,
                        "prover": r.prover,
                    }),
                    ..Default::default()
                })
            },
        ),
        QueryCmd::Root { prove, height } => QueryPlan::new(
            path::<pb::QueryRootRequest>(),
            pb::QueryRootRequest { height: 0, prove }.encode_to_vec(),
            move |value| {
                let r: pb::QueryRootResponse = decode(value, "QueryRootResponse")?;
                let root = r.root.context("the node answered without a root record")?;
                let proof = prove.then(|| ProvenValue {
                    height: r.height,
                    key: state_key::ledger_root(),
                    value: Some(root.encode_to_vec()),
                    merkle_proof: r.proof.clone(),
                });
                Ok(Rendered {
                    text: format!(
                        "height: {}\nroot: {}\nset at height: {}\nhistory index: {}\nhistory root: {}",
                        r.height,
                        hex0x(&root.root),
                        root.set_height,
                        root.history_index,
                        hex0x(&root.history_root)
                    ),
                    json: json!({
                        "height": r.height.to_string(),
                        "root": hex0x(&root.root),
                        "set_height": root.set_height.to_string(),
                        "history_index": root.history_index.to_string(),
                        "history_root": hex0x(&root.history_root),
                    }),
                    proof,
                })
            },
        )
        .at_height(height),
        QueryCmd::Account {
            address,
            prove,
            height,
        } => {
            let parsed = Address::parse(&address).map_err(|e| anyhow!(e.log))?;
            QueryPlan::new(
                path::<pb::QueryLedgerAccountRequest>(),
                pb::QueryLedgerAccountRequest {
                    address: parsed.to_string(),
                    prove,
                }
                .encode_to_vec(),
                move |value| {
                    let r: pb::QueryLedgerAccountResponse = match value {
                        Some(_) => decode(value, "QueryLedgerAccountResponse")?,
                        None => {
                            return Ok(Rendered {
                                text: format!("{parsed} has no ledger account"),
                                json: json!({"account": null}),
                                ..Default::default()
                            });
                        }
                    };
                    let proof = prove.then(|| ProvenValue {
                        height: r.height,
                        key: state_key::ledger_account(parsed.as_str()),
                        value: r.account.as_ref().map(Message::encode_to_vec),
                        merkle_proof: r.proof.clone(),
                    });
                    Ok(match r.account {
                        Some(a) => Rendered {
                            text: format!(
                                "height: {}\naddress: {}\nledger index: {}\nbalance: {}\nnonce: {}\nspending key: {}",
                                r.height,
                                a.address,
                                a.ledger_index,
                                a.balance,
                                a.nonce,
                                if a.spending_key.is_empty() {
                                    "none".to_string()
                                } else {
                                    hex::encode(&a.spending_key)
                                }
                            ),
                            json: json!({"height": r.height.to_string(), "account": account_json(&a)}),
                            proof,
                        },
                        None => Rendered {
                            text: format!("height: {}\n{parsed} has no ledger account", r.height),
                            json: json!({"height": r.height.to_string(), "account": null}),
                            proof,
                        },
                    })
                },
            )
            .at_height(height)
        }
        QueryCmd::Queue { from, limit } => QueryPlan::new(
            path::<pb::QueryQueueRequest>(),
            pb::QueryQueueRequest {
                pagination: page(from, limit),
            }
            .encode_to_vec(),
            |value| {
                let r: pb::QueryQueueResponse = decode(value, "QueryQueueResponse")?;
                let state = r.state.unwrap_or_default();
                let next = next_of(r.pagination.as_ref());
                let mut text = format!(
                    "next sequence: {}\nsettled up to: {}\nunsettled: {}",
                    state.next_sequence,
                    state.settled_up_to,
                    state.next_sequence.saturating_sub(state.settled_up_to)
                );
                for e in &r.entries {
                    text.push_str(&format!("\n  {}", entry_text(e)));
                }
                if let Some(next) = next {
                    text.push_str(&format!("\nmore: --from {next}"));
                }
                Ok(Rendered {
                    json: json!({
                        "state": {
                            "next_sequence": state.next_sequence.to_string(),
                            "settled_up_to": state.settled_up_to.to_string(),
                            "head_hash": hex0x(&state.head_hash),
                            "settled_hash": hex0x(&state.settled_hash),
                        },
                        "entries": r.entries.iter().map(entry_json).collect::<Vec<_>>(),
                        "next": next.map(|n| n.to_string()),
                    }),
                    text,
                    ..Default::default()
                })
            },
        ),
        QueryCmd::Program { id, version } => QueryPlan::new(
            path::<pb::QueryProgramRequest>(),
            pb::QueryProgramRequest {
                program_id: id.clone(),
                version,
            }
            .encode_to_vec(),
            move |value| {
                let r: pb::QueryProgramResponse = decode(value, &format!("program '{id}'"))?;
                let p = r.program.context("the node answered without a program")?;
                Ok(Rendered {
                    text: format!(
                        "program: {} version {}\nstatus: {}\nbatch size: {} (off-chain: {})\ntree: arity {}, depth {}\nvk sha256: {}\nregistered at height: {}",
                        p.id,
                        p.version,
                        status_name(p.status),
                        p.batch_size,
                        p.offchain_batch_size,
                        p.tree_arity,
                        p.tree_depth,
                        hex0x(&p.vk_hash),
                        p.registered_height
                    ),
                    json: json!({
                        "id": p.id,
                        "version": p.version,
                        "status": status_name(p.status),
                        "batch_size": p.batch_size,
                        "offchain_batch_size": p.offchain_batch_size,
                        "tree_arity": p.tree_arity,
                        "tree_depth": p.tree_depth,
                        "vk_hash": hex0x(&p.vk_hash),
                        "verifying_key_bytes": p.verifying_key.len(),
                        "registered_height": p.registered_height.to_string(),
                    }),
                    ..Default::default()
                })
            },
        ),
        QueryCmd::Result { id, prove, height } => QueryPlan::new(
            path::<pb::QueryResultRequest>(),
            pb::QueryResultRequest { id, prove }.encode_to_vec(),
            move |value| {
                let r: pb::QueryResultResponse = decode(value, &format!("verified result {id}"))?;
                let proof = prove.then(|| ProvenValue {
                    height: r.height,
                    key: state_key::result(id),
                    value: r.result.as_ref().map(Message::encode_to_vec),
                    merkle_proof: r.proof.clone(),
                });
                Ok(match r.result {
                    Some(res) => Rendered {
                        text: result_text(&res),
                        json: json!({"height": r.height.to_string(), "result": result_json(&res)}),
                        proof,
                    },
                    None => Rendered {
                        text: format!("height: {}\nno verified result {id}", r.height),
                        json: json!({"height": r.height.to_string(), "result": null}),
                        proof,
                    },
                })
            },
        )
        .at_height(height),
        QueryCmd::Callback {
            sequence,
            prove,
            height,
        } => QueryPlan::new(
            path::<pb::QueryCallbackRequest>(),
            pb::QueryCallbackRequest { sequence, prove }.encode_to_vec(),
            move |value| {
                let r: pb::QueryCallbackResponse =
                    decode(value, &format!("callback of request {sequence}"))?;
                let proof = prove.then(|| ProvenValue {
                    height: r.height,
                    key: state_key::callback(sequence),
                    value: r.callback.as_ref().map(Message::encode_to_vec),
                    merkle_proof: r.proof.clone(),
                });
                Ok(match r.callback {
                    Some(c) => {
                        let status = crate::callback::status_name(c.status);
                        let settled = if c.result_id == 0 && status == "pending" {
                            String::new()
                        } else {
                            format!("\nresult: {}\ngas used: {}", c.result_id, c.gas_used)
                        };
                        let error = if c.error.is_empty() {
                            String::new()
                        } else {
                            format!("\nerror: {}", c.error)
                        };
                        Rendered {
                            text: format!(
                                "height: {}\nrequest: {}\ncontract: {}\ngas limit: {}\nstatus: {status}{settled}{error}",
                                r.height, c.sequence, c.contract, c.gas_limit
                            ),
                            json: json!({
                                "height": r.height.to_string(),
                                "callback": {
                                    "sequence": c.sequence.to_string(),
                                    "contract": c.contract,
                                    "gas_limit": c.gas_limit.to_string(),
                                    "status": status,
                                    "result_id": c.result_id.to_string(),
                                    "gas_used": c.gas_used.to_string(),
                                    "error": c.error,
                                },
                            }),
                            proof,
                        }
                    }
                    None => Rendered {
                        text: format!(
                            "height: {}\nno callback for request {sequence}",
                            r.height
                        ),
                        json: json!({"height": r.height.to_string(), "callback": null}),
                        proof,
                    },
                })
            },
        )
        .at_height(height),
        QueryCmd::Results {
            from_height,
            from,
            limit,
        } => QueryPlan::new(
            path::<pb::QueryResultsRequest>(),
            pb::QueryResultsRequest {
                from_height,
                pagination: page(from, limit),
            }
            .encode_to_vec(),
            |value| {
                let r: pb::QueryResultsResponse = decode(value, "QueryResultsResponse")?;
                let next = next_of(r.pagination.as_ref());
                let mut text = if r.results.is_empty() {
                    "no verified results".to_string()
                } else {
                    r.results
                        .iter()
                        .map(result_text)
                        .collect::<Vec<_>>()
                        .join("\n\n")
                };
                if let Some(next) = next {
                    text.push_str(&format!("\nmore: --from {next}"));
                }
                Ok(Rendered {
                    json: json!({
                        "results": r.results.iter().map(result_json).collect::<Vec<_>>(),
                        "next": next.map(|n| n.to_string()),
                    }),
                    text,
                    ..Default::default()
                })
            },
        ),
    })
}

fn status_name(status: i32) -> &'static str {
    match pb::ProgramStatus::try_from(status) {
        Ok(pb::ProgramStatus::Active) => "active",
        Ok(pb::ProgramStatus::Frozen) => "frozen",
        _ => "unspecified",
    }
}

fn kind_name(kind: i32) -> &'static str {
    match pb::EntryKind::try_from(kind) {
        Ok(pb::EntryKind::Deposit) => "deposit",
        Ok(pb::EntryKind::Transfer) => "transfer",
        Ok(pb::EntryKind::Withdraw) => "withdraw",
        Ok(pb::EntryKind::SetKey) => "set-key",
        _ => "unspecified",
    }
}

/// Bytes as `0x…` hex, as copro's JSON writes roots, hashes and keys.
fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn account_json(a: &pb::LedgerAccount) -> Value {
    json!({
        "address": a.address,
        "ledger_index": a.ledger_index,
        "key": hex0x(&a.key),
        "balance": a.balance.to_string(),
        "nonce": a.nonce.to_string(),
        "spending_key": (!a.spending_key.is_empty()).then(|| hex::encode(&a.spending_key)),
    })
}

fn entry_text(e: &pb::QueueEntry) -> String {
    match pb::EntryKind::try_from(e.kind) {
        Ok(pb::EntryKind::Transfer) => format!(
            "#{} transfer {} {} → {} (nonce {}, height {})",
            e.sequence, e.amount, e.from_address, e.to_address, e.nonce, e.enqueue_height
        ),
        Ok(pb::EntryKind::Withdraw) => format!(
            "#{} withdraw {} from {} (nonce {}, height {})",
            e.sequence, e.amount, e.from_address, e.nonce, e.enqueue_height
        ),
        Ok(pb::EntryKind::SetKey) => format!(
            "#{} set-key of {} to {} (height {})",
            e.sequence,
            e.from_address,
            hex::encode(&e.spending_key),
            e.enqueue_height
        ),
        _ => format!(
            "#{} {} {} to {} (height {})",
            e.sequence,
            kind_name(e.kind),
            e.amount,
            e.to_address,
            e.enqueue_height
        ),
    }
}

fn entry_json(e: &pb::QueueEntry) -> Value {
    json!({
        "sequence": e.sequence.to_string(),
        "kind": kind_name(e.kind),
        "from_address": e.from_address,
        "from_index": e.from_index,
        "to_address": e.to_address,
        "to_index": e.to_index,
        "amount": e.amount.to_string(),
        "nonce": e.nonce.to_string(),
        "enqueue_height": e.enqueue_height.to_string(),
        "chain_hash": hex0x(&e.chain_hash),
    })
}

fn payout_json(p: &pb::Payout) -> Value {
    json!({
        "sequence": p.sequence.to_string(),
        "recipient": p.recipient,
        "ledger_index": p.ledger_index,
        "amount": p.amount.to_string(),
    })
}

fn result_text(r: &pb::VerifiedResult) -> String {
    format!(
        "result {}: {} v{} settled requests {}..{} at height {}\n  root {} → {}\n  withdrawals paid: {}, deposits refunded: {}\n  tx {}",
        r.id,
        r.program_id,
        r.program_version,
        r.start_sequence,
        r.end_sequence,
        r.height,
        hex0x(&r.old_root),
        hex0x(&r.new_root),
        r.withdrawals.len(),
        r.refunds.len(),
        hex::encode_upper(&r.tx_hash)
    )
}

fn result_json(r: &pb::VerifiedResult) -> Value {
    json!({
        "id": r.id.to_string(),
        "program_id": r.program_id,
        "program_version": r.program_version,
        "start_sequence": r.start_sequence.to_string(),
        "end_sequence": r.end_sequence.to_string(),
        "old_root": hex0x(&r.old_root),
        "new_root": hex0x(&r.new_root),
        "queue_before": hex0x(&r.queue_before),
        "queue_after": hex0x(&r.queue_after),
        "deltas_commitment": hex0x(&r.deltas_commitment),
        "offchain_count": r.offchain_count,
        "alloc_start": r.alloc_start,
        "created": r.created,
        "withdrawals": r.withdrawals.iter().map(payout_json).collect::<Vec<_>>(),
        "refunds": r.refunds.iter().map(payout_json).collect::<Vec<_>>(),
        "height": r.height.to_string(),
        "tx_hash": hex::encode_upper(&r.tx_hash),
    })
}

/// What `copro-prover setup --out DIR` wrote: `setup.toml` (the program
/// and its shape) and `verifying_key.bin`.
#[derive(Debug)]
struct SetupDir {
    program: String,
    version: u32,
    batch: u32,
    arity: u32,
    depth: u32,
    offchain_batch: u32,
    verifying_key: Vec<u8>,
    vk_hash: Vec<u8>,
}

#[derive(Deserialize)]
struct SetupToml {
    program: String,
    version: u32,
    batch: u32,
    arity: u32,
    depth: u32,
    /// B_s of a `transfer` version-2 setup (absent: 0).
    #[serde(default)]
    offchain_batch: u32,
    vk_sha256: String,
}

impl SetupDir {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let toml_path = dir.join("setup.toml");
        let text = std::fs::read_to_string(&toml_path).with_context(|| {
            format!(
                "cannot read {}: give the directory `copro-prover setup --out DIR` wrote",
                toml_path.display()
            )
        })?;
        let info: SetupToml = toml::from_str(&text)
            .with_context(|| format!("{} is not a setup description", toml_path.display()))?;
        let vk_path = dir.join("verifying_key.bin");
        let verifying_key = std::fs::read(&vk_path)
            .with_context(|| format!("cannot read {}", vk_path.display()))?;
        let vk_hash = hex::decode(info.vk_sha256.trim())
            .with_context(|| format!("vk_sha256 in {} is not hex", toml_path.display()))?;
        let actual = <sha2::Sha256 as sha2::Digest>::digest(&verifying_key);
        if actual.as_slice() != vk_hash.as_slice() {
            bail!(
                "{} does not match the vk_sha256 of {}: the directory mixes two setups",
                vk_path.display(),
                toml_path.display()
            );
        }
        Ok(Self {
            program: info.program,
            version: info.version,
            batch: info.batch,
            arity: info.arity,
            depth: info.depth,
            offchain_batch: info.offchain_batch,
            verifying_key,
            vk_hash,
        })
    }
}

/// Runs `coprod genesis <command>` on the module's section; `matches` are
/// those of `coprod genesis` (whose subcommand is the module's command).
pub(crate) fn genesis_edit(
    matches: &ArgMatches,
    section: &mut Value,
    keys: &dyn Keys,
) -> anyhow::Result<Rendered> {
    let mut state: GenesisState = match &*section {
        Value::Null => GenesisState::default(),
        s => GenesisState::deserialize(s).context("genesis app_state.coprocessor is invalid")?,
    };
    let rendered = match GenesisCmd::from_arg_matches(matches)? {
        GenesisCmd::AddProgram { keys: dir } => {
            let p = SetupDir::read(&dir)?;
            if state.programs.iter().any(|q| q.id == p.program) {
                bail!(
                    "genesis already registers program '{}': one version per id at genesis",
                    p.program
                );
            }
            let mut text = format!(
                "genesis program {} v{} (batch {}, arity {}, depth {}, vk sha256 {})",
                p.program,
                p.version,
                p.batch,
                p.arity,
                p.depth,
                hex::encode(&p.vk_hash)
            );
            let shape = (state.params.tree_arity, state.params.tree_depth);
            if shape != (p.arity, p.depth) {
                if !state.programs.is_empty() {
                    bail!(
                        "the ledger is arity {} depth {} (set by the programs already in genesis); \
                         this program is for arity {} depth {}",
                        shape.0,
                        shape.1,
                        p.arity,
                        p.depth
                    );
                }
                state.params.tree_arity = p.arity;
                state.params.tree_depth = p.depth;
                text.push_str(&format!(
                    "\nledger tree set to arity {} depth {} to match",
                    p.arity, p.depth
                ));
            }
            state.programs.push(GenesisProgram {
                id: p.program.clone(),
                version: p.version,
                verifying_key: hex::encode(&p.verifying_key),
                vk_hash: hex::encode(&p.vk_hash),
                batch_size: p.batch,
                tree_arity: p.arity,
                tree_depth: p.depth,
                offchain_batch_size: p.offchain_batch,
            });
            Rendered {
                json: json!({
                    "program_id": p.program,
                    "version": p.version,
                    "vk_hash": hex::encode(&p.vk_hash),
                    "tree_arity": p.arity,
                    "tree_depth": p.depth,
                }),
                text,
                ..Default::default()
            }
        }
        GenesisCmd::SetProver { address_or_key: a } => {
            let address = address_or_key(keys, &a)?;
            state.prover = address.to_string();
            Rendered {
                json: json!({"prover": state.prover}),
                text: format!("genesis prover: {address}"),
                ..Default::default()
            }
        }
        GenesisCmd::SetAuthority { address_or_key: a } => {
            let address = address_or_key(keys, &a)?;
            state.authority = address.to_string();
            Rendered {
                json: json!({"authority": state.authority}),
                text: format!("genesis authority: {address}"),
                ..Default::default()
            }
        }
        GenesisCmd::SetInclusionDelay { blocks } => {
            state.params.inclusion_delay_blocks = blocks;
            Rendered {
                json: json!({"inclusion_delay_blocks": blocks.to_string()}),
                text: if blocks == 0 {
                    "genesis inclusion rule: off".to_string()
                } else {
                    format!("genesis inclusion rule: K = {blocks} blocks")
                },
                ..Default::default()
            }
        }
    };
    *section = serde_json::to_value(&state)?;
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    static ALICE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| copro_module::module_address("alice").to_string());

    /// A keyring of one key, `alice`.
    struct OneKey;

    impl Keys for OneKey {
        fn address(&self, name_or_address: &str) -> anyhow::Result<Address> {
            if name_or_address == "alice" || name_or_address == ALICE.as_str() {
                return Address::parse(&ALICE).map_err(|e| anyhow!(e.log));
            }
            bail!("no key '{name_or_address}'")
        }
    }

    fn matches(root: Command, args: &[&str]) -> anyhow::Result<ArgMatches> {
        Ok(root.try_get_matches_from(std::iter::once("x").chain(args.iter().copied()))?)
    }

    fn tx_plan(args: &[&str]) -> anyhow::Result<TxPlan> {
        tx(&matches(tx_command(), args)?, &OneKey)
    }

    #[test]
    fn deposit_transfer_and_withdraw_sign_one_message_of_the_resolved_key() {
        let plan = tx_plan(&["deposit", "alice", "1000"]).unwrap();
        assert_eq!(plan.signer.as_str(), ALICE.as_str());
        assert_eq!(plan.msgs.len(), 1);
        assert_eq!(plan.msgs[0].type_url, pb::MsgDeposit::type_url());
        let m = pb::MsgDeposit::decode(plan.msgs[0].value.as_slice()).unwrap();
        assert_eq!((m.signer.as_str(), m.amount), (ALICE.as_str(), 1000));

        let plan = tx_plan(&["transfer", "alice", ALICE.as_str(), "7"]).unwrap();
        let m = pb::MsgTransfer::decode(plan.msgs[0].value.as_slice()).unwrap();
        assert_eq!((m.recipient.as_str(), m.amount), (ALICE.as_str(), 7));

        let plan = tx_plan(&["withdraw", ALICE.as_str(), "5"]).unwrap();
        assert_eq!(plan.msgs[0].type_url, pb::MsgWithdraw::type_url());
    }

    #[test]
    fn register_and_update_program_carry_the_setup_directory() {
        let keys = setup_dir(4, 16, b"vk bytes", None);
        let dir = keys.path().to_str().unwrap();
        let plan = tx_plan(&["register-program", "alice", "--keys", dir]).unwrap();
        assert_eq!(plan.msgs[0].type_url, pb::MsgRegisterProgram::type_url());
        let plan = tx_plan(&["update-program", "alice", "--keys", dir]).unwrap();
        assert_eq!(plan.signer.as_str(), ALICE.as_str());
        assert_eq!(plan.msgs[0].type_url, pb::MsgUpdateProgram::type_url());
        let m = pb::MsgUpdateProgram::decode(plan.msgs[0].value.as_slice()).unwrap();
        assert_eq!(
            (m.program_id.as_str(), m.version, m.batch_size, m.tree_depth),
            ("transfer", 1, 4, 16)
        );
        assert_eq!(m.verifying_key, b"vk bytes");
        assert!(tx_plan(&["update-program", "alice", "--keys", "/nonexistent"]).is_err());
    }

    #[test]
    fn bad_amounts_recipients_and_keys_fail_before_signing() {
        for args in [
            &["deposit", "alice", "1000ucopro"][..],
            &["deposit", "alice", "0"],
            &["deposit", "alice", "-1"],
            &["deposit", "alice", "18446744073709551616"],
            &["transfer", "alice", "cosmos1notours", "1"],
            &["withdraw", "mallory", "1"],
        ] {
            assert!(tx_plan(args).is_err(), "{args:?} was accepted");
        }
        let e = tx_plan(&["deposit", "alice", "10ucopro"]).unwrap_err();
        assert!(e.to_string().contains("without a suffix"), "{e}");
    }

    #[test]
    fn set_ledger_key_signs_the_key_and_refuses_a_bad_one_before_signing() {
        // The spend-auth test vector's public key (docs/protocol.md).
        let key = "eba1b6a29cd4a3d4be2d80046332bd780e08a8418352ce39f284b8878542a5d9";
        let plan = tx_plan(&["set-ledger-key", "alice", key]).unwrap();
        assert_eq!(plan.signer.as_str(), ALICE.as_str());
        assert_eq!(plan.msgs[0].type_url, pb::MsgSetLedgerKey::type_url());
        let m = pb::MsgSetLedgerKey::decode(plan.msgs[0].value.as_slice()).unwrap();
        assert_eq!(m.signer, ALICE.as_str());
        assert_eq!(hex::encode(&m.spending_key), key);
        let with_prefix = format!("0x{key}");
        assert!(tx_plan(&["set-ledger-key", "alice", &with_prefix]).is_ok());
        let identity = format!("01{}", "00".repeat(31));
        for bad in ["zz", &key[..62], identity.as_str()] {
            assert!(
                tx_plan(&["set-ledger-key", "alice", bad]).is_err(),
                "{bad} was accepted"
            );
        }
    }

    fn plan(args: &[&str]) -> QueryPlan {
        query_plan(&matches(query_command(), args).unwrap()).unwrap()
    }

    #[test]
    fn queries_use_the_service_paths_and_proofs_claim_the_stored_bytes() {
        let p = plan(&["root", "--prove"]);
        assert_eq!(p.path, "/copro.coprocessor.v1.Query/Root");
        assert!(
            pb::QueryRootRequest::decode(p.data.as_slice())
                .unwrap()
                .prove
        );
        let record = pb::RootRecord {
            set_height: 3,
            root: vec![1; 32],
            history_index: 2,
            history_root: vec![2; 32],
        };
        let answer = pb::QueryRootResponse {
            height: 9,
            root: Some(record.clone()),
            proof: vec![0xAA],
        }
        .encode_to_vec();
        let r = (p.render)(Some(&answer)).unwrap();
        let proven = r.proof.expect("--prove asks coprod to verify");
        assert_eq!(proven.height, 9);
        assert_eq!(proven.key, state_key::ledger_root());
        assert_eq!(proven.value, Some(record.encode_to_vec()));
        assert_eq!(proven.merkle_proof, vec![0xAA]);
        assert_eq!(r.json["root"], format!("0x{}", "01".repeat(32)));
        assert_eq!(r.json["height"], "9");

        // Without --prove nothing is claimed.
        let r = (plan(&["root"]).render)(Some(&answer)).unwrap();
        assert!(r.proof.is_none());

        // An absent account with --prove claims absence.
        let p = plan(&["account", ALICE.as_str(), "--prove"]);
        assert_eq!(p.path, "/copro.coprocessor.v1.Query/LedgerAccount");
        let answer = pb::QueryLedgerAccountResponse {
            height: 4,
            account: None,
            proof: vec![1],
        }
        .encode_to_vec();
        let r = (p.render)(Some(&answer)).unwrap();
        let proven = r.proof.unwrap();
        assert_eq!(proven.value, None);
        assert_eq!(proven.key, state_key::ledger_account(&ALICE));

        for (args, method) in [
            (&["params"][..], "Params"),
            (&["queue", "--from", "3", "--limit", "2"], "Queue"),
            (&["program", "transfer"], "Program"),
            (&["result", "0"], "Result"),
            (&["results"], "Results"),
        ] {
            assert_eq!(plan(args).path, format!("{}{method}", crate::query::PREFIX));
        }
        let q = pb::QueryQueueRequest::decode(
            plan(&["queue", "--from", "3", "--limit", "2"])
                .data
                .as_slice(),
        )
        .unwrap();
        let page = q.pagination.unwrap();
        assert_eq!((page.key, page.limit), (3u64.to_be_bytes().to_vec(), 2));
    }

    /// A setup directory as `copro-prover setup` writes it, with a made-up
    /// key (genesis editing does not parse it; `coprod genesis validate` does).
    fn setup_dir(arity: u32, depth: u32, vk: &[u8], claimed: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let hash = claimed
            .map(str::to_string)
            .unwrap_or_else(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(vk)));
        std::fs::write(dir.path().join("verifying_key.bin"), vk).unwrap();
        std::fs::write(
            dir.path().join("setup.toml"),
            format!(
                "program = \"transfer\"\nversion = 1\nbatch = 4\narity = {arity}\ndepth = {depth}\nconstraints = 10\nvk_sha256 = \"{hash}\"\ntrusted_setup = \"single-party, localnet/dev only\"\n"
            ),
        )
        .unwrap();
        dir
    }

    fn edit(section: &mut Value, args: &[&str]) -> anyhow::Result<Rendered> {
        let root = genesis_commands()
            .into_iter()
            .fold(Command::new("genesis"), Command::subcommand);
        genesis_edit(&matches(root, args)?, section, &OneKey)
    }

    #[test]
    fn genesis_commands_build_a_section_the_module_accepts_as_json() {
        let keys = setup_dir(2, 3, b"vk bytes", None);
        let mut section = Value::Null;
        let out = edit(
            &mut section,
            &["add-program", "--keys", keys.path().to_str().unwrap()],
        )
        .unwrap();
        assert!(
            out.text.contains("ledger tree set to arity 2 depth 3"),
            "{}",
            out.text
        );
        edit(&mut section, &["set-prover", "alice"]).unwrap();
        edit(&mut section, &["set-authority", ALICE.as_str()]).unwrap();
        edit(&mut section, &["set-inclusion-delay", "40"]).unwrap();
        assert!(edit(&mut section, &["set-inclusion-delay", "-1"]).is_err());
        let state = GenesisState::deserialize(&section).unwrap();
        assert_eq!(state.params.inclusion_delay_blocks, 40);
        assert_eq!((state.params.tree_arity, state.params.tree_depth), (2, 3));
        assert_eq!(
            (state.prover.as_str(), state.authority.as_str()),
            (ALICE.as_str(), ALICE.as_str())
        );
        assert_eq!(state.programs.len(), 1);
        let p = &state.programs[0];
        assert_eq!((p.id.as_str(), p.version, p.batch_size), ("transfer", 1, 4));
        assert_eq!(p.verifying_key, hex::encode(b"vk bytes"));

        // A second version of one id, a key from another setup, an unknown key.
        let again = edit(
            &mut section,
            &["add-program", "--keys", keys.path().to_str().unwrap()],
        );
        assert!(again.unwrap_err().to_string().contains("already registers"));
        let mixed = setup_dir(2, 3, b"vk bytes", Some(&"00".repeat(32)));
        let e = edit(
            &mut section,
            &["add-program", "--keys", mixed.path().to_str().unwrap()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("mixes two setups"), "{e}");
        assert!(edit(&mut section, &["set-prover", "mallory"]).is_err());
        let missing = edit(&mut section, &["add-program", "--keys", "/nonexistent"]);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("copro-prover setup")
        );
        // Failed edits left the section as it was.
        assert_eq!(GenesisState::deserialize(&section).unwrap(), state);
    }

    #[test]
    fn a_second_program_of_another_tree_shape_is_refused() {
        let first = setup_dir(4, 16, b"a", None);
        let mut section = Value::Null;
        edit(
            &mut section,
            &["add-program", "--keys", first.path().to_str().unwrap()],
        )
        .unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("verifying_key.bin"), b"b").unwrap();
        std::fs::write(
            other.path().join("setup.toml"),
            format!(
                "program = \"other\"\nversion = 1\nbatch = 4\narity = 2\ndepth = 32\nvk_sha256 = \"{}\"\n",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"b"))
            ),
        )
        .unwrap();
        let e = edit(
            &mut section,
            &["add-program", "--keys", other.path().to_str().unwrap()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("arity 4 depth 16"), "{e}");
    }
}
