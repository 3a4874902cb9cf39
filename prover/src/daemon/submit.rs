//! Signing and broadcasting `MsgSubmitProof` (cosmrs, SIGN_MODE_DIRECT),
//! with the prover's key from a `coprod` keyring.

use std::time::Duration;

use anyhow::Context;
use copro_bank::coins::Coins;
use copro_coprocessor::record::pb;
use cosmrs::crypto::secp256k1::SigningKey;
use prost::{Message, Name};
use tendermint_rpc::{Client, HttpClient};

use super::config::Config;

/// The `sdk` codespace's wrong-sequence code.
pub const WRONG_SEQUENCE: u32 = 32;

/// Whether a CheckTx refusal says the account sequence was wrong.
pub fn is_wrong_sequence(codespace: &str, code: u32) -> bool {
    code == WRONG_SEQUENCE && codespace == "sdk"
}

/// How a broadcast ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broadcast {
    /// In the mempool; the tx hash.
    Accepted(String),
    /// CheckTx refused it.
    Refused {
        /// Codespace.
        codespace: String,
        /// Code.
        code: u32,
        /// The node's log.
        log: String,
    },
}

/// What a node says about a broadcast tx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inclusion {
    /// Not in a block (yet, or dropped from the mempool).
    NotFound,
    /// In a block, with its result code.
    Included {
        /// Block height.
        height: u64,
        /// Result code (0 = accepted).
        code: u32,
        /// Log.
        log: String,
    },
}

/// The prover's account: key, account number, next sequence.
pub struct Submitter {
    rpc: HttpClient,
    key: SigningKey,
    address: String,
    chain_id: String,
    fee: Coins,
    gas: u64,
    account: Option<(u64, u64)>,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter")
            .field("address", &self.address)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Submitter {
    /// Loads the key named in `config` and connects to its RPC.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let keyring = coprod::keyring::Keyring::new(&config.key.keyring_dir);
        let file = keyring.get(&config.key.name)?;
        let key = file.signing_key()?;
        let fee = Coins::parse(&config.tx.fee)
            .map_err(|e| anyhow::anyhow!("[tx] fee '{}': {e}", config.tx.fee))?;
        Ok(Submitter {
            rpc: coprod::client::connect(&config.rpc)?,
            key,
            address: file.address,
            chain_id: config.chain_id.clone(),
            fee,
            gas: config.tx.gas,
            account: None,
        })
    }

    /// The prover's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Forgets the cached sequence (after a wrong-sequence refusal).
    pub fn reset_sequence(&mut self) {
        self.account = None;
    }

    async fn account(&mut self) -> anyhow::Result<(u64, u64)> {
        if let Some(a) = self.account {
            return Ok(a);
        }
        let account = coprod::client::query_account(&self.rpc, &self.address)
            .await?
            .with_context(|| {
                format!(
                    "the prover's account {} does not exist on chain: send it some tokens for fees",
                    self.address
                )
            })?;
        let a = (account.account_number, account.sequence);
        self.account = Some(a);
        Ok(a)
    }

    /// Signs `msg` with the next sequence and broadcasts it
    /// (`broadcast_tx_sync`). An RPC failure (node down, mempool full) is an
    /// error; a CheckTx refusal is [`Broadcast::Refused`].
    pub async fn broadcast(&mut self, msg: &pb::MsgSubmitProof) -> anyhow::Result<Broadcast> {
        let (account_number, sequence) = self.account().await?;
        let any = cosmrs::Any {
            type_url: pb::MsgSubmitProof::type_url(),
            value: msg.encode_to_vec(),
        };
        let tx = coprod::client::sign_tx(
            vec![any],
            &coprod::client::SignParams {
                key: &self.key,
                fee: &self.fee,
                gas: self.gas,
                memo: "",
                chain_id: &self.chain_id,
                account_number,
                sequence,
            },
        )?;
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            coprod::client::broadcast(&self.rpc, tx, None),
        )
        .await
        .context("broadcast_tx_sync timed out after 30 s")??;
        if result.code == 0 {
            self.account = Some((account_number, sequence.saturating_add(1)));
            return Ok(Broadcast::Accepted(result.txhash));
        }
        if is_wrong_sequence(&result.codespace, result.code) {
            self.account = None;
        }
        Ok(Broadcast::Refused {
            codespace: result.codespace,
            code: result.code,
            log: result.log,
        })
    }

    /// Looks a tx up by hash (upper-case hex).
    pub async fn inclusion(&self, tx_hash: &str) -> anyhow::Result<Inclusion> {
        let hash: tendermint::Hash = tx_hash
            .parse()
            .map_err(|e| anyhow::anyhow!("bad tx hash {tx_hash}: {e}"))?;
        match self.rpc.tx(hash, false).await {
            Ok(found) => Ok(Inclusion::Included {
                height: found.height.value(),
                code: found.tx_result.code.value(),
                log: found.tx_result.log,
            }),
            Err(e) if e.to_string().contains("not found") => Ok(Inclusion::NotFound),
            Err(e) => Err(anyhow::anyhow!("tx {tx_hash} lookup failed: {e}")),
        }
    }
}
