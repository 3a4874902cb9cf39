//! The modules this chain runs. Adding a module is one line in
//! [`registry`] (plus the crate in `Cargo.toml`); everything else (message
//! routing, genesis, queries, CLI) follows from its
//! [`Module`](copro_module::Module) implementation.

use std::sync::Arc;

use copro_coprocessor::submit::Verifier;
use copro_module::Registry;

/// Every module, in genesis order: auth first, so genesis accounts get the
/// first account numbers before bank creates accounts for funded addresses;
/// the coprocessor last (its escrow is a bank account). `verifier` is the
/// node's Groth16 verdict memo, shared with the metrics; `wasm` holds the
/// node's CosmWasm VM (one per node, shared by the ABCI app and the query
/// servers).
pub fn registry_with(verifier: Arc<Verifier>, wasm: copro_wasm::Wasm) -> Registry {
    Registry::new(vec![
        Box::new(copro_auth::Auth),
        Box::new(copro_bank::Bank),
        // Contracts' requests are settled by proofs; the coprocessor calls
        // the contracts back through the wasm module (which it cannot name:
        // the wasm module depends on it).
        Box::new(
            copro_coprocessor::Coprocessor::with_verifier(verifier)
                .with_contract_calls(Arc::new(wasm.clone())),
        ),
        Box::new(wasm),
    ])
    // The list is fixed at compile time and the test below builds it, so
    // this cannot fail in a released binary.
    .expect("coprod's modules claim distinct names, type URLs, query paths and commands")
}

/// The modules with a verifier and a wasm VM of their own (CLI, genesis
/// tools, tests: the VM caches in a temporary directory, made only if a
/// contract runs).
pub fn registry() -> Registry {
    registry_with_wasm(copro_wasm::Wasm::default())
}

/// The modules with a verifier of their own and the wasm VM `wasm`.
pub fn registry_with_wasm(wasm: copro_wasm::Wasm) -> Registry {
    registry_with(Arc::new(Verifier::default()), wasm)
}

#[cfg(test)]
mod tests {
    use copro_module::Code;

    use super::*;
    use crate::query::{AUTH_PARAMS_PATH, SIMULATE_PATH, STORE_KEY_PATH};

    #[test]
    fn the_modules_register_without_conflicts_and_leave_coprods_own_routes_alone() {
        let r = registry();
        assert_eq!(
            r.modules().map(|m| m.name()).collect::<Vec<_>>(),
            ["auth", "bank", "coprocessor", "wasm"]
        );
        assert_eq!(
            r.type_urls().collect::<Vec<_>>(),
            [
                &[copro_bank::MSG_SEND_TYPE_URL][..],
                copro_coprocessor::module::TYPE_URLS,
                copro_wasm::TYPE_URLS,
            ]
            .concat()
        );
        assert!(
            r.query_paths()
                .all(|p| p != SIMULATE_PATH && p != STORE_KEY_PATH && p != AUTH_PARAMS_PATH)
        );
        assert!(
            r.query_module("store").is_none(),
            "`query store` is coprod's"
        );
    }

    #[test]
    fn msg_send_routes_to_bank_and_anything_else_is_unknown() {
        let r = registry();
        let e = r
            .decode("/cosmos.staking.v1beta1.MsgDelegate", &[])
            .unwrap_err();
        assert_eq!(e.code, Code::UnknownRequest);
        assert_eq!(
            e.log,
            format!(
                "unknown message type '/cosmos.staking.v1beta1.MsgDelegate'; \
                 this chain accepts /cosmos.bank.v1beta1.MsgSend, {}, {}",
                copro_coprocessor::module::TYPE_URLS.join(", "),
                copro_wasm::TYPE_URLS.join(", ")
            )
        );
        // Routed to bank, whose decoder then refuses the bytes.
        assert_eq!(
            r.decode(copro_bank::MSG_SEND_TYPE_URL, &[0xff])
                .unwrap_err()
                .code,
            Code::TxDecode
        );
    }

    #[test]
    fn default_genesis_has_every_module_and_a_coprocessor_without_authority() {
        assert_eq!(
            registry().default_genesis(),
            serde_json::json!({
                "auth": {"accounts": []},
                "bank": {"balances": []},
                "coprocessor": {
                    "params": {"ledger_denom": "ucopro", "tree_arity": 4, "tree_depth": 16,
                               "inclusion_delay_blocks": 0},
                    "authority": "", "prover": "", "programs": []
                },
                "wasm": {}
            })
        );
    }
}
