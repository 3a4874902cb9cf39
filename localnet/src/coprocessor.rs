//! The coprocessor on a localnet: a dev `transfer` program whose keys are
//! made once and cached (a second `up` does not run the setup again), the
//! `prover` and `authority` keys in the keyring, and the genesis section
//! that registers them (written with `coprod genesis`).
//!
//! The keys come from `copro-prover setup`, a single-party setup: whoever
//! ran it can forge proofs, so they are for localnets and tests only.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::process;

/// Entries per proof of the dev program.
pub const DEV_BATCH: usize = 4;
/// Off-chain slots per proof of the dev `transfer` version-2 program.
pub const DEV_OFFCHAIN: usize = 2;
/// Ledger tree arity (production shape: 4^16 = 2^32 accounts).
pub const DEV_ARITY: u32 = 4;
/// Ledger tree depth.
pub const DEV_DEPTH: u32 = 16;
/// Keyring name of the prover's key.
pub const PROVER_KEY: &str = "prover";
/// Keyring name of the coprocessor authority's key.
pub const AUTHORITY_KEY: &str = "authority";

/// Where the dev program's keys are cached: `$COPRO_DEV_KEYS`, else
/// `dev-keys/` beside the directory of the binaries (`target/dev-keys`).
pub fn dev_keys_dir() -> anyhow::Result<PathBuf> {
    keys_dir_for(0)
}

/// Where the keys of the dev program with `offchain` off-chain slots are
/// cached (0: version 1).
fn keys_dir_for(offchain: usize) -> anyhow::Result<PathBuf> {
    let shape = match offchain {
        0 => format!("transfer-b{DEV_BATCH}-a{DEV_ARITY}-d{DEV_DEPTH}"),
        s => format!("transfer-v2-b{DEV_BATCH}-s{s}-a{DEV_ARITY}-d{DEV_DEPTH}"),
    };
    if let Some(dir) = std::env::var_os("COPRO_DEV_KEYS") {
        return Ok(PathBuf::from(dir).join(shape));
    }
    let prover = process::find_binary("copro-prover")?;
    let bin_dir = prover
        .parent()
        .context("copro-prover has no parent directory")?;
    let base = bin_dir.parent().unwrap_or(bin_dir);
    Ok(base.join("dev-keys").join(shape))
}

/// The dev program's keys, generated with `copro-prover setup` the first
/// time (about half a minute on 2 cores) and reused after.
pub fn ensure_dev_keys() -> anyhow::Result<PathBuf> {
    ensure_keys(0)
}

/// The dev `transfer` version-2 program's keys ([`DEV_BATCH`] queue slots,
/// [`DEV_OFFCHAIN`] off-chain slots), made once like [`ensure_dev_keys`]
/// (about a minute on 2 cores).
pub fn ensure_dev_keys_v2() -> anyhow::Result<PathBuf> {
    ensure_keys(DEV_OFFCHAIN)
}

/// The dev `transfer` keys with `offchain` off-chain slots (0: version 1),
/// made once and cached.
pub fn ensure_keys(offchain: usize) -> anyhow::Result<PathBuf> {
    let dir = keys_dir_for(offchain)?;
    if dir.join("verifying_key.bin").is_file() && dir.join("proving_key.bin").is_file() {
        return Ok(dir);
    }
    eprintln!(
        "localnet: generating the dev program's keys (once; cached in {})",
        dir.display()
    );
    // Written beside, then renamed: an interrupted setup leaves no half
    // cache behind.
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    process::run(
        Command::new(process::find_binary("copro-prover")?)
            .args(["setup", "--program", "transfer"])
            .args(["--batch", &DEV_BATCH.to_string()])
            .args(["--arity", &DEV_ARITY.to_string()])
            .args(["--depth", &DEV_DEPTH.to_string()])
            .args(["--offchain-batch", &offchain.to_string()])
            .arg("--out")
            .arg(&partial),
    )?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("cannot move the new keys to {}", dir.display()))?;
    Ok(dir)
}

/// K of a localnet's inclusion rule: a proof must settle every request
/// queued this many blocks before it. Well above a debug build's proving
/// time of a batch (about 10 s, 30 blocks at the tests' block time) on a
/// busy 2-core machine, so the prover never races it.
pub const INCLUSION_DELAY_BLOCKS: u64 = 120;

/// Writes the coprocessor section of the genesis in `home` the way an
/// operator would, with `coprod genesis add-program`, `set-authority`,
/// `set-prover` and `set-inclusion-delay` (the program also sets the
/// ledger's tree shape).
pub fn add_to_genesis(
    coprod: &Path,
    home: &Path,
    keys: &Path,
    authority: &str,
    prover: &str,
) -> anyhow::Result<()> {
    let genesis = |args: &[&std::ffi::OsStr]| {
        process::run(
            Command::new(coprod)
                .arg("genesis")
                .args(args)
                .arg("--home")
                .arg(home),
        )
    };
    genesis(&["add-program".as_ref(), "--keys".as_ref(), keys.as_os_str()])?;
    genesis(&["set-authority".as_ref(), authority.as_ref()])?;
    genesis(&["set-prover".as_ref(), prover.as_ref()])?;
    let k = INCLUSION_DELAY_BLOCKS.to_string();
    genesis(&["set-inclusion-delay".as_ref(), k.as_ref()])?;
    Ok(())
}
