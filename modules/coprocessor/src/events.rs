//! The module's events, emitted as Cosmos SDK typed events: the event type
//! is the full name of the `copro.coprocessor.v1.Event*` message, with one
//! attribute per field whose value is the field's proto3 JSON (strings and
//! 64-bit integers quoted, bytes base64), so SDK clients that parse typed
//! events read them unchanged.

use base64::Engine as _;
use copro_module::Event;
use prost::Name;

use crate::record::pb;

/// One proto3 JSON value.
enum Json<'a> {
    Str(&'a str),
    U64(u64),
    U32(u32),
    Bool(bool),
    Bytes(&'a [u8]),
}

impl Json<'_> {
    fn render(&self) -> String {
        match self {
            // serde_json escapes exactly as JSON requires.
            Json::Str(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
            Json::U64(n) => format!("\"{n}\""),
            Json::U32(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Bytes(b) => format!(
                "\"{}\"",
                base64::engine::general_purpose::STANDARD.encode(b)
            ),
        }
    }
}

fn typed<M: Name>(fields: &[(&str, Json<'_>)]) -> Event {
    Event::new(
        M::full_name(),
        fields.iter().map(|(k, v)| (k.to_string(), v.render())),
    )
}

/// A message that is emitted as a typed event.
pub trait TypedEvent {
    /// The ABCI event.
    fn event(&self) -> Event;
}

macro_rules! typed_event {
    ($name:ident { $($field:ident : $kind:ident),* $(,)? }) => {
        impl TypedEvent for pb::$name {
            fn event(&self) -> Event {
                typed::<pb::$name>(&[$((stringify!($field), typed_event!(@ $kind self.$field))),*])
            }
        }
    };
    (@ str $v:expr) => { Json::Str(&$v) };
    (@ u64 $v:expr) => { Json::U64($v) };
    (@ u32 $v:expr) => { Json::U32($v) };
    (@ bool $v:expr) => { Json::Bool($v) };
    (@ bytes $v:expr) => { Json::Bytes(&$v) };
}

typed_event!(EventDepositEnqueued {
    sequence: u64,
    depositor: str,
    ledger_index: u32,
    amount: u64,
    chain_hash: bytes
});
typed_event!(EventTransferEnqueued {
    sequence: u64,
    sender: str,
    sender_index: u32,
    recipient: str,
    recipient_index: u32,
    amount: u64,
    nonce: u64,
    chain_hash: bytes
});
typed_event!(EventWithdrawEnqueued {
    sequence: u64,
    sender: str,
    sender_index: u32,
    amount: u64,
    nonce: u64,
    chain_hash: bytes
});
typed_event!(EventProofAccepted {
    result_id: u64,
    program_id: str,
    program_version: u32,
    start_sequence: u64,
    end_sequence: u64,
    old_root: bytes,
    new_root: bytes
});
typed_event!(EventWithdrawalPaid {
    result_id: u64,
    sequence: u64,
    recipient: str,
    ledger_index: u32,
    amount: u64
});
typed_event!(EventDepositRefunded {
    result_id: u64,
    sequence: u64,
    recipient: str,
    ledger_index: u32,
    amount: u64
});
typed_event!(EventProgramRegistered {
    program_id: str,
    version: u32,
    vk_hash: bytes,
    batch_size: u32
});
typed_event!(EventProgramUpdated {
    program_id: str,
    version: u32,
    frozen_version: u32,
    vk_hash: bytes,
    batch_size: u32
});
typed_event!(EventProverSet {
    previous_prover: str,
    prover: str
});
typed_event!(EventLedgerKeyEnqueued {
    sequence: u64,
    owner: str,
    ledger_index: u32,
    spending_key: bytes,
    chain_hash: bytes
});
typed_event!(EventLedgerAccountCreated {
    result_id: u64,
    address: str,
    ledger_index: u32
});
typed_event!(EventCallbackRun {
    result_id: u64,
    sequence: u64,
    contract: str,
    success: bool,
    gas_used: u64,
    error: str
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_events_carry_the_full_name_and_proto3_json_values() {
        let e = pb::EventDepositEnqueued {
            sequence: 7,
            depositor: "copro1\"x".into(),
            ledger_index: 3,
            amount: 1 << 60,
            chain_hash: vec![0xff, 0x00],
        }
        .event();
        assert_eq!(e.kind, "copro.coprocessor.v1.EventDepositEnqueued");
        let attrs: Vec<(&str, &str)> = e
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            attrs,
            vec![
                ("sequence", "\"7\""),
                ("depositor", "\"copro1\\\"x\""),
                ("ledger_index", "3"),
                ("amount", "\"1152921504606846976\""),
                ("chain_hash", "\"/wA=\""),
            ]
        );
    }
}
