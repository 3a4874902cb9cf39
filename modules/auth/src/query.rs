//! `cosmos.auth.v1beta1.Query` over ABCI query.

use copro_store::StateRead;
use cosmrs::Any;
use cosmrs::proto::cosmos::auth::v1beta1::{
    QueryAccountRequest, QueryAccountResponse, QueryAccountsRequest, QueryAccountsResponse,
};
use cosmrs::proto::cosmos::base::query::v1beta1::PageResponse;
use prost::Message;

use crate::BASE_ACCOUNT_TYPE_URL;
use crate::state_key::ACCOUNT_PREFIX;
use crate::view::AuthRead;
use copro_module::Address;
use copro_module::{Code, TxError};

/// gRPC method path of the account query.
pub const ACCOUNT_PATH: &str = "/cosmos.auth.v1beta1.Query/Account";
/// gRPC method path of the account listing.
pub const ACCOUNTS_PATH: &str = "/cosmos.auth.v1beta1.Query/Accounts";
/// Most accounts in one page of `Query/Accounts` (larger limits are cut
/// to it; no limit means this).
pub const MAX_ACCOUNTS_PAGE: u64 = 100;
/// `Query/Accounts` reads at most this many accounts to find a page: pages
/// beyond are refused (bounded work per query).
pub const MAX_ACCOUNTS_SCANNED: usize = 10_000;

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

/// Answers `/cosmos.auth.v1beta1.Query/Accounts`: accounts in address
/// order, one page at a time. The page starts at `pagination.key` (the
/// `next_key` of the previous page: the next address) or at
/// `pagination.offset`; `reverse` is not supported.
pub fn accounts<S: StateRead + ?Sized>(state: &S, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req = QueryAccountsRequest::decode(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("malformed QueryAccountsRequest: {e}"),
        )
    })?;
    let page = req.pagination.unwrap_or_default();
    if page.reverse {
        return Err(TxError::new(
            Code::InvalidRequest,
            "reverse pagination of accounts is not supported: page forwards with next_key",
        ));
    }
    if !page.key.is_empty() && page.offset != 0 {
        return Err(TxError::new(
            Code::InvalidRequest,
            "pagination has both key and offset: give one of them",
        ));
    }
    let limit = match page.limit {
        0 => MAX_ACCOUNTS_PAGE,
        l => l.min(MAX_ACCOUNTS_PAGE),
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let too_far = || {
        TxError::new(
            Code::InvalidRequest,
            format!(
                "that page starts beyond the first {MAX_ACCOUNTS_SCANNED} accounts, \
                 which is as far as this node lists"
            ),
        )
    };
    let prefix = ACCOUNT_PREFIX.as_bytes();
    let (entries, start) = if page.key.is_empty() {
        let offset = usize::try_from(page.offset)
            .ok()
            .filter(|o| *o <= MAX_ACCOUNTS_SCANNED)
            .ok_or_else(too_far)?;
        let scan = if page.count_total {
            MAX_ACCOUNTS_SCANNED + 1
        } else {
            offset + limit + 1
        };
        (state.prefix_raw(prefix, scan)?, offset)
    } else {
        let entries = state.prefix_raw(prefix, MAX_ACCOUNTS_SCANNED + 1)?;
        let start = entries.partition_point(|(k, _)| k[prefix.len()..] < page.key[..]);
        if start + limit >= entries.len() && entries.len() > MAX_ACCOUNTS_SCANNED {
            return Err(too_far());
        }
        (entries, start)
    };
    let mut accounts = Vec::with_capacity(limit);
    let mut rest = entries.iter().skip(start);
    for (_, value) in rest.by_ref().take(limit) {
        accounts.push(Any {
            type_url: BASE_ACCOUNT_TYPE_URL.to_string(),
            value: value.clone(),
        });
    }
    let next_key = rest
        .next()
        .map(|(k, _)| k[prefix.len()..].to_vec())
        .unwrap_or_default();
    let total = if page.count_total && entries.len() <= MAX_ACCOUNTS_SCANNED {
        u64::try_from(entries.len()).unwrap_or(u64::MAX)
    } else {
        0
    };
    Ok(QueryAccountsResponse {
        accounts,
        pagination: Some(PageResponse { next_key, total }),
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use copro_store::{EmptyState, StateDelta};
    use cosmrs::proto::cosmos::auth::v1beta1::BaseAccount;
    use cosmrs::proto::cosmos::base::query::v1beta1::PageRequest;

    use super::*;
    use crate::view::AuthWrite;

    fn list(
        state: &impl StateRead,
        page: PageRequest,
    ) -> Result<(Vec<String>, Vec<u8>, u64), TxError> {
        let resp = accounts(
            state,
            &QueryAccountsRequest {
                pagination: Some(page),
            }
            .encode_to_vec(),
        )?;
        let resp = QueryAccountsResponse::decode(resp.as_slice()).unwrap();
        let page = resp.pagination.unwrap();
        let names = resp
            .accounts
            .iter()
            .map(|a| BaseAccount::decode(a.value.as_slice()).unwrap().address)
            .collect();
        Ok((names, page.next_key, page.total))
    }

    #[test]
    fn accounts_are_listed_in_pages_by_key_or_offset() {
        let mut state = StateDelta::new(EmptyState);
        let mut all: Vec<String> = (0..5)
            .map(|i| {
                let a = copro_module::module_address(&format!("m{i}"));
                state.ensure_account(&a).unwrap();
                a.to_string()
            })
            .collect();
        all.sort();
        let page = |key: Vec<u8>, offset, limit| PageRequest {
            key,
            offset,
            limit,
            count_total: true,
            reverse: false,
        };
        let (first, next, total) = list(&state, page(vec![], 0, 2)).unwrap();
        assert_eq!(first, all[..2]);
        assert_eq!(total, 5);
        assert_eq!(next, all[2].as_bytes());
        let (second, next, _) = list(&state, page(next, 0, 2)).unwrap();
        assert_eq!(second, all[2..4]);
        let (last, next, _) = list(&state, page(next, 0, 2)).unwrap();
        assert_eq!(last, all[4..]);
        assert!(next.is_empty(), "no page after the last");
        let (by_offset, _, _) = list(&state, page(vec![], 3, 0)).unwrap();
        assert_eq!(by_offset, all[3..]);

        let e = list(&state, page(b"x".to_vec(), 1, 0)).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        let e = list(&state, page(vec![], u64::MAX, 0)).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(e.log.contains("beyond"), "{}", e.log);
        let e = list(
            &state,
            PageRequest {
                reverse: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert_eq!(
            accounts(&state, &[0xff]).unwrap_err().code,
            Code::InvalidRequest
        );
    }
}
