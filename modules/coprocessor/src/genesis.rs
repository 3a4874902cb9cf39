//! The coprocessor section of the genesis `app_state` (JSON):
//!
//! ```json
//! {"params": {"ledger_denom": "ucopro", "tree_arity": 4, "tree_depth": 16,
//!             "inclusion_delay_blocks": 0},
//!  "authority": "copro1...", "prover": "copro1...",
//!  "programs": [{"id": "transfer", "version": 1, "verifying_key": "<hex>",
//!                "batch_size": 8, "tree_arity": 4, "tree_depth": 16}]}
//! ```
//!
//! The ledger starts empty (root of the empty tree, recorded as the first
//! entry of the root history at height 0), the queue starts empty with hash
//! chain `q_0 = 0`, there are no results. Programs are registered active,
//! at most one version per id; `vk_hash` may be given and is then checked.
//!
//! An export (`coprod export`) holds the parameters, the authority, the
//! prover and the programs. It exists only for a ledger that was never
//! used: this format has no ledger accounts, queued requests or results, so
//! a state that has any (or a program with several versions, or a frozen
//! one) is refused with what it holds.

use copro_circuits::smt::empty_roots;
use copro_module::Address;
use copro_store::{StateRead, StateWrite};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::error::{CoproCode, CoproError, Result};
use crate::history::{self, RootHistory};
use crate::record::{fr_bytes, genesis_queue, pb, tree_config};
use crate::registry::ProgramSpec;
use crate::view::{CoproRead, CoproWrite};

/// Genesis parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisParams {
    /// Bank denom of the ledger.
    pub ledger_denom: String,
    /// Ledger tree arity (2 or 4).
    pub tree_arity: u32,
    /// Ledger tree depth.
    pub tree_depth: u32,
    /// K: a proof must settle every request older than K blocks (0: off).
    #[serde(default)]
    pub inclusion_delay_blocks: u64,
}

/// A genesis program version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisProgram {
    /// Registry id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Verifying key, canonical encoding, hex.
    pub verifying_key: String,
    /// SHA-256 of the key, hex (optional; checked when given).
    #[serde(default)]
    pub vk_hash: String,
    /// Batch size B.
    pub batch_size: u32,
    /// Tree arity of the circuit.
    pub tree_arity: u32,
    /// Tree depth of the circuit.
    pub tree_depth: u32,
    /// Off-chain batch size B_s (0, the default, for the version-1 rules;
    /// omitted from the JSON when 0, so version-1 sections are unchanged).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offchain_batch_size: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The coprocessor genesis section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    /// Parameters.
    pub params: GenesisParams,
    /// The authority ("" for none: the registry and the prover are then
    /// fixed by genesis).
    #[serde(default)]
    pub authority: String,
    /// The prover ("" for none: no proof is accepted until the authority
    /// sets one).
    #[serde(default)]
    pub prover: String,
    /// Registered programs.
    #[serde(default)]
    pub programs: Vec<GenesisProgram>,
}

fn genesis_error(log: impl Into<String>) -> CoproError {
    CoproError::new(CoproCode::InvalidRequest, log)
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| genesis_error(format!("{what} is not hex: {e}")))
}

impl Default for GenesisState {
    /// The production ledger shape (arity 4, depth 16: 2^32 accounts) in
    /// `ucopro`, no authority, no prover, no programs.
    fn default() -> Self {
        Self {
            params: GenesisParams {
                ledger_denom: "ucopro".into(),
                tree_arity: 4,
                tree_depth: 16,
                inclusion_delay_blocks: 0,
            },
            authority: String::new(),
            prover: String::new(),
            programs: Vec::new(),
        }
    }
}

impl GenesisState {
    /// The genesis section of `state`, if it can hold it (see the module
    /// docs); an error says what it cannot hold.
    pub fn export<S: StateRead + ?Sized>(state: &S) -> Result<Self> {
        let accounts = state.next_index()?;
        let requests = state.queue_state()?.next_sequence;
        let results = state.result_count()?;
        if accounts > 0 || requests > 0 || results > 0 {
            return Err(genesis_error(format!(
                "the coprocessor ledger is in use (accounts: {accounts}, requests: {requests}, \
                 results: {results}) and its genesis format cannot hold ledger state yet; \
                 export a height before the first ledger request"
            )));
        }
        let stored = state
            .prefix_raw(&crate::state_key::programs(), usize::MAX)?
            .into_iter()
            .map(|(_, raw)| {
                pb::Program::decode(raw.as_slice())
                    .map_err(|_| CoproError::internal("corrupt program in state"))
            })
            .collect::<Result<Vec<_>>>()?;
        // Listed by id then version: a repeated id is a later version.
        if let Some(w) = stored.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(genesis_error(format!(
                "program '{}' has several versions; genesis holds one version per id",
                w[0].id
            )));
        }
        let mut programs = Vec::with_capacity(stored.len());
        for p in stored {
            if p.status != pb::ProgramStatus::Active as i32 {
                return Err(genesis_error(format!(
                    "program '{}' version {} is not active; genesis registers active programs only",
                    p.id, p.version
                )));
            }
            programs.push(GenesisProgram {
                id: p.id,
                version: p.version,
                verifying_key: hex::encode(&p.verifying_key),
                vk_hash: hex::encode(&p.vk_hash),
                batch_size: p.batch_size,
                tree_arity: p.tree_arity,
                tree_depth: p.tree_depth,
                offchain_batch_size: p.offchain_batch_size,
            });
        }
        let p = state.params()?;
        Ok(Self {
            params: GenesisParams {
                ledger_denom: p.ledger_denom,
                tree_arity: p.tree_arity,
                tree_depth: p.tree_depth,
                inclusion_delay_blocks: p.inclusion_delay_blocks,
            },
            authority: state.authority()?,
            prover: state.prover()?,
            programs,
        })
    }

    /// Writes the genesis state.
    pub fn init<S: StateWrite + ?Sized>(&self, state: &mut S) -> Result<()> {
        let p = &self.params;
        let tree = tree_config(p.tree_arity, p.tree_depth)?;
        if p.ledger_denom.is_empty() {
            return Err(genesis_error("params.ledger_denom is empty"));
        }
        let params = pb::Params {
            ledger_denom: p.ledger_denom.clone(),
            tree_arity: p.tree_arity,
            tree_depth: p.tree_depth,
            inclusion_delay_blocks: p.inclusion_delay_blocks,
        };
        state.put_params(&params);
        if !self.authority.is_empty() {
            state.put_authority(Address::parse(&self.authority)?.as_str());
        }
        if !self.prover.is_empty() {
            state.put_prover(Address::parse(&self.prover)?.as_str());
        }
        for g in &self.programs {
            if !state.program_versions(&g.id, 1)?.is_empty() {
                return Err(genesis_error(format!(
                    "program '{}' is listed twice: genesis registers one version per id",
                    g.id
                )));
            }
            let spec = ProgramSpec {
                id: g.id.clone(),
                version: g.version,
                verifying_key: unhex(&g.verifying_key, "verifying_key")?,
                vk_hash: unhex(&g.vk_hash, "vk_hash")?,
                batch_size: g.batch_size,
                tree_arity: g.tree_arity,
                tree_depth: g.tree_depth,
                offchain_batch_size: g.offchain_batch_size,
            };
            state.put_program(&spec.validate(&params, 0)?);
        }
        let root = empty_roots(tree)[tree.depth as usize];
        let mut history = RootHistory::new();
        let history_index = history
            .append(history::leaf(0, root))
            .map_err(CoproError::internal)?;
        state.put_root_history(&history);
        state.put_root_record(&pb::RootRecord {
            set_height: 0,
            root: fr_bytes(&root),
            history_index,
            history_root: fr_bytes(&history.root()),
        });
        state.put_queue_state(&genesis_queue());
        Ok(())
    }
}
