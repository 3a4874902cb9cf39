//! `cosmos.bank.v1beta1.Query` over ABCI query (protobuf in, protobuf out).

use copro_module::{Address, Code, TxError};
use copro_store::StateRead;
use cosmrs::proto::cosmos::bank::v1beta1::{
    QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest, QueryBalanceResponse,
    QueryTotalSupplyRequest, QueryTotalSupplyResponse,
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

/// Answers `Query/AllBalances` (no pagination: every denom in one page).
pub fn all_balances<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = QueryAllBalancesRequest::decode(data)
        .map_err(|e| bad_request("QueryAllBalancesRequest", e))?;
    let address = Address::parse(&req.address)?;
    let balances = state.balances(&address)?;
    Ok(QueryAllBalancesResponse {
        balances: balances.iter().map(Coin::to_proto).collect(),
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
