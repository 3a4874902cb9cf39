//! `localnet`: start, inspect and stop a copro localnet.
// A developer tool, not consensus code: it reads the clock to report progress.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use copro_localnet::{AppKind, Localnet, NodeStatus, RunState, StoppedProcess, UpOptions};

#[derive(Parser)]
#[command(
    name = "localnet",
    version,
    about = "A copro localnet of CometBFT validators on 127.0.0.1"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a fresh localnet (wiping HOME) and start every node.
    Up {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Chain id.
        #[arg(long, default_value = "copro-localnet")]
        chain_id: String,
        /// First port of node 0; node i uses BASE+10i .. BASE+10i+4.
        #[arg(long, default_value_t = copro_localnet::layout::DEFAULT_BASE_PORT)]
        base_port: u16,
        /// CometBFT timeout_commit (block time), e.g. 1s or 500ms.
        #[arg(long, default_value = "1s")]
        block_time: String,
        /// ABCI application (kvstore only to debug the orchestration).
        #[arg(long, value_enum, default_value_t = AppKind::Coprod, hide = true)]
        app: AppKind,
        /// Do not start the prover daemon (requests then stay queued).
        #[arg(long)]
        no_prover: bool,
    },
    /// Print each node's state (running, unreachable, partial, stopped),
    /// RPC URL, latest height, app hash and pids.
    Status {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Print JSON (same as `-o json`).
        #[arg(long)]
        json: bool,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Stop one node: its CometBFT, then its coprod (SIGTERM, then SIGKILL
    /// after 10 s), including processes started by hand on its home; or
    /// the prover (`localnet stop prover`).
    Stop {
        /// The node: `node2`, `2`, or `prover`.
        node: String,
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
    },
    /// Stop one node (whatever of it still runs), start its coprod and
    /// CometBFT again, and wait until it has caught up with the others; or
    /// restart the prover (`localnet restart prover`).
    Restart {
        /// The node: `node2`, `2`, or `prover`.
        node: String,
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Seconds to wait for the node to catch up.
        #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 120)]
        timeout_secs: u64,
    },
    /// The demo workload through the user CLI (`coprod tx/query`): a bank
    /// send, then ledger deposits, transfers and withdrawals from several
    /// accounts, waiting until the prover has settled them.
    Demo {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Off-chain slots per proof of the `transfer` version 2 the demo
        /// upgrades to (its keys are made once and cached).
        #[arg(long, default_value_t = copro_localnet::coprocessor::DEV_OFFCHAIN)]
        offchain_batch: usize,
    },
    /// Validator CPU and block bytes per transfer, native `MsgSend` against
    /// signed off-chain transfers settled by proofs, in one run (after
    /// `localnet demo`, which moves the localnet to `transfer` version 2).
    BenchOffchain {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Transfers of each kind.
        #[arg(long, default_value_t = 64)]
        count: usize,
        /// `MsgSend`s instead of `--count` (more sends resolve CometBFT's
        /// per-transaction CPU better; the off-chain side stays `--count`,
        /// one proof's worth).
        #[arg(long)]
        sends: Option<usize>,
    },
    /// Drive the localnet with signed bank sends; print committed tx/s,
    /// blocks/s and the mean block interval.
    Bench {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Concurrent senders (fresh accounts funded by the first test account).
        #[arg(long, default_value_t = 16)]
        senders: usize,
        /// Transactions each sender sends.
        #[arg(long, default_value_t = 100)]
        per_sender: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The whole system under a ledger workload: fresh users send trains of
    /// deposits, the prover settles them; prints settled requests/s,
    /// request-to-settled latency (p50, p95) and the prover's time per batch.
    BenchLedger {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
        /// Users (fresh accounts funded by the first test account).
        #[arg(long, default_value_t = 4)]
        users: usize,
        /// Deposits each user sends.
        #[arg(long, default_value_t = 8)]
        per_user: usize,
        /// Restart the prover with this many proving workers first.
        #[arg(long)]
        workers: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop every process of the localnet's nodes, also those started by
    /// hand on a node's home.
    Down {
        /// Localnet home directory.
        #[arg(long, default_value = ".localnet")]
        home: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `{:#}`: the error and its causes on one line, never a backtrace (a
    // `Result` returned from main prints its Debug form, which shows one
    // when RUST_BACKTRACE is set).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", coprod::report::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Cmd::Up {
            validators,
            home,
            chain_id,
            base_port,
            block_time,
            app,
            no_prover,
        } => {
            let home = absolute(home)?;
            let mut opts = UpOptions::new(validators, &home);
            opts.chain_id = chain_id;
            opts.base_port = base_port;
            opts.block_time = block_time;
            opts.app = app;
            opts.prover = !no_prover;
            let net = Localnet::up(&opts).await?;
            println!(
                "localnet {} is up with {} validators:",
                net.state().chain_id,
                net.len()
            );
            for n in &net.state().nodes {
                println!(
                    "  {}  rpc {}  grpc 127.0.0.1:{}  rest {}  p2p 127.0.0.1:{}  abci 127.0.0.1:{}  logs {}",
                    n.name,
                    n.ports.rpc_url(),
                    n.ports.grpc,
                    n.ports.api_url(),
                    n.ports.p2p,
                    n.ports.abci,
                    n.home.join("logs").display()
                );
            }
            if let Some(p) = net.prover() {
                println!(
                    "  prover  api http://127.0.0.1:{}  config {}  log {}",
                    p.api_port,
                    p.config().display(),
                    p.log().display()
                );
            }
            for a in &net.state().accounts {
                println!(
                    "  account {} {} (keyring {})",
                    a.name,
                    a.address,
                    net.state().keyring_dir.display()
                );
            }
        }
        Cmd::Status { home, json, output } => {
            let mut net = Localnet::open(&home)?;
            let status = net.status().await;
            let prover = net.prover_status();
            if json || output == Output::Json {
                let all = serde_json::json!({ "nodes": status, "prover": prover });
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                print_status(&net, &home, &status);
                if let Some(p) = prover {
                    print_prover(&p, &home);
                }
            }
        }
        Cmd::Stop { node, home } if node == "prover" => {
            let mut net = Localnet::open(&home)?;
            let pids = net.stop_prover()?;
            if pids.is_empty() {
                println!("the prover was not running: nothing to stop");
            } else {
                println!("stopped the prover: pid {pids:?}");
            }
        }
        Cmd::Restart { node, home, .. } if node == "prover" => {
            let mut net = Localnet::open(&home)?;
            let stopped = net.stop_prover()?;
            let pid = net.start_prover().await?;
            println!(
                "prover restarted (stopped {stopped:?}, now pid {pid}); it resumes from its job store"
            );
        }
        Cmd::Stop { node, home } => {
            let mut net = Localnet::open(&home)?;
            let i = net.node_index(&node)?;
            let stopped = net.stop_node(i)?;
            let name = &net.state().nodes[i].name;
            if stopped.is_empty() {
                println!("{name} was not running: nothing to stop");
            } else {
                println!("stopped {name}: {}", describe(&net, &stopped));
            }
        }
        Cmd::Restart {
            node,
            home,
            timeout_secs,
        } => {
            let mut net = Localnet::open(&home)?;
            let i = net.node_index(&node)?;
            let name = net.state().nodes[i].name.clone();
            let restarted = net.restart(i, Duration::from_secs(timeout_secs)).await?;
            if restarted.stopped.is_empty() {
                println!("{name} was not running");
            } else {
                println!("stopped {name}: {}", describe(&net, &restarted.stopped));
            }
            let pid = |p: Option<u32>| p.map_or("-".to_string(), |p| p.to_string());
            println!(
                "started {name}: coprod pid {}, cometbft pid {} (logs in {})",
                pid(restarted.coprod_pid),
                pid(restarted.cometbft_pid),
                net.layout().node_logs(i).display()
            );
            println!(
                "{name} is at height {} (the others were at {})",
                restarted.height, restarted.target_height
            );
        }
        Cmd::Demo {
            home,
            offchain_batch,
        } => copro_localnet::demo::run(&mut Localnet::open(&home)?, offchain_batch).await?,
        Cmd::BenchOffchain { home, count, sends } => {
            let sends = sends.unwrap_or(count);
            copro_localnet::offchain_bench::run(&Localnet::open(&home)?, count, sends).await?;
        }
        Cmd::Bench {
            home,
            senders,
            per_sender,
            json,
        } => {
            let net = Localnet::open(&home)?;
            let r = copro_localnet::bench::run(&net, senders, per_sender).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "bench: {} validators, {} senders, {} txs sent ({} refused by CheckTx)",
                    r.validators, r.senders, r.sent, r.refused
                );
                println!(
                    "  committed {} txs in {} blocks (heights {}..={}) over {:.2} s of block time",
                    r.committed, r.blocks, r.heights.0, r.heights.1, r.seconds
                );
                println!("  committed tx/s        {:>10.1}", r.tx_per_second);
                println!("  blocks/s              {:>10.2}", r.blocks_per_second);
                println!(
                    "  mean block interval   {:>10.0} ms",
                    r.mean_block_interval_ms
                );
                println!(
                    "  mean txs per block    {:>10.1} (blocks that carried any)",
                    r.mean_txs_per_nonempty_block
                );
            }
        }
        Cmd::BenchLedger {
            home,
            users,
            per_user,
            workers,
            json,
        } => {
            let mut net = Localnet::open(&home)?;
            if let Some(w) = workers {
                net.set_prover_workers(w).await?;
            }
            let r = copro_localnet::ledger_bench::run(&net, users, per_user).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "bench-ledger: {} users x {} deposits = {} requests, prover workers {}",
                    r.users,
                    per_user,
                    r.requests,
                    r.workers.map_or("?".into(), |w| w.to_string())
                );
                println!(
                    "  settled {} requests in {:.1} s over {} blocks: {:.2} requests/s",
                    r.requests, r.seconds, r.blocks, r.settled_per_second
                );
                println!(
                    "  latency broadcast -> settled: p50 {} ms, p95 {} ms, max {} ms",
                    r.latency_p50_ms, r.latency_p95_ms, r.latency_max_ms
                );
                println!(
                    "  {} batches, {:.1} requests each; per batch: proving {:.0} ms, witness {:.0} ms",
                    r.batches, r.mean_batch, r.mean_proving_ms, r.mean_witness_ms
                );
            }
        }
        Cmd::Down { home } => {
            let mut net = Localnet::open(&home)?;
            let stopped = net.down()?;
            let by_hand: Vec<StoppedProcess> =
                stopped.iter().filter(|p| !p.recorded).copied().collect();
            if stopped.is_empty() {
                println!("localnet in {}: nothing was running", home.display());
            } else if by_hand.is_empty() {
                println!(
                    "localnet in {} stopped: {} processes",
                    home.display(),
                    stopped.len()
                );
            } else {
                println!(
                    "localnet in {} stopped: {} processes, {} of them not started by localnet ({})",
                    home.display(),
                    stopped.len(),
                    by_hand.len(),
                    describe(&net, &by_hand)
                );
            }
        }
    }
    Ok(())
}

/// Output format of `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

/// One line per node, then what to do about each node that is not running.
fn print_prover(p: &copro_localnet::prover::ProverStatus, home: &Path) {
    let field = |k: &str| {
        p.status
            .as_ref()
            .and_then(|s| s.get(k))
            .map_or("-".to_string(), |v| {
                v.to_string().trim_matches('"').to_string()
            })
    };
    println!(
        "prover  {:<11} {:<24} state {}  verified height {}  queue settled {}/{}  pid {}",
        p.state,
        p.api,
        field("state"),
        field("verified_height"),
        field("queue_settled"),
        field("queue_next"),
        p.pid.map_or("-".to_string(), |x| x.to_string())
    );
    let reason = field("reason");
    if reason != "-" && !reason.is_empty() {
        println!("prover: refusing to prove: {reason}");
    }
    if p.state != "running" {
        println!(
            "prover: {}. Why: {}. Restart: localnet restart prover --home {}",
            p.state,
            p.log.display(),
            home.display()
        );
    }
}

fn print_status(net: &Localnet, home: &Path, status: &[NodeStatus]) {
    let pid = |p: Option<u32>| p.map_or("-".to_string(), |p| p.to_string());
    for s in status {
        println!(
            "{:<7} {:<11} {:<24} height {:>6}  app_hash {}  coprod {} cometbft {}{}",
            s.name,
            s.state.as_str(),
            s.rpc,
            s.height.map_or("-".into(), |h| h.to_string()),
            s.app_hash.as_deref().unwrap_or("-"),
            pid(s.coprod_pid),
            pid(s.cometbft_pid),
            if s.extra_pids.is_empty() {
                String::new()
            } else {
                format!("  extra pids {:?}", s.extra_pids)
            }
        );
    }
    if !status.is_empty() && status.iter().all(|s| s.state == RunState::Stopped) {
        println!(
            "every node is stopped: `localnet restart NODE --home {}` starts one again \
             (blocks resume once more than 2/3 of the validators run); `localnet up` \
             makes a fresh localnet",
            home.display()
        );
        return;
    }
    for (i, s) in status.iter().enumerate() {
        let logs = net.layout().node_logs(i);
        let restart = format!("localnet restart {} --home {}", s.name, home.display());
        match s.state {
            RunState::Running => {}
            RunState::Stopped => println!(
                "{}: stopped. Why: {}/coprod.log and cometbft.log. Restart: {restart}",
                s.name,
                logs.display()
            ),
            RunState::Partial => {
                let (up, down) = if s.coprod_pid.is_some() {
                    ("coprod", "cometbft")
                } else {
                    ("cometbft", "coprod")
                };
                println!(
                    "{}: only {up} runs, {down} is gone. Why: {}/{down}.log. Restart: {restart}",
                    s.name,
                    logs.display()
                );
            }
            RunState::Unreachable => println!(
                "{}: processes alive but the RPC did not answer within {:?} (stopped with \
                 SIGSTOP? wedged? still starting?). See {}/cometbft.log; if it stays so: {restart}",
                s.name,
                copro_localnet::net::RPC_ANSWER_TIMEOUT,
                logs.display()
            ),
        }
    }
}

/// `cometbft pid 12, coprod pid 13 (node1, not started by localnet)`.
fn describe(net: &Localnet, stopped: &[StoppedProcess]) -> String {
    stopped
        .iter()
        .map(|p| {
            let mut text = format!("{} pid {}", p.which.name(), p.pid);
            if !p.recorded {
                text.push_str(&format!(
                    " ({}, not started by localnet)",
                    net.state().nodes[p.node].name
                ));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path);
    }
    Ok(std::env::current_dir()
        .context("no current directory")?
        .join(path))
}
