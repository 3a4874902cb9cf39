//! `coprod ledger transfer|transfer-status`: signed off-chain ledger
//! transfers (`transfer` version 2), posted to a prover daemon. They never
//! become a chain transaction: the prover batches them and the chain
//! verifies one proof per batch.

use anyhow::{Context, bail};
use copro_coprocessor::record::pb;
use copro_coprocessor::wallet::{self, BY_KEY_INDEX, TransferRequest};
use copro_module::Address;
use prost::Message;
use serde_json::Value;
use tendermint_rpc::HttpClient;

use crate::client;
use crate::keyring::Keyring;

/// The settled ledger account of `address`, `None` if it has none.
async fn ledger_account(
    client: &HttpClient,
    address: &str,
) -> anyhow::Result<Option<pb::LedgerAccount>> {
    let path = format!("{}LedgerAccount", copro_coprocessor::query::PREFIX);
    let req = pb::QueryLedgerAccountRequest {
        address: address.to_string(),
        prove: false,
    };
    let Some(raw) = client::abci_query_optional(client, &path, req.encode_to_vec(), 0).await?
    else {
        return Ok(None);
    };
    let resp = pb::QueryLedgerAccountResponse::decode(raw.as_slice())
        .context("the node's ledger account answer does not decode")?;
    Ok(resp.account)
}

/// Whether `a` has a leaf in the settled tree (a bound address whose first
/// deposit is still queued has none yet).
fn settled(a: &pb::LedgerAccount) -> bool {
    a.balance != 0 || a.nonce != 0 || !a.spending_key.is_empty()
}

/// What `transfer` did: the prover's record of the accepted transfer.
#[derive(Debug)]
pub struct Posted {
    /// The prover's answer (`id`, `state`, ...).
    pub record: Value,
    /// What was signed.
    pub request: TransferRequest,
}

/// What to send: `amount` from key `from` to address `to`; `nonce` is the
/// sender's nonce to sign (by default the settled nonce, and if the prover
/// says transfers of this sender are waiting, the next one it names, signed
/// again once).
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    /// Key name or address of the sender.
    pub from: &'a str,
    /// Recipient address.
    pub to: &'a str,
    /// Amount in the ledger denom.
    pub amount: u64,
    /// Nonce to sign, if not the default.
    pub nonce: Option<u64>,
}

/// Signs `order` with the sender's spending key and posts it to the prover
/// at `prover` (an `http://` URL).
pub async fn transfer(
    keyring: &Keyring,
    client: &HttpClient,
    chain_id: &str,
    prover: &str,
    order: Order<'_>,
) -> anyhow::Result<Posted> {
    let Order {
        from,
        to,
        amount,
        nonce,
    } = order;
    let key = keyring.resolve(from)?;
    let spending = key.spending_key()?;
    let to = Address::parse(to).map_err(|e| anyhow::anyhow!(e.log))?;
    let sender = ledger_account(client, &key.address)
        .await?
        .filter(settled)
        .with_context(|| {
            format!(
                "{} has no settled ledger account: deposit first (coprod tx copro deposit)",
                key.address
            )
        })?;
    let public = spending.public_key().to_bytes();
    if sender.spending_key.as_slice() != public.as_slice() {
        bail!(
            "{}'s ledger account has {} as its spending key, not this key's {}: bind it with `coprod tx copro set-ledger-key {} {}` and wait for a proof to settle it",
            key.address,
            if sender.spending_key.is_empty() {
                "nothing".to_string()
            } else {
                hex::encode(&sender.spending_key)
            },
            hex::encode(public),
            key.name,
            hex::encode(public)
        );
    }
    let to_index = match ledger_account(client, to.as_str()).await? {
        Some(a) if settled(&a) => a.ledger_index,
        _ => BY_KEY_INDEX,
    };
    let http = reqwest::Client::new();
    let url = format!("{}/transfers", prover.trim_end_matches('/'));
    let mut nonce_to_sign = nonce.unwrap_or(sender.nonce);
    // The prover reads the chain through its light client, a block or two
    // behind the node: a key settled in the last blocks may not be in its
    // replica yet (the chain has it, checked above), so that refusal is
    // retried for a while; a refused nonce is signed again once, with the
    // next nonce the prover names.
    let mut key_waits = 0;
    let mut nonce_retried = false;
    loop {
        let request = wallet::sign_transfer(
            &spending,
            chain_id,
            sender.ledger_index,
            to_index,
            &to,
            amount,
            nonce_to_sign,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let (status, body) = answer(http.post(&url).json(&request).send().await, prover).await?;
        if status.is_success() {
            return Ok(Posted {
                record: body,
                request,
            });
        }
        let expected = body
            .get("expected_nonce")
            .and_then(Value::as_str)
            .and_then(|n| n.parse::<u64>().ok());
        let reason = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        match expected {
            Some(n) if status.as_u16() == 409 && !nonce_retried && nonce.is_none() => {
                nonce_retried = true;
                nonce_to_sign = n;
            }
            _ if status.as_u16() == 400 && reason.contains("no spending key") && key_waits < 30 => {
                key_waits += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            _ => bail!("the prover refused the transfer ({status}): {reason}"),
        }
    }
}

/// The status and JSON body of a prover API answer.
async fn answer(
    sent: reqwest::Result<reqwest::Response>,
    prover: &str,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let resp = sent.with_context(|| format!("cannot reach the prover at {prover} (--prover)"))?;
    let status = resp.status();
    let body = resp
        .json()
        .await
        .with_context(|| format!("the prover at {prover} did not answer JSON"))?;
    Ok((status, body))
}

/// The prover's record of transfer `id`.
pub async fn status(prover: &str, id: u64) -> anyhow::Result<Value> {
    let url = format!("{}/transfers/{id}", prover.trim_end_matches('/'));
    let (status, body) = answer(reqwest::get(&url).await, prover).await?;
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
        );
    }
    Ok(body)
}
