//! `coprod export`: the app state at a height as a genesis a new chain
//! starts from, as the Cosmos SDK's `export` writes one.
//!
//! The state is read exactly as it was after the chosen block (every key
//! of that version, [`copro_store::Snapshot::entries`]) and each module
//! writes its genesis section from it ([`Registry::export_genesis`]); what a
//! section cannot hold is said there (auth: sequences and public keys start
//! afresh; coprocessor: only a ledger never used). An address with a
//! balance but no account (the fee collector) gets an account in the new
//! chain, after the others. The rest of the genesis
//! (validators, consensus parameters, genesis time) is the node's own
//! genesis.json; the new chain starts at height 1.

use anyhow::Context as _;
use copro_module::Registry;
use copro_store::{EmptyState, StateDelta, StateWrite, Storage};
use serde_json::{Value, json};

/// The genesis `app_state` of the state after block `height` (`None`: the
/// latest), and that height.
pub fn app_state_at(
    storage: &Storage,
    registry: &Registry,
    height: Option<u64>,
) -> anyhow::Result<(u64, Value)> {
    let snapshot = match height {
        Some(h) => storage.snapshot(h).with_context(|| {
            format!("the state at height {h} is not stored: give a committed height")
        })?,
        None => storage.latest_snapshot()?,
    };
    let version = snapshot
        .version()
        .context("the app state has no committed height: nothing to export")?;
    let mut state = StateDelta::new(EmptyState);
    for (key, value) in snapshot.entries()? {
        state.put_raw(key, value);
    }
    Ok((version, registry.export_genesis(&state)?))
}

/// `genesis` (a node's genesis.json) with `app_state`, starting at height 1,
/// renamed to `chain_id` if given, and with the consensus parameters' app
/// version the app reports.
pub fn genesis_doc(
    genesis: &Value,
    app_state: Value,
    chain_id: Option<&str>,
) -> anyhow::Result<Value> {
    if !genesis.is_object() {
        anyhow::bail!("genesis.json is not a JSON object");
    }
    let mut doc = genesis.clone();
    doc["app_state"] = app_state;
    doc["initial_height"] = json!("1");
    doc["app_hash"] = json!("");
    if let Some(chain_id) = chain_id {
        doc["chain_id"] = json!(chain_id);
    }
    if doc["consensus_params"].is_object() {
        doc["consensus_params"]["version"] = json!({"app": crate::app::APP_VERSION.to_string()});
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use copro_bank::{BankRead, BankWrite, Coin, Coins};
    use copro_module::module_address;

    use super::*;

    /// A store with a genesis (alice 100ucopro) at version 0 and a block
    /// moving 40ucopro to bob at version 1.
    fn chain() -> (tempfile::TempDir, Storage, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().join("store.redb")).unwrap();
        let registry = crate::modules::registry();
        let (alice, bob) = (module_address("alice"), module_address("bob"));
        let mut genesis = copro_bank::genesis::GenesisState::default();
        genesis
            .add_coins(&alice, &Coins::parse("100ucopro").unwrap())
            .unwrap();
        let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
        registry
            .init_genesis(
                &mut delta,
                &json!({"bank": genesis, "auth": {"accounts": [{"address": alice.as_str()}]}}),
            )
            .unwrap();
        let (_, pending) = storage.compute_root(delta.changes(), 0).unwrap();
        storage.commit(pending).unwrap();
        let mut delta = StateDelta::new(storage.latest_snapshot().unwrap());
        let coin = Coin::new("ucopro", 40).unwrap();
        delta.sub_balance(&alice, &coin).unwrap();
        // As a MsgSend does: the recipient gets an account.
        copro_auth::AuthWrite::ensure_account(&mut delta, &bob).unwrap();
        delta.add_balance(&bob, &coin).unwrap();
        let (_, pending) = storage.compute_root(delta.changes(), 1).unwrap();
        storage.commit(pending).unwrap();
        (dir, storage, registry)
    }

    fn balance_after_import(registry: &Registry, app_state: &Value, who: &str) -> u128 {
        let mut state = StateDelta::new(EmptyState);
        registry.init_genesis(&mut state, app_state).unwrap();
        state.balance(&module_address(who), "ucopro").unwrap()
    }

    #[test]
    fn an_export_at_each_height_starts_a_state_with_that_heights_balances() {
        let (_dir, storage, registry) = chain();
        let (h, latest) = app_state_at(&storage, &registry, None).unwrap();
        assert_eq!(h, 1);
        assert_eq!(balance_after_import(&registry, &latest, "alice"), 60);
        assert_eq!(balance_after_import(&registry, &latest, "bob"), 40);
        let (h, first) = app_state_at(&storage, &registry, Some(0)).unwrap();
        assert_eq!(h, 0);
        assert_eq!(balance_after_import(&registry, &first, "alice"), 100);
        assert_eq!(balance_after_import(&registry, &first, "bob"), 0);
        // Exporting what an export started gives the export again.
        let mut state = StateDelta::new(EmptyState);
        registry.init_genesis(&mut state, &latest).unwrap();
        assert_eq!(registry.export_genesis(&state).unwrap(), latest);

        let e = app_state_at(&storage, &registry, Some(7)).unwrap_err();
        assert!(format!("{e:#}").contains("height 7 is not stored"), "{e:#}");
    }

    #[test]
    fn the_genesis_doc_keeps_the_nodes_genesis_but_state_height_and_version() {
        let node = json!({
            "genesis_time": "2026-01-01T00:00:00Z", "chain_id": "old", "initial_height": "1",
            "consensus_params": {"block": {"max_bytes": "1"}, "version": {"app": "0"}},
            "validators": [{"name": "v"}], "app_hash": "", "app_state": {"bank": {}}
        });
        let doc = genesis_doc(&node, json!({"auth": {}}), Some("new")).unwrap();
        assert_eq!(doc["app_state"], json!({"auth": {}}));
        assert_eq!(doc["chain_id"], "new");
        assert_eq!(doc["consensus_params"]["version"]["app"], "1");
        assert_eq!(
            doc["consensus_params"]["block"],
            node["consensus_params"]["block"]
        );
        assert_eq!(doc["validators"], node["validators"]);
        assert_eq!(
            genesis_doc(&node, json!({}), None).unwrap()["chain_id"],
            "old"
        );
        assert!(genesis_doc(&json!([]), json!({}), None).is_err());
    }
}
