//! The `cosmwasm.wasm.v1` messages: decoded into values that hold only
//! what the chain accepts, then run by the [`Keeper`].

use copro_bank::{BankRead, Coins};
use copro_module::{Address, Code, ExecContext, Executed, Msg, StatelessContext, TxError};
use copro_store::{StateRead, StateWrite};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract as ProtoExecute, MsgExecuteContractResponse,
    MsgInstantiateContract as ProtoInstantiate, MsgInstantiateContractResponse,
    MsgMigrateContract as ProtoMigrate, MsgMigrateContractResponse, MsgStoreCode as ProtoStore,
    MsgStoreCodeResponse,
};
use cosmrs::Any;
use prost::Message;

use crate::keeper::{BlockEnv, Keeper, check_label};
use crate::limits::MAX_MSG_BYTES;
use crate::view::WasmRead;
use crate::vm::Vm;
use crate::{MSG_EXECUTE, MSG_INSTANTIATE, MSG_MIGRATE, MSG_STORE_CODE, codes, validate};

fn malformed(what: &str, e: prost::DecodeError) -> TxError {
    TxError::new(Code::TxDecode, format!("malformed {what}: {e}"))
}

/// A contract message must be one JSON value, of bounded size.
fn check_json(msg: &[u8]) -> Result<(), TxError> {
    if msg.is_empty() {
        return Err(TxError::new(
            codes::EMPTY,
            "empty contract message: send a JSON object",
        ));
    }
    if msg.len() > MAX_MSG_BYTES {
        return Err(TxError::new(
            codes::LIMIT,
            format!(
                "contract message is {} bytes, the limit is {MAX_MSG_BYTES}",
                msg.len()
            ),
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(msg).map_err(|e| {
        TxError::new(
            codes::INVALID,
            format!("contract message is not valid JSON: {e}"),
        )
    })?;
    Ok(())
}

/// The block a message runs in, as contracts see it.
pub(crate) fn block_env(ctx: &ExecContext<'_>) -> BlockEnv {
    BlockEnv {
        chain_id: ctx.chain_id.to_string(),
        height: ctx.height,
        time_nanos: ctx.block_time_nanos,
        tx_hash: Some(ctx.tx_hash),
    }
}

fn response<M: Message + prost::Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

/// `MsgStoreCode`: the upload (raw or gzipped wasm, at most the tx size).
#[derive(Clone)]
pub struct StoreCode {
    vm: Vm,
    /// Uploader.
    pub sender: Address,
    /// The bytes as sent (gunzipped when run).
    pub wasm: Vec<u8>,
}

impl std::fmt::Debug for StoreCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCode")
            .field("sender", &self.sender)
            .field("wasm_bytes", &self.wasm.len())
            .finish()
    }
}

impl StoreCode {
    /// Decodes a `MsgStoreCode` (instantiate permissions other than the
    /// default, everybody, are refused: this chain has no permissions yet).
    pub fn decode(vm: &Vm, bytes: &[u8]) -> Result<Self, TxError> {
        let m = ProtoStore::decode(bytes).map_err(|e| malformed("MsgStoreCode", e))?;
        if m.instantiate_permission
            .as_ref()
            .is_some_and(|p| p.permission != 3)
        {
            return Err(TxError::new(
                Code::NotSupported,
                "instantiate permissions are not supported: leave instantiate_permission unset (everybody)",
            ));
        }
        if m.wasm_byte_code.is_empty() {
            return Err(TxError::new(
                codes::EMPTY,
                "empty wasm code: upload a .wasm file",
            ));
        }
        Ok(Self {
            vm: vm.clone(),
            sender: Address::parse(&m.sender)?,
            wasm: m.wasm_byte_code,
        })
    }
}

impl Msg for StoreCode {
    fn signers(&self) -> &[Address] {
        std::slice::from_ref(&self.sender)
    }

    /// Size and gzip checks (cheap, bounded); compiling waits for execution,
    /// where its gas is charged.
    fn check_stateless(&self, _ctx: &StatelessContext<'_>) -> Result<(), TxError> {
        validate::uncompress(&self.wasm).map(|_| ())
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        let keeper = Keeper::new(&self.vm, block_env(ctx));
        let (code_id, checksum, events) =
            keeper.store_code(state, ctx.gas, &self.sender, &self.wasm)?;
        Ok(Executed {
            response: response(&MsgStoreCodeResponse {
                code_id,
                checksum: checksum.as_ref().to_vec(),
            }),
            events,
        })
    }
}

/// `MsgInstantiateContract`.
#[derive(Clone)]
pub struct Instantiate {
    vm: Vm,
    /// Who instantiates (and pays the funds).
    pub sender: Address,
    /// Who may migrate it, if anybody.
    pub admin: Option<Address>,
    /// The code.
    pub code_id: u64,
    /// A human-readable label.
    pub label: String,
    /// The JSON instantiate message.
    pub msg: Vec<u8>,
    /// Funds sent to the new contract.
    pub funds: Coins,
}

impl std::fmt::Debug for Instantiate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instantiate")
            .field("sender", &self.sender)
            .field("code_id", &self.code_id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Instantiate {
    /// Decodes and checks a `MsgInstantiateContract`.
    pub fn decode(vm: &Vm, bytes: &[u8]) -> Result<Self, TxError> {
        let m =
            ProtoInstantiate::decode(bytes).map_err(|e| malformed("MsgInstantiateContract", e))?;
        check_json(&m.msg)?;
        check_label(&m.label)?;
        if m.code_id == 0 {
            return Err(TxError::new(
                codes::NO_SUCH_CODE,
                "code id 0: code ids start at 1",
            ));
        }
        Ok(Self {
            vm: vm.clone(),
            sender: Address::parse(&m.sender)?,
            admin: (!m.admin.is_empty())
                .then(|| Address::parse(&m.admin))
                .transpose()?,
            code_id: m.code_id,
            label: m.label,
            msg: m.msg,
            funds: Coins::from_proto(&m.funds)?,
        })
    }
}

impl Msg for Instantiate {
    fn signers(&self) -> &[Address] {
        std::slice::from_ref(&self.sender)
    }

    fn check_stateful(&self, state: &dyn StateRead, _ctx: &ExecContext<'_>) -> Result<(), TxError> {
        state.require_code(self.code_id)?;
        state.check_funds(&self.sender, &self.funds)
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        let keeper = Keeper::new(&self.vm, block_env(ctx));
        let (contract, out) = keeper.instantiate(
            state,
            ctx.gas,
            &self.sender,
            self.admin.as_ref(),
            self.code_id,
            &self.label,
            &self.msg,
            &self.funds,
            0,
        )?;
        Ok(Executed {
            response: response(&MsgInstantiateContractResponse {
                address: contract.to_string(),
                data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
            }),
            events: out.events,
        })
    }
}

/// `MsgExecuteContract`.
#[derive(Clone)]
pub struct Execute {
    vm: Vm,
    /// Caller (and payer of the funds).
    pub sender: Address,
    /// The contract.
    pub contract: Address,
    /// The JSON execute message.
    pub msg: Vec<u8>,
    /// Funds sent with the call.
    pub funds: Coins,
}

impl std::fmt::Debug for Execute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execute")
            .field("sender", &self.sender)
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

impl Execute {
    /// Decodes and checks a `MsgExecuteContract`.
    pub fn decode(vm: &Vm, bytes: &[u8]) -> Result<Self, TxError> {
        let m = ProtoExecute::decode(bytes).map_err(|e| malformed("MsgExecuteContract", e))?;
        check_json(&m.msg)?;
        Ok(Self {
            vm: vm.clone(),
            sender: Address::parse(&m.sender)?,
            contract: Address::parse(&m.contract)?,
            msg: m.msg,
            funds: Coins::from_proto(&m.funds)?,
        })
    }
}

impl Msg for Execute {
    fn signers(&self) -> &[Address] {
        std::slice::from_ref(&self.sender)
    }

    fn check_stateful(&self, state: &dyn StateRead, _ctx: &ExecContext<'_>) -> Result<(), TxError> {
        state.require_contract(&self.contract)?;
        state.check_funds(&self.sender, &self.funds)
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        let keeper = Keeper::new(&self.vm, block_env(ctx));
        let out = keeper.execute(
            state,
            ctx.gas,
            &self.sender,
            &self.contract,
            &self.msg,
            &self.funds,
            0,
        )?;
        Ok(Executed {
            response: response(&MsgExecuteContractResponse {
                data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
            }),
            events: out.events,
        })
    }
}

/// `MsgMigrateContract`.
#[derive(Clone)]
pub struct Migrate {
    vm: Vm,
    /// Must be the contract's admin.
    pub sender: Address,
    /// The contract.
    pub contract: Address,
    /// The code it moves to.
    pub code_id: u64,
    /// The JSON migrate message.
    pub msg: Vec<u8>,
}

impl std::fmt::Debug for Migrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrate")
            .field("sender", &self.sender)
            .field("contract", &self.contract)
            .field("code_id", &self.code_id)
            .finish_non_exhaustive()
    }
}

impl Migrate {
    /// Decodes and checks a `MsgMigrateContract`.
    pub fn decode(vm: &Vm, bytes: &[u8]) -> Result<Self, TxError> {
        let m = ProtoMigrate::decode(bytes).map_err(|e| malformed("MsgMigrateContract", e))?;
        check_json(&m.msg)?;
        Ok(Self {
            vm: vm.clone(),
            sender: Address::parse(&m.sender)?,
            contract: Address::parse(&m.contract)?,
            code_id: m.code_id,
            msg: m.msg,
        })
    }
}

impl Msg for Migrate {
    fn signers(&self) -> &[Address] {
        std::slice::from_ref(&self.sender)
    }

    fn check_stateful(&self, state: &dyn StateRead, _ctx: &ExecContext<'_>) -> Result<(), TxError> {
        state.require_contract(&self.contract)?;
        state.require_code(self.code_id).map(|_| ())
    }

    fn execute(
        &self,
        state: &mut dyn StateWrite,
        ctx: &ExecContext<'_>,
    ) -> Result<Executed, TxError> {
        let keeper = Keeper::new(&self.vm, block_env(ctx));
        let out = keeper.migrate(
            state,
            ctx.gas,
            &self.sender,
            &self.contract,
            self.code_id,
            &self.msg,
            0,
        )?;
        Ok(Executed {
            response: response(&MsgMigrateContractResponse {
                data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
            }),
            events: out.events,
        })
    }
}

/// The `Any` of a `MsgStoreCode` (for the CLI).
pub fn encode_store(sender: &Address, wasm: Vec<u8>) -> Any {
    Any {
        type_url: MSG_STORE_CODE.into(),
        value: ProtoStore {
            sender: sender.to_string(),
            wasm_byte_code: wasm,
            instantiate_permission: None,
        }
        .encode_to_vec(),
    }
}

/// The `Any` of a `MsgInstantiateContract` (for the CLI).
pub fn encode_instantiate(
    sender: &Address,
    admin: Option<&Address>,
    code_id: u64,
    label: &str,
    msg: Vec<u8>,
    funds: &Coins,
) -> Any {
    Any {
        type_url: MSG_INSTANTIATE.into(),
        value: ProtoInstantiate {
            sender: sender.to_string(),
            admin: admin.map(|a| a.to_string()).unwrap_or_default(),
            code_id,
            label: label.to_string(),
            msg,
            funds: funds.to_proto(),
        }
        .encode_to_vec(),
    }
}

/// The `Any` of a `MsgExecuteContract` (for the CLI).
pub fn encode_execute(sender: &Address, contract: &Address, msg: Vec<u8>, funds: &Coins) -> Any {
    Any {
        type_url: MSG_EXECUTE.into(),
        value: ProtoExecute {
            sender: sender.to_string(),
            contract: contract.to_string(),
            msg,
            funds: funds.to_proto(),
        }
        .encode_to_vec(),
    }
}

/// The `Any` of a `MsgMigrateContract` (for the CLI).
pub fn encode_migrate(sender: &Address, contract: &Address, code_id: u64, msg: Vec<u8>) -> Any {
    Any {
        type_url: MSG_MIGRATE.into(),
        value: ProtoMigrate {
            sender: sender.to_string(),
            contract: contract.to_string(),
            code_id,
            msg,
        }
        .encode_to_vec(),
    }
}
