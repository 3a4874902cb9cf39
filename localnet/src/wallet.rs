//! Signing and sending with cosmrs alone, exactly as any Cosmos client would
//! (no coprod code is involved in building or signing a transaction), plus the
//! few queries a sender needs. Used by `localnet demo`/`bench` and the tests.
// Client-side tool code: it waits on the clock for blocks.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::tx::{Body, Fee, Msg, SignDoc, SignerInfo};
use cosmrs::{AccountId, Coin};
use tendermint_rpc::{Client, HttpClient};

/// Bech32 prefix of account addresses.
pub const ADDRESS_PREFIX: &str = "copro";
/// Denomination of the chain's token.
pub const DENOM: &str = "ucopro";
/// A fee that satisfies the default minimum gas price for [`GAS`].
pub const FEE: u128 = 5_000;
/// Gas limit for a bank send.
pub const GAS: u64 = 200_000;

impl Wallet {
    /// A fresh random key (for bench senders).
    pub fn random() -> anyhow::Result<Self> {
        let key = SigningKey::random();
        let address = key
            .public_key()
            .account_id(ADDRESS_PREFIX)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self { key, address })
    }

    /// Loads key `name` from a coprod keyring directory.
    pub fn from_keyring(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let file = coprod::keyring::Keyring::new(dir).get(name)?;
        Ok(Self {
            key: file.signing_key()?,
            address: file.address.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        })
    }
}

/// A signing key and its address.
pub struct Wallet {
    /// secp256k1 key.
    pub key: SigningKey,
    /// Its bech32 address.
    pub address: AccountId,
}

/// Account number and sequence of `address`, asked over `abci_query` on the
/// standard gRPC path.
pub async fn account_numbers(
    client: &HttpClient,
    address: &AccountId,
) -> anyhow::Result<(u64, u64)> {
    let account = coprod::client::query_account(client, address.as_ref())
        .await?
        .with_context(|| format!("account {address} does not exist"))?;
    Ok((account.account_number, account.sequence))
}

/// Balance of `address` in [`DENOM`].
pub async fn balance(client: &HttpClient, address: &AccountId) -> anyhow::Result<u128> {
    let (_denom, amount) = coprod::client::query_balance(client, address.as_ref(), DENOM).await?;
    Ok(amount.parse()?)
}

/// What a signed test transaction should look like; each field can be
/// spoiled by a negative test.
pub struct SendTx<'a> {
    /// Sender.
    pub from: &'a Wallet,
    /// Recipient.
    pub to: &'a AccountId,
    /// Amount in [`DENOM`].
    pub amount: u128,
    /// Fee in [`DENOM`].
    pub fee: u128,
    /// Gas limit.
    pub gas: u64,
    /// Chain id put into the sign doc.
    pub chain_id: &'a str,
    /// Account number put into the sign doc.
    pub account_number: u64,
    /// Sequence.
    pub sequence: u64,
    /// Memo.
    pub memo: String,
}

impl<'a> SendTx<'a> {
    /// A send of `amount` with the usual fee ([`FEE`]), gas ([`GAS`]) and no
    /// memo; change any field with struct-update syntax.
    pub fn new(
        from: &'a Wallet,
        to: &'a AccountId,
        amount: u128,
        chain_id: &'a str,
        account_number: u64,
        sequence: u64,
    ) -> Self {
        Self {
            from,
            to,
            amount,
            fee: FEE,
            gas: GAS,
            chain_id,
            account_number,
            sequence,
            memo: String::new(),
        }
    }

    /// Builds and signs the tx with cosmrs alone (SIGN_MODE_DIRECT), as any
    /// Cosmos client would, and returns the `TxRaw` bytes.
    pub fn sign(&self) -> anyhow::Result<Vec<u8>> {
        let msg = cosmrs::bank::MsgSend {
            from_address: self.from.address.clone(),
            to_address: self.to.clone(),
            amount: vec![coin(self.amount)?],
        }
        .to_any()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.sign_messages(vec![msg])
    }

    /// Signs a tx carrying `messages` instead of the send, with this tx's
    /// signer, fee, gas, chain id, account number, sequence and memo.
    pub fn sign_messages(&self, messages: Vec<cosmrs::Any>) -> anyhow::Result<Vec<u8>> {
        let body = Body::new(messages, self.memo.clone(), 0u32);
        let auth_info = SignerInfo::single_direct(Some(self.from.key.public_key()), self.sequence)
            .auth_info(Fee::from_amount_and_gas(coin(self.fee)?, self.gas));
        let chain_id = self.chain_id.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        SignDoc::new(&body, &auth_info, &chain_id, self.account_number)
            .and_then(|doc| doc.sign(&self.from.key))
            .and_then(|raw| raw.to_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

fn coin(amount: u128) -> anyhow::Result<Coin> {
    Ok(Coin {
        denom: DENOM.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        amount,
    })
}

/// Outcome of broadcasting one tx and waiting for its block.
#[derive(Debug)]
pub struct Included {
    /// Height of the block that holds it.
    pub height: u64,
    /// Its result code in the block.
    pub code: u32,
    /// Its log.
    pub log: String,
}

/// `broadcast_tx_sync`; fails when CheckTx rejects the tx.
pub async fn broadcast_ok(client: &HttpClient, tx: Vec<u8>) -> anyhow::Result<tendermint::Hash> {
    let resp = client.broadcast_tx_sync(tx).await?;
    if resp.code.is_err() {
        bail!(
            "CheckTx rejected the tx: code {} {}",
            resp.code.value(),
            resp.log
        );
    }
    Ok(resp.hash)
}

/// Waits until the tx `hash` is in a block.
pub async fn wait_included(
    client: &HttpClient,
    hash: tendermint::Hash,
) -> anyhow::Result<Included> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(found) = client.tx(hash, false).await {
            return Ok(Included {
                height: found.height.value(),
                code: found.tx_result.code.value(),
                log: found.tx_result.log,
            });
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("tx {hash} not in a block after 60s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
