//! Entry points.

use copro_bindings::{
    CoproMsg, CoproQuerier, CoproQuery, CoproSudoMsg, RequestQueued, Settlement, MAX_CALLBACK_GAS,
};
use cosmwasm_std::{
    entry_point, from_json, to_json_binary, Binary, CosmosMsg, Deps, DepsMut, Env, MessageInfo,
    Reply, Response, StdResult, SubMsg, SubMsgResult, Uint64,
};

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, PendingRequest, QueryMsg, StatusResponse};
use crate::state::{self, Config};

/// Reply id of a deposit request; a withdrawal's is [`WITHDRAW_REPLY`].
const DEPOSIT_REPLY: u64 = 1;
const WITHDRAW_REPLY: u64 = 2;

/// Sets the owner and the callback gas limit.
#[entry_point]
pub fn instantiate(
    deps: DepsMut<CoproQuery>,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response<CoproMsg>, ContractError> {
    check_gas_limit(msg.callback_gas_limit)?;
    state::save_config(
        deps.storage,
        &Config {
            owner: info.sender,
            callback_gas_limit: msg.callback_gas_limit,
            fail_callbacks: false,
        },
    )?;
    state::save_balance(deps.storage, 0)?;
    Ok(Response::new().add_attribute("callback_gas_limit", msg.callback_gas_limit.to_string()))
}

/// Checked here too, so a bad limit fails at instantiation rather than at
/// the first request.
fn check_gas_limit(limit: u64) -> Result<(), ContractError> {
    if limit == 0 || limit > MAX_CALLBACK_GAS {
        return Err(ContractError::BadGasLimit(MAX_CALLBACK_GAS));
    }
    Ok(())
}

/// `deposit`, `withdraw` and `set_fail_callbacks`.
#[entry_point]
pub fn execute(
    deps: DepsMut<CoproQuery>,
    _env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response<CoproMsg>, ContractError> {
    let mut config = state::config(deps.storage)?;
    let gas = config.callback_gas_limit;
    let (request, reply_id, kind, amount) = match msg {
        ExecuteMsg::Deposit { amount } => (
            CoproMsg::Deposit {
                amount,
                callback_gas_limit: gas,
            },
            DEPOSIT_REPLY,
            "deposit",
            amount,
        ),
        ExecuteMsg::Withdraw { amount } => (
            CoproMsg::Withdraw {
                amount,
                callback_gas_limit: gas,
            },
            WITHDRAW_REPLY,
            "withdraw",
            amount,
        ),
        ExecuteMsg::SetFailCallbacks { fail } => {
            if info.sender != config.owner {
                return Err(ContractError::NotOwner);
            }
            config.fail_callbacks = fail;
            state::save_config(deps.storage, &config)?;
            return Ok(Response::new().add_attribute("fail_callbacks", fail.to_string()));
        }
    };
    if amount.is_zero() {
        return Err(ContractError::ZeroAmount);
    }
    // The amount travels in the reply's payload, so the reply can record
    // the request without a second storage item.
    Ok(Response::new()
        .add_attribute("request", kind)
        .add_attribute("amount", amount.to_string())
        .add_submessage(
            SubMsg::reply_on_success(CosmosMsg::Custom(request), reply_id)
                .with_payload(to_json_binary(&amount)?),
        ))
}

/// The chain queued the request: remember it as pending under its
/// sequence (the chain's reply data, `{"sequence": n}`).
#[entry_point]
pub fn reply(
    deps: DepsMut<CoproQuery>,
    _env: Env,
    msg: Reply,
) -> Result<Response<CoproMsg>, ContractError> {
    let kind = match msg.id {
        DEPOSIT_REPLY => "deposit",
        WITHDRAW_REPLY => "withdraw",
        _ => return Err(ContractError::NoSequence),
    };
    let SubMsgResult::Ok(response) = msg.result else {
        // Only `reply_on_success` is asked for.
        return Err(ContractError::NoSequence);
    };
    #[allow(deprecated)] // the chain returns the request's id as `data`
    let data = response.data.ok_or(ContractError::NoSequence)?;
    let queued: RequestQueued = from_json(&data)?;
    let amount: Uint64 = from_json(&msg.payload)?;
    state::save_pending(
        deps.storage,
        &PendingRequest {
            sequence: queued.sequence,
            kind: kind.to_string(),
            amount,
        },
    )?;
    Ok(Response::new().add_attribute("sequence", queued.sequence.to_string()))
}

/// The chain's callback: a proof settled one of this contract's requests.
#[entry_point]
pub fn sudo(
    deps: DepsMut<CoproQuery>,
    _env: Env,
    msg: CoproSudoMsg,
) -> Result<Response<CoproMsg>, ContractError> {
    let CoproSudoMsg::CoproSettled(settlement) = msg;
    if state::config(deps.storage)?.fail_callbacks {
        return Err(ContractError::FailingOnPurpose(settlement.sequence));
    }
    settle(deps, settlement)
}

fn settle(deps: DepsMut<CoproQuery>, s: Settlement) -> Result<Response<CoproMsg>, ContractError> {
    state::take_pending(deps.storage, s.sequence)?
        .ok_or(ContractError::UnknownRequest(s.sequence))?;
    let mut balance = state::balance(deps.storage)?;
    if s.applied {
        balance = match s.kind.as_str() {
            "deposit" => balance.checked_add(s.amount.u64()),
            _ => balance.checked_sub(s.amount.u64()),
        }
        .ok_or(ContractError::Underflow)?;
    }
    state::save_balance(deps.storage, balance)?;
    state::save_settled(deps.storage, &s)?;
    Ok(Response::new()
        .add_attribute("settled", s.sequence.to_string())
        .add_attribute("applied", s.applied.to_string())
        .add_attribute("result_id", s.result_id.to_string())
        .add_attribute("settled_balance", balance.to_string()))
}

/// `status {}`, `callback { sequence }` and `verified_result { id }`.
#[entry_point]
pub fn query(deps: Deps<CoproQuery>, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    let copro = CoproQuerier::new(&deps.querier);
    match msg {
        QueryMsg::Status {} => {
            let config = state::config(deps.storage)?;
            to_json_binary(&StatusResponse {
                owner: config.owner.into_string(),
                callback_gas_limit: config.callback_gas_limit,
                fail_callbacks: config.fail_callbacks,
                pending: state::pending(deps.storage)?,
                settled: state::settled(deps.storage)?,
                settled_balance: Uint64::new(state::balance(deps.storage)?),
                ledger_account: copro.ledger_account(env.contract.address.as_str())?,
            })
        }
        QueryMsg::Callback { sequence } => to_json_binary(&copro.callback(sequence)?),
        QueryMsg::VerifiedResult { id } => to_json_binary(&copro.verified_result(id)?),
    }
}

#[cfg(test)]
mod tests {
    use copro_bindings::{CallbackResponse, LedgerAccountResponse};
    use cosmwasm_std::testing::{message_info, mock_env, MockApi, MockQuerier, MockStorage};
    use cosmwasm_std::{ContractResult, OwnedDeps, SubMsgResponse, SystemResult};

    use super::*;

    type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier<CoproQuery>, CoproQuery>;

    /// A chain whose ledger gives the contract 70 and whose callback
    /// records say request 5 failed.
    fn deps() -> Deps {
        let querier = MockQuerier::<CoproQuery>::new(&[]).with_custom_handler(|q| {
            let answer = match q {
                CoproQuery::LedgerAccount { address } => {
                    to_json_binary(&Some(LedgerAccountResponse {
                        address: address.clone(),
                        ledger_index: 3,
                        balance: Uint64::new(70),
                        nonce: 1,
                    }))
                }
                CoproQuery::Callback { sequence } if *sequence == 5 => {
                    to_json_binary(&Some(CallbackResponse {
                        sequence: 5,
                        contract: "c".into(),
                        gas_limit: 200_000,
                        status: "failed".into(),
                        result_id: 2,
                        gas_used: 80_000,
                        error: "code 5 (wasm): callbacks are set to fail".into(),
                    }))
                }
                _ => to_json_binary(&None::<()>),
            };
            SystemResult::Ok(ContractResult::Ok(answer.unwrap()))
        });
        OwnedDeps {
            storage: MockStorage::default(),
            api: MockApi::default().with_prefix("copro"),
            querier,
            custom_query_type: std::marker::PhantomData,
        }
    }

    fn setup(d: &mut Deps) -> cosmwasm_std::Addr {
        let owner = d.api.addr_make("owner");
        instantiate(
            d.as_mut(),
            mock_env(),
            message_info(&owner, &[]),
            InstantiateMsg {
                callback_gas_limit: 200_000,
            },
        )
        .unwrap();
        owner
    }

    /// Executes `msg` and feeds the chain's reply (request `sequence`).
    fn request(d: &mut Deps, msg: ExecuteMsg, sequence: u64) {
        let anyone = d.api.addr_make("anyone");
        let res = execute(d.as_mut(), mock_env(), message_info(&anyone, &[]), msg).unwrap();
        let sub = &res.messages[0];
        assert!(matches!(sub.msg, CosmosMsg::Custom(_)), "{:?}", sub.msg);
        #[allow(deprecated)]
        let reply_msg = Reply {
            id: sub.id,
            payload: sub.payload.clone(),
            gas_used: 0,
            result: SubMsgResult::Ok(SubMsgResponse {
                events: vec![],
                data: Some(to_json_binary(&RequestQueued { sequence }).unwrap()),
                msg_responses: vec![],
            }),
        };
        reply(d.as_mut(), mock_env(), reply_msg).unwrap();
    }

    fn settled(sequence: u64, kind: &str, amount: u64, applied: bool) -> CoproSudoMsg {
        CoproSudoMsg::CoproSettled(Settlement {
            sequence,
            kind: kind.into(),
            amount: Uint64::new(amount),
            applied,
            result_id: 2,
            program_id: "transfer".into(),
            program_version: 1,
            new_root: "ab".into(),
            height: 9,
        })
    }

    fn status(d: &Deps) -> StatusResponse {
        from_json(query(d.as_ref(), mock_env(), QueryMsg::Status {}).unwrap()).unwrap()
    }

    #[test]
    fn a_deposit_is_requested_with_the_callback_gas_and_recorded_when_settled() {
        let mut d = deps();
        setup(&mut d);
        let anyone = d.api.addr_make("anyone");
        let res = execute(
            d.as_mut(),
            mock_env(),
            message_info(&anyone, &[]),
            ExecuteMsg::Deposit {
                amount: Uint64::new(100),
            },
        )
        .unwrap();
        assert_eq!(
            res.messages[0].msg,
            CosmosMsg::Custom(CoproMsg::Deposit {
                amount: Uint64::new(100),
                callback_gas_limit: 200_000
            })
        );
        request(
            &mut d,
            ExecuteMsg::Deposit {
                amount: Uint64::new(100),
            },
            4,
        );
        assert_eq!(status(&d).pending.len(), 1);
        assert_eq!(status(&d).pending[0].sequence, 4);

        sudo(d.as_mut(), mock_env(), settled(4, "deposit", 100, true)).unwrap();
        request(
            &mut d,
            ExecuteMsg::Withdraw {
                amount: Uint64::new(30),
            },
            6,
        );
        sudo(d.as_mut(), mock_env(), settled(6, "withdraw", 30, true)).unwrap();
        let s = status(&d);
        assert!(s.pending.is_empty());
        assert_eq!(s.settled.len(), 2);
        assert_eq!(s.settled_balance, Uint64::new(70));
        assert_eq!(s.ledger_account.unwrap().balance, Uint64::new(70));
    }

    #[test]
    fn a_rejected_request_changes_no_balance_and_an_unknown_one_is_refused() {
        let mut d = deps();
        setup(&mut d);
        request(
            &mut d,
            ExecuteMsg::Deposit {
                amount: Uint64::new(10),
            },
            1,
        );
        sudo(d.as_mut(), mock_env(), settled(1, "deposit", 10, false)).unwrap();
        assert_eq!(status(&d).settled_balance, Uint64::zero());
        assert!(!status(&d).settled[0].applied);
        // Settled already, or never asked: refused (the chain would record
        // the callback as failed).
        for seq in [1, 9] {
            let e = sudo(d.as_mut(), mock_env(), settled(seq, "deposit", 10, true)).unwrap_err();
            assert!(
                matches!(e, ContractError::UnknownRequest(s) if s == seq),
                "{e}"
            );
        }
    }

    #[test]
    fn while_failing_on_purpose_the_callback_errs_and_records_nothing() {
        let mut d = deps();
        let owner = setup(&mut d);
        let stranger = d.api.addr_make("stranger");
        let e = execute(
            d.as_mut(),
            mock_env(),
            message_info(&stranger, &[]),
            ExecuteMsg::SetFailCallbacks { fail: true },
        )
        .unwrap_err();
        assert!(matches!(e, ContractError::NotOwner));
        execute(
            d.as_mut(),
            mock_env(),
            message_info(&owner, &[]),
            ExecuteMsg::SetFailCallbacks { fail: true },
        )
        .unwrap();
        request(
            &mut d,
            ExecuteMsg::Deposit {
                amount: Uint64::new(10),
            },
            5,
        );
        let e = sudo(d.as_mut(), mock_env(), settled(5, "deposit", 10, true)).unwrap_err();
        assert!(matches!(e, ContractError::FailingOnPurpose(5)), "{e}");
        assert_eq!(status(&d).pending.len(), 1);
        // The chain's record of that callback, read through `copro`.
        let record: Option<CallbackResponse> =
            from_json(query(d.as_ref(), mock_env(), QueryMsg::Callback { sequence: 5 }).unwrap())
                .unwrap();
        assert_eq!(record.unwrap().status, "failed");
    }

    #[test]
    fn bad_gas_limits_and_zero_amounts_are_refused() {
        let mut d = deps();
        let who = d.api.addr_make("x");
        for limit in [0, MAX_CALLBACK_GAS + 1] {
            let e = instantiate(
                d.as_mut(),
                mock_env(),
                message_info(&who, &[]),
                InstantiateMsg {
                    callback_gas_limit: limit,
                },
            )
            .unwrap_err();
            assert!(matches!(e, ContractError::BadGasLimit(_)), "{e}");
        }
        setup(&mut d);
        let e = execute(
            d.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            ExecuteMsg::Withdraw {
                amount: Uint64::zero(),
            },
        )
        .unwrap_err();
        assert!(matches!(e, ContractError::ZeroAmount));
    }
}
