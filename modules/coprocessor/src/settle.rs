//! The prover's half of a settlement, shared by the prover daemon, the
//! benchmarks and the tests: from the chain's pending requests to a
//! `MsgSubmitProof`. It runs the program natively over the prover's own
//! copy of the ledger tree and proves the batch; the chain checks the
//! result without running either.

use bellman::groth16;
use bls12_381::{Bls12, Scalar as Fr};
use copro_circuits::encoding::encode_proof;
use copro_circuits::program::Program;
use copro_circuits::smt::NodeStore;
use copro_circuits::transfer::{EntryEffect, Ledger, Transfer, TransferOutcome, TransferParams};
use rand_core::RngCore;

use crate::error::{CoproError, Result};
use crate::record::{circuit_entry, fr_bytes, fr_of, pb};

/// A batch executed natively: the submission without its proof, and the
/// witness to prove it with.
pub struct Executed {
    /// The message, `proof` still empty.
    pub msg: pb::MsgSubmitProof,
    /// The native outcome (roots, effects, deltas).
    pub outcome: TransferOutcome,
    /// The circuit witness.
    pub witness: <Transfer as Program>::Witness,
}

/// The submitted form of an effect.
pub fn effect_msg(e: &EntryEffect) -> pb::EntryEffect {
    pb::EntryEffect {
        status: e.status as i32,
        from_balance: e.from_balance,
        from_nonce: e.from_nonce,
        to_balance: e.to_balance,
    }
}

/// The submitted form of an off-chain entry (`transfer_v2::OffchainEntry`).
pub fn offchain_msg(e: &copro_circuits::transfer_v2::OffchainEntry) -> pb::OffchainEntry {
    use copro_circuits::transfer_v2::Recipient;
    use pb::offchain_entry::Recipient as R;
    pb::OffchainEntry {
        from_index: e.from_index,
        amount: e.amount,
        recipient: Some(match e.recipient {
            Recipient::Existing(i) => R::ToIndex(i),
            Recipient::New(address) => R::ToAddress(address.to_vec()),
        }),
    }
}

/// Executes `entries` (the next pending requests, in order, starting at
/// the queue's `settled_up_to`) over `ledger`, which advances.
pub fn execute<S: NodeStore>(
    params: &TransferParams,
    chain_id: &str,
    program: (&str, u32),
    signer: &str,
    ledger: &mut Ledger<S>,
    queue: &pb::QueueState,
    entries: &[pb::QueueEntry],
) -> Result<Executed> {
    let start = entries.first().map_or(queue.settled_up_to, |e| e.sequence);
    let circuit_entries = entries
        .iter()
        .map(circuit_entry)
        .collect::<Result<Vec<_>>>()?;
    let queue_before = fr_of(&queue.settled_hash, "queue hash")?;
    let (mut outcome, mut witness) = copro_circuits::transfer::execute(
        params,
        chain_id.as_bytes(),
        ledger,
        queue_before,
        &circuit_entries,
    )
    .map_err(|e| CoproError::internal(format!("native execution failed: {e}")))?;
    // The proof claims the registered version it is submitted for (the
    // same circuit may be registered again under a later version).
    outcome.public.program_version = program.1;
    witness.program_version = program.1;
    let msg = pb::MsgSubmitProof {
        signer: signer.to_string(),
        program_id: program.0.to_string(),
        program_version: program.1,
        old_root: fr_bytes(&outcome.public.old_root),
        new_root: fr_bytes(&outcome.public.new_root),
        start_sequence: start,
        end_sequence: start + entries.len() as u64,
        effects: outcome.effects.iter().map(effect_msg).collect(),
        proof: Vec::new(),
        offchain: Vec::new(),
        alloc_start: 0,
    };
    Ok(Executed {
        msg,
        outcome,
        witness,
    })
}

/// Proves an executed batch; returns the complete message and its new root.
pub fn prove(
    params: &TransferParams,
    executed: Executed,
    key: &groth16::Parameters<Bls12>,
    rng: &mut impl RngCore,
) -> Result<(pb::MsgSubmitProof, Fr)> {
    // Fresh randomness for the proof's blinding, from the caller's rng.
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let proof = copro_circuits::transfer::prove(params, executed.witness, key, seed)
        .map_err(|e| CoproError::internal(format!("proving failed: {e}")))?;
    let mut msg = executed.msg;
    msg.proof = encode_proof(&proof).to_vec();
    Ok((msg, executed.outcome.public.new_root))
}

/// A `transfer` version-2 batch executed natively (see [`Executed`]).
pub struct ExecutedV2 {
    /// The message, `proof` still empty.
    pub msg: pb::MsgSubmitProof,
    /// The native outcome (roots, effects, off-chain data, deltas).
    pub outcome: copro_circuits::transfer_v2::TransferV2Outcome,
    /// The circuit witness.
    pub witness: copro_circuits::transfer_v2::TransferV2Witness,
}

/// Executes a version-2 batch over `ledger` (which advances): `entries`
/// (the next pending requests, from the queue's `settled_up_to`), then the
/// signed `offchain` transfers, creating accounts from `alloc_start`. Every
/// off-chain transfer must apply (check them first with
/// `transfer_v2::check_offchain`, or drop the one a
/// `TransferV2Error::OffchainRejected` names and run again on a fresh
/// ledger: a failed run may leave `ledger` half-written).
#[allow(clippy::too_many_arguments)]
pub fn execute_v2<S: NodeStore>(
    params: &copro_circuits::transfer_v2::TransferV2Params,
    chain_id: &str,
    signer: &str,
    ledger: &mut copro_circuits::transfer_v2::Ledger<S>,
    queue: &pb::QueueState,
    entries: &[pb::QueueEntry],
    offchain: &[copro_circuits::transfer_v2::OffchainTransfer],
    alloc_start: u32,
) -> std::result::Result<ExecutedV2, ExecuteV2Error> {
    use copro_circuits::transfer_v2;
    let start = entries.first().map_or(queue.settled_up_to, |e| e.sequence);
    let circuit_entries = entries
        .iter()
        .map(crate::record::circuit_entry_v2)
        .collect::<Result<Vec<_>>>()?;
    let queue_before = fr_of(&queue.settled_hash, "queue hash")?;
    let (outcome, witness) = transfer_v2::execute(
        params,
        chain_id.as_bytes(),
        ledger,
        queue_before,
        &circuit_entries,
        offchain,
        alloc_start,
    )?;
    let msg = pb::MsgSubmitProof {
        signer: signer.to_string(),
        program_id: transfer_v2::PROGRAM_ID.to_string(),
        program_version: transfer_v2::PROGRAM_VERSION,
        old_root: fr_bytes(&outcome.public.old_root),
        new_root: fr_bytes(&outcome.public.new_root),
        start_sequence: start,
        end_sequence: start + entries.len() as u64,
        effects: outcome.effects.iter().map(effect_msg).collect(),
        proof: Vec::new(),
        offchain: outcome.offchain.iter().map(offchain_msg).collect(),
        alloc_start: outcome.alloc_start,
    };
    Ok(ExecutedV2 {
        msg,
        outcome,
        witness,
    })
}

/// Why [`execute_v2`] failed: bad stored data, or the program's own error
/// (an off-chain transfer that does not apply names its position).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteV2Error {
    /// A stored entry or hash does not decode.
    #[error(transparent)]
    Record(#[from] CoproError),
    /// The program refused the batch.
    #[error("native execution failed: {0}")]
    Program(#[from] copro_circuits::transfer_v2::TransferV2Error),
}

/// Proves an executed version-2 batch; returns the complete message.
pub fn prove_v2(
    params: &copro_circuits::transfer_v2::TransferV2Params,
    executed: ExecutedV2,
    key: &groth16::Parameters<Bls12>,
    rng: &mut impl RngCore,
) -> Result<pb::MsgSubmitProof> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let proof = copro_circuits::transfer_v2::prove(params, executed.witness, key, seed)
        .map_err(|e| CoproError::internal(format!("proving failed: {e}")))?;
    let mut msg = executed.msg;
    msg.proof = encode_proof(&proof).to_vec();
    Ok(msg)
}
