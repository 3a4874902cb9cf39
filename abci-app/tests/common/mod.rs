//! Test helpers: keys, genesis, signed txs, and an app over a temp store.
#![allow(dead_code)]

use copro_auth::{Address, address_from_pubkey};
use copro_bank::Coins;
use coprod::App;
use coprod::tx::GasPrice;
use cosmrs::Any;
use cosmrs::proto::cosmos::bank::v1beta1::MsgSend;
use cosmrs::proto::cosmos::base::v1beta1::Coin;
use cosmrs::proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmrs::proto::cosmos::tx::v1beta1::{
    AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, TxBody, TxRaw, mode_info,
};
use k256::ecdsa::signature::Signer as _;
use prost::{Message, Name};
use serde_json::json;

pub const CHAIN_ID: &str = "copro-test";

/// A test account with a deterministic key.
pub struct Signer {
    pub key: k256::ecdsa::SigningKey,
    pub cosmrs_key: cosmrs::crypto::secp256k1::SigningKey,
    pub address: Address,
}

impl Signer {
    pub fn new(seed: u8) -> Self {
        let bytes = [seed; 32];
        let key = k256::ecdsa::SigningKey::from_slice(&bytes).unwrap();
        let cosmrs_key = cosmrs::crypto::secp256k1::SigningKey::from_slice(&bytes).unwrap();
        let address = address_from_pubkey(key.verifying_key());
        Self {
            key,
            cosmrs_key,
            address,
        }
    }

    pub fn pubkey_any(&self) -> Any {
        copro_auth::encode_pubkey(&self.key.verifying_key().to_sec1_bytes())
    }
}

/// Genesis app_state JSON giving each signer `amount` ucopro.
pub fn genesis(funded: &[(&Signer, u128)]) -> Vec<u8> {
    let accounts: Vec<_> = funded
        .iter()
        .map(|(s, _)| json!({"address": s.address.to_string()}))
        .collect();
    let balances: Vec<_> = funded
        .iter()
        .map(|(s, a)| json!({"address": s.address.to_string(), "coins": [{"denom": "ucopro", "amount": a.to_string()}]}))
        .collect();
    serde_json::to_vec(&json!({"auth": {"accounts": accounts}, "bank": {"balances": balances}}))
        .unwrap()
}

/// A MsgSend signed through cosmrs (`coprod::client::sign_send`).
pub fn cosmrs_send(
    from: &Signer,
    to: &Address,
    amount: u128,
    account_number: u64,
    sequence: u64,
) -> Vec<u8> {
    let amount = Coins::parse(&format!("{amount}ucopro")).unwrap();
    let fee = Coins::parse("5000ucopro").unwrap();
    coprod::client::sign_send(&coprod::client::SendParams {
        key: &from.cosmrs_key,
        from: &from.address,
        to,
        amount: &amount,
        fee: &fee,
        gas: 200_000,
        memo: "",
        chain_id: CHAIN_ID,
        account_number,
        sequence,
    })
    .unwrap()
}

/// The parts of a tx, to be tweaked by tests before signing.
pub struct TxParts {
    pub body: TxBody,
    pub auth_info: AuthInfo,
    pub chain_id: String,
    pub account_number: u64,
}

pub fn send_any(from: &Address, to: &Address, amount: &str) -> Any {
    Any {
        type_url: "/cosmos.bank.v1beta1.MsgSend".into(),
        value: MsgSend {
            from_address: from.to_string(),
            to_address: to.to_string(),
            amount: vec![Coin {
                denom: "ucopro".into(),
                amount: amount.into(),
            }],
        }
        .encode_to_vec(),
    }
}

impl TxParts {
    /// A valid send of `amount` ucopro with fee 5000ucopro, gas 200000.
    pub fn send(
        from: &Signer,
        to: &Address,
        amount: &str,
        account_number: u64,
        sequence: u64,
    ) -> Self {
        Self {
            body: TxBody {
                messages: vec![send_any(&from.address, to, amount)],
                ..Default::default()
            },
            auth_info: AuthInfo {
                signer_infos: vec![SignerInfo {
                    public_key: Some(from.pubkey_any()),
                    mode_info: Some(ModeInfo {
                        sum: Some(mode_info::Sum::Single(mode_info::Single {
                            mode: SignMode::Direct as i32,
                        })),
                    }),
                    sequence,
                }],
                fee: Some(Fee {
                    amount: vec![Coin {
                        denom: "ucopro".into(),
                        amount: "5000".into(),
                    }],
                    gas_limit: 200_000,
                    payer: String::new(),
                    granter: String::new(),
                }),
                #[allow(deprecated)]
                tip: None,
            },
            chain_id: CHAIN_ID.into(),
            account_number,
        }
    }

    /// Signs with `signer` and returns the TxRaw bytes plus the raw parts.
    pub fn sign_raw(&self, signer: &Signer) -> TxRaw {
        let body_bytes = self.body.encode_to_vec();
        let auth_info_bytes = self.auth_info.encode_to_vec();
        let doc = SignDoc {
            body_bytes: body_bytes.clone(),
            auth_info_bytes: auth_info_bytes.clone(),
            chain_id: self.chain_id.clone(),
            account_number: self.account_number,
        }
        .encode_to_vec();
        let sig: k256::ecdsa::Signature = signer.key.sign(&doc);
        TxRaw {
            body_bytes,
            auth_info_bytes,
            signatures: vec![sig.to_bytes().to_vec()],
        }
    }

    pub fn sign(&self, signer: &Signer) -> Vec<u8> {
        self.sign_raw(signer).encode_to_vec()
    }
}

/// `m` as a protobuf `Any` under its type URL.
pub fn any_msg<M: Message + Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

/// A signed tx of one message `msg` by `signer` (account number,
/// sequence), with fee 10000ucopro for 400000 gas: room for a proof.
pub fn tx(signer: &Signer, msg: Any, account: u64, sequence: u64) -> Vec<u8> {
    let mut parts = TxParts::send(signer, &signer.address, "1", account, sequence);
    parts.body.messages = vec![msg];
    let fee = parts
        .auth_info
        .fee
        .as_mut()
        .expect("TxParts::send sets a fee");
    fee.gas_limit = 400_000;
    fee.amount[0].amount = "10000".into();
    parts.sign(signer)
}

/// An app over a fresh store in `dir`.
pub fn app_in(dir: &std::path::Path) -> App {
    let storage = copro_store::Storage::open(dir.join("store.redb")).unwrap();
    App::new(storage, GasPrice::parse("0.025ucopro").unwrap())
}

use tendermint::abci::types::CommitInfo;
use tendermint::v0_38::abci::request;

pub fn consensus_params() -> tendermint::consensus::Params {
    tendermint::consensus::Params {
        block: tendermint::block::Size {
            max_bytes: 4 * 1024 * 1024,
            max_gas: -1,
            time_iota_ms: 1000,
        },
        evidence: tendermint::evidence::Params {
            max_age_num_blocks: 100_000,
            max_age_duration: tendermint::evidence::Duration(std::time::Duration::from_secs(
                172_800,
            )),
            max_bytes: 1_048_576,
        },
        validator: tendermint::consensus::params::ValidatorParams {
            pub_key_types: vec![tendermint::public_key::Algorithm::Ed25519],
        },
        version: None,
        abci: Default::default(),
    }
}

pub fn init_chain_req(app_state: Vec<u8>) -> request::InitChain {
    request::InitChain {
        time: tendermint::Time::unix_epoch(),
        chain_id: CHAIN_ID.into(),
        consensus_params: consensus_params(),
        validators: vec![],
        app_state_bytes: app_state.into(),
        initial_height: 1u32.into(),
    }
}

pub fn finalize_req(height: u64, txs: Vec<Vec<u8>>) -> request::FinalizeBlock {
    request::FinalizeBlock {
        txs: txs.into_iter().map(Into::into).collect(),
        decided_last_commit: CommitInfo {
            round: Default::default(),
            votes: vec![],
        },
        misbehavior: vec![],
        hash: tendermint::Hash::None,
        height: height.try_into().unwrap(),
        time: tendermint::Time::unix_epoch(),
        next_validators_hash: tendermint::Hash::None,
        proposer_address: tendermint::account::Id::new([0; 20]),
    }
}

pub fn process_req(height: u64, txs: Vec<Vec<u8>>) -> request::ProcessProposal {
    request::ProcessProposal {
        txs: txs.into_iter().map(Into::into).collect(),
        proposed_last_commit: None,
        misbehavior: vec![],
        hash: tendermint::Hash::None,
        height: height.try_into().unwrap(),
        time: tendermint::Time::unix_epoch(),
        next_validators_hash: tendermint::Hash::None,
        proposer_address: tendermint::account::Id::new([0; 20]),
    }
}

pub fn prepare_req(height: u64, max_tx_bytes: i64, txs: Vec<Vec<u8>>) -> request::PrepareProposal {
    request::PrepareProposal {
        max_tx_bytes,
        txs: txs.into_iter().map(Into::into).collect(),
        local_last_commit: None,
        misbehavior: vec![],
        height: height.try_into().unwrap(),
        time: tendermint::Time::unix_epoch(),
        next_validators_hash: tendermint::Hash::None,
        proposer_address: tendermint::account::Id::new([0; 20]),
    }
}

pub fn check_req(tx: Vec<u8>) -> request::CheckTx {
    request::CheckTx {
        tx: tx.into(),
        kind: request::CheckTxKind::New,
    }
}
