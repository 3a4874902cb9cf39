//! The real contracts of `contracts/` (built to wasm by scripts/setup.sh)
//! run through the module's messages on an in-memory state: store,
//! instantiate, execute, query, sub-messages with replies, the `copro`
//! custom query, and every failure a result code with nothing written.

use std::path::PathBuf;

use copro_bank::{BankRead, BankWrite, Coin};
use copro_module::{
    Address, Code, ExecContext, GasMeter, Module, Stage, StatelessContext, TxError, module_address,
};
use copro_store::{EmptyState, StateDelta, StateRead, StateWrite};
use copro_wasm::keeper::contract_address;
use copro_wasm::{Vm, Wasm, codes, msgs};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgInstantiateContractResponse, MsgStoreCodeResponse, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use prost::Message;
use serde_json::{Value, json};

fn artifact(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("COPRO_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/artifacts")
        });
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the contracts first with scripts/setup.sh",
            path.display()
        )
    })
}

struct Chain {
    wasm: Wasm,
    state: StateDelta<EmptyState>,
    height: u64,
}

const GAS: u64 = 5_000_000;

impl Chain {
    fn new() -> Self {
        let mut state = StateDelta::new(EmptyState);
        state.put_raw(b"app/chain_id".to_vec(), b"test-chain".to_vec());
        // The coprocessor's genesis: contracts read it and queue requests.
        copro_coprocessor::genesis::GenesisState::default()
            .init(&mut state)
            .unwrap();
        state
            .mint(&alice(), &Coin::new("ucopro", 1_000_000).unwrap())
            .unwrap();
        Self {
            wasm: Wasm::new(Vm::temporary()),
            state,
            height: 1,
        }
    }

    /// Runs one message as a tx would: on an overlay kept only on success.
    /// Returns the response `Any` value and the gas the meter used.
    fn run(&mut self, any: cosmrs::Any, gas: u64) -> (Result<Vec<u8>, TxError>, u64) {
        self.height += 1;
        let meter = GasMeter::new(gas, 0);
        let ctx = ExecContext {
            chain_id: "test-chain",
            height: self.height,
            stage: Stage::FinalizeBlock,
            tx_hash: [7; 32],
            gas: &meter,
            block_time_nanos: 1_700_000_000_000_000_000,
        };
        let result = (|| {
            let msg = self.wasm.decode(&any.type_url, &any.value)?;
            msg.check_stateless(&StatelessContext { chain_id: "c" })?;
            let mut tx = StateDelta::new(&self.state);
            msg.check_stateful(&tx, &ctx)?;
            let out = msg.execute(&mut tx, &ctx)?;
            let changes = tx.into_changes();
            self.state.apply(changes);
            Ok(out.response.value)
        })();
        (result, meter.used())
    }

    fn store(&mut self, wasm: Vec<u8>) -> Result<u64, TxError> {
        let (r, _) = self.run(msgs::encode_store(&alice(), wasm), GAS);
        Ok(MsgStoreCodeResponse::decode(r?.as_slice()).unwrap().code_id)
    }

    fn instantiate(&mut self, code_id: u64, msg: Value, funds: &str) -> Result<Address, TxError> {
        let funds = copro_bank::Coins::parse(funds).unwrap();
        let any = msgs::encode_instantiate(
            &alice(),
            Some(&alice()),
            code_id,
            "test",
            msg.to_string().into_bytes(),
            &funds,
        );
        let (r, _) = self.run(any, GAS);
        let resp = MsgInstantiateContractResponse::decode(r?.as_slice()).unwrap();
        Ok(Address::parse(&resp.address).unwrap())
    }

    fn execute(
        &mut self,
        contract: &Address,
        msg: Value,
        gas: u64,
    ) -> (Result<Vec<u8>, TxError>, u64) {
        let any = msgs::encode_execute(
            &alice(),
            contract,
            msg.to_string().into_bytes(),
            &Default::default(),
        );
        self.run(any, gas)
    }

    fn query(&self, contract: &Address, msg: Value) -> Result<Value, TxError> {
        let data = QuerySmartContractStateRequest {
            address: contract.to_string(),
            query_data: msg.to_string().into_bytes(),
        }
        .encode_to_vec();
        let out = self
            .wasm
            .query(copro_wasm::query::SMART_PATH, &self.state, &data)?;
        let resp = QuerySmartContractStateResponse::decode(out.as_slice()).unwrap();
        Ok(serde_json::from_slice(&resp.data).unwrap())
    }
}

fn alice() -> Address {
    module_address("alice")
}

fn chaos(chain: &mut Chain) -> Address {
    let id = chain.store(artifact("chaos")).unwrap();
    chain.instantiate(id, json!({}), "").unwrap()
}

#[test]
fn a_contract_is_stored_instantiated_executed_and_queried_and_its_gas_is_charged() {
    let mut chain = Chain::new();
    let id = chain.store(artifact("chaos")).unwrap();
    assert_eq!(id, 1);
    let contract = chain.instantiate(id, json!({}), "").unwrap();
    assert_eq!(contract, contract_address(1, 1));
    let (r, gas) = chain.execute(&contract, json!({"incr": {}}), GAS);
    r.unwrap();
    // The instance cost, the VM's instructions, a read and a write.
    assert!(
        gas > copro_wasm::gas::INSTANCE_COST && gas < 200_000,
        "{gas}"
    );
    assert_eq!(
        chain.query(&contract, json!({"state": {}})).unwrap(),
        json!({"count": 1, "poisoned": false, "last_reply": null, "nan_bits": null})
    );
    // Gas is deterministic: the same call on the same state costs the same
    // (another node, which made the same calls before).
    let mut other = Chain::new();
    let id = other.store(artifact("chaos")).unwrap();
    let contract = other.instantiate(id, json!({}), "").unwrap();
    let (r, again) = other.execute(&contract, json!({"incr": {}}), GAS);
    r.unwrap();
    assert_eq!(again, gas);
}

#[test]
fn an_execute_after_the_first_takes_the_compiled_module_from_memory() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    let before = chain.wasm.vm().stats();
    for _ in 0..3 {
        chain
            .execute(&contract, json!({"incr": {}}), GAS)
            .0
            .unwrap();
    }
    let after = chain.wasm.vm().stats();
    assert_eq!(after.misses, before.misses, "no compilation");
    assert_eq!(after.memory_hits, before.memory_hits + 3);
}

#[test]
fn a_node_with_an_empty_cache_compiles_the_code_from_state_and_agrees() {
    // Two nodes make the same calls; the second loses its cache before
    // the last one and compiles the code again from state.
    let mut warm = Chain::new();
    let mut cold = Chain::new();
    let mut gas = Vec::new();
    for (node, chain) in [&mut warm, &mut cold].into_iter().enumerate() {
        let contract = chaos(chain);
        chain
            .execute(&contract, json!({"incr": {}}), GAS)
            .0
            .unwrap();
        if node == 1 {
            chain.wasm = Wasm::new(Vm::temporary());
        }
        let before = chain.wasm.vm().stats().memory_hits;
        let (r, used) = chain.execute(&contract, json!({"incr": {}}), GAS);
        r.unwrap();
        gas.push((used, chain.wasm.vm().stats().memory_hits - before));
        assert_eq!(
            chain.query(&contract, json!({"state": {}})).unwrap()["count"],
            2
        );
    }
    assert_eq!(gas[0].1, 1, "the warm node had the module in memory");
    assert_eq!(gas[1].1, 0, "the cold node compiled it from state");
    assert_eq!(gas[0].0, gas[1].0, "the cache never changes gas");
}

#[test]
fn a_failing_or_panicking_contract_fails_with_its_code_and_writes_nothing() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    let (r, _) = chain.execute(&contract, json!({"fail": {}}), GAS);
    let e = r.unwrap_err();
    assert_eq!(e.code, codes::EXECUTE_FAILED);
    assert!(e.log.contains("failing on purpose"), "{}", e.log);
    let (r, _) = chain.execute(&contract, json!({"panic": {}}), GAS);
    let e = r.unwrap_err();
    assert_eq!(e.code, codes::EXECUTE_FAILED);
    assert!(e.log.contains("panic"), "{}", e.log);
    assert_eq!(
        chain.query(&contract, json!({"state": {}})).unwrap()["poisoned"],
        false
    );
    // Not JSON, unknown variant: refused before or by the contract.
    let any = msgs::encode_execute(&alice(), &contract, b"{nope".to_vec(), &Default::default());
    assert_eq!(chain.run(any, GAS).0.unwrap_err().code, codes::INVALID);
    let (r, _) = chain.execute(&contract, json!({"nope": {}}), GAS);
    assert_eq!(r.unwrap_err().code, codes::EXECUTE_FAILED);
    // No such contract.
    let (r, _) = chain.execute(&module_address("nobody"), json!({"incr": {}}), GAS);
    assert_eq!(r.unwrap_err().code, codes::NOT_FOUND);
}

#[test]
fn an_endless_loop_runs_out_of_gas_and_uses_all_of_it() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    let (r, gas) = chain.execute(&contract, json!({"loop": {}}), 1_000_000);
    let e = r.unwrap_err();
    assert_eq!(e.code, Code::OutOfGas, "{}", e.log);
    assert_eq!(gas, 1_000_000);
    assert_eq!(
        chain.query(&contract, json!({"state": {}})).unwrap()["poisoned"],
        false
    );
}

#[test]
fn a_failed_sub_message_answered_by_a_reply_undoes_only_its_own_writes() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    chain
        .execute(&contract, json!({"try_fail": {}}), GAS)
        .0
        .unwrap();
    let s = chain.query(&contract, json!({"state": {}})).unwrap();
    assert_eq!(s["count"], 1, "the caller's write stays");
    assert_eq!(s["poisoned"], false, "the failed sub-call's write is gone");
    assert!(
        s["last_reply"]
            .as_str()
            .unwrap()
            .contains("failing on purpose"),
        "{s}"
    );
}

#[test]
fn a_bank_send_from_a_contract_moves_its_funds_and_an_overdraft_fails_the_call() {
    let mut chain = Chain::new();
    let id = chain.store(artifact("chaos")).unwrap();
    let contract = chain.instantiate(id, json!({}), "500ucopro").unwrap();
    assert_eq!(chain.state.balance(&contract, "ucopro").unwrap(), 500);
    let bob = module_address("bob");
    let send = |n: u64| json!({"send": {"to": bob.to_string(), "amount": [{"denom": "ucopro", "amount": n.to_string()}]}});
    chain.execute(&contract, send(200), GAS).0.unwrap();
    assert_eq!(chain.state.balance(&bob, "ucopro").unwrap(), 200);
    let (r, _) = chain.execute(&contract, send(301), GAS);
    assert_eq!(r.unwrap_err().code, Code::InsufficientFunds);
    assert_eq!(chain.state.balance(&contract, "ucopro").unwrap(), 300);
}

#[test]
fn a_query_that_recurses_stops_at_the_depth_cap() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    let e = chain.query(&contract, json!({"recurse": {}})).unwrap_err();
    assert_eq!(e.code, codes::QUERY_FAILED);
    assert!(e.log.contains("deeper than"), "{}", e.log);
    let (r, _) = chain.execute(&contract, json!({"recurse_query": {}}), GAS);
    let e = r.unwrap_err();
    assert_eq!(e.code, codes::EXECUTE_FAILED);
    assert!(e.log.contains("deeper than"), "{}", e.log);
}

fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).unwrap()
}

#[test]
fn bad_wasm_is_refused_with_a_clear_code_and_stores_nothing() {
    let mut chain = Chain::new();
    // Not wasm at all.
    assert_eq!(
        chain.store(b"hello world".to_vec()).unwrap_err().code,
        codes::CREATE_FAILED
    );
    // Valid wasm, but no CosmWasm contract (no exports, no memory).
    let e = chain.store(wat("(module)")).unwrap_err();
    assert_eq!(e.code, codes::CREATE_FAILED, "{}", e.log);
    // An import the VM does not provide.
    let e = chain
        .store(wat(r#"(module (import "env" "steal_keys" (func)) (memory (export "memory") 1)
              (func (export "interface_version_8")) (func (export "allocate") (param i32) (result i32) i32.const 0)
              (func (export "deallocate") (param i32)))"#))
        .unwrap_err();
    assert_eq!(e.code, codes::CREATE_FAILED);
    assert!(e.log.contains("steal_keys"), "{}", e.log);
    // A memory larger than contracts may ask for.
    let e = chain
        .store(wat(
            r#"(module (memory (export "memory") 65536) (func (export "interface_version_8"))
              (func (export "allocate") (param i32) (result i32) i32.const 0)
              (func (export "deallocate") (param i32)))"#,
        ))
        .unwrap_err();
    assert_eq!(e.code, codes::CREATE_FAILED, "{}", e.log);
    // Oversized.
    let mut big = b"\0asm\x01\0\0\0".to_vec();
    big.resize(copro_wasm::limits::MAX_WASM_BYTES + 1, 0);
    assert_eq!(chain.store(big).unwrap_err().code, codes::LIMIT);
    // Nothing was stored: the first good code gets id 1.
    assert_eq!(chain.store(artifact("chaos")).unwrap(), 1);
}

#[test]
fn storing_code_costs_gas_by_size_and_too_little_gas_is_out_of_gas() {
    let mut chain = Chain::new();
    let wasm = artifact("chaos");
    let needed = copro_wasm::gas::per_byte(wasm.len(), copro_wasm::gas::COMPILE_COST_PER_BYTE);
    let (r, _) = chain.run(msgs::encode_store(&alice(), wasm.clone()), needed - 1);
    assert_eq!(r.unwrap_err().code, Code::OutOfGas);
    let (r, gas) = chain.run(msgs::encode_store(&alice(), wasm), GAS);
    r.unwrap();
    assert_eq!(gas, needed);
}

/// Writes what an accepted proof leaves in the coprocessor's state: result
/// `id` at `height`, and a settled ledger account.
fn settle(state: &mut impl StateWrite, id: u64, height: u64, account: &Address, balance: u64) {
    use copro_coprocessor::record::pb;
    use copro_coprocessor::state_key;
    let result = pb::VerifiedResult {
        id,
        program_id: "transfer".into(),
        program_version: 1,
        new_root: vec![0xab; 32],
        old_root: vec![0; 32],
        height,
        ..Default::default()
    };
    state.put_raw(state_key::result(id), result.encode_to_vec());
    state.put_raw(state_key::result_count(), id.to_be_bytes().to_vec());
    let acc = pb::LedgerAccount {
        address: account.to_string(),
        ledger_index: 1,
        key: vec![],
        balance,
        nonce: 0,
        ..Default::default()
    };
    state.put_raw(
        state_key::ledger_account(account.as_str()),
        acc.encode_to_vec(),
    );
}

#[test]
fn verified_gate_releases_only_on_a_fresh_result_with_enough_settled_balance() {
    let mut chain = Chain::new();
    let id = chain.store(artifact("verified_gate")).unwrap();
    let (beneficiary, account) = (module_address("beneficiary"), module_address("account"));
    let gate = chain
        .instantiate(
            id,
            json!({"beneficiary": beneficiary.to_string(), "account": account.to_string(),
                   "min_balance": "100", "expires_at": 1000}),
            "700ucopro",
        )
        .unwrap();
    let release = |n: u64| json!({"release": {"result_id": n}});
    // No verified result yet.
    let (r, _) = chain.execute(&gate, release(1), GAS);
    let e = r.unwrap_err();
    assert!(e.log.contains("no verified result 1"), "{}", e.log);
    // A result, but the settled balance is too low.
    let h = chain.height;
    settle(&mut chain.state, 1, h, &account, 99);
    let (r, _) = chain.execute(&gate, release(1), GAS);
    assert!(r.unwrap_err().log.contains("condition not met"));
    // Proven balance high enough: the funds go to the beneficiary.
    settle(&mut chain.state, 2, h + 1, &account, 150);
    chain.execute(&gate, release(2), GAS).0.unwrap();
    assert_eq!(chain.state.balance(&beneficiary, "ucopro").unwrap(), 700);
    assert_eq!(chain.state.balance(&gate, "ucopro").unwrap(), 0);
    assert_eq!(
        chain.query(&gate, json!({"status": {}})).unwrap(),
        json!({"status": "released", "released_by": 2})
    );
}

#[test]
fn the_query_paths_answer_code_contract_and_raw_state() {
    let mut chain = Chain::new();
    let contract = chaos(&mut chain);
    let q = |path: &str, data: Vec<u8>| chain.wasm.query(path, &chain.state, &data);
    use cosmos_sdk_proto::cosmwasm::wasm::v1 as w;
    let code = w::QueryCodeResponse::decode(
        q(
            copro_wasm::query::CODE_PATH,
            w::QueryCodeRequest { code_id: 1 }.encode_to_vec(),
        )
        .unwrap()
        .as_slice(),
    )
    .unwrap();
    assert_eq!(code.data, artifact("chaos"));
    assert_eq!(code.code_info.unwrap().creator, alice().to_string());
    let info = w::QueryContractInfoResponse::decode(
        q(
            copro_wasm::query::CONTRACT_INFO_PATH,
            w::QueryContractInfoRequest {
                address: contract.to_string(),
            }
            .encode_to_vec(),
        )
        .unwrap()
        .as_slice(),
    )
    .unwrap();
    assert_eq!(info.contract_info.unwrap().label, "test");
    let raw = w::QueryRawContractStateResponse::decode(
        q(
            copro_wasm::query::RAW_PATH,
            w::QueryRawContractStateRequest {
                address: contract.to_string(),
                query_data: b"count".to_vec(),
            }
            .encode_to_vec(),
        )
        .unwrap()
        .as_slice(),
    )
    .unwrap();
    assert_eq!(raw.data, b"0");
    assert_eq!(
        q(
            copro_wasm::query::CODE_PATH,
            w::QueryCodeRequest { code_id: 9 }.encode_to_vec()
        )
        .unwrap_err()
        .code,
        codes::NO_SUCH_CODE
    );
    assert_eq!(
        q(copro_wasm::query::SMART_PATH, vec![0xff, 0xff])
            .unwrap_err()
            .code,
        Code::InvalidRequest
    );
    let _ = chain.state.get_raw(b"x");
}

/// Prints the figures of the issue's note (run with `--nocapture`): gas and
/// wall time of store, instantiate, execute and a `copro` query, and a
/// cold execute (compiling from state) against a cached one. Asserts only
/// that the cache makes the execute cheaper in time and never in gas.
#[test]
fn measure_store_instantiate_execute_and_a_cold_against_a_cached_execute() {
    use std::time::Instant;
    let mut chain = Chain::new();
    for name in ["chaos", "verified_gate"] {
        let wasm = artifact(name);
        let t = Instant::now();
        let (r, gas) = chain.run(msgs::encode_store(&alice(), wasm.clone()), GAS);
        r.unwrap();
        eprintln!(
            "figure: store {name} ({} bytes): {gas} gas, {:?}",
            wasm.len(),
            t.elapsed()
        );
    }
    let t = Instant::now();
    let any = msgs::encode_instantiate(&alice(), None, 1, "m", b"{}".to_vec(), &Default::default());
    let (r, gas) = chain.run(any, GAS);
    let chaos = Address::parse(
        &MsgInstantiateContractResponse::decode(r.unwrap().as_slice())
            .unwrap()
            .address,
    )
    .unwrap();
    eprintln!("figure: instantiate chaos: {gas} gas, {:?}", t.elapsed());
    let account = module_address("account");
    let init = json!({"beneficiary": account.to_string(), "account": account.to_string(), "min_balance": "1", "expires_at": 9});
    let any = msgs::encode_instantiate(
        &alice(),
        None,
        2,
        "g",
        init.to_string().into_bytes(),
        &copro_bank::Coins::parse("10ucopro").unwrap(),
    );
    let t = Instant::now();
    let (r, gas) = chain.run(any, GAS);
    let gate = Address::parse(
        &MsgInstantiateContractResponse::decode(r.unwrap().as_slice())
            .unwrap()
            .address,
    )
    .unwrap();
    eprintln!(
        "figure: instantiate verified-gate: {gas} gas, {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let (_, warm_gas) = chain.execute(&chaos, json!({"incr": {}}), GAS);
    eprintln!(
        "figure: execute chaos incr (module in memory): {warm_gas} gas, {:?}",
        t.elapsed()
    );
    let mut warm = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        chain.execute(&chaos, json!({"incr": {}}), GAS).0.unwrap();
        warm.push(t.elapsed());
    }
    warm.sort();
    let mut cold = Vec::new();
    for _ in 0..3 {
        chain.wasm = Wasm::new(Vm::temporary());
        let t = Instant::now();
        chain.execute(&chaos, json!({"incr": {}}), GAS).0.unwrap();
        cold.push(t.elapsed());
    }
    cold.sort();
    eprintln!(
        "figure: execute chaos incr: cached median {:?}, cold (compile from state) median {:?}",
        warm[2], cold[1]
    );

    let h = chain.height;
    settle(&mut chain.state, 1, h, &account, 5);
    let t = Instant::now();
    let (r, gas) = chain.execute(&gate, json!({"release": {"result_id": 1}}), GAS);
    r.unwrap();
    eprintln!(
        "figure: execute verified-gate release (two `copro` queries: verified_result, ledger_account; a bank send): {gas} gas, {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    chain.query(&gate, json!({"status": {}})).unwrap();
    eprintln!(
        "figure: smart query of verified-gate status: {:?}",
        t.elapsed()
    );

    // ledger-requester: store, instantiate, a request, its callback.
    let wasm = artifact("ledger_requester");
    let t = Instant::now();
    let (r, gas) = chain.run(msgs::encode_store(&alice(), wasm.clone()), GAS);
    let code_id = MsgStoreCodeResponse::decode(r.unwrap().as_slice())
        .unwrap()
        .code_id;
    eprintln!(
        "figure: store ledger-requester ({} bytes): {gas} gas, {:?}",
        wasm.len(),
        t.elapsed()
    );
    let any = msgs::encode_instantiate(
        &alice(),
        None,
        code_id,
        "r",
        json!({"callback_gas_limit": 300_000})
            .to_string()
            .into_bytes(),
        &copro_bank::Coins::parse("1000ucopro").unwrap(),
    );
    let t = Instant::now();
    let (r, gas) = chain.run(any, GAS);
    let requester = Address::parse(
        &MsgInstantiateContractResponse::decode(r.unwrap().as_slice())
            .unwrap()
            .address,
    )
    .unwrap();
    eprintln!(
        "figure: instantiate ledger-requester: {gas} gas, {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let (r, gas) = chain.execute(&requester, json!({"deposit": {"amount": "100"}}), GAS);
    r.unwrap();
    eprintln!(
        "figure: execute ledger-requester deposit (a queued request, its reply; 300,000 callback gas prepaid): {gas} gas, {:?}",
        t.elapsed()
    );
    use copro_coprocessor::view::CoproRead;
    let sequence = chain.state.queue_state().unwrap().next_sequence - 1;
    let t = Instant::now();
    chain.settle_requests(&[(sequence, true)], 1);
    let elapsed = t.elapsed();
    let record = chain
        .query(&requester, json!({"callback": {"sequence": sequence}}))
        .unwrap();
    assert_eq!(record["status"], "succeeded");
    eprintln!(
        "figure: settlement callback of ledger-requester (sudo, state writes): {} gas, {elapsed:?}",
        record["gas_used"]
    );

    // A contract query of a verified result (through `copro`), as a
    // client's smart query: gas and wall time, cached module.
    let keeper = copro_wasm::keeper::Keeper::new(
        chain.wasm.vm(),
        copro_wasm::keeper::BlockEnv {
            chain_id: "test-chain".into(),
            height: chain.height,
            time_nanos: 1_700_000_000_000_000_000,
            tx_hash: None,
        },
    );
    let msg = json!({"verified_result": {"id": 1}}).to_string();
    let mut times = Vec::new();
    let mut gas = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let (r, used) = keeper.query_smart(&chain.state, &requester, msg.as_bytes(), 3_000_000);
        times.push(t.elapsed());
        let answer: Value = serde_json::from_slice(&r.unwrap()).unwrap();
        assert_eq!(answer["id"], 1);
        gas = used;
    }
    times.sort();
    eprintln!(
        "figure: contract query of a verified result (ledger-requester verified_result -> copro verified_result): {gas} gas, median {:?}",
        times[2]
    );
    for name in ["chaos", "verified_gate", "ledger_requester"] {
        eprintln!("figure: {name}.wasm: {} bytes", artifact(name).len());
    }
}

#[test]
fn float_arithmetic_is_accepted_with_canonical_nans_but_simd_and_threads_are_refused() {
    // What every CosmWasm contract exports, around the instruction tested.
    let module = |body: &str| {
        wat(&format!(
            r#"(module (memory (export "memory") 1)
              (func (export "interface_version_8"))
              (func (export "allocate") (param i32) (result i32) i32.const 0)
              (func (export "deallocate") (param i32))
              {body})"#
        ))
    };
    let mut chain = Chain::new();
    // Floats: cosmwasm-vm canonicalises NaNs, so float arithmetic gives
    // the same bits on every machine; and cosmwasm-std 3's JSON parser
    // carries f64 code into every contract (docs/contracts.md).
    chain
        .store(module(
            "(func (export \"half\") (param f64) (result f64) local.get 0 f64.const 2 f64.div)",
        ))
        .unwrap();
    // The NaN a contract computes has the same bits on every machine:
    // x86's own 0/0 has the sign bit set (fff8...), ARM's does not; the VM
    // canonicalises to 7ff8... . Without it, validators on different CPUs
    // would store different bytes and split on the app hash.
    let contract = chaos(&mut chain);
    let native = {
        let x: f64 = std::hint::black_box("1.5").parse().unwrap();
        let zero = x - x;
        (zero / zero).to_bits()
    };
    eprintln!("this machine's native 0/0: {native:016x}");
    for x in ["1.5", "-0", "1e308"] {
        chain
            .execute(&contract, json!({"nan": {"x": x}}), GAS)
            .0
            .unwrap();
        let state = chain.query(&contract, json!({"state": {}})).unwrap();
        assert_eq!(state["nan_bits"], "7ff8000000000000", "x = {x}");
    }
    // SIMD (whose relaxed forms differ between machines) and threads.
    for body in [
        "(func (export \"v\") (result v128) v128.const i64x2 1 2)",
        "(func (export \"t\") (param i32) (result i32) local.get 0 i32.atomic.load)",
    ] {
        let e = chain.store(module(body)).unwrap_err();
        assert_eq!(e.code, codes::CREATE_FAILED, "{body}: {}", e.log);
    }
    // A memory shared between threads.
    let shared = wat(r#"(module (memory (export "memory") 1 1 shared)
        (func (export "interface_version_8"))
        (func (export "allocate") (param i32) (result i32) i32.const 0)
        (func (export "deallocate") (param i32)))"#);
    assert_eq!(chain.store(shared).unwrap_err().code, codes::CREATE_FAILED);
}

/// The coprocessor's view of an accepted proof that settles the queued
/// requests `sequences` with the given statuses (no pairing: the callback
/// path reads only what the proof established).
fn settlement(
    state: &impl StateRead,
    entries: &[(u64, bool)],
) -> copro_coprocessor::submit::CheckedSubmission {
    use copro_circuits::transfer::{EntryEffect, EntryStatus};
    use copro_coprocessor::view::CoproRead;
    let stored: Vec<_> = entries
        .iter()
        .map(|(seq, _)| state.queued(*seq).unwrap().expect("queued"))
        .collect();
    let effects = entries
        .iter()
        .map(|(_, applied)| EntryEffect {
            status: if *applied {
                EntryStatus::Applied
            } else {
                EntryStatus::Rejected
            },
            from_balance: 0,
            from_nonce: 0,
            to_balance: 0,
        })
        .collect();
    let zero = bls12_381::Scalar::zero();
    copro_coprocessor::submit::CheckedSubmission {
        msg: copro_coprocessor::submit::SubmitProof {
            signer: module_address("prover"),
            program_id: "transfer".into(),
            version: 1,
            old_root: zero,
            new_root: bls12_381::Scalar::one(),
            start: entries[0].0,
            end: entries[entries.len() - 1].0 + 1,
            effects,
            proof: vec![],
            offchain: vec![],
            alloc_start: 0,
        },
        program: Default::default(),
        entries: stored,
        queue_before: zero,
        queue_after: zero,
        deltas_commitment: zero,
        public_input: zero,
        verification_id: [0; 32],
        v2: None,
    }
}

impl Chain {
    /// Runs the callbacks of a settlement as FinalizeBlock does, in the
    /// proof's tx (whose own meter they never touch).
    fn settle_requests(&mut self, entries: &[(u64, bool)], result_id: u64) -> Vec<Value> {
        self.height += 1;
        let checked = settlement(&self.state, entries);
        let prover_meter = GasMeter::new(100_000, 0);
        let ctx = ExecContext {
            chain_id: "test-chain",
            height: self.height,
            stage: Stage::FinalizeBlock,
            tx_hash: [9; 32],
            gas: &prover_meter,
            block_time_nanos: 1_700_000_000_000_000_000,
        };
        let events = copro_coprocessor::callback::run_settled(
            &mut self.state,
            &self.wasm,
            &ctx,
            &checked,
            result_id,
        )
        .unwrap();
        assert_eq!(
            prover_meter.used(),
            0,
            "callbacks never use the proof's gas"
        );
        events
            .iter()
            .filter(|e| e.kind == "copro.coprocessor.v1.EventCallbackRun")
            .map(|e| {
                e.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap()))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .collect()
    }

    fn requester(&mut self, callback_gas_limit: u64, funds: &str) -> Address {
        let id = self.store(artifact("ledger_requester")).unwrap();
        self.instantiate(id, json!({"callback_gas_limit": callback_gas_limit}), funds)
            .unwrap()
    }
}

#[test]
fn a_contract_request_is_queued_for_the_contract_and_its_callback_records_the_settlement() {
    let mut chain = Chain::new();
    let contract = chain.requester(300_000, "1000ucopro");
    let (r, gas) = chain.execute(&contract, json!({"deposit": {"amount": "400"}}), GAS);
    r.unwrap();
    // The callback's gas is paid by the request's tx.
    assert!(gas > 300_000 + copro_wasm::gas::COPRO_REQUEST_COST, "{gas}");
    // A normal queue entry, owned by the contract; its coins in escrow.
    use copro_coprocessor::view::CoproRead;
    let entry = chain.state.queued(0).unwrap().expect("queued");
    assert_eq!(entry.to_address, contract.to_string());
    assert_eq!(entry.amount, 400);
    assert_eq!(chain.state.balance(&contract, "ucopro").unwrap(), 600);
    let status = chain.query(&contract, json!({"status": {}})).unwrap();
    assert_eq!(
        status["pending"],
        json!([{"sequence": 0, "kind": "deposit", "amount": "400"}])
    );
    assert_eq!(
        chain
            .query(&contract, json!({"callback": {"sequence": 0}}))
            .unwrap()["status"],
        "pending"
    );

    let runs = chain.settle_requests(&[(0, true)], 3);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["success"], true, "{runs:?}");
    let status = chain.query(&contract, json!({"status": {}})).unwrap();
    assert_eq!(status["pending"], json!([]));
    assert_eq!(status["settled"][0]["result_id"], 3);
    assert_eq!(status["settled"][0]["applied"], true);
    assert_eq!(status["settled_balance"], "400");
    let record = chain
        .query(&contract, json!({"callback": {"sequence": 0}}))
        .unwrap();
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["result_id"], 3);
    assert!(record["gas_used"].as_u64().unwrap() > copro_wasm::gas::INSTANCE_COST);
}

#[test]
fn a_failing_or_out_of_gas_callback_is_undone_and_recorded_and_the_others_still_run() {
    let mut chain = Chain::new();
    let failing = chain.requester(300_000, "1000ucopro");
    // Less gas than loading the contract costs.
    let starved = chain.requester(1_000, "1000ucopro");
    let good = chain.requester(300_000, "1000ucopro");
    chain
        .execute(&failing, json!({"set_fail_callbacks": {"fail": true}}), GAS)
        .0
        .unwrap();
    for c in [&failing, &starved, &good] {
        chain
            .execute(c, json!({"deposit": {"amount": "10"}}), GAS)
            .0
            .unwrap();
    }
    let before = chain.query(&failing, json!({"status": {}})).unwrap();
    let runs = chain.settle_requests(&[(0, true), (1, true), (2, false)], 1);
    assert_eq!(
        runs.iter()
            .map(|r| r["success"].clone())
            .collect::<Vec<_>>(),
        [json!(false), json!(false), json!(true)]
    );
    assert!(
        runs[0]["error"].as_str().unwrap().contains("set to fail"),
        "{runs:?}"
    );
    assert!(
        runs[1]["error"].as_str().unwrap().contains("out of gas"),
        "{runs:?}"
    );
    // The failing contract's writes are gone; its record says why.
    assert_eq!(
        chain.query(&failing, json!({"status": {}})).unwrap(),
        before
    );
    let record = chain
        .query(&failing, json!({"callback": {"sequence": 0}}))
        .unwrap();
    assert_eq!(record["status"], "failed");
    assert!(
        record["error"].as_str().unwrap().contains("code 5 (wasm)"),
        "{record}"
    );
    let record = chain
        .query(&starved, json!({"callback": {"sequence": 1}}))
        .unwrap();
    assert_eq!(
        (record["status"].as_str(), record["gas_used"].as_u64()),
        (Some("failed"), Some(1_000))
    );
    assert!(
        record["error"].as_str().unwrap().contains("code 11 (sdk)"),
        "{record}"
    );
    // The third, rejected by the ledger, is recorded as such.
    let s = chain.query(&good, json!({"status": {}})).unwrap();
    assert_eq!(s["settled"][0]["applied"], false);
    assert_eq!(s["settled_balance"], "0");
    // A callback runs once: settling the same request again is refused
    // as a fault of the chain, not run twice.
    let checked = settlement(&chain.state, &[(2, true)]);
    let meter = GasMeter::new(1, 0);
    let ctx = ExecContext {
        chain_id: "test-chain",
        height: chain.height,
        stage: Stage::FinalizeBlock,
        tx_hash: [9; 32],
        gas: &meter,
        block_time_nanos: 0,
    };
    assert!(
        copro_coprocessor::callback::run_settled(&mut chain.state, &chain.wasm, &ctx, &checked, 2)
            .is_err()
    );
}

#[test]
fn a_request_the_coprocessor_refuses_fails_the_contract_call_and_queues_nothing() {
    let mut chain = Chain::new();
    // No coins to deposit; no ledger account to withdraw from.
    let contract = chain.requester(300_000, "");
    let (r, _) = chain.execute(&contract, json!({"deposit": {"amount": "10"}}), GAS);
    assert_eq!(r.unwrap_err().code, Code::InsufficientFunds);
    let (r, _) = chain.execute(&contract, json!({"withdraw": {"amount": "10"}}), GAS);
    let e = r.unwrap_err();
    assert_eq!((e.code.codespace, e.code.code), ("copro", 16), "{}", e.log);
    use copro_coprocessor::view::CoproRead;
    assert_eq!(chain.state.queued(0).unwrap(), None);
    assert_eq!(chain.state.callback(0).unwrap(), None);
}
