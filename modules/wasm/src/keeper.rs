//! What the messages do: store code, instantiate, execute and migrate
//! contracts, dispatch the messages contracts emit (bank sends, calls of
//! other contracts) with replies, and answer contract queries.
//!
//! All-or-nothing: a call writes into the state it is given; each
//! sub-message runs on an overlay of its own, kept only if it succeeds, so a
//! failing sub-message answered by a reply undoes exactly its own work, and
//! any other failure fails the whole transaction (whose overlay the pipeline
//! drops).

use std::rc::Rc;
use std::sync::Arc;

use copro_auth::AuthWrite;
use copro_bank::{BankRead, BankWrite, Coin, Coins};
use copro_module::{Address, Code, Event, GasMeter, TxError};
use copro_store::{StateDelta, StateRead, StateWrite};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    CodeInfo, ContractInfo, MsgExecuteContractResponse, MsgInstantiateContractResponse,
    MsgMigrateContractResponse,
};
use cosmwasm_std::{
    Addr, BankMsg, BankQuery, Binary, BlockInfo, Checksum, ContractResult, CosmosMsg, Empty, Env,
    MessageInfo, QueryRequest, Reply, ReplyOn, Response, SubMsgResponse, SubMsgResult, SystemError,
    SystemResult, Timestamp, TransactionInfo, WasmMsg, WasmQuery,
};
use cosmwasm_vm::{Backend, VmError};
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::backend::{
    AddressApi, ChainQuerier, ContractStore, QueryAnswer, QueryHandler, StateCell, read_cell,
    system_err, with_state, with_state_read,
};
use crate::copro::CoproMsg;
use crate::limits::{MAX_CALL_DEPTH, MAX_QUERY_DEPTH};
use crate::view::{WasmRead, WasmWrite};
use crate::vm::Vm;
use crate::{codes, gas, state_key, validate};

/// The block a call runs in, as contracts see it (`env.block`,
/// `env.transaction`).
#[derive(Clone, Debug, Default)]
pub struct BlockEnv {
    /// Chain-id.
    pub chain_id: String,
    /// Block height.
    pub height: u64,
    /// Block time, ns since the Unix epoch.
    pub time_nanos: u64,
    /// Hash of the transaction, when a transaction runs the call.
    pub tx_hash: Option<[u8; 32]>,
}

impl BlockEnv {
    fn env(&self, contract: &Address) -> Env {
        // `TransactionInfo` is non-exhaustive: built from its JSON.
        let transaction = self.tx_hash.and_then(|h| {
            cosmwasm_std::from_json::<TransactionInfo>(
                json!({"index": 0, "hash": Binary::from(h.to_vec())}).to_string(),
            )
            .ok()
        });
        Env {
            block: BlockInfo {
                height: self.height,
                time: Timestamp::from_nanos(self.time_nanos),
                chain_id: self.chain_id.clone(),
            },
            transaction,
            contract: cosmwasm_std::ContractInfo {
                address: Addr::unchecked(contract.as_str()),
            },
        }
    }
}

/// What a contract call (and everything it dispatched) produced.
#[derive(Clone, Debug, Default)]
pub struct CallOutcome {
    /// Data the contract returned (the last reply's, if a reply set it).
    pub data: Option<Binary>,
    /// Events, in order: the contract's, then its sub-messages'.
    pub events: Vec<Event>,
}

/// The address of the `instance`-th contract, of code `code_id`: wasmd's
/// classic address, `sha256(sha256("module") ‖ "wasm" ‖ 0 ‖ code_id ‖
/// instance)` (ADR-028 module address, 32 bytes).
pub fn contract_address(code_id: u64, instance: u64) -> Address {
    let mut h = Sha256::new();
    h.update(Sha256::digest(b"module"));
    h.update(b"wasm\0");
    h.update(code_id.to_be_bytes());
    h.update(instance.to_be_bytes());
    let digest: [u8; 32] = h.finalize().into();
    // 32 bytes always make an address.
    Address::from_bytes(&digest).unwrap_or_else(|_| copro_module::module_address("wasm"))
}

/// Which entry point to call, with its arguments.
enum Entry<'a> {
    Instantiate(&'a MessageInfo, &'a [u8]),
    Execute(&'a MessageInfo, &'a [u8]),
    Migrate(&'a [u8]),
    Reply(&'a Reply),
    /// The chain's privileged call (a settlement callback).
    Sudo(&'a [u8]),
}

impl Entry<'_> {
    fn failed(&self) -> copro_module::ResultCode {
        match self {
            Entry::Instantiate(..) => codes::INSTANTIATE_FAILED,
            Entry::Execute(..) | Entry::Reply(_) | Entry::Sudo(_) => codes::EXECUTE_FAILED,
            Entry::Migrate(_) => codes::MIGRATE_FAILED,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Entry::Instantiate(..) => "instantiate",
            Entry::Execute(..) => "execute",
            Entry::Migrate(_) => "migrate",
            Entry::Reply(_) => "reply",
            Entry::Sudo(_) => "sudo",
        }
    }
}

/// Runs contracts for one transaction (or one query).
pub struct Keeper<'a> {
    vm: &'a Vm,
    env: Arc<BlockEnv>,
}

fn to_cw_coins(coins: &Coins) -> Vec<cosmwasm_std::Coin> {
    coins
        .iter()
        .map(|c| cosmwasm_std::Coin::new(c.amount, c.denom.clone()))
        .collect()
}

fn from_cw_coins(coins: &[cosmwasm_std::Coin]) -> Result<Coins, TxError> {
    let mut list = coins
        .iter()
        .map(|c| {
            let amount = c.amount.to_string().parse::<u128>().map_err(|_| {
                TxError::new(
                    Code::InvalidCoins,
                    format!("amount {} of {} does not fit 128 bits", c.amount, c.denom),
                )
            })?;
            Coin::new(c.denom.clone(), amount)
        })
        .collect::<Result<Vec<_>, _>>()?;
    list.sort_by(|a, b| a.denom.cmp(&b.denom));
    Coins::new(list)
}

fn checksum_of(info: &CodeInfo) -> Result<Checksum, TxError> {
    Checksum::try_from(info.code_hash.as_slice())
        .map_err(|_| TxError::internal("corrupt code checksum"))
}

/// A VM failure as a result code: out of gas is code 11, anything the
/// contract did (trap, panic, bad output) is the entry point's failure code.
fn vm_error(e: VmError, failed: copro_module::ResultCode, what: &str) -> TxError {
    match e {
        VmError::GasDepletion { .. }
        | VmError::BackendErr {
            source: cosmwasm_vm::BackendError::OutOfGas {},
            ..
        } => TxError::new(
            Code::OutOfGas,
            format!(
                "out of gas in {what}: the contract used all the gas it was given; raise --gas"
            ),
        ),
        VmError::CacheErr { msg, .. } => {
            TxError::new(codes::VM_ERROR, format!("{what}: wasm cache: {msg}"))
        }
        // The store failed under the contract: a local fault, as the other
        // modules report it.
        VmError::BackendErr {
            source: cosmwasm_vm::BackendError::Unknown { msg },
            ..
        } => TxError::internal(format!("{what}: {msg}")),
        other => TxError::new(failed, format!("{what} failed: {other}")),
    }
}

fn one_attr_len(k: &str, v: &str) -> usize {
    k.len().saturating_add(v.len())
}

impl<'a> Keeper<'a> {
    /// A keeper running contracts in `vm` within `env`.
    pub fn new(vm: &'a Vm, env: BlockEnv) -> Self {
        Self {
            vm,
            env: Arc::new(env),
        }
    }

    /// `MsgStoreCode`: checks, compiles and stores `wasm` (raw or gzip);
    /// returns the new code id and checksum.
    pub fn store_code(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        sender: &Address,
        wasm: &[u8],
    ) -> Result<(u64, Checksum, Vec<Event>), TxError> {
        let wasm = validate::uncompress(wasm)?;
        // Paid before the work: compiling is the expensive part.
        meter.consume(
            gas::per_byte(wasm.len(), gas::COMPILE_COST_PER_BYTE),
            "compiling the wasm",
        )?;
        let checksum = self.vm.store(&wasm).map_err(|e| match e {
            VmError::CacheErr { msg, .. } => {
                TxError::new(codes::VM_ERROR, format!("wasm cache: {msg}"))
            }
            other => TxError::new(codes::CREATE_FAILED, format!("invalid wasm code: {other}")),
        })?;
        let id = state.take_code_id()?;
        state.put_code(
            id,
            &CodeInfo {
                code_hash: checksum.as_ref().to_vec(),
                creator: sender.to_string(),
                instantiate_config: None,
            },
            wasm,
        );
        Ok((
            id,
            checksum,
            vec![Event::new(
                "store_code",
                [
                    ("code_checksum", checksum.to_hex()),
                    ("code_id", id.to_string()),
                ],
            )],
        ))
    }

    /// `MsgInstantiateContract`: a new contract of `code_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn instantiate(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        sender: &Address,
        admin: Option<&Address>,
        code_id: u64,
        label: &str,
        msg: &[u8],
        funds: &Coins,
        depth: u32,
    ) -> Result<(Address, CallOutcome), TxError> {
        state.require_code(code_id)?;
        let instance = state.take_instance_id()?;
        let contract = contract_address(code_id, instance);
        if state.contract_info(&contract)?.is_some() {
            return Err(TxError::internal(format!(
                "contract {contract} exists already"
            )));
        }
        state.put_contract(
            &contract,
            &ContractInfo {
                code_id,
                creator: sender.to_string(),
                admin: admin.map(|a| a.to_string()).unwrap_or_default(),
                label: label.to_string(),
                created: None,
                ibc_port_id: String::new(),
                extension: None,
            },
        );
        state.ensure_account(&contract)?;
        let mut events = vec![];
        if !funds.is_empty() {
            state.transfer(sender, &contract, funds)?;
            events.push(transfer_event(sender, &contract, funds));
        }
        let info = MessageInfo {
            sender: Addr::unchecked(sender.as_str()),
            funds: to_cw_coins(funds),
        };
        let response = self.call(
            state,
            meter,
            &contract,
            code_id,
            Entry::Instantiate(&info, msg),
        )?;
        events.push(Event::new(
            "instantiate",
            [
                ("_contract_address", contract.to_string()),
                ("code_id", code_id.to_string()),
            ],
        ));
        let mut out = self.handle_response(state, meter, &contract, response, depth)?;
        events.append(&mut out.events);
        out.events = events;
        Ok((contract, out))
    }

    /// `MsgExecuteContract`.
    #[allow(clippy::too_many_arguments)]
    pub fn execute(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        sender: &Address,
        contract: &Address,
        msg: &[u8],
        funds: &Coins,
        depth: u32,
    ) -> Result<CallOutcome, TxError> {
        let info = state.require_contract(contract)?;
        let mut events = vec![];
        if !funds.is_empty() {
            state.transfer(sender, contract, funds)?;
            events.push(transfer_event(sender, contract, funds));
        }
        let msg_info = MessageInfo {
            sender: Addr::unchecked(sender.as_str()),
            funds: to_cw_coins(funds),
        };
        let response = self.call(
            state,
            meter,
            contract,
            info.code_id,
            Entry::Execute(&msg_info, msg),
        )?;
        events.push(Event::new(
            "execute",
            [("_contract_address", contract.to_string())],
        ));
        let mut out = self.handle_response(state, meter, contract, response, depth)?;
        events.append(&mut out.events);
        out.events = events;
        Ok(out)
    }

    /// `MsgMigrateContract`: only the contract's admin may move it to
    /// `code_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn migrate(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        sender: &Address,
        contract: &Address,
        code_id: u64,
        msg: &[u8],
        depth: u32,
    ) -> Result<CallOutcome, TxError> {
        let mut info = state.require_contract(contract)?;
        if info.admin.is_empty() || info.admin != sender.as_str() {
            return Err(TxError::new(
                codes::UNAUTHORIZED,
                format!(
                    "{sender} may not migrate {contract}: only its admin ({}) may",
                    if info.admin.is_empty() {
                        "none"
                    } else {
                        &info.admin
                    }
                ),
            ));
        }
        state.require_code(code_id)?;
        info.code_id = code_id;
        state.put_contract(contract, &info);
        let response = self.call(state, meter, contract, code_id, Entry::Migrate(msg))?;
        let mut events = vec![Event::new(
            "migrate",
            [
                ("_contract_address", contract.to_string()),
                ("code_id", code_id.to_string()),
            ],
        )];
        let mut out = self.handle_response(state, meter, contract, response, depth)?;
        events.append(&mut out.events);
        out.events = events;
        Ok(out)
    }

    /// The chain calls `contract`'s `sudo` with `msg` (a settlement
    /// callback), then runs what it emits, all charged to `meter`.
    pub fn sudo(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        contract: &Address,
        msg: &[u8],
    ) -> Result<CallOutcome, TxError> {
        let info = state.require_contract(contract)?;
        let response = self.call(state, meter, contract, info.code_id, Entry::Sudo(msg))?;
        let mut events = vec![Event::new(
            "sudo",
            [("_contract_address", contract.to_string())],
        )];
        let mut out = self.handle_response(state, meter, contract, response, 0)?;
        events.append(&mut out.events);
        out.events = events;
        Ok(out)
    }

    /// Loads the contract and calls one entry point on `state`, charging
    /// the instance and the VM's gas to `meter`.
    fn call(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        contract: &Address,
        code_id: u64,
        entry: Entry<'_>,
    ) -> Result<Response<CoproMsg>, TxError> {
        let code = state.require_code(code_id)?;
        let checksum = checksum_of(&code)?;
        meter.consume(gas::INSTANCE_COST, "loading the contract")?;
        let limit = gas::to_vm(meter.remaining());
        let env = self.env.env(contract);
        let prefix = state_key::data_prefix(contract.as_str());
        let handler = make_handler(self.vm.clone(), Arc::clone(&self.env));
        let what = format!("{} of contract {contract}", entry.name());
        let (result, used) = with_state(state, |cell| {
            let backend = Backend {
                api: AddressApi,
                storage: ContractStore::new(Rc::clone(cell), prefix),
                querier: ChainQuerier::new(Rc::clone(cell), handler, 0),
            };
            let wasm = || {
                read_cell(cell, |s| s.code_bytes(code_id).ok().flatten())
                    .ok()
                    .flatten()
            };
            let mut instance = match self.vm.instance(&checksum, wasm, backend, limit) {
                Ok(i) => i,
                Err(e) => return (Err(e), 0),
            };
            let result = match &entry {
                Entry::Instantiate(info, msg) => {
                    cosmwasm_vm::call_instantiate(&mut instance, &env, info, msg)
                }
                Entry::Execute(info, msg) => {
                    cosmwasm_vm::call_execute(&mut instance, &env, info, msg)
                }
                Entry::Migrate(msg) => cosmwasm_vm::call_migrate(&mut instance, &env, msg),
                Entry::Reply(reply) => cosmwasm_vm::call_reply(&mut instance, &env, reply),
                Entry::Sudo(msg) => cosmwasm_vm::call_sudo(&mut instance, &env, msg),
            };
            let report = instance.create_gas_report();
            (result, report.limit.saturating_sub(report.remaining))
        });
        // What the VM used is paid whatever the outcome.
        let charged = meter.consume(gas::to_sdk(used), &what);
        let result = result.map_err(|e| {
            if matches!(e, VmError::GasDepletion { .. }) {
                meter.exhaust();
            }
            vm_error(e, entry.failed(), &what)
        })?;
        charged?;
        match result {
            ContractResult::Ok(response) => Ok(response),
            ContractResult::Err(msg) => Err(TxError::new(
                entry.failed(),
                format!("{what} failed: {msg}"),
            )),
        }
    }

    /// Turns a contract's response into events, runs its sub-messages (each
    /// on its own overlay) and the replies they asked for.
    fn handle_response(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        contract: &Address,
        response: Response<CoproMsg>,
        depth: u32,
    ) -> Result<CallOutcome, TxError> {
        let mut events = Vec::new();
        let mut event_bytes = 0usize;
        if !response.attributes.is_empty() {
            let mut attrs = vec![("_contract_address".to_string(), contract.to_string())];
            for a in &response.attributes {
                check_attribute(&a.key)?;
                event_bytes = event_bytes.saturating_add(one_attr_len(&a.key, &a.value));
                attrs.push((a.key.clone(), a.value.clone()));
            }
            events.push(Event::new("wasm", attrs));
        }
        for e in &response.events {
            if e.ty.trim().len() < 2 {
                return Err(TxError::new(
                    codes::EXECUTE_FAILED,
                    format!(
                        "contract {contract} emitted an event type '{}' shorter than 2 characters",
                        e.ty
                    ),
                ));
            }
            let mut attrs = vec![("_contract_address".to_string(), contract.to_string())];
            for a in &e.attributes {
                check_attribute(&a.key)?;
                event_bytes = event_bytes.saturating_add(one_attr_len(&a.key, &a.value));
                attrs.push((a.key.clone(), a.value.clone()));
            }
            events.push(Event::new(format!("wasm-{}", e.ty), attrs));
        }
        meter.consume(
            gas::per_byte(event_bytes, gas::EVENT_BYTE_COST),
            "the contract's events",
        )?;
        let mut data = response.data;
        for sub in response.messages {
            let (result, changes) = {
                let mut sub_state = StateDelta::new(&*state);
                let result = match sub.gas_limit {
                    // A limit of its own: running out is this sub-message's
                    // failure (which a reply may handle), not the tx's.
                    Some(limit) => {
                        let sub_meter = GasMeter::new(limit.min(meter.remaining()), 0);
                        let r =
                            self.dispatch(&mut sub_state, &sub_meter, contract, sub.msg, depth + 1);
                        meter.consume(sub_meter.used(), "a sub-message")?;
                        r
                    }
                    None => self.dispatch(&mut sub_state, meter, contract, sub.msg, depth + 1),
                };
                (result, sub_state.into_changes())
            };
            let reply_result = match result {
                Ok(out) => {
                    for (k, v) in changes {
                        match v {
                            Some(v) => state.put_raw(k, v),
                            None => state.delete_raw(k),
                        }
                    }
                    let reply_events = out.events.iter().map(to_cw_event).collect();
                    events.extend(out.events);
                    if !matches!(sub.reply_on, ReplyOn::Success | ReplyOn::Always) {
                        continue;
                    }
                    #[allow(deprecated)] // `data` is still read by CosmWasm 1 contracts
                    SubMsgResult::Ok(SubMsgResponse {
                        events: reply_events,
                        data: out.data,
                        msg_responses: vec![],
                    })
                }
                Err(e) => {
                    drop(changes);
                    let tx_out_of_gas = e.code == Code::OutOfGas && sub.gas_limit.is_none();
                    if tx_out_of_gas || !matches!(sub.reply_on, ReplyOn::Error | ReplyOn::Always) {
                        return Err(e);
                    }
                    SubMsgResult::Err(format!("code {}: {}", e.code.value(), e.log))
                }
            };
            let reply = Reply {
                id: sub.id,
                payload: sub.payload,
                gas_used: 0,
                result: reply_result,
            };
            let code_id = state.require_contract(contract)?.code_id;
            let response = self.call(state, meter, contract, code_id, Entry::Reply(&reply))?;
            let out = self.handle_response(state, meter, contract, response, depth)?;
            events.extend(out.events);
            if out.data.is_some() {
                data = out.data;
            }
        }
        Ok(CallOutcome { data, events })
    }

    /// Runs one message a contract emitted, as `sender` (the contract).
    fn dispatch(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        sender: &Address,
        msg: CosmosMsg<CoproMsg>,
        depth: u32,
    ) -> Result<CallOutcome, TxError> {
        if depth > MAX_CALL_DEPTH {
            return Err(TxError::new(
                codes::MAX_CALL_DEPTH,
                format!("sub-messages nested deeper than {MAX_CALL_DEPTH}"),
            ));
        }
        let parse = |a: &str| Address::parse(a);
        match msg {
            CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => {
                let to = parse(&to_address)?;
                let coins = from_cw_coins(&amount)?;
                meter.consume(gas::BANK_SEND_COST, "a bank send")?;
                state.transfer(sender, &to, &coins)?;
                state.ensure_account(&to)?;
                Ok(CallOutcome {
                    data: None,
                    events: vec![transfer_event(sender, &to, &coins)],
                })
            }
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg,
                funds,
            }) => {
                let contract = parse(&contract_addr)?;
                let funds = from_cw_coins(&funds)?;
                let mut out = self.execute(state, meter, sender, &contract, &msg, &funds, depth)?;
                out.data = Some(Binary::from(
                    MsgExecuteContractResponse {
                        data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
                    }
                    .encode_to_vec(),
                ));
                Ok(out)
            }
            CosmosMsg::Wasm(WasmMsg::Instantiate {
                admin,
                code_id,
                msg,
                funds,
                label,
            }) => {
                let admin = admin.as_deref().map(parse).transpose()?;
                let funds = from_cw_coins(&funds)?;
                check_label(&label)?;
                let (contract, mut out) = self.instantiate(
                    state,
                    meter,
                    sender,
                    admin.as_ref(),
                    code_id,
                    &label,
                    &msg,
                    &funds,
                    depth,
                )?;
                out.data = Some(Binary::from(
                    MsgInstantiateContractResponse {
                        address: contract.to_string(),
                        data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
                    }
                    .encode_to_vec(),
                ));
                Ok(out)
            }
            CosmosMsg::Wasm(WasmMsg::Migrate {
                contract_addr,
                new_code_id,
                msg,
            }) => {
                let contract = parse(&contract_addr)?;
                let mut out =
                    self.migrate(state, meter, sender, &contract, new_code_id, &msg, depth)?;
                out.data = Some(Binary::from(
                    MsgMigrateContractResponse {
                        data: out.data.map(|d| d.to_vec()).unwrap_or_default(),
                    }
                    .encode_to_vec(),
                ));
                Ok(out)
            }
            CosmosMsg::Custom(request) => self.copro_request(state, meter, sender, request),
            other => Err(TxError::new(
                codes::EXECUTE_FAILED,
                format!(
                    "contract {sender} sent a message this chain does not support: {}",
                    message_kind(&other)
                ),
            )),
        }
    }

    /// A contract's coprocessor request: queued on its behalf with the
    /// callback it asked for. The callback's gas is paid now, by the tx
    /// that carries the request, so the proof that settles it (the
    /// prover's tx) pays nothing for it. The data returned to a reply is
    /// `{"sequence": n}`, the request's id.
    fn copro_request(
        &self,
        state: &mut dyn StateWrite,
        meter: &GasMeter,
        contract: &Address,
        request: CoproMsg,
    ) -> Result<CallOutcome, TxError> {
        let (req, gas_limit) = request.into_request();
        copro_coprocessor::callback::check_gas_limit(gas_limit)?;
        meter.consume(
            gas::COPRO_REQUEST_COST.saturating_add(gas_limit),
            "a coprocessor request and its prepaid callback",
        )?;
        let (sequence, mut events) =
            copro_coprocessor::callback::request(state, contract, req, gas_limit, self.env.height)?;
        events.push(Event::new(
            "copro_request",
            [
                ("_contract_address", contract.to_string()),
                ("sequence", sequence.to_string()),
                ("callback_gas_limit", gas_limit.to_string()),
            ],
        ));
        Ok(CallOutcome {
            data: Some(Binary::from(
                serde_json::to_vec(&json!({ "sequence": sequence })).unwrap_or_default(),
            )),
            events,
        })
    }

    /// A smart query of `contract` over `state` (a client's query, not a
    /// contract's): at most `gas_limit_sdk` SDK gas. Returns the contract's
    /// JSON answer and the SDK gas used.
    pub fn query_smart(
        &self,
        state: &dyn StateRead,
        contract: &Address,
        msg: &[u8],
        gas_limit_sdk: u64,
    ) -> (Result<Binary, TxError>, u64) {
        let (r, used) = with_state_read(state, |cell| {
            query_on_cell(
                self.vm,
                &self.env,
                cell,
                contract,
                msg,
                gas::to_vm(gas_limit_sdk),
                0,
            )
        });
        (r, gas::to_sdk(used))
    }
}

/// wasmd reserves attribute keys starting with `_` for the chain.
fn check_attribute(key: &str) -> Result<(), TxError> {
    if key.trim().is_empty() || key.starts_with('_') {
        return Err(TxError::new(
            codes::EXECUTE_FAILED,
            format!(
                "contract emitted the attribute key '{key}': keys must be non-empty and not start with '_'"
            ),
        ));
    }
    Ok(())
}

/// A label is required and bounded.
pub fn check_label(label: &str) -> Result<(), TxError> {
    if label.trim().is_empty() {
        return Err(TxError::new(
            codes::EMPTY,
            "empty label: give the contract a label",
        ));
    }
    if label.len() > crate::limits::MAX_LABEL_BYTES {
        return Err(TxError::new(
            codes::LIMIT,
            format!(
                "label is {} bytes, the limit is {}",
                label.len(),
                crate::limits::MAX_LABEL_BYTES
            ),
        ));
    }
    Ok(())
}

fn message_kind(msg: &CosmosMsg<CoproMsg>) -> String {
    let json = serde_json::to_value(msg).unwrap_or_default();
    match json.as_object().and_then(|o| o.iter().next()) {
        Some((k, v)) => match v.as_object().and_then(|o| o.keys().next()) {
            Some(inner) => format!("{k}.{inner}"),
            None => k.clone(),
        },
        None => "unknown".to_string(),
    }
}

fn transfer_event(from: &Address, to: &Address, coins: &Coins) -> Event {
    Event::new(
        "transfer",
        [
            ("recipient", to.to_string()),
            ("sender", from.to_string()),
            ("amount", coins.to_string()),
        ],
    )
}

/// A chain event as a reply shows it to the contract. One attribute at a
/// time: cosmwasm-std's `add_attributes` (through `Attribute::from`)
/// panics in debug builds on the keys starting with `_` that the chain
/// itself writes (`_contract_address`).
fn to_cw_event(e: &Event) -> cosmwasm_std::Event {
    e.attributes
        .iter()
        .fold(cosmwasm_std::Event::new(e.kind.clone()), |ev, (k, v)| {
            ev.add_attribute(k.clone(), v.clone())
        })
}

fn make_handler(vm: Vm, env: Arc<BlockEnv>) -> QueryHandler {
    Rc::new(
        move |cell: &Rc<StateCell>, request: &[u8], gas_limit: u64, depth: u32| {
            handle_query(&vm, &env, cell, request, gas_limit, depth)
        },
    )
}

fn json_answer(value: serde_json::Value) -> QueryAnswer {
    SystemResult::Ok(ContractResult::Ok(Binary::from(
        serde_json::to_vec(&value).unwrap_or_default(),
    )))
}

/// Answers a contract's chain query. Returns the answer and the VM gas used.
fn handle_query(
    vm: &Vm,
    env: &Arc<BlockEnv>,
    cell: &Rc<StateCell>,
    request: &[u8],
    gas_limit: u64,
    depth: u32,
) -> (QueryAnswer, u64) {
    let read_cost = |n: usize| gas::to_vm(gas::read(0, n));
    // The chain's own custom query first (`{"custom": {...}}`): cosmwasm-std
    // parses it only into the contract's own type.
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(request)
        && let Some(custom) = o.get("custom")
    {
        let query = match serde_json::from_value::<crate::copro::CoproQuery>(custom.clone()) {
            Ok(q) => q,
            Err(e) => {
                return (
                    system_err(format!("unknown copro query: {e}"), request),
                    read_cost(0),
                );
            }
        };
        let (r, sdk_gas) = match read_cell(cell, |s| crate::copro::answer(s, query)) {
            Ok(r) => r,
            Err(e) => (Err(e.to_string()), 0),
        };
        return match r {
            Ok(v) => (json_answer(v), gas::to_vm(sdk_gas)),
            Err(e) => (system_err(e, request), gas::to_vm(sdk_gas)),
        };
    }
    let query: QueryRequest<Empty> = match cosmwasm_std::from_json(request) {
        Ok(q) => q,
        Err(e) => return (system_err(format!("unreadable query: {e}"), request), 0),
    };
    let state_err = |e: String| (system_err(e, request), read_cost(0));
    match query {
        QueryRequest::Bank(BankQuery::Balance { address, denom }) => {
            let Ok(addr) = Address::parse(&address) else {
                return state_err(format!("invalid address '{address}'"));
            };
            match read_cell(cell, |s| s.balance(&addr, &denom)) {
                Ok(Ok(amount)) => (
                    json_answer(json!({"amount": {"denom": denom, "amount": amount.to_string()}})),
                    read_cost(32),
                ),
                Ok(Err(e)) => state_err(e.log),
                Err(e) => state_err(e.to_string()),
            }
        }
        QueryRequest::Wasm(WasmQuery::Smart { contract_addr, msg }) => {
            if depth > MAX_QUERY_DEPTH {
                return (
                    system_err(
                        format!("contract queries nested deeper than {MAX_QUERY_DEPTH}"),
                        request,
                    ),
                    0,
                );
            }
            let Ok(addr) = Address::parse(&contract_addr) else {
                return (
                    SystemResult::Err(SystemError::NoSuchContract {
                        addr: contract_addr,
                    }),
                    read_cost(0),
                );
            };
            let (r, used) = query_on_cell(vm, env, cell, &addr, &msg, gas_limit, depth);
            let answer = match r {
                Ok(bin) => SystemResult::Ok(ContractResult::Ok(bin)),
                Err(e) if e.code == codes::NOT_FOUND => {
                    SystemResult::Err(SystemError::NoSuchContract {
                        addr: contract_addr,
                    })
                }
                Err(e) => SystemResult::Ok(ContractResult::Err(e.log)),
            };
            (answer, used)
        }
        QueryRequest::Wasm(WasmQuery::Raw { contract_addr, key }) => {
            let Ok(addr) = Address::parse(&contract_addr) else {
                return state_err(format!("invalid address '{contract_addr}'"));
            };
            match read_cell(cell, |s| s.contract_value(&addr, &key)) {
                Ok(Ok(v)) => {
                    let v = v.unwrap_or_default();
                    let cost = read_cost(v.len());
                    (SystemResult::Ok(ContractResult::Ok(Binary::from(v))), cost)
                }
                Ok(Err(e)) => state_err(e.log),
                Err(e) => state_err(e.to_string()),
            }
        }
        QueryRequest::Wasm(WasmQuery::ContractInfo { contract_addr }) => {
            let Ok(addr) = Address::parse(&contract_addr) else {
                return state_err(format!("invalid address '{contract_addr}'"));
            };
            match read_cell(cell, |s| s.contract_info(&addr)) {
                Ok(Ok(Some(info))) => (
                    json_answer(json!({
                        "code_id": info.code_id,
                        "creator": info.creator,
                        "admin": (!info.admin.is_empty()).then_some(info.admin),
                        "pinned": false,
                        "ibc_port": null,
                    })),
                    read_cost(128),
                ),
                Ok(Ok(None)) => (
                    SystemResult::Err(SystemError::NoSuchContract {
                        addr: contract_addr,
                    }),
                    read_cost(0),
                ),
                Ok(Err(e)) => state_err(e.log),
                Err(e) => state_err(e.to_string()),
            }
        }
        QueryRequest::Wasm(WasmQuery::CodeInfo { code_id }) => {
            match read_cell(cell, |s| s.code_info(code_id)) {
                Ok(Ok(Some(info))) => (
                    json_answer(json!({
                        "code_id": code_id,
                        "creator": info.creator,
                        "checksum": hex::encode(&info.code_hash),
                    })),
                    read_cost(96),
                ),
                Ok(Ok(None)) => (
                    SystemResult::Err(SystemError::NoSuchCode { code_id }),
                    read_cost(0),
                ),
                Ok(Err(e)) => state_err(e.log),
                Err(e) => state_err(e.to_string()),
            }
        }
        other => {
            let kind = serde_json::to_value(&other)
                .ok()
                .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                .unwrap_or_else(|| "unknown".into());
            (
                SystemResult::Err(SystemError::UnsupportedRequest { kind }),
                0,
            )
        }
    }
}

/// A smart query of `contract` through `cell`, with `gas_limit` VM gas.
/// Returns the JSON answer and the VM gas used (instance cost included).
fn query_on_cell(
    vm: &Vm,
    env: &Arc<BlockEnv>,
    cell: &Rc<StateCell>,
    contract: &Address,
    msg: &[u8],
    gas_limit: u64,
    depth: u32,
) -> (Result<Binary, TxError>, u64) {
    let instance_cost = gas::to_vm(gas::INSTANCE_COST);
    let lookup = read_cell(cell, |s| -> Result<(u64, CodeInfo), TxError> {
        let info = s.require_contract(contract)?;
        let code = s.require_code(info.code_id)?;
        Ok((info.code_id, code))
    });
    let (code_id, code) = match lookup {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return (Err(e), 0),
        Err(e) => return (Err(TxError::internal(e)), 0),
    };
    if gas_limit < instance_cost {
        return (
            Err(TxError::new(
                Code::OutOfGas,
                "out of gas: a smart query needs at least the instance cost",
            )),
            gas_limit,
        );
    }
    let checksum = match checksum_of(&code) {
        Ok(c) => c,
        Err(e) => return (Err(e), 0),
    };
    let backend = Backend {
        api: AddressApi,
        storage: ContractStore::new(Rc::clone(cell), state_key::data_prefix(contract.as_str())),
        querier: ChainQuerier::new(
            Rc::clone(cell),
            make_handler(vm.clone(), Arc::clone(env)),
            depth,
        ),
    };
    let wasm = || {
        read_cell(cell, |s| s.code_bytes(code_id).ok().flatten())
            .ok()
            .flatten()
    };
    let what = format!("query of contract {contract}");
    let mut instance = match vm.instance(&checksum, wasm, backend, gas_limit - instance_cost) {
        Ok(i) => i,
        Err(e) => return (Err(vm_error(e, codes::QUERY_FAILED, &what)), instance_cost),
    };
    let result = cosmwasm_vm::call_query(&mut instance, &env.env(contract), msg);
    let report = instance.create_gas_report();
    let used = instance_cost.saturating_add(report.limit.saturating_sub(report.remaining));
    let r = match result {
        Ok(ContractResult::Ok(bin)) => Ok(bin),
        Ok(ContractResult::Err(e)) => Err(TxError::new(
            codes::QUERY_FAILED,
            format!("{what} failed: {e}"),
        )),
        Err(e) => Err(vm_error(e, codes::QUERY_FAILED, &what)),
    };
    (r, used)
}
