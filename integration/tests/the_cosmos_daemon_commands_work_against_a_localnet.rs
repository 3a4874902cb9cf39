//! Issue #11, part 3: the commands a Cosmos operator types, run through the
//! `coprod` binary with `-o json` against a real one-validator localnet.
//!
//! The client's node, chain-id, keyring and output come from `coprod config
//! set` in a client home of its own (no flag names them afterwards). Then:
//! version; bank total; keys (12-word mnemonic, recover from stdin, export
//! and import, delete); a send made with `--generate-only`, signed with `tx
//! sign`, sent with `tx broadcast`, found by `query tx` and `query block`
//! and shown again by `tx decode`; a send with `--gas auto`; the refusals
//! that name what to fix; `coprod rollback` of the stopped node, which
//! then executes the rolled-back block again and goes on with the same app
//! hashes; and last `coprod export`, from which the node starts a new chain
//! whose accounts hold what they held.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use copro_integration::TestNet;
use serde_json::{Value, json};

/// Runs `coprod ARGS` (with `stdin` piped in); returns success, stdout and
/// stderr.
fn run(bin: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .spawn()
        .expect("run coprod");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("coprod output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A client with its own home: every command gets `--home HOME`, nothing
/// else but what a test gives.
struct Client {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Client {
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend(["--home", self.home.path().to_str().expect("utf-8 path")]);
        all
    }

    /// The JSON a successful command prints.
    fn json(&self, args: &[&str]) -> Value {
        self.json_with_stdin(args, "")
    }

    fn json_with_stdin(&self, args: &[&str], stdin: &str) -> Value {
        let (ok, out, err) = run(&self.bin, &self.args(args), stdin);
        assert!(ok, "coprod {args:?} failed:\n{out}\n{err}");
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("coprod {args:?} printed no JSON ({e}):\n{out}\n{err}"))
    }

    /// The error a failing command prints (no stack trace in it).
    fn error(&self, args: &[&str]) -> String {
        let (ok, out, err) = run(&self.bin, &self.args(args), "");
        assert!(!ok, "coprod {args:?} should fail, printed:\n{out}");
        assert!(
            !err.contains("Stack backtrace") && !err.contains("panicked"),
            "{err}"
        );
        err
    }

    fn file(&self, name: &str, doc: &Value) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, doc.to_string()).expect("write file");
        path.to_str().expect("utf-8 path").to_string()
    }
}

fn supply(c: &Client) -> Value {
    c.json(&["query", "bank", "total"])["supply"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cosmos_daemon_commands_work_against_a_localnet() -> anyhow::Result<()> {
    let mut net = TestNet::start(1, 28200).await?;
    let c = Client {
        bin: copro_localnet::process::find_binary("coprod")?,
        home: tempfile::Builder::new()
            .prefix("coprod-client-")
            .tempdir()?,
    };
    let keyring = net
        .net
        .state()
        .keyring_dir
        .to_str()
        .expect("utf-8")
        .to_string();
    let node = net.net.rpc_url(0);

    // config: set once, then used by every command below.
    for (key, value) in [
        ("node", node.as_str()),
        ("chain-id", net.chain_id()),
        ("keyring-dir", &keyring),
        ("output", "json"),
    ] {
        c.json(&["config", "set", key, value, "-o", "json"]);
    }
    assert_eq!(c.json(&["config", "get", "node"]), json!({ "node": node }));
    assert_eq!(c.json(&["config"])["chain-id"], net.chain_id());
    let e = c.error(&["config", "set", "output", "yaml"]);
    assert!(e.contains("output must be text or json"), "{e}");

    let version = c.json(&["version"]);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["abci"], "2.0.0");

    let supply_before = supply(&c);
    let ucopro = supply_before
        .as_array()
        .and_then(|s| s.iter().find(|c| c["denom"] == "ucopro"))
        .and_then(|c| c["amount"].as_str())
        .and_then(|a| a.parse::<u128>().ok())
        .expect("a ucopro supply");
    assert!(ucopro >= 4 * 1_000_000_000_000, "four funded accounts");

    // keys: a 12-word key, recovered from stdin to the same address.
    let k12 = c.json(&["keys", "add", "twelve", "--words", "12"]);
    let phrase = k12["mnemonic"].as_str().expect("mnemonic").to_string();
    assert_eq!(phrase.split(' ').count(), 12);
    let to = k12["address"].as_str().expect("address").to_string();
    let again = c.json_with_stdin(&["keys", "add", "twelve-again", "--recover"], &phrase);
    assert_eq!(again["address"], to.as_str());
    // Export then import under another name: the same key.
    let (ok, export, err) = run(&c.bin, &c.args(&["keys", "export", "alice"]), "");
    assert!(ok, "{err}");
    let alice = c.json(&["keys", "show", "alice"]);
    let imported = c.json_with_stdin(&["keys", "import", "alice-copy", "-"], &export);
    assert_eq!(imported["address"], alice["address"]);
    assert_eq!(imported["pubkey"], alice["pubkey"]);
    assert_eq!(
        c.json(&["keys", "delete", "alice-copy", "-y"])["deleted"],
        "alice-copy"
    );
    let e = c.error(&["keys", "show", "alice-copy"]);
    assert!(e.contains("'alice-copy' is neither a key name"), "{e}");

    // --generate-only → tx sign → tx broadcast.
    let unsigned = c.json(&[
        "tx",
        "bank",
        "send",
        "alice",
        &to,
        "12345ucopro",
        "--generate-only",
    ]);
    assert_eq!(unsigned["signatures"], json!([]));
    assert_eq!(unsigned["body"]["messages"][0]["to_address"], to.as_str());
    assert_eq!(unsigned["auth_info"]["fee"]["gas_limit"], "200000");
    let unsigned_file = c.file("unsigned.json", &unsigned);
    let e = c.error(&["tx", "broadcast", &unsigned_file]);
    assert!(
        e.contains("is not signed: sign it with `coprod tx sign"),
        "{e}"
    );
    let e = c.error(&["tx", "sign", &unsigned_file, "--from", "bob"]);
    assert!(e.contains("must be signed by"), "{e}");
    let signed = c.json(&["tx", "sign", &unsigned_file, "--from", "alice"]);
    assert_eq!(signed["body"], unsigned["body"]);
    assert_eq!(signed["signatures"].as_array().map(Vec::len), Some(1));
    let signed_file = c.file("signed.json", &signed);
    let sent = c.json(&["tx", "broadcast", &signed_file, "--wait"]);
    assert_eq!(sent["code"], 0, "{sent}");
    let hash = sent["txhash"].as_str().expect("txhash").to_string();
    let height = sent["height"].as_u64().expect("height");
    assert_eq!(
        c.json(&["query", "bank", "balance", &to])["balance"]["amount"],
        "12345"
    );

    // query tx, query block, tx decode.
    let found = c.json(&["query", "tx", &hash]);
    assert_eq!(found["height"], height);
    assert_eq!(found["code"], 0);
    assert_eq!(found["tx"], signed, "the committed tx is the signed file");
    assert!(
        found["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["type"] == "transfer"),
        "{found}"
    );
    let block = c.json(&["query", "block", &height.to_string()]);
    assert_eq!(block["height"], height);
    assert_eq!(block["chain_id"], net.chain_id());
    assert!(block["txs"].as_array().expect("txs").contains(&json!(hash)));
    let latest = c.json(&["query", "block"]);
    assert!(latest["height"].as_u64().expect("height") >= height);
    let raw = coprod::txjson::Tx::from_json(&signed)?.to_raw();
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    assert_eq!(c.json(&["tx", "decode", &b64]), signed);
    let e = c.error(&["query", "tx", &"AB".repeat(32)]);
    assert!(e.contains("not found"), "{e}");
    let e = c.error(&["query", "tx", "xyz"]);
    assert!(e.contains("give the 64 hex digits"), "{e}");

    // --gas auto: the limit is the simulated gas × the adjustment.
    let auto = format!(
        "tx bank send alice {to} 1ucopro --from alice -y --gas auto --gas-adjustment 1.5 --wait"
    );
    let sent = c.json(&auto.split(' ').collect::<Vec<_>>());
    assert_eq!(sent["code"], 0, "{sent}");
    let found = c.json(&["query", "tx", sent["txhash"].as_str().expect("txhash")]);
    let wanted: u64 = found["gas_wanted"].as_str().expect("gas").parse()?;
    let used: u64 = found["gas_used"].as_str().expect("gas").parse()?;
    assert!(
        used * 14 / 10 <= wanted && wanted <= used * 16 / 10,
        "gas wanted {wanted} is not about 1.5 × {used}"
    );
    let e = c.error(&[
        "tx", "bank", "send", "alice", &to, "1ucopro", "--from", "bob",
    ]);
    assert!(e.contains("--from bob is"), "{e}");

    // Fees move coins, sends move coins: the supply stays.
    assert_eq!(supply(&c), supply_before);
    // A flag still wins over client.toml.
    let (ok, text, _) = run(&c.bin, &c.args(&["version", "-o", "text"]), "");
    assert!(ok && text.starts_with("coprod "), "{text}");

    // rollback: refused while the node runs; once stopped, one height back.
    let node_home = net.net.state().nodes[0]
        .home
        .to_str()
        .expect("utf-8")
        .to_string();
    let rollback = ["rollback", "--home", node_home.as_str(), "-o", "json"];
    let (ok, _, err) = run(&c.bin, &rollback, "");
    assert!(!ok && err.contains("stop coprod first"), "{err}");
    let last = c.json(&["query", "block"])["height"]
        .as_u64()
        .expect("height");
    let header_app_hash = |block: &Value| block["app_hash"].as_str().map(str::to_string);
    let before = header_app_hash(&c.json(&["query", "block", &last.to_string()]));
    net.net.stop_node(0)?;
    let (ok, out, err) = run(&c.bin, &rollback, "");
    assert!(ok, "{out}{err}");
    let rolled: Value = serde_json::from_str(out.trim())?;
    let back_to = rolled["height"].as_u64().expect("height");
    assert!(
        back_to >= last - 1,
        "rolled back to {back_to}, the chain was at {last} or more"
    );
    net.net.start_node(0)?;
    net.net
        .wait_for_height(0, back_to + 3, std::time::Duration::from_secs(30))
        .await
        .expect("the node goes on after the rollback");
    assert_eq!(
        header_app_hash(&c.json(&["query", "block", &(back_to + 1).to_string()])),
        rolled["app_hash"].as_str().map(str::to_string),
        "header {} holds the app hash of the height rolled back to",
        back_to + 1
    );
    assert_eq!(
        header_app_hash(&c.json(&["query", "block", &last.to_string()])),
        before,
        "the chain is the one it was"
    );
    assert_eq!(c.json(&["query", "tx", &hash])["height"], height);

    // export: a new chain from the stopped node's state holds its balances.
    let balances = |c: &Client| {
        ["alice", "bob"]
            .map(|k| {
                c.json(&["keys", "show", k])["address"]
                    .as_str()
                    .map(str::to_string)
            })
            .into_iter()
            .flatten()
            .chain([to.clone()])
            .map(|a| c.json(&["query", "bank", "balances", &a])["balances"].clone())
            .collect::<Vec<_>>()
    };
    let (balances_before, supply_before) = (balances(&c), supply(&c));
    net.net.stop_node(0)?;
    let genesis = c.home.path().join("exported.json");
    let genesis = genesis.to_str().expect("utf-8");
    let export = [
        "export",
        "--home",
        &node_home,
        "--chain-id",
        "copro-e2e-2",
        "--output-document",
        genesis,
        "-o",
        "json",
    ];
    let (ok, out, err) = run(&c.bin, &export, "");
    assert!(ok, "{out}{err}");
    let exported: Value = serde_json::from_str(out.trim())?;
    assert_eq!(exported["chain_id"], "copro-e2e-2");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(genesis)?)?;
    assert_eq!(doc["initial_height"], "1");
    assert!(doc["app_state"]["coprocessor"]["programs"].is_array());
    // The node's home becomes the new chain's: same keys, new data.
    let cometbft = copro_localnet::process::find_binary("cometbft")?;
    let reset = Command::new(&cometbft)
        .args(["unsafe-reset-all", "--home", &node_home])
        .output()?;
    assert!(reset.status.success(), "{reset:?}");
    let store = Path::new(&node_home).join("data").join("coprod");
    if store.exists() {
        std::fs::remove_dir_all(&store)?;
    }
    std::fs::copy(
        genesis,
        Path::new(&node_home).join("config").join("genesis.json"),
    )?;
    net.net.start_node(0)?;
    net.net
        .wait_for_height(0, 2, std::time::Duration::from_secs(30))
        .await
        .expect("the new chain makes blocks");
    c.json(&["config", "set", "chain-id", "copro-e2e-2"]);
    assert_eq!(c.json(&["query", "block", "1"])["chain_id"], "copro-e2e-2");
    assert_eq!(balances(&c), balances_before);
    assert_eq!(supply(&c), supply_before);
    // Its accounts sign there: a send from the twelve-word key.
    let alice = c.json(&["keys", "show", "alice"])["address"]
        .as_str()
        .expect("address")
        .to_string();
    let sent = c.json(&["tx", "bank", "send", "twelve", &alice, "1ucopro", "--wait"]);
    assert_eq!(sent["code"], 0, "{sent}");
    net.passed();
    Ok(())
}
