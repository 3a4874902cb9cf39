//! Entry points.

use copro_bindings::{CoproQuerier, CoproQuery};
use cosmwasm_std::{
    entry_point, to_json_binary, BankMsg, Binary, Deps, DepsMut, Env, MessageInfo, Response,
    StdResult,
};

use crate::error::ContractError;
use crate::msg::{ConfigResponse, ExecuteMsg, InstantiateMsg, QueryMsg, StatusResponse};
use crate::state::{self, Config, Status};

/// Locks the funds sent with the message under the given terms.
#[entry_point]
pub fn instantiate(
    deps: DepsMut<CoproQuery>,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    if info.funds.is_empty() {
        return Err(ContractError::NoFunds);
    }
    let config = Config {
        depositor: info.sender,
        beneficiary: deps.api.addr_validate(&msg.beneficiary)?,
        account: deps.api.addr_validate(&msg.account)?,
        min_balance: msg.min_balance,
        expires_at: msg.expires_at,
        created_at: env.block.height,
        funds: info.funds,
    };
    state::save_config(deps.storage, &config)?;
    state::save_status(deps.storage, &Status::Open)?;
    Ok(Response::new()
        .add_attribute("action", "lock")
        .add_attribute("account", config.account)
        .add_attribute("min_balance", config.min_balance.to_string()))
}

/// `release` and `refund`.
#[entry_point]
pub fn execute(
    deps: DepsMut<CoproQuery>,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    let config = state::config(deps.storage)?;
    match state::status(deps.storage)? {
        Status::Open => {}
        Status::Released { .. } => return Err(ContractError::Settled("released".into())),
        Status::Refunded => return Err(ContractError::Settled("refunded".into())),
    }
    match msg {
        ExecuteMsg::Release { result_id } => release(deps, &config, result_id),
        ExecuteMsg::Refund {} => {
            if info.sender != config.depositor || env.block.height <= config.expires_at {
                return Err(ContractError::NoRefund(config.expires_at));
            }
            state::save_status(deps.storage, &Status::Refunded)?;
            Ok(Response::new()
                .add_attribute("action", "refund")
                .add_message(BankMsg::Send {
                    to_address: config.depositor.to_string(),
                    amount: config.funds,
                }))
        }
    }
}

/// Reads the verified result and the settled account through the chain's
/// `copro` query; pays if the condition holds.
fn release(
    deps: DepsMut<CoproQuery>,
    config: &Config,
    result_id: u64,
) -> Result<Response, ContractError> {
    let copro = CoproQuerier::new(&deps.querier);
    let result = copro
        .verified_result(result_id)?
        .ok_or(ContractError::NoSuchResult(result_id))?;
    // A result accepted before the escrow existed proves nothing about it.
    if result.height < config.created_at {
        return Err(ContractError::StaleResult {
            id: result_id,
            height: result.height,
            created: config.created_at,
        });
    }
    let balance = copro
        .ledger_account(config.account.as_str())?
        .map_or(0, |a| a.balance.u64());
    if balance < config.min_balance.u64() {
        return Err(ContractError::NotMet {
            account: config.account.to_string(),
            balance,
            min: config.min_balance.u64(),
        });
    }
    state::save_status(deps.storage, &Status::Released { result_id })?;
    Ok(Response::new()
        .add_attribute("action", "release")
        .add_attribute("result_id", result_id.to_string())
        .add_attribute("ledger_root", result.new_root)
        .add_message(BankMsg::Send {
            to_address: config.beneficiary.to_string(),
            amount: config.funds.clone(),
        }))
}

/// `config` and `status`.
#[entry_point]
pub fn query(deps: Deps<CoproQuery>, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = state::config(deps.storage)?;
            to_json_binary(&ConfigResponse {
                depositor: c.depositor.into_string(),
                beneficiary: c.beneficiary.into_string(),
                account: c.account.into_string(),
                min_balance: c.min_balance,
                expires_at: c.expires_at,
                created_at: c.created_at,
                funds: c.funds,
            })
        }
        QueryMsg::Status {} => {
            let (status, released_by) = match state::status(deps.storage)? {
                Status::Open => ("open", None),
                Status::Released { result_id } => ("released", Some(result_id)),
                Status::Refunded => ("refunded", None),
            };
            to_json_binary(&StatusResponse {
                status: status.into(),
                released_by,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use copro_bindings::{LedgerAccountResponse, VerifiedResultResponse};
    use cosmwasm_std::testing::{message_info, mock_env, MockApi, MockQuerier, MockStorage};
    use cosmwasm_std::{
        coins, from_json, ContractResult, CosmosMsg, OwnedDeps, SystemResult, Uint64,
    };

    use super::*;

    /// A chain whose settled ledger gives `balance` to the account and has
    /// verified results 1 (height 3) and 2 (height 20).
    fn deps(balance: u64) -> OwnedDeps<MockStorage, MockApi, MockQuerier<CoproQuery>, CoproQuery> {
        let api = MockApi::default().with_prefix("copro");
        let querier = MockQuerier::<CoproQuery>::new(&[]).with_custom_handler(move |q| {
            let answer = match q {
                CoproQuery::VerifiedResult { id } if *id == 1 || *id == 2 => {
                    to_json_binary(&Some(VerifiedResultResponse {
                        id: *id,
                        program_id: "transfer".into(),
                        program_version: 1,
                        start_sequence: 0,
                        end_sequence: 4,
                        old_root: "00".into(),
                        new_root: "ab".into(),
                        withdrawals: vec![],
                        refunds: vec![],
                        height: if *id == 1 { 3 } else { 20 },
                        tx_hash: "cd".into(),
                    }))
                }
                CoproQuery::VerifiedResult { .. } => to_json_binary(&None::<()>),
                CoproQuery::LedgerAccount { address } => {
                    to_json_binary(&Some(LedgerAccountResponse {
                        address: address.clone(),
                        ledger_index: 1,
                        balance: Uint64::new(balance),
                        nonce: 0,
                    }))
                }
                _ => to_json_binary(&()),
            };
            SystemResult::Ok(ContractResult::Ok(answer.unwrap()))
        });
        OwnedDeps {
            storage: MockStorage::default(),
            api,
            querier,
            custom_query_type: std::marker::PhantomData,
        }
    }

    fn setup(
        d: &mut OwnedDeps<MockStorage, MockApi, MockQuerier<CoproQuery>, CoproQuery>,
    ) -> (String, String) {
        let depositor = d.api.addr_make("depositor");
        let beneficiary = d.api.addr_make("beneficiary").to_string();
        let account = d.api.addr_make("account").to_string();
        let mut env = mock_env();
        env.block.height = 10;
        instantiate(
            d.as_mut(),
            env,
            message_info(&depositor, &coins(500, "ucopro")),
            InstantiateMsg {
                beneficiary: beneficiary.clone(),
                account,
                min_balance: Uint64::new(100),
                expires_at: 50,
            },
        )
        .unwrap();
        (depositor.to_string(), beneficiary)
    }

    fn at(height: u64) -> Env {
        let mut env = mock_env();
        env.block.height = height;
        env
    }

    #[test]
    fn a_fresh_verified_result_and_enough_settled_balance_release_the_funds() {
        let mut d = deps(150);
        let (_, beneficiary) = setup(&mut d);
        let anyone = d.api.addr_make("anyone");
        let res = execute(
            d.as_mut(),
            at(21),
            message_info(&anyone, &[]),
            ExecuteMsg::Release { result_id: 2 },
        )
        .unwrap();
        assert_eq!(
            res.messages[0].msg,
            CosmosMsg::Bank(BankMsg::Send {
                to_address: beneficiary,
                amount: coins(500, "ucopro")
            })
        );
        let s: StatusResponse =
            from_json(query(d.as_ref(), at(22), QueryMsg::Status {}).unwrap()).unwrap();
        assert_eq!((s.status.as_str(), s.released_by), ("released", Some(2)));
        // Once released, nothing more moves.
        let e = execute(
            d.as_mut(),
            at(23),
            message_info(&anyone, &[]),
            ExecuteMsg::Release { result_id: 2 },
        )
        .unwrap_err();
        assert!(matches!(e, ContractError::Settled(_)), "{e}");
    }

    #[test]
    fn no_result_a_stale_result_or_too_little_balance_keep_the_funds_locked() {
        let mut d = deps(99);
        setup(&mut d);
        let anyone = d.api.addr_make("anyone");
        let release = |d: &mut OwnedDeps<_, _, _, _>, id| {
            execute(
                d.as_mut(),
                at(21),
                message_info(&anyone, &[]),
                ExecuteMsg::Release { result_id: id },
            )
            .unwrap_err()
        };
        assert!(matches!(release(&mut d, 7), ContractError::NoSuchResult(7)));
        assert!(matches!(
            release(&mut d, 1),
            ContractError::StaleResult { id: 1, .. }
        ));
        assert!(matches!(
            release(&mut d, 2),
            ContractError::NotMet {
                balance: 99,
                min: 100,
                ..
            }
        ));
        let s: StatusResponse =
            from_json(query(d.as_ref(), at(22), QueryMsg::Status {}).unwrap()).unwrap();
        assert_eq!(s.status, "open");
    }

    #[test]
    fn only_the_depositor_gets_a_refund_and_only_after_expiry() {
        let mut d = deps(0);
        let (depositor, _) = setup(&mut d);
        let depositor = cosmwasm_std::Addr::unchecked(depositor);
        let other = d.api.addr_make("other");
        assert!(matches!(
            execute(
                d.as_mut(),
                at(51),
                message_info(&other, &[]),
                ExecuteMsg::Refund {}
            )
            .unwrap_err(),
            ContractError::NoRefund(50)
        ));
        assert!(execute(
            d.as_mut(),
            at(50),
            message_info(&depositor, &[]),
            ExecuteMsg::Refund {}
        )
        .is_err());
        let res = execute(
            d.as_mut(),
            at(51),
            message_info(&depositor, &[]),
            ExecuteMsg::Refund {},
        )
        .unwrap();
        assert_eq!(res.messages.len(), 1);
    }

    #[test]
    fn instantiating_without_funds_is_refused() {
        let mut d = deps(0);
        let who = d.api.addr_make("x");
        let e = instantiate(
            d.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            InstantiateMsg {
                beneficiary: who.to_string(),
                account: who.to_string(),
                min_balance: Uint64::new(1),
                expires_at: 1,
            },
        )
        .unwrap_err();
        assert!(matches!(e, ContractError::NoFunds));
    }
}
