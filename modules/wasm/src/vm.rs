//! The node's CosmWasm VM: one cosmwasm-vm [`Cache`] of compiled modules, in
//! memory (LRU, [`limits::MEMORY_CACHE_MIB`]) and on disk (a directory under
//! the node's home), shared by block execution and the query servers.
//!
//! The cache is an optimisation only: the wasm bytes of every code are in
//! the Merkle store, so when the cache lacks a module (a fresh directory, a
//! node restored from a snapshot, a different VM version) it compiles the
//! bytes from state again. Nothing read from the cache decides a verdict.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use cosmwasm_std::Checksum;
use cosmwasm_vm::{
    Backend, Cache, CacheOptions, Config, Instance, InstanceOptions, Size, VmError, WasmLimits,
};

use crate::backend::{AddressApi, ChainQuerier, ContractStore};
use crate::limits;

/// The VM's backend types.
pub type WasmCache = Cache<AddressApi, ContractStore, ChainQuerier>;
/// A contract instance.
pub type WasmInstance = Instance<AddressApi, ContractStore, ChainQuerier>;

/// Capabilities contracts may require (`requires_*` exports): the
/// CosmWasm versions whose host API we implement, plus `iterator`. Not
/// `staking`, `stargate` or IBC: this chain has none of them.
pub const CAPABILITIES: &[&str] = &[
    "iterator",
    "cosmwasm_1_1",
    "cosmwasm_1_2",
    "cosmwasm_1_3",
    "cosmwasm_1_4",
    "cosmwasm_2_0",
    "cosmwasm_2_1",
    "cosmwasm_2_2",
    "cosmwasm_3_0",
    "copro",
];

/// A fault of this node (its cache directory, its state), not of the
/// contract: reported as a backend error, which the keeper turns into an
/// internal error (code 1).
fn local_fault(msg: impl Into<String>) -> VmError {
    VmError::from(cosmwasm_vm::BackendError::unknown(msg))
}

/// Counters of where instances came from (for measurements and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Instances made from a module in memory.
    pub memory_hits: u32,
    /// Instances made from a module on disk.
    pub disk_hits: u32,
    /// Instances that needed a compilation.
    pub misses: u32,
}

struct Inner {
    /// The cache directory; `None`: a temporary one, made on first use and
    /// removed with the VM.
    dir: Option<PathBuf>,
    temp: OnceLock<Option<tempfile::TempDir>>,
    cache: OnceLock<Result<WasmCache, String>>,
    /// Checksums known to be in the cache's wasm directory (so an execute
    /// does not read the wasm file to find out).
    known: Mutex<BTreeSet<[u8; 32]>>,
}

/// The VM (cheap to clone: one cache per node).
#[derive(Clone)]
pub struct Vm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("dir", &self.dir())
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// A VM caching compiled modules in `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_dir(Some(dir.into()))
    }

    /// A VM caching in a temporary directory, made when first needed and
    /// removed with the VM (tools and tests; a node uses [`Vm::new`] under
    /// its home).
    pub fn temporary() -> Self {
        Self::with_dir(None)
    }

    fn with_dir(dir: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                temp: OnceLock::new(),
                cache: OnceLock::new(),
                known: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    /// The cache directory (`None` for a temporary VM not used yet).
    pub fn dir(&self) -> Option<&Path> {
        match &self.inner.dir {
            Some(d) => Some(d),
            None => self
                .inner
                .temp
                .get()
                .and_then(|t| t.as_ref().map(|t| t.path())),
        }
    }

    /// The cache, opened on first use.
    // cosmwasm-vm takes the capabilities as a HashSet; it only tests
    // membership, never iterates them into a result.
    #[allow(clippy::disallowed_types)]
    pub fn cache(&self) -> Result<&WasmCache, VmError> {
        self.inner
            .cache
            .get_or_init(|| {
                let dir = match &self.inner.dir {
                    Some(d) => d.clone(),
                    None => self
                        .inner
                        .temp
                        .get_or_init(|| {
                            tempfile::Builder::new()
                                .prefix("copro-wasm-")
                                .tempdir()
                                .ok()
                        })
                        .as_ref()
                        .map(|t| t.path().to_path_buf())
                        .ok_or("cannot make a temporary directory")?,
                };
                let options = CacheOptions::new(
                    dir,
                    CAPABILITIES
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<std::collections::HashSet<_>>(),
                    Size::mebi(limits::MEMORY_CACHE_MIB as usize),
                    Size::mebi(limits::INSTANCE_MEMORY_MIB as usize),
                );
                let mut config = Config::new(options);
                config.wasm_limits = WasmLimits::default();
                // SAFETY (cosmwasm-vm's contract for `new_with_config`): the
                // directory is this node's own; modules in it were written by
                // this VM version (wasmer checks the format and we recompile
                // from state when it refuses).
                unsafe { Cache::new_with_config(config) }.map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| local_fault(format!("cannot open the wasm cache: {e}")))
    }

    /// Statically checks `wasm` (cosmwasm-vm's checks: exports, imports,
    /// capabilities, limits), compiles it and keeps the module in the cache.
    pub fn store(&self, wasm: &[u8]) -> Result<Checksum, VmError> {
        let checksum = self.cache()?.store_code(wasm, true, true)?;
        self.remember(&checksum);
        Ok(checksum)
    }

    fn remember(&self, checksum: &Checksum) {
        if let Ok(mut known) = self.inner.known.lock() {
            known.insert(*checksum.as_ref());
        }
    }

    fn is_known(&self, checksum: &Checksum) -> bool {
        self.inner
            .known
            .lock()
            .map(|k| k.contains(checksum.as_ref()))
            .unwrap_or(false)
    }

    /// Counters of the cache.
    pub fn stats(&self) -> CacheStats {
        match self.cache() {
            Ok(c) => {
                let s = c.stats();
                CacheStats {
                    memory_hits: s
                        .hits_memory_cache
                        .saturating_add(s.hits_pinned_memory_cache),
                    disk_hits: s.hits_fs_cache,
                    misses: s.misses,
                }
            }
            Err(_) => CacheStats::default(),
        }
    }

    /// An instance of the code with `checksum` over `backend`, allowed
    /// `gas_limit` VM gas. When the cache has lost the wasm (a new cache
    /// directory), `wasm` (read from state) is stored again first.
    pub fn instance(
        &self,
        checksum: &Checksum,
        wasm: impl FnOnce() -> Option<Vec<u8>>,
        backend: Backend<AddressApi, ContractStore, ChainQuerier>,
        gas_limit: u64,
    ) -> Result<WasmInstance, VmError> {
        let cache = self.cache()?;
        if !self.is_known(checksum) && cache.load_wasm(checksum).is_err() {
            let bytes = wasm().ok_or_else(|| local_fault("code bytes missing from state"))?;
            let started = Instant::now();
            // Checked on upload already; compiled again here.
            cache.store_code(&bytes, false, true)?;
            tracing::info!(checksum = %checksum, ms = started.elapsed().as_millis() as u64, "recompiled a contract missing from the wasm cache");
        }
        self.remember(checksum);
        cache.get_instance(checksum, backend, InstanceOptions { gas_limit })
    }
}
