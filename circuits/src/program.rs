//! The [`Program`] trait: what a provable program provides. Adding a program
//! means implementing this trait in one module and registering its id.

use bellman::Circuit;

use crate::field::Fr;

/// A provable program: native execution, its bellman circuit and the shape
/// parameters the circuit (and so the proving key) depends on.
pub trait Program {
    /// Registry id, hashed into the public input.
    const ID: &'static str;
    /// Version, hashed into the public input; bump on any circuit change.
    const VERSION: u32;

    /// Shape parameters (batch size, tree shape, ...). One proving key per value.
    type Params: Clone + core::fmt::Debug;
    /// Native state the program runs over (e.g. the ledger).
    type State;
    /// One batch of input (e.g. queue entries).
    type Batch: ?Sized;
    /// Everything the native run produces for the chain (roots, deltas, ...).
    type Outcome;
    /// The private witness of the circuit.
    type Witness: Clone;
    /// Native execution errors.
    type Error: std::error::Error;
    /// The circuit type.
    type Circuit: Circuit<Fr> + Clone;

    /// Runs `batch` natively over `state` (mutating it) and returns the outcome
    /// and the witness.
    fn execute(
        params: &Self::Params,
        chain_id: &[u8],
        state: &mut Self::State,
        batch: &Self::Batch,
    ) -> Result<(Self::Outcome, Self::Witness), Self::Error>;

    /// The circuit for `params`; `witness` is `None` for key generation.
    fn circuit(params: &Self::Params, witness: Option<Self::Witness>) -> Self::Circuit;

    /// The single public input the circuit exposes for `outcome`.
    fn public_input(outcome: &Self::Outcome) -> Fr;
}
