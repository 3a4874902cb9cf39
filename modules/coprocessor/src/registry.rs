//! The program registry and the prover, changed only by the authority.
//! A program version is registered with its verifying key and the circuit
//! shape (batch size, tree arity and depth); a new version freezes the
//! active one, and a frozen version takes no more proofs.

use copro_circuits::encoding::{decode_vk, vk_hash};
use copro_circuits::transfer::MAX_BATCH;
use copro_circuits::transfer_v2;
use copro_circuits::verify::CheckedVerifyingKey;
use copro_module::{Address, Event};
use copro_store::StateWrite;

use crate::error::{CoproCode, CoproError, Result};
use crate::events::TypedEvent;
use crate::record::pb;
use crate::submit::MAX_PROGRAM_ID_LEN;
use crate::view::{CoproRead, CoproWrite};

/// Refuses `signer` unless it is the authority.
fn only_authority<S: CoproRead + ?Sized>(state: &S, signer: &str, what: &str) -> Result<()> {
    let authority = state.authority()?;
    if authority.is_empty() {
        return Err(CoproError::new(
            CoproCode::Unauthorized,
            format!("this chain has no coprocessor authority: nobody may {what}"),
        ));
    }
    if signer != authority {
        return Err(CoproError::new(
            CoproCode::Unauthorized,
            format!("only the authority ({authority}) may {what}; {signer} is not it"),
        ));
    }
    Ok(())
}

/// A program version as the registry takes it (from a message or genesis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Registry id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Canonical verifying-key bytes.
    pub verifying_key: Vec<u8>,
    /// Claimed SHA-256 of the key (checked), or empty to compute it.
    pub vk_hash: Vec<u8>,
    /// Batch size B.
    pub batch_size: u32,
    /// Tree arity of the circuit.
    pub tree_arity: u32,
    /// Tree depth of the circuit.
    pub tree_depth: u32,
    /// Off-chain batch size B_s: 0 for the version-1 rules, 1..=1024 for
    /// the `transfer` version-2 circuit.
    pub offchain_batch_size: u32,
}

/// Which rules a registered version's proofs are checked by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramKind {
    /// Queue entries only: `transfer::public_input` (B effects).
    TransferV1,
    /// `transfer_v2`: queue entries (with set-key) then off-chain transfers.
    TransferV2,
}

/// The kind of a stored program. The off-chain batch size decides, not the
/// version number: a version-1 circuit may be registered again under a
/// later version (and is then checked as version 1), while the version-2
/// circuit always has off-chain slots and binds id `transfer`, version 2.
pub fn kind(program: &pb::Program) -> ProgramKind {
    if program.offchain_batch_size > 0 {
        ProgramKind::TransferV2
    } else {
        ProgramKind::TransferV1
    }
}

fn invalid(log: impl Into<String>) -> CoproError {
    CoproError::new(CoproCode::InvalidProgram, log)
}

impl ProgramSpec {
    /// Checks the spec against the module parameters and returns the record
    /// to store (active, registered at `height`).
    pub fn validate(&self, params: &pb::Params, height: u64) -> Result<pb::Program> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_PROGRAM_ID_LEN
            && self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !id_ok {
            return Err(invalid(format!(
                "program id '{}' must be 1 to {MAX_PROGRAM_ID_LEN} of a-z, 0-9, _ and -, starting with a letter",
                self.id
            )));
        }
        if self.version == 0 {
            return Err(invalid("program versions start at 1"));
        }
        if self.batch_size == 0 || self.batch_size as usize > MAX_BATCH {
            return Err(invalid(format!(
                "batch size {} must be 1 to {MAX_BATCH}",
                self.batch_size
            )));
        }
        if self.offchain_batch_size as usize > transfer_v2::MAX_BATCH {
            return Err(invalid(format!(
                "off-chain batch size {} must be at most {}",
                self.offchain_batch_size,
                transfer_v2::MAX_BATCH
            )));
        }
        if self.offchain_batch_size > 0
            && (self.id.as_str(), self.version)
                != (transfer_v2::PROGRAM_ID, transfer_v2::PROGRAM_VERSION)
        {
            // The version-2 circuit hashes its own id and version into the
            // public input, so no other registration could ever verify.
            return Err(invalid(format!(
                "an off-chain batch size is the '{}' version {} circuit's; '{}' version {} takes 0",
                transfer_v2::PROGRAM_ID,
                transfer_v2::PROGRAM_VERSION,
                self.id,
                self.version
            )));
        }
        if (self.tree_arity, self.tree_depth) != (params.tree_arity, params.tree_depth) {
            return Err(invalid(format!(
                "the circuit is for a tree of arity {} and depth {}, the ledger has arity {} and depth {}",
                self.tree_arity, self.tree_depth, params.tree_arity, params.tree_depth
            )));
        }
        let vk =
            decode_vk(&self.verifying_key).map_err(|e| invalid(format!("verifying key: {e}")))?;
        let hash = vk_hash(&vk);
        if !self.vk_hash.is_empty() && self.vk_hash != hash {
            return Err(invalid(
                "vk_hash is not the SHA-256 of the verifying key: copy both from the same setup",
            ));
        }
        CheckedVerifyingKey::new(vk).map_err(|e| invalid(format!("verifying key: {e}")))?;
        Ok(pb::Program {
            id: self.id.clone(),
            version: self.version,
            verifying_key: self.verifying_key.clone(),
            vk_hash: hash.to_vec(),
            batch_size: self.batch_size,
            tree_arity: self.tree_arity,
            tree_depth: self.tree_depth,
            status: pb::ProgramStatus::Active as i32,
            registered_height: height,
            offchain_batch_size: self.offchain_batch_size,
        })
    }
}

/// Registers the first version of a new program (`MsgRegisterProgram`).
pub fn register<S: StateWrite + ?Sized>(
    state: &mut S,
    signer: &str,
    spec: &ProgramSpec,
    height: u64,
) -> Result<Vec<Event>> {
    only_authority(state, signer, "register programs")?;
    if !state.program_versions(&spec.id, 1)?.is_empty() {
        return Err(invalid(format!(
            "program '{}' exists: register a new version with MsgUpdateProgram",
            spec.id
        )));
    }
    let program = spec.validate(&state.params()?, height)?;
    state.put_program(&program);
    Ok(vec![
        pb::EventProgramRegistered {
            program_id: program.id.clone(),
            version: program.version,
            vk_hash: program.vk_hash.clone(),
            batch_size: program.batch_size,
        }
        .event(),
    ])
}

/// Registers a new version and freezes the active one
/// (`MsgUpdateProgram`). Returns the frozen version (0 if none was active).
pub fn update<S: StateWrite + ?Sized>(
    state: &mut S,
    signer: &str,
    spec: &ProgramSpec,
    height: u64,
) -> Result<(u32, Vec<Event>)> {
    only_authority(state, signer, "update programs")?;
    // Versions are few; 1024 bounds the read.
    let versions = state.program_versions(&spec.id, 1024)?;
    let Some(latest) = versions.iter().map(|p| p.version).max() else {
        return Err(invalid(format!(
            "program '{}' is not registered: use MsgRegisterProgram",
            spec.id
        )));
    };
    if spec.version <= latest {
        return Err(invalid(format!(
            "version {} of '{}' must be above the latest, {latest}",
            spec.version, spec.id
        )));
    }
    let program = spec.validate(&state.params()?, height)?;
    let mut frozen = 0;
    for mut old in versions {
        if old.status == pb::ProgramStatus::Active as i32 {
            old.status = pb::ProgramStatus::Frozen as i32;
            frozen = old.version;
            state.put_program(&old);
        }
    }
    state.put_program(&program);
    let event = pb::EventProgramUpdated {
        program_id: program.id.clone(),
        version: program.version,
        frozen_version: frozen,
        vk_hash: program.vk_hash.clone(),
        batch_size: program.batch_size,
    };
    Ok((frozen, vec![event.event()]))
}

/// Replaces the prover (`MsgSetProver`).
pub fn set_prover<S: StateWrite + ?Sized>(
    state: &mut S,
    signer: &str,
    prover: &str,
) -> Result<Vec<Event>> {
    only_authority(state, signer, "set the prover")?;
    let prover = Address::parse(prover)?;
    let previous = state.prover()?;
    state.put_prover(prover.as_str());
    Ok(vec![
        pb::EventProverSet {
            previous_prover: previous,
            prover: prover.to_string(),
        }
        .event(),
    ])
}
