//! Contracts ask for work and are called back (issue #10, item 3).
//!
//! A contract emits a request (a ledger deposit or withdrawal on its own
//! behalf, see `copro-bindings`); the wasm module hands it to [`request`],
//! which queues it as an ordinary queue entry owned by the contract's
//! address and records a [`pb::CallbackRecord`] under the entry's sequence.
//! Validators never run the request: the prover settles it like any other.
//!
//! When the proof that settles it is accepted (in FinalizeBlock, inside
//! the proof's tx), [`run_settled`] calls the contract's `sudo` with the
//! verified outcome ([`settled_json`]) through [`ContractCalls`], which
//! `coprod` wires to the wasm module, so this crate knows nothing of how
//! contracts run. Each call gets:
//!
//! - its own gas meter, at the limit the contract chose when it asked
//!   (paid then, by the requesting tx: the prover's tx pays nothing for
//!   callbacks and cannot run out of gas because of one);
//! - its own overlay: a callback that fails, panics or runs out of gas is
//!   dropped whole, its record says why and an event reports it; the
//!   proof, the settlement and every other callback stand.
//!
//! Callbacks run in queue order, after every write of the settlement, so a
//! contract reads the settled ledger and may queue new requests.

use copro_module::{Address, ContractCalls, Event, ExecContext, GasMeter};
use copro_store::{StateDelta, StateWrite};
use serde_json::json;

use crate::error::{CoproCode, CoproError, Result};
use crate::events::TypedEvent;
use crate::record::pb;
use crate::requests::{self, Deposit, Withdraw};
use crate::submit::CheckedSubmission;
use crate::view::{CoproRead, CoproWrite};

/// Highest gas limit of one callback (SDK gas). A proof settles at most a
/// batch of requests, and FinalizeBlock runs every callback of the batch:
/// this bounds the contract work one proof can bring into a block.
pub const MAX_CALLBACK_GAS: u64 = 1_000_000;

/// Longest error text kept in a callback record (a contract's error can be
/// as long as its author likes; the record is state).
pub const MAX_ERROR_BYTES: usize = 512;

/// What a contract may ask the coprocessor for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractRequest {
    /// Move `amount` of the ledger denom from the contract's bank balance
    /// into its ledger account.
    Deposit {
        /// Amount, at least 1.
        amount: u64,
    },
    /// Pay `amount` from the contract's ledger account back to its bank
    /// balance.
    Withdraw {
        /// Amount, at least 1.
        amount: u64,
    },
}

/// A [`pb::CallbackStatus`] as the CLI and the contracts' `copro` query
/// name it: `pending`, `succeeded`, `failed`.
pub fn status_name(status: i32) -> &'static str {
    match pb::CallbackStatus::try_from(status) {
        Ok(pb::CallbackStatus::Pending) => "pending",
        Ok(pb::CallbackStatus::Succeeded) => "succeeded",
        Ok(pb::CallbackStatus::Failed) => "failed",
        Err(_) => "unknown",
    }
}

/// Checks a callback gas limit.
pub fn check_gas_limit(gas_limit: u64) -> Result<()> {
    if gas_limit == 0 || gas_limit > MAX_CALLBACK_GAS {
        return Err(CoproError::new(
            CoproCode::InvalidCallback,
            format!("callback gas limit {gas_limit}: it must be between 1 and {MAX_CALLBACK_GAS}"),
        ));
    }
    Ok(())
}

/// Queues `req` for `contract` and records its callback with `gas_limit`.
/// The caller charges `gas_limit` to the requesting tx. Returns the queue
/// sequence (the request's id) and the events.
pub fn request<S: StateWrite + ?Sized>(
    state: &mut S,
    contract: &Address,
    req: ContractRequest,
    gas_limit: u64,
    height: u64,
) -> Result<(u64, Vec<Event>)> {
    check_gas_limit(gas_limit)?;
    let (sequence, events) = match req {
        ContractRequest::Deposit { amount } => requests::deposit(
            state,
            &Deposit {
                signer: contract.clone(),
                amount,
            },
            height,
        )?,
        ContractRequest::Withdraw { amount } => requests::withdraw(
            state,
            &Withdraw {
                signer: contract.clone(),
                amount,
            },
            height,
        )?,
    };
    state.put_callback(&pb::CallbackRecord {
        sequence,
        contract: contract.to_string(),
        gas_limit,
        status: pb::CallbackStatus::Pending as i32,
        result_id: 0,
        gas_used: 0,
        error: String::new(),
    });
    Ok((sequence, events))
}

/// The `sudo` message of a settled request (documented in
/// docs/contracts.md; `copro-bindings` has its type):
///
/// `{"copro_settled":{"sequence":n,"kind":"deposit"|"withdraw","amount":"n",
/// "applied":bool,"result_id":n,"program_id":s,"program_version":n,
/// "new_root":hex,"height":n}}`
pub fn settled_json(
    entry: &pb::QueueEntry,
    applied: bool,
    result_id: u64,
    checked: &CheckedSubmission,
    height: u64,
) -> Vec<u8> {
    let kind = match pb::EntryKind::try_from(entry.kind) {
        Ok(pb::EntryKind::Deposit) => "deposit",
        Ok(pb::EntryKind::Withdraw) => "withdraw",
        Ok(pb::EntryKind::Transfer) => "transfer",
        Ok(pb::EntryKind::SetKey) => "set_key",
        _ => "unknown",
    };
    json!({"copro_settled": {
        "sequence": entry.sequence,
        "kind": kind,
        "amount": entry.amount.to_string(),
        "applied": applied,
        "result_id": result_id,
        "program_id": checked.msg.program_id,
        "program_version": checked.msg.version,
        "new_root": hex::encode(crate::record::fr_bytes(&checked.msg.new_root)),
        "height": height,
    }})
    .to_string()
    .into_bytes()
}

/// Calls back the contracts whose requests `checked` settled as result
/// `result_id`. Never fails for a contract's fault: only a store fault is
/// an error. Returns one [`pb::EventCallbackRun`] per callback.
pub fn run_settled<S: StateWrite + ?Sized>(
    state: &mut S,
    calls: &dyn ContractCalls,
    ctx: &ExecContext<'_>,
    checked: &CheckedSubmission,
    result_id: u64,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for (entry, effect) in checked.entries.iter().zip(&checked.msg.effects) {
        let Some(mut record) = state.callback(entry.sequence)? else {
            continue;
        };
        if record.status != pb::CallbackStatus::Pending as i32 {
            return Err(CoproError::internal(format!(
                "callback of request {} ran before its settlement",
                entry.sequence
            )));
        }
        let applied = effect.status == copro_circuits::transfer::EntryStatus::Applied;
        let msg = settled_json(entry, applied, result_id, checked, ctx.height);
        let meter = GasMeter::new(record.gas_limit, 0);
        let call_ctx = ExecContext {
            gas: &meter,
            ..*ctx
        };
        let contract = Address::parse(&record.contract)?;
        let (outcome, changes) = {
            let mut overlay = StateDelta::new(&*state);
            let outcome = calls.sudo(&mut overlay, &call_ctx, &contract, &msg);
            (outcome, overlay.into_changes())
        };
        record.result_id = result_id;
        record.gas_used = meter.used();
        let mut run = pb::EventCallbackRun {
            result_id,
            sequence: entry.sequence,
            contract: record.contract.clone(),
            success: true,
            gas_used: meter.used(),
            error: String::new(),
        };
        match outcome {
            Ok(mut contract_events) => {
                for (key, value) in changes {
                    match value {
                        Some(v) => state.put_raw(key, v),
                        None => state.delete_raw(key),
                    }
                }
                record.status = pb::CallbackStatus::Succeeded as i32;
                events.push(run.event());
                events.append(&mut contract_events);
            }
            Err(e) => {
                drop(changes);
                let error = bounded(&format!(
                    "code {} ({}): {}",
                    e.code.code, e.code.codespace, e.log
                ));
                record.status = pb::CallbackStatus::Failed as i32;
                record.error = error.clone();
                run.success = false;
                run.error = error;
                events.push(run.event());
            }
        }
        state.put_callback(&record);
    }
    Ok(events)
}

/// `text` cut to at most [`MAX_ERROR_BYTES`], on a character boundary.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_ERROR_BYTES {
        return text.to_string();
    }
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limits_outside_the_range_are_refused() {
        assert!(
            check_gas_limit(0)
                .unwrap_err()
                .is(CoproCode::InvalidCallback)
        );
        assert!(
            check_gas_limit(MAX_CALLBACK_GAS + 1)
                .unwrap_err()
                .is(CoproCode::InvalidCallback)
        );
        check_gas_limit(1).unwrap();
        check_gas_limit(MAX_CALLBACK_GAS).unwrap();
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_ERROR_BYTES);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_ERROR_BYTES + "…".len());
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }
}
