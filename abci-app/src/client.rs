//! Client side of the CLI: CometBFT RPC (tendermint-rpc `HttpClient`,
//! CompatMode v0.38), queries, signing and broadcasting.

use std::time::Duration;

use anyhow::{Context as _, bail};
use copro_auth::{Address, BASE_ACCOUNT_TYPE_URL};
use copro_bank::Coins;
use cosmrs::Any;
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use cosmrs::proto::cosmos::bank::v1beta1 as bank;
use cosmrs::tx::{Body, Fee, SignDoc, SignerInfo};
use prost::Message;
use tendermint_rpc::client::CompatMode;
use tendermint_rpc::endpoint::abci_query::AbciQuery;
use tendermint_rpc::{Client, HttpClient};

/// An RPC client for `node` (e.g. `http://127.0.0.1:26657`).
pub fn connect(node: &str) -> anyhow::Result<HttpClient> {
    let url = node
        .parse()
        .with_context(|| format!("invalid node URL '{node}'"))?;
    HttpClient::builder(url)
        .compat_mode(CompatMode::V0_38)
        .build()
        .with_context(|| format!("cannot create an RPC client for {node}"))
}

/// Runs an ABCI query; a non-zero code is an error carrying the app's log.
pub async fn abci_query(
    client: &HttpClient,
    path: &str,
    data: Vec<u8>,
    height: u64,
    prove: bool,
) -> anyhow::Result<AbciQuery> {
    let height = if height == 0 {
        None
    } else {
        Some(height.try_into()?)
    };
    let resp = client
        .abci_query(Some(path.to_string()), data, height, prove)
        .await
        .context("abci_query failed: is the node running (see --node)?")?;
    if resp.code.is_err() {
        bail!(
            "query {path} failed with code {} ({}): {}",
            resp.code.value(),
            resp.codespace,
            resp.log
        );
    }
    Ok(resp)
}

/// Runs an ABCI query at `height` (0: the latest): `Some(value)` on
/// success, `None` if the node answers code 22 (not found); any other code
/// is an error carrying the app's log.
pub async fn abci_query_optional(
    client: &HttpClient,
    path: &str,
    data: Vec<u8>,
    height: u64,
) -> anyhow::Result<Option<Vec<u8>>> {
    let height = match height {
        0 => None,
        h => Some(tendermint::block::Height::try_from(h).context("height out of range")?),
    };
    let resp = client
        .abci_query(Some(path.to_string()), data, height, false)
        .await
        .context("abci_query failed: is the node running (see --node)?")?;
    if resp.code.value() == copro_auth::Code::KeyNotFound.value() {
        return Ok(None);
    }
    if resp.code.is_err() {
        bail!(
            "query {path} failed with code {} ({}): {}",
            resp.code.value(),
            resp.codespace,
            resp.log
        );
    }
    Ok(Some(resp.value))
}

/// The account at `address`, `None` if the chain has none.
pub async fn query_account(
    client: &HttpClient,
    address: &str,
) -> anyhow::Result<Option<BaseAccount>> {
    let data = QueryAccountRequest {
        address: address.to_string(),
    }
    .encode_to_vec();
    let height = None;
    let resp = client
        .abci_query(
            Some(copro_auth::query::ACCOUNT_PATH.to_string()),
            data,
            height,
            false,
        )
        .await
        .context("abci_query failed: is the node running (see --node)?")?;
    if resp.code.value() == copro_auth::Code::KeyNotFound.value() {
        return Ok(None);
    }
    if resp.code.is_err() {
        bail!(
            "account query failed (code {}): {}",
            resp.code.value(),
            resp.log
        );
    }
    let decoded = QueryAccountResponse::decode(resp.value.as_slice())?;
    let any = decoded.account.context("empty account response")?;
    if any.type_url != BASE_ACCOUNT_TYPE_URL {
        bail!("unexpected account type {}", any.type_url);
    }
    Ok(Some(BaseAccount::decode(any.value.as_slice())?))
}

/// Balance of `denom` at `address`.
pub async fn query_balance(
    client: &HttpClient,
    address: &str,
    denom: &str,
) -> anyhow::Result<(String, String)> {
    let data = bank::QueryBalanceRequest {
        address: address.to_string(),
        denom: denom.to_string(),
    }
    .encode_to_vec();
    let resp = abci_query(client, copro_bank::query::BALANCE_PATH, data, 0, false).await?;
    let coin = bank::QueryBalanceResponse::decode(resp.value.as_slice())?
        .balance
        .unwrap_or_default();
    Ok((coin.denom, coin.amount))
}

/// All balances at `address`.
pub async fn query_balances(
    client: &HttpClient,
    address: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let data = bank::QueryAllBalancesRequest {
        address: address.to_string(),
        ..Default::default()
    }
    .encode_to_vec();
    let resp = abci_query(client, copro_bank::query::ALL_BALANCES_PATH, data, 0, false).await?;
    Ok(
        bank::QueryAllBalancesResponse::decode(resp.value.as_slice())?
            .balances
            .into_iter()
            .map(|c| (c.denom, c.amount))
            .collect(),
    )
}

fn to_cosmrs_coins(coins: &Coins) -> anyhow::Result<Vec<cosmrs::Coin>> {
    coins
        .iter()
        .map(|c| {
            Ok(cosmrs::Coin {
                denom: c.denom.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
                amount: c.amount,
            })
        })
        .collect()
}

/// Everything needed to sign a transaction besides its messages.
pub struct SignParams<'a> {
    /// Signer's key.
    pub key: &'a SigningKey,
    /// Fee.
    pub fee: &'a Coins,
    /// Gas limit.
    pub gas: u64,
    /// Memo.
    pub memo: &'a str,
    /// Chain-id.
    pub chain_id: &'a str,
    /// Signer's account number.
    pub account_number: u64,
    /// Signer's sequence.
    pub sequence: u64,
}

impl std::fmt::Debug for SignParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignParams")
            .field("chain_id", &self.chain_id)
            .field("account_number", &self.account_number)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

/// Builds and signs (SIGN_MODE_DIRECT) a tx carrying `msgs`; returns the raw
/// `TxRaw` bytes.
pub fn sign_tx(msgs: Vec<Any>, p: &SignParams<'_>) -> anyhow::Result<Vec<u8>> {
    let body = Body::new(msgs, p.memo, 0u32);
    let fee = Fee {
        amount: to_cosmrs_coins(p.fee)?,
        gas_limit: p.gas,
        payer: None,
        granter: None,
    };
    let auth_info = SignerInfo::single_direct(Some(p.key.public_key()), p.sequence).auth_info(fee);
    let chain_id = p
        .chain_id
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid chain-id '{}': {e}", p.chain_id))?;
    let raw = SignDoc::new(&body, &auth_info, &chain_id, p.account_number)
        .map_err(|e| anyhow::anyhow!("cannot build the sign doc: {e}"))?
        .sign(p.key)
        .map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
    raw.to_bytes().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Everything needed to sign a `MsgSend`.
pub struct SendParams<'a> {
    /// Sender's key.
    pub key: &'a SigningKey,
    /// Sender.
    pub from: &'a Address,
    /// Recipient.
    pub to: &'a Address,
    /// Amount.
    pub amount: &'a Coins,
    /// Fee.
    pub fee: &'a Coins,
    /// Gas limit.
    pub gas: u64,
    /// Memo.
    pub memo: &'a str,
    /// Chain-id.
    pub chain_id: &'a str,
    /// Sender's account number.
    pub account_number: u64,
    /// Sender's sequence.
    pub sequence: u64,
}

impl std::fmt::Debug for SendParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendParams")
            .field("from", self.from)
            .field("to", self.to)
            .field("chain_id", &self.chain_id)
            .field("account_number", &self.account_number)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

/// Builds and signs (SIGN_MODE_DIRECT) a tx with one `MsgSend`; returns the
/// raw `TxRaw` bytes.
pub fn sign_send(p: &SendParams<'_>) -> anyhow::Result<Vec<u8>> {
    sign_tx(
        vec![copro_bank::msg_send::encode(p.from, p.to, p.amount)],
        &SignParams {
            key: p.key,
            fee: p.fee,
            gas: p.gas,
            memo: p.memo,
            chain_id: p.chain_id,
            account_number: p.account_number,
            sequence: p.sequence,
        },
    )
}

/// Result of a broadcast (and, with waiting, of inclusion).
#[derive(Debug, serde::Serialize)]
pub struct BroadcastResult {
    /// Tx hash (upper-case hex).
    pub txhash: String,
    /// ABCI code (0 = success); CheckTx's, or the block's with waiting.
    pub code: u32,
    /// Log.
    pub log: String,
    /// Codespace of a failure.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codespace: String,
    /// Inclusion height (with waiting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
}

/// `broadcast_tx_sync`; with `wait`, polls `tx` by hash until the tx is in a
/// block (up to `timeout`).
pub async fn broadcast(
    client: &HttpClient,
    tx: Vec<u8>,
    wait: Option<Duration>,
) -> anyhow::Result<BroadcastResult> {
    let resp = client
        .broadcast_tx_sync(tx)
        .await
        .context("broadcast_tx_sync failed: is the node running (see --node)?")?;
    let mut result = BroadcastResult {
        txhash: resp.hash.to_string(),
        code: resp.code.value(),
        log: resp.log,
        codespace: resp.codespace,
        height: None,
    };
    let Some(timeout) = wait else {
        return Ok(result);
    };
    if result.code != 0 {
        return Ok(result);
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(found) = client.tx(resp.hash, false).await {
            result.height = Some(found.height.value());
            result.code = found.tx_result.code.value();
            result.log = found.tx_result.log;
            result.codespace = found.tx_result.codespace;
            return Ok(result);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "tx {} was accepted into the mempool but not seen in a block within {}s",
                result.txhash,
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
