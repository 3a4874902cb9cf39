//! `cosmos.bank.v1beta1.MsgSend`: stateless validation, then execution.

use copro_auth::{Address, AuthWrite, Code, Event, TxError};
use copro_store::StateWrite;
use cosmrs::proto::cosmos::bank::v1beta1::MsgSend as ProtoMsgSend;
use prost::Message;

use crate::coins::Coins;
use crate::view::BankWrite;

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
    pub fn execute<S: StateWrite>(&self, state: &mut S) -> Result<Vec<Event>, TxError> {
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
