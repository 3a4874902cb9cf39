//! Issue #10: CosmWasm contracts on a real 4-validator localnet, through
//! the `coprod` CLI only.
//!
//! The real wasm of `contracts/` (built by scripts/setup.sh) is stored,
//! instantiated, executed and queried (`smart`, `raw`, `code`,
//! `contract`); a sub-message that fails is answered by a reply and undone;
//! `verified-gate` asks the chain's `copro` query for a verified result that
//! does not exist and keeps its funds. Then bad input: wasm that is not
//! wasm, a gzip bomb, a module that is no contract, an unknown import, a contract that panics, one
//! that loops until it runs out of gas, a query that recurses: each fails
//! with its code, the chain goes on, and every validator has the same app
//! hash at every height.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use copro_integration::cli::{CoprodCli, attr, contracts_dir};
use copro_integration::{TestNet, assert_same_app_hashes, height};
use serde_json::json;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p.to_str().expect("utf-8").to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmwasm_contracts_run_on_four_validators_and_bad_wasm_fails_cleanly() -> anyhow::Result<()>
{
    let net = TestNet::start(4, 28600).await?;
    let c = CoprodCli::new(&net, 1)?;
    let dir = c.home();
    let chaos_wasm = contracts_dir().join("chaos.wasm");
    let gate_wasm = contracts_dir().join("verified_gate.wasm");
    let chaos_path = chaos_wasm.to_str().expect("utf-8");
    let gate_path = gate_wasm.to_str().expect("utf-8");
    let mut figures = Vec::new();

    // Store both contracts (gzipped by the CLI).
    let (stored, secs) = c.tx(&["wasm", "store", "alice", chaos_path, "--gas", "3000000"]);
    let chaos_id = attr(&stored, "store_code", "code_id");
    figures.push(format!(
        "store chaos ({} bytes): gas {}, {secs:.2}s to commit",
        std::fs::metadata(&chaos_wasm)?.len(),
        stored["gas_used"]
    ));
    let (stored, secs) = c.tx(&["wasm", "store", "alice", gate_path, "--gas", "3000000"]);
    let gate_id = attr(&stored, "store_code", "code_id");
    figures.push(format!(
        "store verified-gate ({} bytes): gas {}, {secs:.2}s",
        std::fs::metadata(&gate_wasm)?.len(),
        stored["gas_used"]
    ));
    let code = c.ok(&["query", "wasm", "code", &chaos_id]);
    assert_eq!(code["size"], std::fs::metadata(&chaos_wasm)?.len());
    assert_eq!(code["checksum"].as_str().map(str::len), Some(64));

    // Instantiate, execute, query.
    let (inst, secs) = c.tx(&[
        "wasm",
        "instantiate",
        "alice",
        &chaos_id,
        "{}",
        "--label",
        "chaos",
        "--gas",
        "400000",
    ]);
    let chaos = attr(&inst, "instantiate", "_contract_address");
    figures.push(format!(
        "instantiate chaos: gas {}, {secs:.2}s",
        inst["gas_used"]
    ));
    let info = c.ok(&["query", "wasm", "contract", &chaos]);
    assert_eq!(info["contract_info"]["code_id"], chaos_id.as_str());
    assert_eq!(info["contract_info"]["label"], "chaos");
    let (exec, secs) = c.tx(&[
        "wasm",
        "execute",
        "alice",
        &chaos,
        r#"{"incr":{}}"#,
        "--gas",
        "400000",
    ]);
    assert_eq!(attr(&exec, "wasm", "count"), "1");
    figures.push(format!(
        "execute chaos incr: gas {}, {secs:.2}s",
        exec["gas_used"]
    ));
    let started = Instant::now();
    let state = c.ok(&["query", "wasm", "smart", &chaos, r#"{"state":{}}"#]);
    figures.push(format!(
        "smart query (CLI round trip): {:.3}s",
        started.elapsed().as_secs_f64()
    ));
    assert_eq!(
        state["data"],
        json!({"count": 1, "poisoned": false, "last_reply": null, "nan_bits": null})
    );
    assert_eq!(
        c.ok(&["query", "wasm", "raw", &chaos, "count"])["text"],
        "1"
    );

    // A failing sub-message answered by a reply: its write undone, the
    // caller's kept.
    let (tried, _) = c.tx(&[
        "wasm",
        "execute",
        "alice",
        &chaos,
        r#"{"try_fail":{}}"#,
        "--gas",
        "800000",
    ]);
    assert_eq!(attr(&tried, "wasm", "replied"), "7");
    let state = c.ok(&["query", "wasm", "smart", &chaos, r#"{"state":{}}"#]);
    assert_eq!(state["data"]["count"], 2);
    assert_eq!(state["data"]["poisoned"], false);
    assert!(
        state["data"]["last_reply"]
            .as_str()
            .unwrap_or("")
            .contains("failing on purpose"),
        "{state}"
    );

    // verified-gate: funds locked; no verified result yet, so no release.
    let bob = c.ok(&["keys", "show", "bob"])["address"]
        .as_str()
        .expect("bob")
        .to_string();
    let init =
        json!({"beneficiary": bob, "account": bob, "min_balance": "1", "expires_at": 1_000_000})
            .to_string();
    let (inst, secs) = c.tx(&[
        "wasm",
        "instantiate",
        "alice",
        &gate_id,
        &init,
        "--label",
        "gate",
        "--amount",
        "5000ucopro",
        "--gas",
        "400000",
    ]);
    let gate = attr(&inst, "instantiate", "_contract_address");
    figures.push(format!(
        "instantiate verified-gate: gas {}, {secs:.2}s",
        inst["gas_used"]
    ));
    assert_eq!(
        c.ok(&["query", "bank", "balance", &gate])["balance"]["amount"],
        "5000"
    );
    let (code, space, log) = c.refused(&[
        "tx",
        "wasm",
        "execute",
        "alice",
        &gate,
        r#"{"release":{"result_id":1}}"#,
        "--gas",
        "400000",
        "--wait",
    ]);
    assert_eq!((code, space.as_str()), (5, "wasm"), "{log}");
    assert!(log.contains("no verified result 1"), "{log}");
    assert_eq!(
        c.ok(&["query", "wasm", "smart", &gate, r#"{"status":{}}"#])["data"]["status"],
        "open"
    );

    // Bad wasm, each refused with its code; nothing stored.
    let not_wasm = write(&dir, "not.wasm", b"this is not wasm");
    let (code, space, log) = c.refused(&[
        "tx", "wasm", "store", "alice", &not_wasm, "--gas", "3000000", "--wait",
    ]);
    assert_eq!((code, space.as_str()), (2, "wasm"), "{log}");
    let mut bomb = b"\0asm\x01\0\0\0".to_vec();
    bomb.resize(4 * 1024 * 1024, 0);
    let bomb = write(&dir, "bomb.wasm.gz", &gzip(&bomb));
    let (code, space, log) = c.refused(&[
        "tx", "wasm", "store", "alice", &bomb, "--gas", "3000000", "--wait",
    ]);
    assert_eq!((code, space.as_str()), (13, "wasm"), "{log}");
    assert!(log.contains("too large"), "{log}");
    let no_exports = write(&dir, "empty-module.wasm", &wat::parse_str("(module)")?);
    let (code, space, log) = c.refused(&[
        "tx",
        "wasm",
        "store",
        "alice",
        &no_exports,
        "--gas",
        "3000000",
        "--wait",
    ]);
    assert_eq!((code, space.as_str()), (2, "wasm"), "{log}");
    let import = wat::parse_str(
        r#"(module (import "env" "read_the_clock" (func)) (memory (export "memory") 1)
           (func (export "interface_version_8")) (func (export "allocate") (param i32) (result i32) i32.const 0)
           (func (export "deallocate") (param i32)))"#,
    )?;
    let import = write(&dir, "import.wasm", &import);
    let (code, space, log) = c.refused(&[
        "tx", "wasm", "store", "alice", &import, "--gas", "3000000", "--wait",
    ]);
    assert_eq!((code, space.as_str()), (2, "wasm"), "{log}");
    assert!(log.contains("read_the_clock"), "{log}");

    // A panicking contract, an endless loop, a recursing query.
    let (code, space, log) = c.refused(&[
        "tx",
        "wasm",
        "execute",
        "alice",
        &chaos,
        r#"{"panic":{}}"#,
        "--gas",
        "400000",
        "--wait",
    ]);
    assert_eq!((code, space.as_str()), (5, "wasm"), "{log}");
    assert!(log.contains("panic"), "{log}");
    let started = Instant::now();
    let (code, space, log) = c.refused(&[
        "tx",
        "wasm",
        "execute",
        "alice",
        &chaos,
        r#"{"loop":{}}"#,
        "--gas",
        "2000000",
        "--wait",
    ]);
    assert_eq!((code, space.as_str()), (11, "sdk"), "{log}");
    figures.push(format!(
        "endless loop with --gas 2000000: refused (out of gas) in {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    let (ok, _, text) = c.run(&["query", "wasm", "smart", &chaos, r#"{"recurse":{}}"#]);
    assert!(!ok && text.contains("deeper than"), "{text}");

    // Nothing of the failures was written; the chain went on.
    let (exec, _) = c.tx(&[
        "wasm",
        "execute",
        "alice",
        &chaos,
        r#"{"incr":{}}"#,
        "--gas",
        "400000",
    ]);
    assert_eq!(attr(&exec, "wasm", "count"), "3");
    let state = c.ok(&["query", "wasm", "smart", &chaos, r#"{"state":{}}"#]);
    assert_eq!(state["data"]["poisoned"], false);
    let (ok, _, text) = c.run(&["query", "wasm", "code", "3"]);
    assert!(
        !ok && text.contains("no code with id 3"),
        "no third code: {text}"
    );

    let top = height(&net.client(0)).await?;
    assert_same_app_hashes(&net, 1, top).await?;
    for f in &figures {
        eprintln!("figure: {f}");
    }
    net.passed();
    Ok(())
}
