//! `cosmwasm.wasm.v1.Query` over ABCI query (protobuf in, protobuf out), so
//! over gRPC and REST as well: smart and raw contract state, code and
//! contract info, the code list and the contracts of a code.

use copro_module::{Address, Code, TxError};
use copro_store::StateRead;
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    CodeInfoResponse, QueryCodeRequest, QueryCodeResponse, QueryCodesRequest, QueryCodesResponse,
    QueryContractInfoRequest, QueryContractInfoResponse, QueryContractsByCodeRequest,
    QueryContractsByCodeResponse, QueryRawContractStateRequest, QueryRawContractStateResponse,
    QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use prost::Message;

use crate::keeper::{BlockEnv, Keeper};
use crate::limits::QUERY_GAS_LIMIT_SDK;
use crate::state_key;
use crate::view::WasmRead;
use crate::vm::Vm;

/// gRPC path of the smart query.
pub const SMART_PATH: &str = "/cosmwasm.wasm.v1.Query/SmartContractState";
/// gRPC path of the raw query.
pub const RAW_PATH: &str = "/cosmwasm.wasm.v1.Query/RawContractState";
/// gRPC path of the code query (info and wasm).
pub const CODE_PATH: &str = "/cosmwasm.wasm.v1.Query/Code";
/// gRPC path of the code list.
pub const CODES_PATH: &str = "/cosmwasm.wasm.v1.Query/Codes";
/// gRPC path of the contract info query.
pub const CONTRACT_INFO_PATH: &str = "/cosmwasm.wasm.v1.Query/ContractInfo";
/// gRPC path of the contracts-of-a-code query.
pub const CONTRACTS_BY_CODE_PATH: &str = "/cosmwasm.wasm.v1.Query/ContractsByCode";

/// Every query path of the module.
pub const PATHS: &[&str] = &[
    SMART_PATH,
    RAW_PATH,
    CODE_PATH,
    CODES_PATH,
    CONTRACT_INFO_PATH,
    CONTRACTS_BY_CODE_PATH,
];

/// Most entries listed by the list queries (no pagination yet).
const MAX_LISTED: usize = 1000;

fn bad_request(what: &str, e: prost::DecodeError) -> TxError {
    TxError::new(Code::InvalidRequest, format!("malformed {what}: {e}"))
}

/// The block a query reads, as its contracts see it: the committed height,
/// the chain-id stored at genesis (coprod's `app/chain_id`); no block time
/// (queries are not part of a block).
fn query_env(state: &dyn StateRead) -> BlockEnv {
    let chain_id = state
        .get_raw(b"app/chain_id")
        .ok()
        .flatten()
        .and_then(|raw| String::from_utf8(raw).ok())
        .unwrap_or_default();
    BlockEnv {
        chain_id,
        height: state.committed_version().unwrap_or(0),
        time_nanos: 0,
        tx_hash: None,
    }
}

/// Answers one of [`PATHS`].
pub fn handle(vm: &Vm, path: &str, state: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
    match path {
        SMART_PATH => {
            let req = QuerySmartContractStateRequest::decode(data)
                .map_err(|e| bad_request("QuerySmartContractStateRequest", e))?;
            let contract = Address::parse(&req.address)?;
            serde_json::from_slice::<serde::de::IgnoredAny>(&req.query_data).map_err(|e| {
                TxError::new(
                    crate::codes::INVALID,
                    format!("query is not valid JSON: {e}"),
                )
            })?;
            let keeper = Keeper::new(vm, query_env(state));
            let (answer, _gas) =
                keeper.query_smart(state, &contract, &req.query_data, QUERY_GAS_LIMIT_SDK);
            Ok(QuerySmartContractStateResponse {
                data: answer?.to_vec(),
            }
            .encode_to_vec())
        }
        RAW_PATH => {
            let req = QueryRawContractStateRequest::decode(data)
                .map_err(|e| bad_request("QueryRawContractStateRequest", e))?;
            let contract = Address::parse(&req.address)?;
            state.require_contract(&contract)?;
            Ok(QueryRawContractStateResponse {
                data: state
                    .contract_value(&contract, &req.query_data)?
                    .unwrap_or_default(),
            }
            .encode_to_vec())
        }
        CODE_PATH => {
            let req =
                QueryCodeRequest::decode(data).map_err(|e| bad_request("QueryCodeRequest", e))?;
            let info = state.require_code(req.code_id)?;
            Ok(QueryCodeResponse {
                code_info: Some(code_info_response(req.code_id, info)),
                data: state.code_bytes(req.code_id)?.unwrap_or_default(),
            }
            .encode_to_vec())
        }
        CODES_PATH => {
            QueryCodesRequest::decode(data).map_err(|e| bad_request("QueryCodesRequest", e))?;
            let mut code_infos = Vec::new();
            for (key, value) in state.prefix_raw(state_key::CODE_PREFIX, MAX_LISTED)? {
                let id = std::str::from_utf8(&key[state_key::CODE_PREFIX.len()..])
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| TxError::internal("corrupt code key"))?;
                let info = cosmos_sdk_proto::cosmwasm::wasm::v1::CodeInfo::decode(value.as_slice())
                    .map_err(|e| TxError::internal(format!("corrupt code info: {e}")))?;
                code_infos.push(code_info_response(id, info));
            }
            Ok(QueryCodesResponse {
                code_infos,
                pagination: None,
            }
            .encode_to_vec())
        }
        CONTRACT_INFO_PATH => {
            let req = QueryContractInfoRequest::decode(data)
                .map_err(|e| bad_request("QueryContractInfoRequest", e))?;
            let contract = Address::parse(&req.address)?;
            let info = state.require_contract(&contract)?;
            Ok(QueryContractInfoResponse {
                address: contract.to_string(),
                contract_info: Some(info),
            }
            .encode_to_vec())
        }
        CONTRACTS_BY_CODE_PATH => {
            let req = QueryContractsByCodeRequest::decode(data)
                .map_err(|e| bad_request("QueryContractsByCodeRequest", e))?;
            let mut contracts = Vec::new();
            for (key, value) in state.prefix_raw(state_key::CONTRACT_PREFIX, MAX_LISTED)? {
                let info =
                    cosmos_sdk_proto::cosmwasm::wasm::v1::ContractInfo::decode(value.as_slice())
                        .map_err(|e| TxError::internal(format!("corrupt contract info: {e}")))?;
                if info.code_id == req.code_id {
                    contracts.push(
                        String::from_utf8_lossy(&key[state_key::CONTRACT_PREFIX.len()..])
                            .into_owned(),
                    );
                }
            }
            Ok(QueryContractsByCodeResponse {
                contracts,
                pagination: None,
            }
            .encode_to_vec())
        }
        other => Err(TxError::new(
            Code::UnknownRequest,
            format!("module wasm has no query path '{other}'"),
        )),
    }
}

fn code_info_response(
    code_id: u64,
    info: cosmos_sdk_proto::cosmwasm::wasm::v1::CodeInfo,
) -> CodeInfoResponse {
    CodeInfoResponse {
        code_id,
        creator: info.creator,
        data_hash: info.code_hash,
        instantiate_permission: Some(cosmos_sdk_proto::cosmwasm::wasm::v1::AccessConfig {
            // Everybody (wasmd's ACCESS_TYPE_EVERYBODY).
            permission: 3,
            addresses: vec![],
        }),
    }
}
