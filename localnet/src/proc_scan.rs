//! Finding a node's processes by what they run, not by what was recorded.
//!
//! A pid in `localnet.json` says which process `localnet` started, but not
//! which process runs now: the node may have been restarted by hand, or the
//! recorded process may be gone and its pid reused by something else. So a
//! node's processes are the live processes (Linux: `/proc/*/cmdline`) whose
//! program is `coprod` or `cometbft`, that run the node (`start`, or
//! CometBFT's aliases `node` and `run`), and whose `--home` is the node's
//! home. Short-lived commands on the same home (`coprod query`,
//! `cometbft show-node-id`) are not the node and are never stopped.
//!
//! A zombie (exited, not yet reaped by its parent) has an empty command line
//! and so is never one of a node's processes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::net::Proc;

/// Where Linux publishes each process's command line and working directory.
const PROC_ROOT: &str = "/proc";

/// What a command line says about a process: which node process it is and the
/// `--home` it was given (as written, possibly relative to its working
/// directory). `None` when it is not a running `coprod` or CometBFT node with
/// a `--home`.
pub fn parse_cmdline(cmdline: &[u8]) -> Option<(Proc, PathBuf)> {
    // Arguments are NUL-terminated; a trailing NUL leaves an empty last piece.
    let mut args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    if args.last().is_some_and(|a| a.is_empty()) {
        args.pop();
    }
    let (program, rest) = args.split_first()?;
    let which = match Path::new(OsStr::from_bytes(program))
        .file_name()?
        .as_bytes()
    {
        b"coprod" => Proc::Coprod,
        b"cometbft" => Proc::Cometbft,
        _ => return None,
    };
    let runs_the_node = rest.iter().any(|a| match which {
        Proc::Coprod => *a == b"start",
        Proc::Cometbft => matches!(*a, b"start" | b"node" | b"run"),
    });
    if !runs_the_node {
        return None;
    }
    // The last `--home` wins, as with the flag parsers of both programs; a
    // `--home` without a value means the command line is not one we know.
    let mut home: Option<&[u8]> = None;
    let mut i = 0;
    while i < rest.len() {
        let arg = rest[i];
        if arg == b"--home" {
            home = Some(rest.get(i + 1)?);
            i += 2;
            continue;
        }
        if let Some(value) = arg.strip_prefix(b"--home=") {
            home = Some(value);
        }
        i += 1;
    }
    let home = home.filter(|h| !h.is_empty())?;
    Some((which, PathBuf::from(OsStr::from_bytes(home))))
}

/// `path` made absolute and canonical where possible, for comparing homes
/// (symlinks, `..`, trailing slashes). A path that cannot be canonicalized
/// (say, its directory was removed) is compared as written.
fn comparable(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads the command line of `pid` and says which node process it is, with
/// its home resolved against the process's working directory. `None` for a
/// process that is gone, unreadable, a zombie, or not a node.
fn identify(pid: u32) -> Option<(Proc, PathBuf)> {
    let dir = Path::new(PROC_ROOT).join(pid.to_string());
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let (which, home) = parse_cmdline(&cmdline)?;
    let home = if home.is_absolute() {
        home
    } else {
        std::fs::read_link(dir.join("cwd")).ok()?.join(home)
    };
    Some((which, comparable(&home)))
}

/// Whether process listings are available (Linux `/proc`). Without them,
/// callers fall back to trusting recorded pids.
pub fn available() -> bool {
    Path::new(PROC_ROOT).join("self").join("cmdline").is_file()
}

/// Whether `pid` is process `which` of the node whose home is `home`.
pub fn pid_matches(pid: u32, which: Proc, home: &Path) -> bool {
    identify(pid).is_some_and(|(w, h)| w == which && h == comparable(home))
}

/// The live processes of each node, keyed by (index into `homes`, process);
/// pids ascending. Entries of `/proc` that cannot be read (gone meanwhile,
/// other users' processes) are skipped.
pub fn scan(homes: &[PathBuf]) -> BTreeMap<(usize, Proc), Vec<u32>> {
    let homes: Vec<PathBuf> = homes.iter().map(|h| comparable(h)).collect();
    let mut found: BTreeMap<(usize, Proc), Vec<u32>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(PROC_ROOT) else {
        return found;
    };
    let own_pid = std::process::id();
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| *pid != own_pid)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Some((which, home)) = identify(pid) else {
            continue;
        };
        if let Some(node) = homes.iter().position(|h| *h == home) {
            found.entry((node, which)).or_default().push(pid);
        }
    }
    found
}

/// Whether a command line is `copro-prover run --config CONFIG` (with the
/// config as written; relative to the process's working directory `cwd`).
fn runs_prover(cmdline: &[u8], cwd: Option<&Path>, config: &Path) -> bool {
    let args: Vec<&[u8]> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    let Some((program, rest)) = args.split_first() else {
        return false;
    };
    let is_prover = Path::new(OsStr::from_bytes(program))
        .file_name()
        .is_some_and(|n| n.as_bytes() == b"copro-prover");
    if !is_prover || rest.first() != Some(&&b"run"[..]) {
        return false;
    }
    let given = rest
        .windows(2)
        .find(|w| w[0] == b"--config")
        .map(|w| PathBuf::from(OsStr::from_bytes(w[1])))
        .or_else(|| {
            rest.iter()
                .find_map(|a| a.strip_prefix(b"--config="))
                .map(|v| PathBuf::from(OsStr::from_bytes(v)))
        });
    given.is_some_and(|g| {
        let g = match cwd {
            Some(dir) if g.is_relative() => dir.join(g),
            _ => g,
        };
        comparable(&g) == comparable(config)
    })
}

/// The live `copro-prover run` processes using `config`, pids ascending.
pub fn prover_pids(config: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(PROC_ROOT) else {
        return Vec::new();
    };
    let own_pid = std::process::id();
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| *pid != own_pid)
        .filter(|pid| {
            let dir = Path::new(PROC_ROOT).join(pid.to_string());
            std::fs::read(dir.join("cmdline")).is_ok_and(|c| {
                runs_prover(
                    &c,
                    std::fs::read_link(dir.join("cwd")).ok().as_deref(),
                    config,
                )
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line as `/proc/PID/cmdline` holds it.
    fn cmdline(args: &[&str]) -> Vec<u8> {
        args.iter()
            .flat_map(|a| [a.as_bytes(), b"\0"])
            .flatten()
            .copied()
            .collect()
    }

    #[test]
    fn a_coprod_started_by_localnet_is_recognised() {
        let line = cmdline(&[
            "/work/target/debug/coprod",
            "start",
            "--home",
            "/tmp/net/node2",
            "--abci-address",
            "tcp://127.0.0.1:26678",
        ]);
        assert_eq!(
            parse_cmdline(&line),
            Some((Proc::Coprod, PathBuf::from("/tmp/net/node2")))
        );
    }

    #[test]
    fn cometbft_with_home_before_the_command_and_an_equals_sign_is_recognised() {
        let line = cmdline(&["cometbft", "--home=/tmp/net/node0", "start"]);
        assert_eq!(
            parse_cmdline(&line),
            Some((Proc::Cometbft, PathBuf::from("/tmp/net/node0")))
        );
        let alias = cmdline(&["/usr/bin/cometbft", "node", "--home", "rel/node1"]);
        assert_eq!(
            parse_cmdline(&alias),
            Some((Proc::Cometbft, PathBuf::from("rel/node1")))
        );
    }

    #[test]
    fn the_last_home_wins() {
        let line = cmdline(&["coprod", "start", "--home", "/a", "--home=/b"]);
        assert_eq!(
            parse_cmdline(&line),
            Some((Proc::Coprod, PathBuf::from("/b")))
        );
    }

    #[test]
    fn other_programs_and_other_commands_are_not_nodes() {
        for args in [
            &["localnet", "down", "--home", "/tmp/net"][..],
            &["/bin/coprodx", "start", "--home", "/tmp/net/node0"],
            &[
                "coprod",
                "query",
                "bank",
                "balance",
                "--home",
                "/tmp/net/node0",
            ],
            &["cometbft", "show-node-id", "--home", "/tmp/net/node0"],
        ] {
            assert_eq!(parse_cmdline(&cmdline(args)), None, "{args:?}");
        }
    }

    #[test]
    fn odd_command_lines_are_refused_without_panicking() {
        assert_eq!(parse_cmdline(b""), None, "a zombie's empty command line");
        assert_eq!(parse_cmdline(b"\0"), None);
        assert_eq!(parse_cmdline(b"\0\0\0"), None);
        assert_eq!(
            parse_cmdline(&cmdline(&["coprod", "start"])),
            None,
            "no --home"
        );
        assert_eq!(
            parse_cmdline(&cmdline(&["coprod", "start", "--home"])),
            None,
            "--home at the end without a value"
        );
        assert_eq!(
            parse_cmdline(&cmdline(&["coprod", "start", "--home="])),
            None,
            "an empty home"
        );
        assert_eq!(
            parse_cmdline(&cmdline(&["coprod", "start", "--homes", "/h"])),
            None
        );
        // No trailing NUL (a process that rewrote its arguments).
        assert_eq!(
            parse_cmdline(b"coprod\0start\0--home\0/h"),
            Some((Proc::Coprod, PathBuf::from("/h")))
        );
    }

    #[test]
    fn non_utf8_bytes_are_kept_in_the_home_and_refused_in_the_program() {
        let home = b"/tmp/n\xffde";
        let mut line = b"coprod\0start\0--home\0".to_vec();
        line.extend_from_slice(home);
        line.push(0);
        assert_eq!(
            parse_cmdline(&line),
            Some((Proc::Coprod, PathBuf::from(OsStr::from_bytes(home))))
        );
        assert_eq!(parse_cmdline(b"copr\xffd\0start\0--home\0/h\0"), None);
    }

    #[test]
    fn a_scan_never_finds_this_test_and_survives_any_proc_entry() {
        // Whatever runs on the machine, scanning must neither panic nor
        // claim a home that no node process uses.
        let homes = [PathBuf::from("/nonexistent/copro-scan-test/node0")];
        assert!(scan(&homes).is_empty());
        assert!(!pid_matches(std::process::id(), Proc::Coprod, &homes[0]));
    }

    #[test]
    fn the_prover_is_recognised_by_its_config() {
        let config = Path::new("/tmp/net/prover/prover.toml");
        let yes = cmdline(&[
            "/x/copro-prover",
            "run",
            "--config",
            "/tmp/net/prover/prover.toml",
        ]);
        assert!(runs_prover(&yes, None, config));
        let eq = cmdline(&["copro-prover", "run", "--config=prover.toml"]);
        assert!(runs_prover(&eq, Some(Path::new("/tmp/net/prover")), config));
        for no in [
            cmdline(&[
                "copro-prover",
                "status",
                "--config",
                "/tmp/net/prover/prover.toml",
            ]),
            cmdline(&["copro-prover", "run", "--config", "/tmp/other/prover.toml"]),
            cmdline(&["coprod", "run", "--config", "/tmp/net/prover/prover.toml"]),
            cmdline(&["copro-prover", "run"]),
            Vec::new(),
        ] {
            assert!(!runs_prover(&no, None, config), "{no:?}");
        }
    }
}
