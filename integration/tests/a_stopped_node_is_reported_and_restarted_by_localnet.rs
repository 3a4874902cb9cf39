//! Supervision through the `localnet` binary, as an operator would do it:
//! a node whose coprod was killed is reported as not running and
//! `localnet restart` brings it back with the same app hashes; a node whose
//! CometBFT is frozen (SIGSTOP) is reported unreachable, not stopped; and a
//! node started by hand (pids not in `localnet.json`) is found by `status`
//! and stopped by `down`.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::Context;
use copro_integration::*;
use copro_localnet::{Localnet, NodeStatus, Proc, RunState, process};

/// Runs `localnet ARGS --home ROOT` and returns what it printed; fails with
/// its output when it fails.
fn localnet(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let bin = process::find_binary("localnet")?;
    let out = process::run(Command::new(bin).args(args).arg("--home").arg(root))?;
    println!("$ localnet {}\n{out}", args.join(" "));
    Ok(out)
}

/// What `localnet status --json` says.
fn status(root: &Path) -> anyhow::Result<Vec<NodeStatus>> {
    let bin = process::find_binary("localnet")?;
    let out = process::run(
        Command::new(bin)
            .args(["status", "-o", "json", "--home"])
            .arg(root),
    )?;
    let all: serde_json::Value =
        serde_json::from_str(&out).with_context(|| format!("status printed no JSON: {out}"))?;
    anyhow::ensure!(
        all["prover"].is_null(),
        "this localnet has no prover: {out}"
    );
    serde_json::from_value(all["nodes"].clone())
        .with_context(|| format!("status printed no node list: {out}"))
}

/// Asks `localnet status` until `done` holds for its answer; after `timeout`
/// fails with the last answer.
async fn wait_for_status(
    root: &Path,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[NodeStatus]) -> bool,
) -> anyhow::Result<Vec<NodeStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = status(root)?;
        if done(&answer) {
            return Ok(answer);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "status never showed {what} within {timeout:?}; last: {answer:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A process this test started itself; killed and reaped if the test ends
/// early, so it never outlives the test.
struct HandStarted(Child);

impl HandStarted {
    /// Waits up to `timeout` for the process to end, reaping it (we are its
    /// parent: unreaped, it would stay a zombie that still looks alive).
    fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for HandStarted {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_reported_and_restarted_by_localnet() -> anyhow::Result<()> {
    let mut net = TestNet::start(4, 28100).await?;
    let root = net.net.layout().root().to_path_buf();
    let is_running = |s: &NodeStatus| s.state == RunState::Running;

    // node3's coprod dies; its CometBFT follows once the app connection is
    // gone (if it has not within 20 s, status must say `partial`).
    net.net.kill(3, Proc::Coprod)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while net.net.is_running(3, Proc::Cometbft) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seen = wait_for_status(
        &root,
        "node3 down and nodes 0-2 running",
        Duration::from_secs(30),
        |s| {
            matches!(s[3].state, RunState::Stopped | RunState::Partial)
                && s[..3].iter().all(is_running)
        },
    )
    .await?;
    assert_eq!(seen[3].coprod_pid, None, "{:?}", seen[3]);
    assert!(!seen[3].running);
    // The others go on without it, so it has blocks to catch up on.
    let missed_until = height(&net.client(0)).await? + 3;
    net.net
        .wait_for_height(0, missed_until, Duration::from_secs(60))
        .await?;

    // `localnet restart node3` brings it back at the others' height.
    localnet(&root, &["restart", "node3"])?;
    let seen = status(&root)?;
    assert_eq!(seen[3].state, RunState::Running, "{:?}", seen[3]);
    assert!(
        seen[3].height >= Some(missed_until),
        "restart returned before node3 caught up: {:?}",
        seen[3]
    );
    let recorded = Localnet::open(&root)?.state().nodes[3].clone();
    assert_eq!(seen[3].coprod_pid, recorded.coprod_pid);
    assert_eq!(seen[3].cometbft_pid, recorded.cometbft_pid);
    let target = height(&net.client(0)).await?;
    net.net
        .wait_for_height(3, target, Duration::from_secs(60))
        .await?;
    assert_same_app_hashes(&net, 1, target).await?;

    // node2's CometBFT frozen: alive but silent, so `unreachable`.
    let frozen = seen[2].cometbft_pid.context("node2 has no CometBFT pid")?;
    process::signal(frozen, libc::SIGSTOP);
    let seen = wait_for_status(&root, "node2 unreachable", Duration::from_secs(30), |s| {
        s[2].state == RunState::Unreachable
    })
    .await;
    process::signal(frozen, libc::SIGCONT);
    let seen = seen?;
    assert_eq!(seen[2].cometbft_pid, Some(frozen));
    assert!(seen[2].running, "its processes are alive");
    wait_for_status(&root, "node2 running again", Duration::from_secs(30), |s| {
        is_running(&s[2])
    })
    .await?;

    // node1 stopped with localnet and started again by hand: its pids are
    // not recorded, yet status finds them and down stops them.
    localnet(&root, &["stop", "node1"])?;
    let seen = status(&root)?;
    assert_eq!(seen[1].state, RunState::Stopped, "{:?}", seen[1]);
    let node1 = Localnet::open(&root)?.state().nodes[1].clone();
    assert_eq!((node1.coprod_pid, node1.cometbft_pid), (None, None));
    let logs = node1.home.join("logs");
    let mut coprod = Command::new(process::find_binary("coprod")?);
    coprod
        .arg("start")
        .arg("--home")
        .arg(&node1.home)
        .arg("--abci-address")
        .arg(format!("tcp://127.0.0.1:{}", node1.ports.abci));
    let mut coprod = HandStarted(process::spawn_detached(coprod, &logs.join("coprod.log"))?);
    process::wait_for_port(node1.ports.abci, Duration::from_secs(30))?;
    let mut cometbft = Command::new(process::find_binary("cometbft")?);
    cometbft.arg("start").arg("--home").arg(&node1.home);
    let mut cometbft = HandStarted(process::spawn_detached(
        cometbft,
        &logs.join("cometbft.log"),
    )?);
    let (coprod_pid, cometbft_pid) = (coprod.0.id(), cometbft.0.id());
    let seen = wait_for_status(
        &root,
        "the hand-started node1 running",
        Duration::from_secs(60),
        |s| is_running(&s[1]),
    )
    .await?;
    assert_eq!(seen[1].coprod_pid, Some(coprod_pid));
    assert_eq!(seen[1].cometbft_pid, Some(cometbft_pid));

    let said = localnet(&root, &["down"])?;
    assert!(said.contains("2 of them not started by localnet"), "{said}");
    assert!(said.contains(&format!("coprod pid {coprod_pid}")), "{said}");
    assert!(
        said.contains(&format!("cometbft pid {cometbft_pid}")),
        "{said}"
    );
    assert!(
        cometbft.exited_within(Duration::from_secs(15)),
        "down left the hand-started CometBFT running"
    );
    assert!(
        coprod.exited_within(Duration::from_secs(15)),
        "down left the hand-started coprod running"
    );
    let seen = status(&root)?;
    assert!(
        seen.iter().all(|s| s.state == RunState::Stopped),
        "{seen:#?}"
    );
    net.passed();
    Ok(())
}
