//! Bank behaviour over a real store.

use copro_auth::{Address, AuthRead, Code, module_address};
use copro_bank::genesis::{GenesisBalance, GenesisCoin, GenesisState};
use copro_bank::msg_send::MsgSend;
use copro_bank::{BankRead, query};
use copro_store::{StateDelta, Storage};
use cosmrs::proto::cosmos::bank::v1beta1 as bank;
use prost::Message;

fn addr(name: &str) -> Address {
    module_address(name)
}

fn genesis_store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    let genesis = GenesisState {
        balances: vec![GenesisBalance {
            address: addr("alice").to_string(),
            coins: vec![
                GenesisCoin {
                    denom: "ucopro".into(),
                    amount: "1000".into(),
                },
                GenesisCoin {
                    denom: "stake".into(),
                    amount: "7".into(),
                },
            ],
        }],
    };
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    genesis.init(&mut delta).unwrap();
    let (_, pending) = storage.compute_root(delta.changes(), 0).unwrap();
    storage.commit(pending).unwrap();
    (dir, storage)
}

fn send_bytes(from: &Address, to: &Address, amount: &str, denom: &str) -> Vec<u8> {
    bank::MsgSend {
        from_address: from.to_string(),
        to_address: to.to_string(),
        amount: vec![cosmrs::proto::cosmos::base::v1beta1::Coin {
            denom: denom.into(),
            amount: amount.into(),
        }],
    }
    .encode_to_vec()
}

#[test]
fn send_moves_coins_creates_the_recipient_and_keeps_supply() {
    let (_dir, storage) = genesis_store();
    let (alice, bob) = (addr("alice"), addr("bob"));
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    let msg = MsgSend::decode(&send_bytes(&alice, &bob, "300", "ucopro")).unwrap();
    let events = msg.execute(&mut delta).unwrap();
    assert!(events.iter().any(|e| e.kind == "transfer"));
    assert_eq!(delta.balance(&alice, "ucopro").unwrap(), 700);
    assert_eq!(delta.balance(&bob, "ucopro").unwrap(), 300);
    assert_eq!(delta.supply("ucopro").unwrap(), 1000);
    assert_eq!(delta.account(&bob).unwrap().unwrap().account_number, 1);

    let resp = query::all_balances(
        &delta,
        &bank::QueryAllBalancesRequest {
            address: alice.to_string(),
            ..Default::default()
        }
        .encode_to_vec(),
    )
    .unwrap();
    let resp = bank::QueryAllBalancesResponse::decode(resp.as_slice()).unwrap();
    let listed: Vec<_> = resp
        .balances
        .iter()
        .map(|c| format!("{}{}", c.amount, c.denom))
        .collect();
    assert_eq!(listed, vec!["7stake", "700ucopro"]);
}

#[test]
fn overdraft_and_bad_messages_are_rejected_with_their_codes() {
    let (_dir, storage) = genesis_store();
    let (alice, bob) = (addr("alice"), addr("bob"));
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    let msg = MsgSend::decode(&send_bytes(&alice, &bob, "1001", "ucopro")).unwrap();
    assert_eq!(
        msg.execute(&mut delta).unwrap_err().code,
        Code::InsufficientFunds
    );
    assert_eq!(
        MsgSend::decode(&send_bytes(&alice, &bob, "0", "ucopro"))
            .unwrap_err()
            .code,
        Code::InvalidCoins
    );
    let mut bad =
        bank::MsgSend::decode(send_bytes(&alice, &bob, "1", "ucopro").as_slice()).unwrap();
    bad.to_address = "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a".into();
    assert_eq!(
        MsgSend::decode(&bad.encode_to_vec()).unwrap_err().code,
        Code::InvalidAddress
    );
    assert_eq!(
        MsgSend::decode(&[0xff, 0xff]).unwrap_err().code,
        Code::TxDecode
    );
}

#[test]
fn genesis_rejects_duplicates_and_bad_coins_and_sums_the_supply() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("db")).unwrap();
    let coin = |d: &str, a: &str| GenesisCoin {
        denom: d.into(),
        amount: a.into(),
    };
    let bal = |who: &str, coins| GenesisBalance {
        address: addr(who).to_string(),
        coins,
    };
    let dup = GenesisState {
        balances: vec![
            bal("a", vec![coin("ucopro", "1")]),
            bal("a", vec![coin("ucopro", "2")]),
        ],
    };
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    assert!(dup.init(&mut delta).is_err());
    let bad = GenesisState {
        balances: vec![bal("a", vec![coin("ucopro", "x")])],
    };
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    assert_eq!(bad.init(&mut delta).unwrap_err().code, Code::InvalidCoins);
    let good = GenesisState {
        balances: vec![
            bal("a", vec![coin("ucopro", "5"), coin("stake", "1")]),
            bal("b", vec![coin("ucopro", "7")]),
        ],
    };
    let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
    good.init(&mut delta).unwrap();
    let resp = query::total_supply(&delta, &[]).unwrap();
    let resp = bank::QueryTotalSupplyResponse::decode(resp.as_slice()).unwrap();
    let supply: Vec<_> = resp
        .supply
        .iter()
        .map(|c| format!("{}{}", c.amount, c.denom))
        .collect();
    assert_eq!(supply, vec!["1stake", "12ucopro"]);
}

#[test]
fn supply_of_spendable_params_and_metadata_answer_as_the_sdk_does() {
    let (_dir, storage) = genesis_store();
    let state = storage.latest_snapshot().unwrap();
    let supply = |denom: &str| {
        let resp = query::supply_of(
            &state,
            &bank::QuerySupplyOfRequest {
                denom: denom.into(),
            }
            .encode_to_vec(),
        )
        .unwrap();
        let coin = bank::QuerySupplyOfResponse::decode(resp.as_slice())
            .unwrap()
            .amount
            .unwrap();
        format!("{}{}", coin.amount, coin.denom)
    };
    assert_eq!(supply("ucopro"), "1000ucopro");
    assert_eq!(supply("never"), "0never");
    let e = query::supply_of(
        &state,
        &bank::QuerySupplyOfRequest { denom: "1x".into() }.encode_to_vec(),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::InvalidCoins, "{e}");

    let resp = query::spendable_balances(
        &state,
        &bank::QuerySpendableBalancesRequest {
            address: addr("alice").to_string(),
            pagination: None,
        }
        .encode_to_vec(),
    )
    .unwrap();
    let spendable = bank::QuerySpendableBalancesResponse::decode(resp.as_slice()).unwrap();
    assert_eq!(spendable.balances.len(), 2);
    let e = query::spendable_balances(
        &state,
        &bank::QuerySpendableBalancesRequest {
            address: "cosmos1nope".into(),
            pagination: None,
        }
        .encode_to_vec(),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::InvalidAddress, "{e}");

    let resp = query::params(&state, &[]).unwrap();
    let params = bank::QueryParamsResponse::decode(resp.as_slice())
        .unwrap()
        .params
        .unwrap();
    assert!(params.default_send_enabled);

    let e = query::denom_metadata(
        &state,
        &bank::QueryDenomMetadataRequest {
            denom: "ucopro".into(),
        }
        .encode_to_vec(),
    )
    .unwrap_err();
    assert_eq!(e.code, Code::KeyNotFound, "{e}");
    assert!(query::denom_metadata(&state, &[0xff]).is_err());
}
