//! `cosmos.auth.v1beta1.Query` over ABCI query.

use copro_store::StateRead;
use cosmrs::Any;
use cosmrs::proto::cosmos::auth::v1beta1::{QueryAccountRequest, QueryAccountResponse};
use prost::Message;

use crate::BASE_ACCOUNT_TYPE_URL;
use crate::view::AuthRead;
use copro_module::Address;
use copro_module::{Code, TxError};

/// gRPC method path of the account query.
pub const ACCOUNT_PATH: &str = "/cosmos.auth.v1beta1.Query/Account";

/// Answers `/cosmos.auth.v1beta1.Query/Account`: protobuf request in,
/// protobuf response out. A missing account is code 22 with the log gRPC
/// clients (cosmjs) recognise as NotFound.
pub fn account<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = QueryAccountRequest::decode(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("malformed QueryAccountRequest: {e}"),
        )
    })?;
    let address = Address::parse(&req.address)?;
    match state.account(&address)? {
        Some(account) => Ok(QueryAccountResponse {
            account: Some(Any {
                type_url: BASE_ACCOUNT_TYPE_URL.to_string(),
                value: account.encode_to_vec(),
            }),
        }
        .encode_to_vec()),
        None => Err(TxError::new(
            Code::KeyNotFound,
            format!("rpc error: code = NotFound desc = account {address} not found: key not found"),
        )),
    }
}
