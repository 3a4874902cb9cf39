//! The single public input of every copro proof.
//!
//! ```text
//! public_input = sponge(PUBLIC_INPUT, [
//!     hash_bytes(chain_id),        // chain-id bytes, packed 31 bytes per element + length
//!     hash_bytes(program_id),      // e.g. "transfer"
//!     program_version,             // u32
//!     old_root, new_root,          // ledger roots before / after
//!     queue_before, queue_after,   // queue hash chain before / after the batch
//!     deltas_commitment,           // the program's deltas-and-outputs commitment
//! ])
//! ```
//!
//! The domain tag is [`tags::PUBLIC_INPUT`]
//! in the sponge's capacity, together with the input length (8).

use bellman::{ConstraintSystem, SynthesisError};

use crate::field::Fr;
use crate::gadgets::Lin;
use crate::poseidon::{self, gadget as pg, tags};

/// Everything a proof is bound to. Validators fill it from chain state and the
/// submitted message, then call [`PublicInputs::commitment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicInputs {
    /// The chain-id, as bytes (e.g. `b"copro-local-1"`).
    pub chain_id: Vec<u8>,
    /// Program id (e.g. `"transfer"`).
    pub program_id: String,
    /// Program version.
    pub program_version: u32,
    /// Ledger root before the batch.
    pub old_root: Fr,
    /// Ledger root after the batch.
    pub new_root: Fr,
    /// Queue hash chain value before the first consumed entry.
    pub queue_before: Fr,
    /// Queue hash chain value after the last consumed entry.
    pub queue_after: Fr,
    /// The program's commitment to its deltas and outputs.
    pub deltas_commitment: Fr,
}

impl PublicInputs {
    /// The field elements hashed into the commitment, in order.
    pub fn elements(&self) -> [Fr; 8] {
        [
            poseidon::hash_bytes(&self.chain_id),
            poseidon::hash_bytes(self.program_id.as_bytes()),
            Fr::from(u64::from(self.program_version)),
            self.old_root,
            self.new_root,
            self.queue_before,
            self.queue_after,
            self.deltas_commitment,
        ]
    }

    /// The one public input of the proof.
    pub fn commitment(&self) -> Fr {
        poseidon::sponge(tags::PUBLIC_INPUT, &self.elements())
    }
}

/// The in-circuit values of [`PublicInputs::elements`].
#[derive(Debug, Clone)]
pub struct PublicInputVars {
    /// `hash_bytes(chain_id)` (private witness).
    pub chain_id_hash: Lin,
    /// `hash_bytes(program_id)` (private witness).
    pub program_id_hash: Lin,
    /// Program version (private witness).
    pub program_version: Lin,
    /// Old root.
    pub old_root: Lin,
    /// New root.
    pub new_root: Lin,
    /// Queue before.
    pub queue_before: Lin,
    /// Queue after.
    pub queue_after: Lin,
    /// Deltas commitment.
    pub deltas_commitment: Lin,
}

/// Allocates the one public input, hashes `vars` with the sponge and enforces
/// equality. This is the only public input of the circuit.
pub fn enforce_public_input<CS: ConstraintSystem<Fr>>(
    cs: &mut CS,
    vars: &PublicInputVars,
) -> Result<(), SynthesisError> {
    let elements = [
        vars.chain_id_hash.clone(),
        vars.program_id_hash.clone(),
        vars.program_version.clone(),
        vars.old_root.clone(),
        vars.new_root.clone(),
        vars.queue_before.clone(),
        vars.queue_after.clone(),
        vars.deltas_commitment.clone(),
    ];
    let h = pg::sponge(
        &mut cs.namespace(|| "public input sponge"),
        tags::PUBLIC_INPUT,
        &elements,
    )?;
    let input = Lin::alloc_input(cs, "public input", h.value())?;
    crate::gadgets::enforce_equal(cs, "public input matches", &h, &input);
    Ok(())
}
