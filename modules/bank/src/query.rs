//! `cosmos.bank.v1beta1.Query` over ABCI query (protobuf in, protobuf out).

use copro_module::{Address, Code, TxError};
use copro_store::StateRead;
use cosmrs::proto::cosmos::bank::v1beta1::{
    Params, QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest,
    QueryBalanceResponse, QueryDenomMetadataRequest, QueryParamsRequest, QueryParamsResponse,
    QuerySpendableBalancesRequest, QuerySpendableBalancesResponse, QuerySupplyOfRequest,
    QuerySupplyOfResponse, QueryTotalSupplyRequest, QueryTotalSupplyResponse,
};
use prost::Message;

use crate::coins::{Coin, validate_denom};
use crate::view::BankRead;

/// gRPC method path of the balance query.
pub const BALANCE_PATH: &str = "/cosmos.bank.v1beta1.Query/Balance";
/// gRPC method path of the all-balances query.
pub const ALL_BALANCES_PATH: &str = "/cosmos.bank.v1beta1.Query/AllBalances";
/// gRPC method path of the total-supply query.
pub const TOTAL_SUPPLY_PATH: &str = "/cosmos.bank.v1beta1.Query/TotalSupply";
/// gRPC method path of the spendable-balances query.
pub const SPENDABLE_BALANCES_PATH: &str = "/cosmos.bank.v1beta1.Query/SpendableBalances";
/// gRPC method path of the supply-of-one-denom query.
pub const SUPPLY_OF_PATH: &str = "/cosmos.bank.v1beta1.Query/SupplyOf";
/// gRPC method path of the bank parameters query.
pub const PARAMS_PATH: &str = "/cosmos.bank.v1beta1.Query/Params";
/// gRPC method path of the denom metadata query.
pub const DENOM_METADATA_PATH: &str = "/cosmos.bank.v1beta1.Query/DenomMetadata";

fn bad_request(what: &str, e: prost::DecodeError) -> TxError {
    TxError::new(Code::InvalidRequest, format!("malformed {what}: {e}"))
}

/// Answers `Query/Balance` (a zero balance is `0{denom}`, as in the SDK).
pub fn balance<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req =
        QueryBalanceRequest::decode(data).map_err(|e| bad_request("QueryBalanceRequest", e))?;
    let address = Address::parse(&req.address)?;
    validate_denom(&req.denom)?;
    let amount = state.balance(&address, &req.denom)?;
    let coin = Coin {
        denom: req.denom,
        amount,
    };
    Ok(QueryBalanceResponse {
        balance: Some(coin.to_proto()),
    }
    .encode_to_vec())
}

/// Every balance of the bech32 `address`, as protobuf coins.
fn balances_of<S: StateRead + ?Sized>(
    state: &S,
    address: &str,
) -> Result<Vec<cosmrs::proto::cosmos::base::v1beta1::Coin>, TxError> {
    let address = Address::parse(address)?;
    Ok(state
        .balances(&address)?
        .iter()
        .map(Coin::to_proto)
        .collect())
}

/// Answers `Query/AllBalances` (no pagination: every denom in one page).
pub fn all_balances<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = QueryAllBalancesRequest::decode(data)
        .map_err(|e| bad_request("QueryAllBalancesRequest", e))?;
    Ok(QueryAllBalancesResponse {
        balances: balances_of(state, &req.address)?,
        pagination: None,
    }
    .encode_to_vec())
}

/// Answers `Query/TotalSupply` (no pagination).
pub fn total_supply<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    QueryTotalSupplyRequest::decode(data).map_err(|e| bad_request("QueryTotalSupplyRequest", e))?;
    let supply = state.total_supply()?;
    Ok(QueryTotalSupplyResponse {
        supply: supply.iter().map(Coin::to_proto).collect(),
        pagination: None,
    }
    .encode_to_vec())
}

/// Answers `Query/SpendableBalances`: nothing in this bank is locked or
/// vesting, so every balance is spendable (no pagination).
pub fn spendable_balances<S: StateRead + ?Sized>(
    state: &S,
    data: &[u8],
) -> Result<Vec<u8>, TxError> {
    let req = QuerySpendableBalancesRequest::decode(data)
        .map_err(|e| bad_request("QuerySpendableBalancesRequest", e))?;
    Ok(QuerySpendableBalancesResponse {
        balances: balances_of(state, &req.address)?,
        pagination: None,
    }
    .encode_to_vec())
}

/// Answers `Query/SupplyOf` (a denom never minted has supply `0{denom}`).
pub fn supply_of<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req =
        QuerySupplyOfRequest::decode(data).map_err(|e| bad_request("QuerySupplyOfRequest", e))?;
    validate_denom(&req.denom)?;
    let amount = state.supply(&req.denom)?;
    Ok(QuerySupplyOfResponse {
        amount: Some(
            Coin {
                denom: req.denom,
                amount,
            }
            .to_proto(),
        ),
    }
    .encode_to_vec())
}

/// Answers `Query/Params`: sending is enabled for every denom and this
/// chain has no bank parameters to change that.
pub fn params<S: StateRead + ?Sized>(_state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    QueryParamsRequest::decode(data).map_err(|e| bad_request("QueryParamsRequest", e))?;
    #[allow(deprecated)]
    let params = Params {
        send_enabled: Vec::new(),
        default_send_enabled: true,
    };
    Ok(QueryParamsResponse {
        params: Some(params),
    }
    .encode_to_vec())
}

/// Answers `Query/DenomMetadata`: this chain registers no denom metadata,
/// so a valid denom is NotFound (code 22) and an invalid one is refused.
pub fn denom_metadata<S: StateRead + ?Sized>(_state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = QueryDenomMetadataRequest::decode(data)
        .map_err(|e| bad_request("QueryDenomMetadataRequest", e))?;
    validate_denom(&req.denom)?;
    Err(TxError::new(
        Code::KeyNotFound,
        format!(
            "rpc error: code = NotFound desc = client metadata for denom {} not found: this chain \
             registers no denom metadata",
            req.denom
        ),
    ))
}
