//! `cosmos.bank.v1beta1.MsgSend`: decoding into a valid send, then the three
//! stages of a [`Msg`].

use copro_auth::AuthWrite;
use copro_module::{Address, Code, Event, ExecContext, Executed, Msg, TxError};
use copro_store::{StateRead, StateWrite};
use cosmrs::Any;
use cosmrs::proto::cosmos::bank::v1beta1::MsgSend as ProtoMsgSend;
use prost::Message;

use crate::coins::Coins;
use crate::view::{BankRead, BankWrite};
use crate::{MSG_SEND_RESPONSE_TYPE_URL, MSG_SEND_TYPE_URL};

/// A `MsgSend` whose addresses and coins are valid (the checks that need no
/// state). Constructed only by [`MsgSend::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgSend {
    /// Sender (must be the tx signer).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount, non-empty.
    pub amount: Coins,
}

/// The `Any` a client signs for a send of `amount` from `from` to `to`. Not
/// validated here: the chain validates what it receives.
pub fn encode(from: &Address, to: &Address, amount: &Coins) -> Any {
    Any {
        type_url: MSG_SEND_TYPE_URL.to_string(),
        value: ProtoMsgSend {
            from_address: from.to_string(),
            to_address: to.to_string(),
            amount: amount.to_proto(),
        }
        .encode_to_vec(),
    }
}

impl MsgSend {
    /// Decodes and validates protobuf bytes (codes 2, 7, 10).
    pub fn decode(bytes: &[u8]) -> Result<Self, TxError> {
        let msg = ProtoMsgSend::decode(bytes)
            .map_err(|e| TxError::new(Code::TxDecode, format!("malformed MsgSend: {e}")))?;
        let from = Address::parse(&msg.from_address)?;
        let to = Address::parse(&msg.to_address)?;
        let amount = Coins::from_proto(&msg.amount)?;
        if amount.is_empty() {
            return Err(TxError::new(
                Code::InvalidCoins,
                "MsgSend has no coins: send at least one positive amount",
            ));
        }
        Ok(Self { from, to, amount })
    }

    /// Moves the coins, creating the recipient's account if needed. Returns
    /// the events the Cosmos SDK bank module emits (`coin_spent`,
    /// `coin_received`, `transfer`, `message`).
    pub fn execute<S: StateWrite + ?Sized>(&self, state: &mut S) -> Result<Vec<Event>, TxError> {
        state.transfer(&self.from, &self.to, &self.amount)?;
        state.ensure_account(&self.to)?;
        let amount = self.amount.to_string();
        Ok(vec![
            Event::new(
                "coin_spent",
                [
                    ("spender", self.from.to_string()),
                    ("amount", amount.clone()),
                ],
            ),
            Event::new(
                "coin_received",
                [
                    ("receiver", self.to.to_string()),
                    ("amount", amount.clone()),
                ],
            ),
            Event::new(
                "transfer",
                [
                    ("recipient", self.to.to_string()),
                    ("sender", self.from.to_string()),
                    ("amount", amount),
                ],
            ),
            Event::new("message", [("sender", self.from.to_string())]),
        ])
    }
}

impl Msg for MsgSend {
    fn signers(&self) -> &[Address] {
        std::slice::from_ref(&self.from)
    }

    // No `check_stateless`: [`MsgSend::decode`] already refused bad
    // addresses and coins.

    /// The sender holds the amount (code 5 otherwise).
    fn check_stateful(&self, state: &dyn StateRead, _ctx: &ExecContext<'_>) -> Result<(), TxError> {
        state.check_funds(&self.from, &self.amount)
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        _ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        Ok(Executed {
            response: Any {
                type_url: MSG_SEND_RESPONSE_TYPE_URL.to_string(),
                value: vec![],
            },
            events: MsgSend::execute(self, state)?,
        })
    }
}
