//! `localnet demo`: what a user does on a copro chain, through the user CLI
//! (`coprod tx/query`), each command printed before it runs: a bank send,
//! then ledger deposits, transfers and withdrawals from several accounts.
//! Between the rounds it waits until the prover daemon has settled every
//! queued request, and reads the ledger back from another validator with
//! ICS-23 proofs. Then the authority upgrades `transfer` to version 2 on the
//! running chain, the prover moves to it, two users bind spending keys and
//! send signed off-chain transfers to the prover (`coprod ledger transfer`),
//! which settles them with one proof per batch.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::net::Localnet;
use crate::process;

/// Longest wait for the prover to settle one round.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

struct Cli<'a> {
    coprod: std::path::PathBuf,
    net: &'a Localnet,
}

impl Cli<'_> {
    /// Runs `coprod ARGS`, printing the command and its output.
    fn show(&self, args: &[String]) -> anyhow::Result<String> {
        println!("$ coprod {}", args.join(" "));
        let out = Command::new(&self.coprod).args(args).output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{text}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("`coprod {}` failed ({})", args.join(" "), out.status);
        }
        println!();
        Ok(text)
    }

    /// Runs `coprod ARGS -o json` quietly and parses what it printed.
    fn json(&self, args: &[String]) -> anyhow::Result<serde_json::Value> {
        let out = Command::new(&self.coprod)
            .args(args)
            .args(["-o", "json"])
            .output()?;
        if !out.status.success() {
            bail!(
                "`coprod {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("`coprod {}` printed no JSON", args.join(" ")))
    }

    fn tx(&self, args: &[&str]) -> anyhow::Result<()> {
        let state = self.net.state();
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        full.extend(
            [
                "--keyring-dir",
                &state.keyring_dir.display().to_string(),
                "--node",
                &self.net.rpc_url(0),
                "--chain-id",
                &state.chain_id,
                "--fees",
                "10000ucopro",
                "--gas",
                "400000",
                "--wait",
            ]
            .map(String::from),
        );
        self.show(&full).map(drop)
    }

    /// Waits until the queue is empty, printing progress.
    fn wait_settled(&self) -> anyhow::Result<()> {
        let args = ["query", "copro", "queue", "--node"]
            .map(String::from)
            .into_iter()
            .chain([self.net.rpc_url(0)])
            .collect::<Vec<_>>();
        let started = Instant::now();
        let mut last_print = None::<Instant>;
        loop {
            let queue = self.json(&args)?;
            let waiting = queue["entries"].as_array().map_or(0, Vec::len);
            if waiting == 0 {
                println!(
                    "# every request settled ({:.0} s after the last was queued)\n",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if last_print.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                println!("# waiting for the prover: {waiting} request(s) queued");
                last_print = Some(Instant::now());
            }
            if started.elapsed() > SETTLE_TIMEOUT {
                let log = self
                    .net
                    .prover()
                    .map_or("the prover's log".into(), |p| p.log().display().to_string());
                bail!(
                    "the prover settled nothing for {} s ({waiting} requests still queued): see `localnet status` and {log}",
                    SETTLE_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Runs the demo against `net`.
pub async fn run(net: &mut Localnet, offchain_batch: usize) -> anyhow::Result<()> {
    run_v1(net)?;
    if net.prover().is_some() {
        run_offchain(net, offchain_batch).await?;
    }
    Ok(())
}

/// Version 2: the upgrade, spending keys, off-chain transfers.
async fn run_offchain(net: &mut Localnet, offchain_batch: usize) -> anyhow::Result<()> {
    let keys = crate::coprocessor::ensure_keys(offchain_batch)?;
    let cli = Cli {
        coprod: process::find_binary("coprod")?,
        net,
    };
    let address = |name: &str| -> anyhow::Result<String> {
        net.state()
            .accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.address.clone())
            .with_context(|| format!("the demo needs the funded test account {name}"))
    };
    println!(
        "## Off-chain transfers: the authority upgrades `transfer` to version 2 (version 1 is frozen)\n"
    );
    cli.tx(&[
        "tx",
        "copro",
        "update-program",
        crate::coprocessor::AUTHORITY_KEY,
        "--keys",
        &keys.display().to_string(),
    ])?;
    let keyring = net.state().keyring_dir.display().to_string();
    // Erin has no account anywhere yet: the first transfer to her creates
    // her ledger account at the chain's next free index.
    let erin = cosmrs::AccountId::new("copro", &[0xe1; 20])
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string();
    let (alice, bob) = (address("alice")?, address("bob")?);
    let mut bound = Vec::new();
    for name in ["alice", "bob"] {
        let key = cli.json(&[
            "keys".into(),
            "spending-key".into(),
            name.into(),
            "--keyring-dir".into(),
            keyring.clone(),
        ])?;
        let hex = key["spending_key"]
            .as_str()
            .context("keys spending-key printed no key")?
            .to_string();
        bound.push((name, hex));
    }
    drop(cli);
    println!("## The prover restarts on version 2 (what its operator does after the upgrade)\n");
    net.set_prover_program(2, &keys).await?;
    let cli = Cli {
        coprod: process::find_binary("coprod")?,
        net,
    };
    println!("## Alice and bob bind their ledger spending keys (queued, settled by a proof)\n");
    for (name, hex) in &bound {
        cli.tx(&["tx", "copro", "set-ledger-key", name, hex])?;
    }
    cli.wait_settled()?;
    let prover = format!(
        "http://127.0.0.1:{}",
        net.prover().context("no prover")?.api_port
    );
    println!(
        "## Signed off-chain transfers, posted to the prover: no chain tx, no fee, one proof per batch\n"
    );
    let mut ids = Vec::new();
    for (from, to, amount) in [
        ("alice", &bob, "100"),
        ("bob", &erin, "40"),
        ("alice", &erin, "25"),
    ] {
        let args: Vec<String> = [
            "ledger",
            "transfer",
            from,
            to,
            amount,
            "--prover",
            &prover,
            "--keyring-dir",
            &keyring,
            "--node",
            &net.rpc_url(0),
            "--chain-id",
            &net.state().chain_id,
        ]
        .map(String::from)
        .to_vec();
        println!("$ coprod {}", args.join(" "));
        let posted = cli.json(&args)?;
        println!("{posted}\n");
        ids.push(posted["id"].as_u64().context("the prover gave no id")?);
    }
    let started = Instant::now();
    for id in ids {
        let args: Vec<String> = [
            "ledger",
            "transfer-status",
            &id.to_string(),
            "--prover",
            &prover,
        ]
        .map(String::from)
        .to_vec();
        loop {
            let record = cli.json(&args)?;
            match record["state"].as_str() {
                Some("committed") => {
                    println!(
                        "# transfer {id}: committed at height {} in tx {}",
                        record["height"],
                        record["tx_hash"].as_str().unwrap_or_default()
                    );
                    break;
                }
                Some("dropped") => bail!("transfer {id} was dropped: {}", record["reason"]),
                _ if started.elapsed() > SETTLE_TIMEOUT => {
                    bail!(
                        "transfer {id} did not settle in {} s",
                        SETTLE_TIMEOUT.as_secs()
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
    println!();
    let last = net.rpc_url(net.len() - 1);
    for a in [&alice, &bob, &erin] {
        cli.show(&["query", "copro", "account", a, "--prove", "--node", &last].map(String::from))?;
    }
    Ok(())
}

fn run_v1(net: &Localnet) -> anyhow::Result<()> {
    let state = net.state();
    let names = ["alice", "bob", "carol", "dave"];
    let address = |name: &str| -> anyhow::Result<String> {
        state
            .accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.address.clone())
            .with_context(|| format!("the demo needs the funded test account {name}"))
    };
    let cli = Cli {
        coprod: process::find_binary("coprod")?,
        net,
    };
    let last = net.rpc_url(net.len() - 1);

    println!("## A bank send, and the balance read from another validator\n");
    cli.tx(&[
        "tx",
        "bank",
        "send",
        "alice",
        &address("bob")?,
        "1000ucopro",
    ])?;
    cli.show(
        &[
            "query",
            "bank",
            "balance",
            &address("bob")?,
            "--node",
            &last,
        ]
        .map(String::from),
    )?;

    if net.prover().is_none() {
        println!("(this localnet runs no prover: the ledger part of the demo is skipped)");
        return Ok(());
    }
    println!("## Ledger deposits from four accounts: bank -> escrow, queued for the prover\n");
    for (name, amount) in names.iter().zip(["5000", "3000", "2000", "1000"]) {
        cli.tx(&["tx", "copro", "deposit", name, amount])?;
    }
    cli.show(&["query", "copro", "queue", "--node", &net.rpc_url(0)].map(String::from))?;
    cli.wait_settled()?;

    println!("## Transfers inside the ledger and withdrawals back to the bank\n");
    for (from, to, amount) in [
        ("alice", "bob", "700"),
        ("bob", "carol", "300"),
        ("carol", "dave", "100"),
        ("dave", "alice", "50"),
    ] {
        cli.tx(&["tx", "copro", "transfer", from, &address(to)?, amount])?;
    }
    for (name, amount) in [("alice", "200"), ("bob", "100")] {
        cli.tx(&["tx", "copro", "withdraw", name, amount])?;
    }
    cli.wait_settled()?;

    println!("## What settled: one verified result per proof\n");
    cli.show(&["query", "copro", "results", "--node", &last].map(String::from))?;
    println!(
        "## The ledger, read from another validator, each balance proven against its header\n"
    );
    for name in names {
        let a = address(name)?;
        cli.show(&["query", "copro", "account", &a, "--prove", "--node", &last].map(String::from))?;
    }
    cli.show(&["query", "copro", "root", "--prove", "--node", &last].map(String::from))?;
    if let Some(p) = net.prover() {
        println!("## The prover\n");
        println!("$ copro-prover status --config {}", p.config().display());
        let out = Command::new(process::find_binary("copro-prover")?)
            .args(["status", "--config"])
            .arg(p.config())
            .output()?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        println!();
    }
    Ok(())
}
