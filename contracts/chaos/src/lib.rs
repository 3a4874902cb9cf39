//! chaos: a counter that misbehaves on request, to show that the chain
//! turns every contract failure into a result code with nothing written:
//!
//! - `incr {}`: counter + 1 (the well-behaved call);
//! - `fail {}`: writes, then returns an error;
//! - `panic {}`: writes, then panics (a wasm trap);
//! - `loop {}`: never returns (runs out of gas);
//! - `send { to, amount }`: a bank send as a sub-message;
//! - `try_fail {}`: counter + 1, and calls its own `fail {}` as a
//!   sub-message with a reply on error: the reply records the error, the
//!   sub-call's writes are undone, the counter's stay;
//! - `recurse_query {}`: a query that queries itself, forever (the chain
//!   caps the depth);
//! - `nan { x }`: computes `(x - x) / (x - x)` in `f64` at run time and
//!   stores the bits of the NaN it gets. Native x86 gives `fff8…` (its
//!   default NaN has the sign bit set), ARM `7ff8…`: the VM must
//!   canonicalise it for every validator to store the same bits.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{
    entry_point, from_json, to_json_binary, to_json_vec, BankMsg, Binary, Coin, Deps, DepsMut, Env,
    MessageInfo, Reply, Response, StdError, StdResult, SubMsg, SubMsgResult, WasmMsg,
};

/// No parameters.
#[cw_serde]
pub struct InstantiateMsg {}

/// Calls.
#[cw_serde]
pub enum ExecuteMsg {
    /// Counter + 1.
    Incr {},
    /// Writes, then fails.
    Fail {},
    /// Writes, then panics.
    Panic {},
    /// Loops forever.
    Loop {},
    /// Sends coins as a sub-message.
    Send {
        /// Recipient.
        to: String,
        /// Coins.
        amount: Vec<Coin>,
    },
    /// Counter + 1, and its own `fail {}` as a sub-message replied on error.
    TryFail {},
    /// Executes a query that recurses forever.
    RecurseQuery {},
    /// Stores the bits of `(x - x) / (x - x)` computed in `f64`.
    Nan {
        /// A finite decimal number, parsed at run time.
        x: String,
    },
}

/// Queries.
#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    /// The counter, whether a failed write is visible, and the last reply.
    #[returns(StateResponse)]
    State {},
    /// Queries itself with the same message, forever.
    #[returns(StateResponse)]
    Recurse {},
}

/// What the contract holds.
#[cw_serde]
pub struct StateResponse {
    /// The counter.
    pub count: u64,
    /// Whether a write of a failed call is visible (it never should be).
    pub poisoned: bool,
    /// The error text the last reply received.
    pub last_reply: Option<String>,
    /// The bits of the last `nan {}` result, 16 hex digits.
    pub nan_bits: Option<String>,
}

const COUNT: &[u8] = b"count";
const POISON: &[u8] = b"poison";
const LAST_REPLY: &[u8] = b"last_reply";
const NAN_BITS: &[u8] = b"nan_bits";
const FAIL_REPLY_ID: u64 = 7;

fn count(deps: Deps) -> StdResult<u64> {
    deps.storage
        .get(COUNT)
        .map(from_json)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Starts the counter at zero.
#[entry_point]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    _msg: InstantiateMsg,
) -> StdResult<Response> {
    deps.storage.set(COUNT, &to_json_vec(&0u64)?);
    Ok(Response::new().add_attribute("action", "instantiate"))
}

/// See the crate docs.
#[entry_point]
pub fn execute(
    deps: DepsMut,
    env: Env,
    _info: MessageInfo,
    msg: ExecuteMsg,
) -> StdResult<Response> {
    match msg {
        ExecuteMsg::Incr {} => incr(deps),
        ExecuteMsg::Fail {} => {
            deps.storage.set(POISON, b"true");
            Err(StdError::msg("failing on purpose after a write"))
        }
        ExecuteMsg::Panic {} => {
            deps.storage.set(POISON, b"true");
            panic!("panicking on purpose after a write");
        }
        #[allow(clippy::empty_loop)]
        ExecuteMsg::Loop {} => {
            let mut i: u64 = 0;
            loop {
                // Not optimised away: the counter is written each turn.
                i = i.wrapping_add(1);
                if i == u64::MAX {
                    deps.storage.set(POISON, &i.to_be_bytes());
                }
            }
        }
        ExecuteMsg::Send { to, amount } => Ok(Response::new()
            .add_attribute("action", "send")
            .add_message(BankMsg::Send {
                to_address: to,
                amount,
            })),
        ExecuteMsg::TryFail {} => {
            let fail = WasmMsg::Execute {
                contract_addr: env.contract.address.to_string(),
                msg: to_json_binary(&ExecuteMsg::Fail {})?,
                funds: vec![],
            };
            let r = incr(deps)?;
            Ok(r.add_submessage(SubMsg::reply_on_error(fail, FAIL_REPLY_ID)))
        }
        ExecuteMsg::RecurseQuery {} => {
            let s: StateResponse = deps
                .querier
                .query_wasm_smart(env.contract.address, &QueryMsg::Recurse {})?;
            Ok(Response::new().add_attribute("count", s.count.to_string()))
        }
        ExecuteMsg::Nan { x } => {
            let x: f64 = x
                .parse()
                .map_err(|_| StdError::msg(format!("x = '{x}' is not a number")))?;
            let zero = x - x;
            let bits = format!("{:016x}", (zero / zero).to_bits());
            deps.storage.set(NAN_BITS, bits.as_bytes());
            Ok(Response::new().add_attribute("nan_bits", bits))
        }
    }
}

fn incr(deps: DepsMut) -> StdResult<Response> {
    let n = count(deps.as_ref())? + 1;
    deps.storage.set(COUNT, &to_json_vec(&n)?);
    Ok(Response::new()
        .add_attribute("action", "incr")
        .add_attribute("count", n.to_string()))
}

/// Records what the failed sub-message said.
#[entry_point]
pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> StdResult<Response> {
    let text = match reply.result {
        SubMsgResult::Err(e) => e,
        SubMsgResult::Ok(_) => "ok".to_string(),
    };
    deps.storage.set(LAST_REPLY, &to_json_vec(&text)?);
    Ok(Response::new().add_attribute("replied", reply.id.to_string()))
}

/// See [`QueryMsg`].
#[entry_point]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::State {} => to_json_binary(&StateResponse {
            count: count(deps)?,
            poisoned: deps.storage.get(POISON).is_some(),
            last_reply: deps.storage.get(LAST_REPLY).map(from_json).transpose()?,
            nan_bits: deps
                .storage
                .get(NAN_BITS)
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        }),
        QueryMsg::Recurse {} => {
            let s: StateResponse = deps
                .querier
                .query_wasm_smart(env.contract.address, &QueryMsg::Recurse {})?;
            to_json_binary(&s)
        }
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
    use cosmwasm_std::ReplyOn;

    use super::*;

    #[test]
    fn incr_counts_and_try_fail_asks_a_reply_on_error_only() {
        let mut deps = mock_dependencies();
        let who = deps.api.addr_make("who");
        instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            InstantiateMsg {},
        )
        .unwrap();
        execute(
            deps.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            ExecuteMsg::Incr {},
        )
        .unwrap();
        let r = execute(
            deps.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            ExecuteMsg::TryFail {},
        )
        .unwrap();
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].reply_on, ReplyOn::Error);
        let s: StateResponse =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::State {}).unwrap()).unwrap();
        assert_eq!((s.count, s.poisoned), (2, false));
    }

    #[test]
    fn fail_is_an_error_and_a_reply_records_the_error_text() {
        let mut deps = mock_dependencies();
        let who = deps.api.addr_make("who");
        assert!(execute(
            deps.as_mut(),
            mock_env(),
            message_info(&who, &[]),
            ExecuteMsg::Fail {}
        )
        .is_err());
        let reply_msg = Reply {
            id: FAIL_REPLY_ID,
            payload: Binary::default(),
            gas_used: 0,
            result: SubMsgResult::Err("boom".into()),
        };
        reply(deps.as_mut(), mock_env(), reply_msg).unwrap();
        let s: StateResponse =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::State {}).unwrap()).unwrap();
        assert_eq!(s.last_reply.as_deref(), Some("boom"));
    }
}
