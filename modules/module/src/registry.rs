//! The [`Registry`]: the chain's modules, in order, and the routes to them.

use std::collections::BTreeMap;

use clap::Command;
use copro_store::{StateRead, StateWrite};
use serde_json::{Map, Value};

use crate::error::{Code, TxError};
use crate::module::{Module, Msg};

/// Two modules claim the same thing; the registry refuses to start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two modules have one name (one genesis section, one event `module`).
    #[error("two modules are named '{0}'")]
    DuplicateModule(&'static str),
    /// Two modules (or one, twice) declare one message type URL.
    #[error("message type {type_url} is declared by module {first} and again by module {second}")]
    DuplicateTypeUrl {
        /// The type URL.
        type_url: &'static str,
        /// Module that declared it first.
        first: &'static str,
        /// Module that declared it again.
        second: &'static str,
    },
    /// Two modules (or one, twice) declare one query path.
    #[error("query path {path} is declared by module {first} and again by module {second}")]
    DuplicateQueryPath {
        /// The gRPC method path.
        path: &'static str,
        /// Module that declared it first.
        first: &'static str,
        /// Module that declared it again.
        second: &'static str,
    },
    /// Two modules bring one CLI command (`coprod tx X` or `coprod query X`).
    #[error(
        "CLI command `coprod {command}` is brought by module {first} and again by module {second}"
    )]
    DuplicateCommand {
        /// `tx X`, `query X` or `genesis X`.
        command: String,
        /// Module that brought it first.
        first: &'static str,
        /// Module that brought it again.
        second: &'static str,
    },
}

/// A message decoded by the module that owns its type URL.
#[derive(Debug)]
pub struct DecodedMsg {
    /// Name of the module.
    pub module: &'static str,
    /// The message's type URL.
    pub type_url: &'static str,
    /// The message.
    pub msg: Box<dyn Msg>,
}

/// The chain's modules in registration order (which is also genesis order),
/// and the routes to them. Built once; every lookup is a `BTreeMap` lookup,
/// and everything listed comes out in registration order.
pub struct Registry {
    modules: Vec<Box<dyn Module>>,
    type_urls: BTreeMap<&'static str, usize>,
    query_paths: BTreeMap<&'static str, usize>,
    tx_commands: BTreeMap<String, usize>,
    query_commands: BTreeMap<String, usize>,
    genesis_commands: BTreeMap<String, usize>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.modules.iter().map(|m| m.name()))
            .finish()
    }
}

/// Inserts `key → index` unless `key` is taken; returns the index holding it.
fn claim<K: Ord>(map: &mut BTreeMap<K, usize>, key: K, index: usize) -> Result<(), usize> {
    match map.entry(key) {
        std::collections::btree_map::Entry::Occupied(e) => Err(*e.get()),
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(index);
            Ok(())
        }
    }
}

impl Registry {
    /// Registers `modules`, in this order. Refuses two modules with the same
    /// name, message type URL, query path or CLI command.
    pub fn new(modules: Vec<Box<dyn Module>>) -> Result<Self, RegistryError> {
        let mut names = BTreeMap::new();
        let mut type_urls = BTreeMap::new();
        let mut query_paths = BTreeMap::new();
        let mut tx_commands = BTreeMap::new();
        let mut query_commands = BTreeMap::new();
        let mut genesis_commands = BTreeMap::new();
        for (index, module) in modules.iter().enumerate() {
            let name = module.name();
            let name_of = |i: usize| modules[i].name();
            claim(&mut names, name, index).map_err(|_| RegistryError::DuplicateModule(name))?;
            for &type_url in module.type_urls() {
                claim(&mut type_urls, type_url, index).map_err(|first| {
                    RegistryError::DuplicateTypeUrl {
                        type_url,
                        first: name_of(first),
                        second: name,
                    }
                })?;
            }
            for &path in module.query_paths() {
                claim(&mut query_paths, path, index).map_err(|first| {
                    RegistryError::DuplicateQueryPath {
                        path,
                        first: name_of(first),
                        second: name,
                    }
                })?;
            }
            for (kind, command, map) in [
                ("tx", module.tx_command(), &mut tx_commands),
                ("query", module.query_command(), &mut query_commands),
            ] {
                if let Some(command) = command {
                    let command = command.get_name().to_string();
                    claim(map, command.clone(), index).map_err(|first| {
                        RegistryError::DuplicateCommand {
                            command: format!("{kind} {command}"),
                            first: name_of(first),
                            second: name,
                        }
                    })?;
                }
            }
            for command in module.genesis_commands() {
                let command = command.get_name().to_string();
                claim(&mut genesis_commands, command.clone(), index).map_err(|first| {
                    RegistryError::DuplicateCommand {
                        command: format!("genesis {command}"),
                        first: name_of(first),
                        second: name,
                    }
                })?;
            }
        }
        Ok(Self {
            modules,
            type_urls,
            query_paths,
            tx_commands,
            query_commands,
            genesis_commands,
        })
    }

    /// The modules, in registration order.
    pub fn modules(&self) -> impl Iterator<Item = &dyn Module> {
        self.modules.iter().map(|m| m.as_ref())
    }

    /// Starts deferred block checks in every module
    /// ([`Module::begin_block_checks`]).
    pub fn begin_block_checks(&self, stage: crate::Stage) {
        for m in &self.modules {
            m.begin_block_checks(stage);
        }
    }

    /// Ends them in every module; the first failure, after all ran.
    pub fn end_block_checks(&self) -> Result<(), TxError> {
        let mut first = Ok(());
        for m in &self.modules {
            let result = m.end_block_checks();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// The module named `name`.
    pub fn module(&self, name: &str) -> Option<&dyn Module> {
        self.modules().find(|m| m.name() == name)
    }

    fn names(&self) -> String {
        self.modules()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every message type URL, in registration order.
    pub fn type_urls(&self) -> impl Iterator<Item = &'static str> {
        self.modules().flat_map(|m| m.type_urls().iter().copied())
    }

    /// Decodes a message by its type URL: an unknown type URL is code 6
    /// (`UnknownRequest`) with a log listing the accepted ones; malformed
    /// bytes get the owning module's code.
    pub fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<DecodedMsg, TxError> {
        let Some((&known, &index)) = self.type_urls.get_key_value(type_url) else {
            let accepted = self.type_urls().collect::<Vec<_>>();
            return Err(TxError::new(
                Code::UnknownRequest,
                format!(
                    "unknown message type '{type_url}'; this chain accepts {}",
                    if accepted.is_empty() {
                        "no messages".to_string()
                    } else {
                        accepted.join(", ")
                    }
                ),
            ));
        };
        let module = &self.modules[index];
        Ok(DecodedMsg {
            module: module.name(),
            type_url: known,
            msg: module.decode(known, bytes)?,
        })
    }

    /// Every module query path, in registration order.
    pub fn query_paths(&self) -> impl Iterator<Item = &'static str> {
        self.modules().flat_map(|m| m.query_paths().iter().copied())
    }

    /// Answers a query on `state` if a module serves `path`; `None` if none
    /// does.
    pub fn query(
        &self,
        path: &str,
        state: &dyn StateRead,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        let &index = self.query_paths.get(path)?;
        Some(self.modules[index].query(path, state, data))
    }

    /// The genesis `app_state` of a new chain: every module's default
    /// section, keyed by module name.
    pub fn default_genesis(&self) -> Value {
        Value::Object(
            self.modules()
                .map(|m| (m.name().to_string(), m.default_genesis()))
                .collect(),
        )
    }

    /// The genesis `app_state` holding `state`: every module's
    /// [`Module::export_genesis`] section; the first module that cannot
    /// export is an error naming it.
    pub fn export_genesis(&self, state: &dyn StateRead) -> anyhow::Result<Value> {
        let mut sections = Map::new();
        for m in self.modules() {
            let section = m
                .export_genesis(state)
                .map_err(|e| e.context(format!("cannot export module {}", m.name())))?;
            sections.insert(m.name().to_string(), section);
        }
        Ok(Value::Object(sections))
    }

    /// Writes the genesis `app_state` into `state`: each module, in
    /// registration order, gets its section (or its default section if
    /// absent). `null` is an empty `app_state`; a section no module owns is
    /// an error, as is anything but an object.
    pub fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        app_state: &Value,
    ) -> Result<(), TxError> {
        let empty = Map::new();
        let sections = match app_state {
            Value::Null => &empty,
            Value::Object(sections) => sections,
            _ => {
                return Err(TxError::new(
                    Code::InvalidRequest,
                    format!(
                        "genesis app_state must be a JSON object with one section per module ({})",
                        self.names()
                    ),
                ));
            }
        };
        if let Some(unknown) = sections.keys().find(|k| self.module(k).is_none()) {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "genesis app_state has a section '{unknown}' but no module of that name; the modules are {}",
                    self.names()
                ),
            ));
        }
        for module in self.modules() {
            let name = module.name();
            let default;
            let section = match sections.get(name) {
                Some(section) => section,
                None => {
                    default = module.default_genesis();
                    &default
                }
            };
            module
                .init_genesis(state, section)
                .map_err(|e| TxError::new(e.code, format!("genesis {name}: {}", e.log)))?;
        }
        Ok(())
    }

    /// The modules' `coprod tx` subcommands, in registration order.
    pub fn tx_commands(&self) -> Vec<Command> {
        self.modules().filter_map(|m| m.tx_command()).collect()
    }

    /// The module whose `coprod tx` subcommand is `command`.
    pub fn tx_module(&self, command: &str) -> Option<&dyn Module> {
        let &index = self.tx_commands.get(command)?;
        Some(self.modules[index].as_ref())
    }

    /// The modules' `coprod query` subcommands, in registration order.
    pub fn query_commands(&self) -> Vec<Command> {
        self.modules().filter_map(|m| m.query_command()).collect()
    }

    /// The module whose `coprod query` subcommand is `command`.
    pub fn query_module(&self, command: &str) -> Option<&dyn Module> {
        let &index = self.query_commands.get(command)?;
        Some(self.modules[index].as_ref())
    }

    /// The modules' `coprod genesis` subcommands, in registration order.
    pub fn genesis_commands(&self) -> Vec<Command> {
        self.modules().flat_map(|m| m.genesis_commands()).collect()
    }

    /// The module whose `coprod genesis` subcommand is `command`.
    pub fn genesis_module(&self, command: &str) -> Option<&dyn Module> {
        let &index = self.genesis_commands.get(command)?;
        Some(self.modules[index].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use copro_store::StateDelta;
    use serde_json::json;

    use super::*;
    use crate::address::{Address, module_address};
    use crate::module::{ExecContext, Executed};

    /// A module that declares what it is told to.
    #[derive(Default)]
    struct Fake {
        name: &'static str,
        type_urls: &'static [&'static str],
        query_paths: &'static [&'static str],
        tx_command: Option<&'static str>,
        query_command: Option<&'static str>,
    }

    #[derive(Debug)]
    struct FakeMsg {
        signer: Address,
        bytes: Vec<u8>,
    }

    impl Msg for FakeMsg {
        fn signers(&self) -> &[Address] {
            std::slice::from_ref(&self.signer)
        }
        fn execute(
            &self,
            state: &mut dyn StateWrite,
            _: &ExecContext<'_>,
        ) -> Result<Executed, TxError> {
            state.put_raw(b"fake".to_vec(), self.bytes.clone());
            Ok(Executed::default())
        }
    }

    impl Module for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn type_urls(&self) -> &'static [&'static str] {
            self.type_urls
        }
        fn decode(&self, type_url: &str, bytes: &[u8]) -> Result<Box<dyn Msg>, TxError> {
            if bytes == b"malformed" {
                return Err(TxError::new(
                    Code::TxDecode,
                    format!("malformed {type_url}"),
                ));
            }
            Ok(Box::new(FakeMsg {
                signer: module_address(self.name),
                bytes: bytes.to_vec(),
            }))
        }
        fn default_genesis(&self) -> Value {
            json!({"default": true})
        }
        /// Appends `name=section` to the key `order`, so tests see who ran
        /// when, with what.
        fn init_genesis(&self, state: &mut dyn StateWrite, genesis: &Value) -> Result<(), TxError> {
            if genesis == &json!("fail") {
                return Err(TxError::new(Code::InvalidCoins, "bad coins"));
            }
            let mut order = state.get_raw(b"order")?.unwrap_or_default();
            order.extend(format!("{}={genesis};", self.name).into_bytes());
            state.put_raw(b"order".to_vec(), order);
            Ok(())
        }
        fn query_paths(&self) -> &'static [&'static str] {
            self.query_paths
        }
        fn query(&self, path: &str, _: &dyn StateRead, data: &[u8]) -> Result<Vec<u8>, TxError> {
            Ok([self.name.as_bytes(), path.as_bytes(), data].concat())
        }
        fn tx_command(&self) -> Option<Command> {
            self.tx_command.map(Command::new)
        }
        fn query_command(&self) -> Option<Command> {
            self.query_command.map(Command::new)
        }
    }

    fn registry(modules: Vec<Fake>) -> Result<Registry, RegistryError> {
        Registry::new(
            modules
                .into_iter()
                .map(|m| Box::new(m) as Box<dyn Module>)
                .collect(),
        )
    }

    fn coin_and_nft() -> Registry {
        registry(vec![
            Fake {
                name: "coin",
                type_urls: &["/coin.MsgSend", "/coin.MsgBurn"],
                query_paths: &["/coin.Query/Balance"],
                tx_command: Some("coin"),
                query_command: Some("coin"),
            },
            Fake {
                name: "nft",
                type_urls: &["/nft.MsgMint"],
                query_paths: &["/nft.Query/Owner"],
                tx_command: Some("nft"),
                query_command: Some("owner"),
            },
        ])
        .unwrap()
    }

    /// An empty committed state.
    struct Empty;

    impl StateRead for Empty {
        fn get_raw(&self, _: &[u8]) -> copro_store::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn prefix_raw(&self, _: &[u8], _: usize) -> copro_store::Result<Vec<(Vec<u8>, Vec<u8>)>> {
            Ok(vec![])
        }
    }

    #[test]
    fn a_type_url_routes_to_the_module_that_declared_it() {
        let r = coin_and_nft();
        let m = r.decode("/nft.MsgMint", b"x").unwrap();
        assert_eq!((m.module, m.type_url), ("nft", "/nft.MsgMint"));
        assert_eq!(m.msg.signers(), &[module_address("nft")]);
        let m = r.decode("/coin.MsgBurn", b"y").unwrap();
        assert_eq!((m.module, m.type_url), ("coin", "/coin.MsgBurn"));
        let ctx = ExecContext {
            chain_id: "c",
            height: 1,
            stage: crate::Stage::FinalizeBlock,
            tx_hash: [0; 32],
            gas: &crate::GasMeter::unpaid(0),
            block_time_nanos: 0,
        };
        let mut state = StateDelta::new(Empty);
        m.msg.check_stateless(&ctx.stateless()).unwrap();
        m.msg.check_stateful(&state, &ctx).unwrap();
        m.msg.execute(&mut state, &ctx).unwrap();
        assert_eq!(state.get_raw(b"fake").unwrap(), Some(b"y".to_vec()));
        // Malformed bytes keep the owning module's code.
        assert_eq!(
            r.decode("/coin.MsgSend", b"malformed").unwrap_err().code,
            Code::TxDecode
        );
        assert_eq!(
            r.type_urls().collect::<Vec<_>>(),
            ["/coin.MsgSend", "/coin.MsgBurn", "/nft.MsgMint"]
        );
    }

    #[test]
    fn an_unknown_type_url_is_an_unknown_request_naming_the_accepted_ones() {
        let e = coin_and_nft()
            .decode("/cosmos.staking.v1beta1.MsgDelegate", b"")
            .unwrap_err();
        assert_eq!(e.code, Code::UnknownRequest);
        assert_eq!(
            e.log,
            "unknown message type '/cosmos.staking.v1beta1.MsgDelegate'; \
             this chain accepts /coin.MsgSend, /coin.MsgBurn, /nft.MsgMint"
        );
        // A prefix or a case change of a known URL is not that URL.
        for near in ["/coin.MsgSen", "/COIN.MsgSend", "", "coin.MsgSend"] {
            assert_eq!(
                coin_and_nft().decode(near, b"").unwrap_err().code,
                Code::UnknownRequest,
                "{near:?}"
            );
        }
        let none = registry(vec![Fake {
            name: "quiet",
            ..Fake::default()
        }])
        .unwrap();
        assert!(
            none.decode("/x", b"")
                .unwrap_err()
                .log
                .ends_with("accepts no messages")
        );
    }

    #[test]
    fn a_type_url_declared_by_two_modules_is_refused_at_registration() {
        let err = registry(vec![
            Fake {
                name: "bank",
                type_urls: &["/cosmos.bank.v1beta1.MsgSend"],
                ..Fake::default()
            },
            Fake {
                name: "evil",
                type_urls: &["/evil.MsgX", "/cosmos.bank.v1beta1.MsgSend"],
                ..Fake::default()
            },
        ])
        .unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicateTypeUrl {
                type_url: "/cosmos.bank.v1beta1.MsgSend",
                first: "bank",
                second: "evil",
            }
        );
        // Declared twice by one module: refused too.
        let err = registry(vec![Fake {
            name: "bank",
            type_urls: &["/m", "/m"],
            ..Fake::default()
        }])
        .unwrap_err();
        assert!(matches!(
            err,
            RegistryError::DuplicateTypeUrl {
                first: "bank",
                second: "bank",
                ..
            }
        ));
    }

    #[test]
    fn duplicate_names_query_paths_and_commands_are_refused_at_registration() {
        let named = |name| Fake {
            name,
            ..Fake::default()
        };
        assert_eq!(
            registry(vec![named("a"), named("b"), named("a")]).unwrap_err(),
            RegistryError::DuplicateModule("a")
        );
        let err = registry(vec![
            Fake {
                query_paths: &["/q"],
                ..named("a")
            },
            Fake {
                query_paths: &["/q"],
                ..named("b")
            },
        ])
        .unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicateQueryPath {
                path: "/q",
                first: "a",
                second: "b"
            }
        );
        let err = registry(vec![
            Fake {
                tx_command: Some("send"),
                ..named("a")
            },
            Fake {
                tx_command: Some("send"),
                ..named("b")
            },
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLI command `coprod tx send` is brought by module a and again by module b"
        );
        // One name under `tx` and under `query` is fine (`tx bank`, `query bank`).
        registry(vec![Fake {
            tx_command: Some("bank"),
            query_command: Some("bank"),
            ..named("bank")
        }])
        .unwrap();
        let err = registry(vec![
            Fake {
                query_command: Some("account"),
                ..named("a")
            },
            Fake {
                query_command: Some("account"),
                ..named("b")
            },
        ])
        .unwrap_err();
        assert!(matches!(err, RegistryError::DuplicateCommand { .. }));
    }

    #[test]
    fn queries_and_commands_route_to_their_module() {
        let r = coin_and_nft();
        assert_eq!(
            r.query("/nft.Query/Owner", &Empty, b"!").unwrap().unwrap(),
            b"nft/nft.Query/Owner!"
        );
        assert!(r.query("/nft.Query/Nope", &Empty, b"").is_none());
        assert_eq!(
            r.query_paths().collect::<Vec<_>>(),
            ["/coin.Query/Balance", "/nft.Query/Owner"]
        );
        assert_eq!(r.tx_module("nft").unwrap().name(), "nft");
        assert_eq!(r.query_module("owner").unwrap().name(), "nft");
        assert!(r.query_module("nft").is_none());
        let names = |cmds: Vec<Command>| {
            cmds.iter()
                .map(|c| c.get_name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(r.tx_commands()), ["coin", "nft"]);
        assert_eq!(names(r.query_commands()), ["coin", "owner"]);
    }

    #[test]
    fn genesis_runs_every_module_in_order_with_its_section_or_its_default() {
        let r = coin_and_nft();
        assert_eq!(
            r.default_genesis(),
            json!({"coin": {"default": true}, "nft": {"default": true}})
        );
        let order = |app_state: Value| {
            let mut state = StateDelta::new(Empty);
            r.init_genesis(&mut state, &app_state)
                .map(|()| String::from_utf8(state.get_raw(b"order").unwrap().unwrap()).unwrap())
        };
        // Registration order, whatever the JSON order.
        assert_eq!(
            order(json!({"nft": 1, "coin": 2})).unwrap(),
            "coin=2;nft=1;"
        );
        assert_eq!(
            order(json!({"nft": 1})).unwrap(),
            r#"coin={"default":true};nft=1;"#
        );
        assert_eq!(order(Value::Null).unwrap(), order(json!({})).unwrap());

        let e = order(json!({"coin": 1, "staking": {}})).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(
            e.log.contains("'staking'") && e.log.contains("coin, nft"),
            "{}",
            e.log
        );
        assert_eq!(order(json!([1])).unwrap_err().code, Code::InvalidRequest);
        // A module's failure keeps its code and names the module.
        let e = order(json!({"nft": "fail"})).unwrap_err();
        assert_eq!(
            e,
            TxError::new(Code::InvalidCoins, "genesis nft: bad coins")
        );
    }
}
