//! The module's transaction messages: decoded by type URL into domain
//! values that passed the stateless checks, so the rest of the module never
//! re-checks them.
//!
//! Decoding is strict: the bytes must be the canonical encoding of the
//! message they decode to. prost skips unknown fields; a node that skipped
//! a field a newer client meant (a future off-chain entry list, say) would
//! act on half a message, so a message with unknown, repeated or
//! non-canonically encoded fields is refused, as the Cosmos SDK refuses
//! unknown fields.

use copro_module::Address;
use prost::{Message, Name};

use crate::error::{CoproCode, CoproError, Result};
use crate::record::pb;
use crate::registry::ProgramSpec;
use crate::requests::{Deposit, SetLedgerKey, Transfer, Withdraw};
use crate::submit::SubmitProof;

/// A decoded message of the coprocessor module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoproMsg {
    /// `MsgDeposit`.
    Deposit(Deposit),
    /// `MsgTransfer`.
    Transfer(Transfer),
    /// `MsgWithdraw`.
    Withdraw(Withdraw),
    /// `MsgSubmitProof`.
    SubmitProof(SubmitProof),
    /// `MsgRegisterProgram`.
    RegisterProgram {
        /// Signer (must be the authority).
        authority: Address,
        /// The program.
        spec: ProgramSpec,
    },
    /// `MsgUpdateProgram`.
    UpdateProgram {
        /// Signer (must be the authority).
        authority: Address,
        /// The new version.
        spec: ProgramSpec,
    },
    /// `MsgSetProver`.
    SetProver {
        /// Signer (must be the authority).
        authority: Address,
        /// The new prover.
        prover: Address,
    },
    /// `MsgSetLedgerKey`.
    SetLedgerKey(SetLedgerKey),
}

/// Every type URL of the module's messages.
pub fn type_urls() -> [String; 8] {
    [
        pb::MsgDeposit::type_url(),
        pb::MsgTransfer::type_url(),
        pb::MsgWithdraw::type_url(),
        pb::MsgSubmitProof::type_url(),
        pb::MsgRegisterProgram::type_url(),
        pb::MsgUpdateProgram::type_url(),
        pb::MsgSetProver::type_url(),
        pb::MsgSetLedgerKey::type_url(),
    ]
}

/// Decodes `bytes` as `M`, refusing anything but its canonical encoding.
pub fn decode_strict<M: Message + Default + Name>(bytes: &[u8]) -> Result<M> {
    let msg = M::decode(bytes).map_err(|e| {
        CoproError::new(
            CoproCode::InvalidRequest,
            format!("malformed {}: {e}", M::NAME),
        )
    })?;
    if msg.encoded_len() != bytes.len() {
        return Err(CoproError::new(
            CoproCode::InvalidRequest,
            format!(
                "{} has unknown, repeated or non-canonically encoded fields; encode it with the copro.coprocessor.v1 protos",
                M::NAME
            ),
        ));
    }
    Ok(msg)
}

/// The registry's view of the fields `MsgRegisterProgram` and
/// `MsgUpdateProgram` share (an update is given in the register shape).
fn spec(m: pb::MsgRegisterProgram) -> ProgramSpec {
    ProgramSpec {
        id: m.program_id,
        version: m.version,
        verifying_key: m.verifying_key,
        vk_hash: m.vk_hash,
        batch_size: m.batch_size,
        tree_arity: m.tree_arity,
        tree_depth: m.tree_depth,
        offchain_batch_size: m.offchain_batch_size,
    }
}

impl CoproMsg {
    /// Decodes a message of this module; `None` if `type_url` is not one.
    pub fn decode(type_url: &str, bytes: &[u8]) -> Option<Result<Self>> {
        let url = |n: String| n == type_url;
        Some(if url(pb::MsgDeposit::type_url()) {
            decode_strict::<pb::MsgDeposit>(bytes).and_then(|m| {
                let msg = Deposit {
                    signer: Address::parse(&m.signer)?,
                    amount: m.amount,
                };
                msg.check_stateless()?;
                Ok(Self::Deposit(msg))
            })
        } else if url(pb::MsgTransfer::type_url()) {
            decode_strict::<pb::MsgTransfer>(bytes).and_then(|m| {
                let msg = Transfer {
                    signer: Address::parse(&m.signer)?,
                    recipient: Address::parse(&m.recipient)?,
                    amount: m.amount,
                };
                msg.check_stateless()?;
                Ok(Self::Transfer(msg))
            })
        } else if url(pb::MsgWithdraw::type_url()) {
            decode_strict::<pb::MsgWithdraw>(bytes).and_then(|m| {
                let msg = Withdraw {
                    signer: Address::parse(&m.signer)?,
                    amount: m.amount,
                };
                msg.check_stateless()?;
                Ok(Self::Withdraw(msg))
            })
        } else if url(pb::MsgSubmitProof::type_url()) {
            decode_strict::<pb::MsgSubmitProof>(bytes)
                .and_then(|m| SubmitProof::from_msg(&m).map(Self::SubmitProof))
        } else if url(pb::MsgRegisterProgram::type_url()) {
            decode_strict::<pb::MsgRegisterProgram>(bytes).and_then(|m| {
                Ok(Self::RegisterProgram {
                    authority: Address::parse(&m.authority)?,
                    spec: spec(m),
                })
            })
        } else if url(pb::MsgUpdateProgram::type_url()) {
            decode_strict::<pb::MsgUpdateProgram>(bytes).and_then(|m| {
                Ok(Self::UpdateProgram {
                    authority: Address::parse(&m.authority)?,
                    spec: spec(pb::MsgRegisterProgram {
                        authority: m.authority,
                        program_id: m.program_id,
                        version: m.version,
                        verifying_key: m.verifying_key,
                        vk_hash: m.vk_hash,
                        batch_size: m.batch_size,
                        tree_arity: m.tree_arity,
                        tree_depth: m.tree_depth,
                        offchain_batch_size: m.offchain_batch_size,
                    }),
                })
            })
        } else if url(pb::MsgSetProver::type_url()) {
            decode_strict::<pb::MsgSetProver>(bytes).and_then(|m| {
                Ok(Self::SetProver {
                    authority: Address::parse(&m.authority)?,
                    prover: Address::parse(&m.prover)?,
                })
            })
        } else if url(pb::MsgSetLedgerKey::type_url()) {
            decode_strict::<pb::MsgSetLedgerKey>(bytes).and_then(|m| {
                SetLedgerKey::new(Address::parse(&m.signer)?, &m.spending_key)
                    .map(Self::SetLedgerKey)
            })
        } else {
            return None;
        })
    }

    /// The one address that must have signed the transaction.
    pub fn signer(&self) -> &Address {
        match self {
            Self::Deposit(m) => &m.signer,
            Self::Transfer(m) => &m.signer,
            Self::Withdraw(m) => &m.signer,
            Self::SubmitProof(m) => &m.signer,
            Self::SetLedgerKey(m) => &m.signer,
            Self::RegisterProgram { authority, .. }
            | Self::UpdateProgram { authority, .. }
            | Self::SetProver { authority, .. } => authority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> String {
        copro_module::module_address("alice").to_string()
    }

    #[test]
    fn messages_decode_by_type_url_and_others_are_not_ours() {
        let bytes = pb::MsgDeposit {
            signer: alice(),
            amount: 5,
        }
        .encode_to_vec();
        match CoproMsg::decode("/copro.coprocessor.v1.MsgDeposit", &bytes) {
            Some(Ok(CoproMsg::Deposit(d))) => assert_eq!(d.amount, 5),
            other => panic!("{other:?}"),
        }
        assert!(CoproMsg::decode("/cosmos.bank.v1beta1.MsgSend", &bytes).is_none());
    }

    #[test]
    fn unknown_repeated_and_malformed_fields_are_refused() {
        let mut bytes = pb::MsgDeposit {
            signer: alice(),
            amount: 5,
        }
        .encode_to_vec();
        // Field 9 (unknown), varint 1.
        let mut unknown = bytes.clone();
        unknown.extend_from_slice(&[0x48, 0x01]);
        // Field 2 again: prost keeps the last, the encoding is not canonical.
        let mut repeated = bytes.clone();
        repeated.extend_from_slice(&[0x10, 0x06]);
        bytes.truncate(bytes.len() - 1);
        for (name, b) in [("unknown", unknown), ("repeated", repeated), ("cut", bytes)] {
            let e = CoproMsg::decode("/copro.coprocessor.v1.MsgDeposit", &b)
                .unwrap()
                .unwrap_err();
            assert!(e.is(CoproCode::InvalidRequest), "{name}: {e}");
        }
    }

    #[test]
    fn stateless_checks_run_at_decoding() {
        let zero = pb::MsgWithdraw {
            signer: alice(),
            amount: 0,
        }
        .encode_to_vec();
        let e = CoproMsg::decode("/copro.coprocessor.v1.MsgWithdraw", &zero)
            .unwrap()
            .unwrap_err();
        assert!(e.is(CoproCode::InvalidAmount), "{e}");
        let bad_address = pb::MsgDeposit {
            signer: "cosmos1xyz".into(),
            amount: 1,
        }
        .encode_to_vec();
        let e = CoproMsg::decode("/copro.coprocessor.v1.MsgDeposit", &bad_address)
            .unwrap()
            .unwrap_err();
        assert_eq!((e.codespace, e.code), ("sdk", 7), "{e}");
    }
}
