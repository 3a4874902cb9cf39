//! The transaction pipeline: decode with a size cap first, then stateless
//! checks ([`CheckedTx::decode`]), then the ante, stateful checks and
//! execution ([`execute`]) on a transaction's own [`StateDelta`].
//!
//! Messages are decoded by the module that owns their type URL (through the
//! [`Registry`]) and go through that module's three stages
//! ([`Msg`](copro_module::Msg)): `check_stateless` in [`CheckedTx::decode`],
//! then `check_stateful` and `execute` of each message in [`execute`].
//!
//! The same code runs in CheckTx (on the check-state), PrepareProposal,
//! ProcessProposal and FinalizeBlock (on the block delta), so all of them
//! agree on every verdict. Every failure is a [`TxError`]: an SDK code and a
//! log saying what to do.

use copro_auth::{AuthRead, AuthWrite, decode_pubkey, encode_pubkey};
use copro_bank::{BankWrite, Coins};
use copro_module::{
    Address, Code, DecodedMsg, Event, ExecContext, Executed, GasMeter, Registry, Stage,
    StatelessContext, TxError, address_from_pubkey, module_address,
};
use copro_store::{StateDelta, StateRead, StateWrite};
use cosmrs::Any;
use cosmrs::proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmrs::proto::cosmos::tx::v1beta1::{AuthInfo, SignDoc, TxBody, TxRaw, mode_info};
use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};

/// Largest accepted transaction (bytes), checked before decoding: room for
/// a gzipped CosmWasm contract (wasm of up to ~800 KiB compresses to a third
/// of that). CometBFT's own mempool limit (`max_tx_bytes`) is 1 MiB.
pub const MAX_TX_BYTES: usize = 512 * 1024;
/// Longest accepted memo (bytes), as the SDK's default `max_memo_characters`.
pub const MAX_MEMO_BYTES: usize = 256;
/// Most messages in one transaction.
pub const MAX_MSGS: usize = 32;
/// Highest accepted gas limit of one transaction.
pub const MAX_GAS_LIMIT: u64 = 10_000_000;
/// Denom of fees and of the minimum gas price.
pub const FEE_DENOM: &str = copro_bank::NATIVE_DENOM;
/// Name of the module account that collects fees.
pub const FEE_COLLECTOR: &str = "fee_collector";

/// The deterministic gas schedule: a transaction costs
/// `TX_BASE + PER_BYTE × len + SIG_VERIFY + PER_MSG × messages`. Gas depends
/// only on the transaction bytes, so it is known before execution.
pub mod gas {
    /// Flat cost of every transaction.
    pub const TX_BASE: u64 = 10_000;
    /// Cost of each transaction byte.
    pub const PER_BYTE: u64 = 10;
    /// Cost of the signature verification.
    pub const SIG_VERIFY: u64 = 1_000;
    /// Cost of each message.
    pub const PER_MSG: u64 = 20_000;
}

/// A transaction that passed every stateless check, its messages' own
/// `check_stateless` included. Only [`CheckedTx::decode`] builds one.
#[derive(Debug)]
pub struct CheckedTx {
    /// SHA-256 of the raw bytes (the CometBFT tx hash).
    pub hash: [u8; 32],
    /// The messages, all signed by [`Self::signer`].
    pub msgs: Vec<DecodedMsg>,
    /// The single signer.
    pub signer: Address,
    /// Public key given in the tx, if any.
    pub pubkey: Option<VerifyingKey>,
    /// Signed sequence.
    pub sequence: u64,
    /// Fee coins.
    pub fee: Coins,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas this tx uses (see [`gas`]); `<= gas_limit`.
    pub gas_used: u64,
    /// Block height after which the tx is invalid (0: none).
    pub timeout_height: u64,
    /// `None` only for a simulation (signature not checked).
    signature: Option<Signature>,
    body_bytes: Vec<u8>,
    auth_info_bytes: Vec<u8>,
}

impl CheckedTx {
    /// Whether a failing message makes this tx unfit for a block
    /// ([`copro_module::Msg::fails_block`]).
    pub fn fails_block(&self) -> bool {
        self.msgs.iter().any(|m| m.msg.fails_block())
    }
}

fn decode_err(what: &str, e: prost::DecodeError) -> TxError {
    TxError::new(
        Code::TxDecode,
        format!(
            "tx parse error: {what} does not decode ({e}); send a protobuf cosmos.tx.v1beta1.TxRaw"
        ),
    )
}

impl CheckedTx {
    /// Decodes `bytes`, routing each message to its module, and runs every
    /// check that needs no state. The verdict depends only on the bytes and
    /// the chain-id.
    pub fn decode(
        registry: &Registry,
        ctx: &StatelessContext<'_>,
        bytes: &[u8],
    ) -> Result<Self, TxError> {
        Self::decode_inner(registry, ctx, bytes, false)
    }

    /// Decodes a tx for `Simulate`: the signature may be empty or a
    /// placeholder (never verified), the gas limit is not enforced, and gas
    /// is counted as if a 64-byte signature were present.
    pub fn decode_for_simulation(
        registry: &Registry,
        ctx: &StatelessContext<'_>,
        bytes: &[u8],
    ) -> Result<Self, TxError> {
        Self::decode_inner(registry, ctx, bytes, true)
    }

    fn decode_inner(
        registry: &Registry,
        ctx: &StatelessContext<'_>,
        bytes: &[u8],
        simulate: bool,
    ) -> Result<Self, TxError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxError::new(
                Code::TxTooLarge,
                format!(
                    "tx too large: {} bytes, the limit is {MAX_TX_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let raw = TxRaw::decode(bytes).map_err(|e| decode_err("TxRaw", e))?;
        let body =
            TxBody::decode(raw.body_bytes.as_slice()).map_err(|e| decode_err("TxBody", e))?;
        let auth_info = AuthInfo::decode(raw.auth_info_bytes.as_slice())
            .map_err(|e| decode_err("AuthInfo", e))?;

        // Messages.
        if body.messages.is_empty() {
            return Err(TxError::new(
                Code::InvalidRequest,
                "tx has no messages: include at least one",
            ));
        }
        if body.messages.len() > MAX_MSGS {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "tx has {} messages, the limit is {MAX_MSGS}",
                    body.messages.len()
                ),
            ));
        }
        let msgs = body
            .messages
            .iter()
            .map(|any| registry.decode(&any.type_url, &any.value))
            .collect::<Result<Vec<_>, _>>()?;
        if body.memo.len() > MAX_MEMO_BYTES {
            return Err(TxError::new(
                Code::MemoTooLarge,
                format!(
                    "memo is {} bytes, the limit is {MAX_MEMO_BYTES}; shorten it",
                    body.memo.len()
                ),
            ));
        }
        if !body.extension_options.is_empty() || !body.non_critical_extension_options.is_empty() {
            return Err(TxError::new(
                Code::UnknownExtensionOptions,
                "tx extension options are not supported; remove them",
            ));
        }

        // Signer.
        let signer = single_signer(&msgs)?;
        if raw.signatures.is_empty() || auth_info.signer_infos.is_empty() {
            return Err(TxError::new(
                Code::NoSignatures,
                "tx has no signatures: sign it (SIGN_MODE_DIRECT, secp256k1)",
            ));
        }
        if auth_info.signer_infos.len() != 1 || raw.signatures.len() != 1 {
            return Err(TxError::new(
                Code::Unauthorized,
                format!(
                    "wrong number of signers; expected 1, got {} signer infos and {} signatures",
                    auth_info.signer_infos.len(),
                    raw.signatures.len()
                ),
            ));
        }
        let signer_info = &auth_info.signer_infos[0];
        match signer_info.mode_info.as_ref().and_then(|m| m.sum.as_ref()) {
            Some(mode_info::Sum::Single(single)) if single.mode == SignMode::Direct as i32 => {}
            // cosmjs simulates with SIGN_MODE_UNSPECIFIED: nothing is verified.
            Some(mode_info::Sum::Single(_)) if simulate => {}
            _ => {
                return Err(TxError::new(
                    Code::NotSupported,
                    "unsupported sign mode: sign with SIGN_MODE_DIRECT",
                ));
            }
        }
        let pubkey = signer_info
            .public_key
            .as_ref()
            .map(decode_pubkey)
            .transpose()?;
        if let Some(pk) = &pubkey {
            let derived = address_from_pubkey(pk);
            if derived != signer {
                return Err(TxError::new(
                    Code::InvalidPubKey,
                    format!("public key belongs to {derived}, not to the signer {signer}"),
                ));
            }
        }
        let signature = if simulate {
            None
        } else {
            Some(parse_signature(&raw.signatures[0])?)
        };

        // Fee and gas.
        let fee = auth_info.fee.as_ref().ok_or_else(|| {
            TxError::new(
                Code::InsufficientFee,
                "tx has no fee: set a fee and a gas limit",
            )
        })?;
        #[allow(deprecated)] // `tip` is deprecated in the SDK; we refuse it.
        let has_tip = auth_info.tip.is_some();
        if !fee.payer.is_empty() || !fee.granter.is_empty() || has_tip {
            return Err(TxError::new(
                Code::NotSupported,
                "fee payer, fee granter and tips are not supported; the signer pays",
            ));
        }
        let fee_coins = Coins::from_proto(&fee.amount)?;
        let gas_limit = fee.gas_limit;
        if gas_limit > MAX_GAS_LIMIT {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!("gas limit {gas_limit} exceeds the maximum {MAX_GAS_LIMIT}"),
            ));
        }
        let missing_sig_bytes = if simulate {
            64usize.saturating_sub(raw.signatures[0].len())
        } else {
            0
        };
        let gas_used = gas_cost(bytes.len() + missing_sig_bytes, msgs.len());
        if gas_used > gas_limit && !simulate {
            return Err(TxError::new(
                Code::OutOfGas,
                format!(
                    "out of gas: this tx needs {gas_used} gas but its limit is {gas_limit}; raise --gas"
                ),
            ));
        }

        // The modules' own stateless checks, last: they may be the expensive
        // ones (proof verification).
        for (index, m) in msgs.iter().enumerate() {
            m.msg
                .check_stateless(ctx)
                .map_err(|e| in_message(index, e))?;
        }

        Ok(Self {
            hash: Sha256::digest(bytes).into(),
            msgs,
            signer,
            pubkey,
            sequence: signer_info.sequence,
            fee: fee_coins,
            gas_limit,
            gas_used,
            timeout_height: body.timeout_height,
            signature,
            body_bytes: raw.body_bytes,
            auth_info_bytes: raw.auth_info_bytes,
        })
    }

    /// The tx hash as CometBFT prints it (upper-case hex).
    pub fn hash_hex(&self) -> String {
        hex::encode_upper(self.hash)
    }
}

/// The one address that signs every message: each message names at least one
/// signer, and a transaction carries a single signature.
fn single_signer(msgs: &[DecodedMsg]) -> Result<Address, TxError> {
    let mut signer: Option<&Address> = None;
    for (index, m) in msgs.iter().enumerate() {
        let signers = m.msg.signers();
        if signers.is_empty() {
            return Err(TxError::new(
                Code::InvalidSigner,
                format!("message {index} ({}) names no signer", m.type_url),
            ));
        }
        for s in signers {
            match signer {
                None => signer = Some(s),
                Some(first) if first != s => {
                    return Err(TxError::new(
                        Code::InvalidSigner,
                        format!(
                            "all messages must have one signer: {first} and {s} differ; send one tx per sender"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    signer.cloned().ok_or_else(|| {
        TxError::new(
            Code::InvalidRequest,
            "tx has no messages: include at least one",
        )
    })
}

/// Says which message failed.
fn in_message(index: usize, e: TxError) -> TxError {
    TxError::new(e.code, format!("message {index} failed: {}", e.log))
}

/// The gas a tx of `len` bytes with `msgs` messages uses.
pub fn gas_cost(len: usize, msgs: usize) -> u64 {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    let msgs = u64::try_from(msgs).unwrap_or(u64::MAX);
    gas::TX_BASE
        .saturating_add(gas::PER_BYTE.saturating_mul(len))
        .saturating_add(gas::SIG_VERIFY)
        .saturating_add(gas::PER_MSG.saturating_mul(msgs))
}

/// Parses a 64-byte compact secp256k1 signature; a high-S signature is
/// malleable and refused. Both failures are code 8 (`InvalidPubKey`, the SDK
/// code for malformed key material), with a log naming the signature.
fn parse_signature(bytes: &[u8]) -> Result<Signature, TxError> {
    if bytes.len() != 64 {
        return Err(TxError::new(
            Code::InvalidPubKey,
            format!(
                "malformed signature: {} bytes, expected 64 (r ‖ s)",
                bytes.len()
            ),
        ));
    }
    let sig = Signature::from_slice(bytes).map_err(|_| {
        TxError::new(
            Code::InvalidPubKey,
            "malformed signature: r or s out of range",
        )
    })?;
    if sig.normalize_s().is_some() {
        return Err(TxError::new(
            Code::InvalidPubKey,
            "malformed signature: high-S (malleable); sign with a low-S signer",
        ));
    }
    Ok(sig)
}

/// A minimum gas price: `amount` per gas unit, a decimal with up to 18
/// fractional digits, kept as `numerator / 10^scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasPrice {
    numerator: u128,
    scale: u32,
    /// Fee denom.
    pub denom: String,
}

impl GasPrice {
    /// Parses `0.025ucopro` (an empty string is a zero price).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::zero());
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("gas price '{s}' has no denom (e.g. 0.025ucopro)"))?;
        let (num, denom) = s.split_at(split);
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() && frac.is_empty() || frac.len() > 18 {
            return Err(format!(
                "gas price '{s}' is not a decimal with at most 18 decimals"
            ));
        }
        let digits = format!("{int}{frac}");
        let numerator = if digits.is_empty() {
            0
        } else {
            digits
                .parse::<u128>()
                .map_err(|_| format!("gas price '{s}' is not a decimal"))?
        };
        Ok(Self {
            numerator,
            scale: frac.len() as u32,
            denom: denom.to_string(),
        })
    }

    /// A zero price (no minimum).
    pub fn zero() -> Self {
        Self {
            numerator: 0,
            scale: 0,
            denom: FEE_DENOM.to_string(),
        }
    }

    /// The smallest fee for `gas_limit`: `ceil(gas_limit × price)`.
    pub fn required_fee(&self, gas_limit: u64) -> u128 {
        let den = 10u128.pow(self.scale);
        let prod = self.numerator.saturating_mul(u128::from(gas_limit));
        prod.div_ceil(den)
    }
}

/// Where a tx is executed; only CheckTx applies the node's local fee policy.
#[derive(Clone, Debug)]
pub enum Mode<'a> {
    /// CheckTx: enforce this minimum gas price.
    Check(&'a GasPrice),
    /// Block execution at this step (PrepareProposal, ProcessProposal or
    /// FinalizeBlock).
    Deliver(Stage),
    /// `Simulate` query: no signature, sequence or minimum-fee checks.
    Simulate,
}

impl Mode<'_> {
    /// The ABCI step.
    pub fn stage(&self) -> Stage {
        match self {
            Mode::Check(_) => Stage::CheckTx,
            Mode::Deliver(stage) => *stage,
            Mode::Simulate => Stage::Simulate,
        }
    }
}

/// Context of execution.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// The chain-id (part of the signed bytes).
    pub chain_id: &'a str,
    /// Height of the block the tx goes into.
    pub height: u64,
    /// Fee policy.
    pub mode: Mode<'a>,
    /// Signatures known to verify (a cache never changes a verdict); `None`
    /// verifies every time.
    pub sig_cache: Option<&'a crate::sigcache::SignatureCache>,
    /// Block time in nanoseconds since the Unix epoch (the header's; in
    /// CheckTx and `Simulate` the last block's), which contracts read.
    pub block_time_nanos: u64,
}

impl Context<'_> {
    /// What the modules' stateless checks see.
    pub fn stateless(&self) -> StatelessContext<'_> {
        StatelessContext {
            chain_id: self.chain_id,
        }
    }

    /// What the modules' stateful checks and execution of the tx with hash
    /// `tx_hash` see, charging gas to `gas`.
    pub fn exec<'b>(&'b self, tx_hash: [u8; 32], gas: &'b GasMeter) -> ExecContext<'b> {
        ExecContext {
            chain_id: self.chain_id,
            height: self.height,
            stage: self.mode.stage(),
            tx_hash,
            gas,
            block_time_nanos: self.block_time_nanos,
        }
    }
}

/// Outcome of a tx that entered a block (or passed CheckTx).
#[derive(Clone, Debug, Default)]
pub struct TxOutcome {
    /// Events, in order.
    pub events: Vec<Event>,
    /// One response per message that executed, in order.
    pub msg_responses: Vec<Any>,
    /// Gas used: the fixed cost of the tx ([`gas_cost`]) plus what its
    /// messages charged while running (contract calls).
    pub gas_used: u64,
}

/// Why [`execute`] failed.
#[derive(Clone, Debug)]
pub enum ExecError {
    /// Authentication or fee payment failed: the tx changes nothing and does
    /// not belong in a block.
    Ante(TxError),
    /// The fee was paid and the sequence consumed, but a message failed: the
    /// tx is included with this code and only the ante changes stay.
    Msg(TxError, TxOutcome),
}

impl ExecError {
    /// The error.
    pub fn error(&self) -> &TxError {
        match self {
            ExecError::Ante(e) | ExecError::Msg(e, _) => e,
        }
    }
}

/// Runs the stateful checks (ante) and the messages of `tx` on `state`.
///
/// Ante: signer account exists (9), public key matches the account or is
/// set by this first tx (8), sequence (32), signature over
/// `SignDoc(body, auth_info, chain_id, account_number)` (4), minimum fee in
/// CheckTx (13), fee deducted to the fee collector (5), sequence incremented.
/// Then the messages run on a nested delta, all or nothing: each one's
/// module checks it against the state left by the messages before it
/// (`check_stateful`), then executes it.
pub fn execute<S: StateRead>(
    state: &mut StateDelta<S>,
    tx: &CheckedTx,
    ctx: &Context<'_>,
) -> Result<TxOutcome, ExecError> {
    let ante_changes = {
        let mut ante = StateDelta::new(&*state);
        let events = run_ante(&mut ante, tx, ctx).map_err(ExecError::Ante)?;
        (ante.into_changes(), events)
    };
    state.apply(ante_changes.0);
    let mut outcome = TxOutcome {
        events: ante_changes.1,
        msg_responses: Vec::new(),
        gas_used: tx.gas_used,
    };
    // A simulation is not held to the tx's limit (it is how clients find
    // one), but to the highest limit a tx may set, so it stays bounded.
    let limit = if matches!(ctx.mode, Mode::Simulate) {
        MAX_GAS_LIMIT.max(tx.gas_used)
    } else {
        tx.gas_limit
    };
    let meter = GasMeter::new(limit, tx.gas_used);
    let exec_ctx = ctx.exec(tx.hash, &meter);
    let msg_result = {
        let mut msgs = StateDelta::new(&*state);
        let mut events = Vec::new();
        let mut responses = Vec::with_capacity(tx.msgs.len());
        let mut result = Ok(());
        for (index, m) in tx.msgs.iter().enumerate() {
            events.push(Event::new(
                "message",
                [
                    ("action", m.type_url.to_string()),
                    ("sender", tx.signer.to_string()),
                    ("module", m.module.to_string()),
                    ("msg_index", index.to_string()),
                ],
            ));
            let executed = m
                .msg
                .check_stateful(&msgs, &exec_ctx)
                .and_then(|()| m.msg.execute(&mut msgs, &exec_ctx));
            match executed {
                Ok(Executed {
                    response,
                    events: mut evs,
                }) => {
                    for ev in &mut evs {
                        ev.attributes.push(("msg_index".into(), index.to_string()));
                    }
                    events.extend(evs);
                    responses.push(response);
                }
                Err(e) => {
                    result = Err(in_message(index, e));
                    break;
                }
            }
        }
        result.map(|()| (msgs.into_changes(), events, responses))
    };
    outcome.gas_used = meter.used();
    match msg_result {
        Ok((changes, events, responses)) => {
            state.apply(changes);
            outcome.events.extend(events);
            outcome.msg_responses = responses;
            Ok(outcome)
        }
        Err(e) => Err(ExecError::Msg(e, outcome)),
    }
}

fn run_ante<S: StateWrite>(
    state: &mut S,
    tx: &CheckedTx,
    ctx: &Context<'_>,
) -> Result<Vec<Event>, TxError> {
    if tx.timeout_height != 0 && ctx.height > tx.timeout_height {
        return Err(TxError::new(
            Code::TxTimeoutHeight,
            format!(
                "tx timed out: timeout height {} is below block height {}",
                tx.timeout_height, ctx.height
            ),
        ));
    }
    let mut account = state.account(&tx.signer)?.ok_or_else(|| {
        TxError::new(
            Code::UnknownAddress,
            format!(
                "account {} does not exist; fund it first (send it coins) so it can sign",
                tx.signer
            ),
        )
    })?;
    let pubkey = match (&account.pub_key, &tx.pubkey) {
        (Some(stored), given) => {
            let stored = decode_pubkey(stored)?;
            if let Some(given) = given
                && given != &stored
            {
                return Err(TxError::new(
                    Code::InvalidPubKey,
                    format!(
                        "public key does not match the one registered for {}",
                        tx.signer
                    ),
                ));
            }
            stored
        }
        (None, Some(given)) => {
            account.pub_key = Some(encode_pubkey(&given.to_sec1_bytes()));
            *given
        }
        (None, None) => {
            return Err(TxError::new(
                Code::InvalidPubKey,
                format!(
                    "account {} has no public key yet: include it in the tx's signer info",
                    tx.signer
                ),
            ));
        }
    };
    let simulate = matches!(ctx.mode, Mode::Simulate);
    if tx.sequence != account.sequence && !simulate {
        return Err(TxError::new(
            Code::WrongSequence,
            format!(
                "account sequence mismatch, expected {}, got {}: incorrect account sequence; query the account and sign with sequence {}",
                account.sequence, tx.sequence, account.sequence
            ),
        ));
    }
    let sign_doc = SignDoc {
        body_bytes: tx.body_bytes.clone(),
        auth_info_bytes: tx.auth_info_bytes.clone(),
        chain_id: ctx.chain_id.to_string(),
        account_number: account.account_number,
    }
    .encode_to_vec();
    let verified = match &tx.signature {
        Some(sig) => match ctx.sig_cache {
            Some(cache) => cache.verify(&pubkey, &sign_doc, sig),
            None => pubkey.verify(&sign_doc, sig).is_ok(),
        },
        None => simulate,
    };
    if !verified {
        return Err(TxError::new(
            Code::Unauthorized,
            format!(
                "signature verification failed; check account number {}, sequence {} and chain-id {}",
                account.account_number, account.sequence, ctx.chain_id
            ),
        ));
    }
    if let Mode::Check(min_price) = &ctx.mode {
        let required = min_price.required_fee(tx.gas_limit);
        let paid = tx.fee.amount_of(&min_price.denom);
        if paid < required {
            return Err(TxError::new(
                Code::InsufficientFee,
                format!(
                    "insufficient fee; got: {} required: {required}{} (gas limit {} × minimum gas price); raise --fees",
                    if tx.fee.is_empty() {
                        "0".to_string()
                    } else {
                        tx.fee.to_string()
                    },
                    min_price.denom,
                    tx.gas_limit
                ),
            ));
        }
    }
    let collector = module_address(FEE_COLLECTOR);
    for coin in tx.fee.iter() {
        state.sub_balance(&tx.signer, coin).map_err(|e| {
            TxError::new(e.code, format!("{}: cannot pay the fee {}", e.log, tx.fee))
        })?;
        state.add_balance(&collector, coin)?;
    }
    account.sequence = account
        .sequence
        .checked_add(1)
        .ok_or_else(|| TxError::internal("sequence overflow"))?;
    state.put_account(&account);

    let fee = tx.fee.to_string();
    Ok(vec![
        Event::new("tx", [("fee", fee), ("fee_payer", tx.signer.to_string())]),
        Event::new(
            "tx",
            [("acc_seq", format!("{}/{}", tx.signer, tx.sequence))],
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_price_rounds_the_required_fee_up() {
        let p = GasPrice::parse("0.025ucopro").unwrap();
        assert_eq!(p.denom, "ucopro");
        assert_eq!(p.required_fee(200_000), 5_000);
        assert_eq!(p.required_fee(1), 1);
        assert_eq!(GasPrice::parse("").unwrap().required_fee(1_000_000), 0);
        assert_eq!(GasPrice::parse("2ucopro").unwrap().required_fee(3), 6);
        assert!(GasPrice::parse("0.025").is_err());
        assert!(GasPrice::parse(".ucopro").is_err());
    }
}
