//! The `coprod` CLI as a user runs it, against one node of a test net, with
//! a home of its own (`coprod config set`) and JSON output.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::TestNet;

/// `coprod` with a client home configured for node `node` of a net.
pub struct CoprodCli {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl CoprodCli {
    /// A client of node `node` of `net`, signing with the net's keyring.
    pub fn new(net: &TestNet, node: usize) -> anyhow::Result<Self> {
        let cli = Self {
            bin: copro_localnet::process::find_binary("coprod")?,
            home: tempfile::Builder::new().prefix("coprod-cli-").tempdir()?,
        };
        let keyring = net.net.state().keyring_dir.to_string_lossy().into_owned();
        let rpc = net.net.rpc_url(node);
        for (key, value) in [
            ("node", rpc.as_str()),
            ("chain-id", net.chain_id()),
            ("keyring-dir", &keyring),
            ("output", "json"),
        ] {
            cli.ok(&["config", "set", key, value]);
        }
        Ok(cli)
    }

    /// The client's home (a scratch directory for files to upload).
    pub fn home(&self) -> PathBuf {
        self.home.path().to_path_buf()
    }

    /// Runs `coprod ARGS --home HOME`: success, the JSON it printed, and
    /// everything it printed (for failure messages).
    pub fn run(&self, args: &[&str]) -> (bool, Value, String) {
        let out = Command::new(&self.bin)
            .args(args)
            .args(fees_for(args))
            .args(["--home", self.home.path().to_str().expect("utf-8")])
            .env_remove("RUST_LOG")
            .output()
            .expect("run coprod");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (out.status.success(), json, format!("{stdout}\n{stderr}"))
    }

    /// Runs a command that must succeed; its JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        let (ok, json, text) = self.run(args);
        assert!(ok, "coprod {args:?} failed:\n{text}");
        json
    }

    /// A tx that must be refused: its (CheckTx or block) code, codespace
    /// and log.
    pub fn refused(&self, args: &[&str]) -> (u64, String, String) {
        let (ok, json, text) = self.run(args);
        assert!(!ok, "coprod {args:?} should fail:\n{text}");
        (
            json["code"].as_u64().unwrap_or(0),
            json["codespace"].as_str().unwrap_or("").to_string(),
            format!("{} {text}", json["log"].as_str().unwrap_or("")),
        )
    }

    /// Sends `coprod tx ARGS --wait` and reads the committed tx back
    /// (`query tx`: code, gas, events); also the seconds until commit.
    pub fn tx(&self, args: &[&str]) -> (Value, f64) {
        let mut all = vec!["tx"];
        all.extend_from_slice(args);
        all.push("--wait");
        let started = Instant::now();
        let sent = self.ok(&all);
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(sent["code"], 0, "{sent}");
        let hash = sent["txhash"].as_str().expect("txhash");
        (self.ok(&["query", "tx", hash]), secs)
    }

    /// `coprod query wasm smart CONTRACT QUERY`: the contract's answer.
    pub fn smart(&self, contract: &str, query: &Value) -> Value {
        self.ok(&["query", "wasm", "smart", contract, &query.to_string()])["data"].clone()
    }
}

/// The localnet's minimum gas price, in ucopro per gas (app.toml's
/// `minimum-gas-prices`, 0.025ucopro), in thousandths.
const GAS_PRICE_MILLI: u64 = 25;

/// `--fees` for a `tx` command that sets `--gas N` and no fee: the least
/// the nodes take for that limit (the CLI's default fee only covers its
/// default 200,000 gas).
fn fees_for(args: &[&str]) -> Vec<String> {
    if args.first() != Some(&"tx") || args.contains(&"--fees") {
        return Vec::new();
    }
    let gas = args
        .iter()
        .position(|a| *a == "--gas")
        .and_then(|i| args.get(i + 1))
        .and_then(|g| g.parse::<u64>().ok());
    match gas {
        Some(gas) => vec![
            "--fees".to_string(),
            format!("{}ucopro", (gas * GAS_PRICE_MILLI).div_ceil(1000)),
        ],
        None => Vec::new(),
    }
}

/// The value of attribute `key` of the first `kind` event of a committed tx
/// that has it.
pub fn attr(tx: &Value, kind: &str, key: &str) -> String {
    tx["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == kind)
        .flat_map(|e| e["attributes"].as_array().into_iter().flatten())
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"].as_str())
        .unwrap_or_else(|| panic!("no {kind}.{key} in {tx}"))
        .to_string()
}

/// Where scripts/setup.sh put the contracts' wasm.
pub fn contracts_dir() -> PathBuf {
    std::env::var_os("COPRO_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/artifacts"))
}
