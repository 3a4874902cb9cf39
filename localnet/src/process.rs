//! Starting and stopping the node processes.
//!
//! Processes are started in their own process group so that they outlive the
//! `localnet up` command and a Ctrl-C in its terminal; their output goes to a
//! log file. They are stopped by pid (SIGTERM, then SIGKILL after a grace
//! period), which works both from the process that started them and from a
//! later `localnet down`.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Finds one of our executables: `$COPRO_BIN_DIR/NAME`, then the directory of
/// the running executable (and its parent, for test binaries in `deps/`), then
/// `PATH`.
pub fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    let env_override = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&env_override) {
        return Ok(PathBuf::from(path));
    }
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("COPRO_BIN_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_path_buf());
        if let Some(parent) = dir.parent() {
            dirs.push(parent.to_path_buf());
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| match name {
            "cometbft" => "cometbft not found: run scripts/setup.sh (it installs the pinned \
                           CometBFT with go install) or set COMETBFT_BIN"
                .to_string(),
            _ => format!(
                "{name} not found: run `cargo build --workspace --bins` or set {env_override}"
            ),
        })
}

/// Runs a command to completion and returns its stdout; fails with its stderr.
pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Starts `cmd` detached in its own process group, appending its output to `log`.
pub fn spawn_detached(mut cmd: Command, log: &Path) -> anyhow::Result<Child> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open log {}", log.display()))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("could not start {cmd:?}"))?;
    Ok(child)
}

/// Whether a process with this pid exists (a zombie counts as gone only once
/// reaped, see [`stop`]).
pub fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain kill(2); errors (ESRCH) mean the process is gone.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Whether `pid` is a zombie: it has exited and waits for its parent to reap
/// it. Such a process still "exists" for [`is_alive`] but runs nothing.
pub fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `PID (COMM) STATE ...`; COMM may itself hold spaces and parentheses.
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z")
}

/// Whether a process we are not the parent of has finished: gone, or a
/// zombie that only its parent can reap.
pub fn has_exited(pid: u32) -> bool {
    !is_alive(pid) || is_zombie(pid)
}

/// Stops a process: SIGTERM, then SIGKILL after `grace`. When we are its parent
/// (`child` is given) it is reaped, so no zombie stays behind.
pub fn stop(pid: u32, child: Option<&mut Child>, grace: Duration) {
    signal(pid, libc::SIGTERM);
    // A stopped (SIGSTOP, Ctrl-Z) process only sees the SIGTERM once it runs
    // again; without this it would always wait out the grace period.
    signal(pid, libc::SIGCONT);
    wait_gone(pid, child, grace, true);
}

/// Kills a process with SIGKILL at once (a crash, as far as it can tell).
pub fn kill9(pid: u32, child: Option<&mut Child>) {
    signal(pid, libc::SIGKILL);
    wait_gone(pid, child, Duration::from_secs(10), false);
}

fn wait_gone(pid: u32, mut child: Option<&mut Child>, grace: Duration, escalate: bool) {
    let deadline = Instant::now() + grace;
    loop {
        let gone = match child.as_deref_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => has_exited(pid),
        };
        if gone {
            return;
        }
        if Instant::now() >= deadline {
            if escalate {
                signal(pid, libc::SIGKILL);
                if let Some(c) = child {
                    let _ = c.wait();
                }
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {timeout:?}")
}

/// Fails when something already listens on 127.0.0.1:`port`.
pub fn ensure_port_free(port: u16) -> anyhow::Result<()> {
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        bail!(
            "port {port} on 127.0.0.1 is in use: stop what runs there \
             (`localnet down`) or pick another --base-port"
        );
    }
    Ok(())
}
