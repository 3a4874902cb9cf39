//! `localnet bench`: drives a running localnet with signed bank sends and
//! measures what the chain committed.
//!
//! The first test account funds `senders` fresh accounts (keys made for the
//! run), then every sender sends to the next one. All transactions are signed
//! before the measured window (signing is the client's cost, not the chain's).
//! Each sender broadcasts its transactions in sequence order to one node
//! (senders are spread over the nodes), so the mempools see each sender's
//! sequence in order, and the senders run concurrently. Figures come from the
//! committed block headers (BFT time), not from the client's clock.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use tendermint_rpc::{Client, HttpClient};

use crate::net::Localnet;
use crate::wallet::{FEE, SendTx, Wallet, account_numbers, broadcast_ok, wait_included};

/// What a bench run measured.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// Signed transactions sent.
    pub sent: usize,
    /// Transactions CheckTx refused (should be 0).
    pub refused: usize,
    /// Transactions committed with code 0 in the measured blocks.
    pub committed: u64,
    /// Senders (funded test accounts).
    pub senders: usize,
    /// Validators.
    pub validators: usize,
    /// First and last block of the measured window.
    pub heights: (u64, u64),
    /// Blocks in the window.
    pub blocks: u64,
    /// Seconds of BFT time from the block before the first transaction's
    /// block to the last transaction's block.
    pub seconds: f64,
    /// Committed transactions per second.
    pub tx_per_second: f64,
    /// Blocks per second.
    pub blocks_per_second: f64,
    /// Mean time between consecutive blocks, in milliseconds.
    pub mean_block_interval_ms: f64,
    /// Mean transactions per block that carried any.
    pub mean_txs_per_nonempty_block: f64,
}

/// Funds `senders` fresh accounts, has each send `per_sender` transfers, and
/// reports what the chain committed.
pub async fn run(net: &Localnet, senders: usize, per_sender: usize) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(senders >= 2, "the bench needs at least two senders");
    let state = net.state();
    let funder = state
        .accounts
        .first()
        .context("this localnet has no funded test account to fund the senders")?;
    let funder = Wallet::from_keyring(&state.keyring_dir, &funder.name)?;
    let clients: Vec<HttpClient> = (0..net.len())
        .map(|i| net.client(i))
        .collect::<anyhow::Result<_>>()?;
    let need = (FEE + 1)
        .checked_mul(u128::try_from(per_sender)?)
        .context("per-sender amount overflows")?;
    let wallets = fund_senders(&clients[0], &state.chain_id, &funder, senders, need).await?;

    // Sign everything up front.
    let mut batches = Vec::with_capacity(wallets.len());
    for (i, wallet) in wallets.iter().enumerate() {
        let to = &wallets[(i + 1) % wallets.len()].address;
        let (account_number, sequence) = account_numbers(&clients[0], &wallet.address).await?;
        let mut txs = Vec::with_capacity(per_sender);
        for n in 0..per_sender {
            txs.push(
                SendTx::new(
                    wallet,
                    to,
                    1,
                    &state.chain_id,
                    account_number,
                    sequence + u64::try_from(n)?,
                )
                .sign()?,
            );
        }
        batches.push((clients[i % clients.len()].clone(), txs));
    }

    let start_height = clients[0]
        .status()
        .await?
        .sync_info
        .latest_block_height
        .value();
    let mut tasks = Vec::new();
    for (client, txs) in batches {
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            let mut refused = 0usize;
            for tx in txs {
                match client.broadcast_tx_sync(tx).await {
                    Ok(r) if r.code.is_ok() => last = Some(r.hash),
                    Ok(_) | Err(_) => refused += 1,
                }
            }
            (client, last, refused)
        }));
    }
    let mut refused = 0;
    let mut end_height = start_height;
    for task in tasks {
        let (client, last, r) = task.await?;
        refused += r;
        if let Some(hash) = last {
            let included = wait_included(&client, hash).await?;
            end_height = end_height.max(included.height);
        }
    }
    if end_height <= start_height {
        bail!("no transaction was committed ({refused} refused by CheckTx); see the node logs");
    }

    let c = &clients[0];
    let mut times = Vec::new();
    let mut committed = 0u64;
    let mut nonempty = 0u64;
    let mut carried = 0u64;
    for h in start_height..=end_height {
        let height = tendermint::block::Height::try_from(h)?;
        let block = c.block(height).await?.block;
        times.push(block.header.time);
        if h > start_height {
            let n = u64::try_from(block.data.len())?;
            if n > 0 {
                nonempty += 1;
                carried += n;
            }
            let results = c.block_results(height).await?;
            committed += u64::try_from(
                results
                    .txs_results
                    .unwrap_or_default()
                    .iter()
                    .filter(|r| r.code.is_ok())
                    .count(),
            )?;
        }
    }
    let first = times.first().context("no blocks")?;
    let last = times.last().context("no blocks")?;
    let span = last
        .duration_since(*first)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        .max(1e-3);
    let blocks = end_height - start_height;
    Ok(BenchReport {
        sent: per_sender * wallets.len(),
        refused,
        committed,
        senders: wallets.len(),
        validators: net.len(),
        heights: (start_height + 1, end_height),
        blocks,
        seconds: span,
        tx_per_second: committed as f64 / span,
        blocks_per_second: blocks as f64 / span,
        mean_block_interval_ms: span * 1000.0 / blocks as f64,
        mean_txs_per_nonempty_block: if nonempty == 0 {
            0.0
        } else {
            carried as f64 / nonempty as f64
        },
    })
}

/// Makes `count` fresh keys and gives each enough for `per_sender` sends of 1
/// plus fees, in one block or a few.
/// `count` fresh wallets, each sent `need` by `funder`, in one block.
pub(crate) async fn fund_senders(
    client: &HttpClient,
    chain_id: &str,
    funder: &Wallet,
    count: usize,
    need: u128,
) -> anyhow::Result<Vec<Wallet>> {
    let wallets: Vec<Wallet> = (0..count)
        .map(|_| Wallet::random())
        .collect::<anyhow::Result<_>>()?;
    let (account_number, sequence) = account_numbers(client, &funder.address).await?;
    let mut last = None;
    for (n, wallet) in wallets.iter().enumerate() {
        let tx = SendTx {
            memo: "bench funding".into(),
            ..SendTx::new(
                funder,
                &wallet.address,
                need,
                chain_id,
                account_number,
                sequence + u64::try_from(n)?,
            )
        }
        .sign()?;
        last = Some(
            broadcast_ok(client, tx)
                .await
                .context("funding a bench sender")?,
        );
    }
    if let Some(hash) = last {
        let included = wait_included(client, hash).await?;
        anyhow::ensure!(
            included.code == 0,
            "funding failed in its block: {}",
            included.log
        );
    }
    Ok(wallets)
}
