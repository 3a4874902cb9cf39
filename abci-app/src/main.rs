//! `coprod`: copro's daemon and CLI, in the style of Cosmos SDK daemons.
//!
//! ```text
//! coprod init --home H --chain-id C [--moniker M] [--overwrite]
//! coprod genesis add-account ADDR_OR_KEYNAME COINS --home H [--keyring-dir K]
//! coprod genesis add-program --keys DIR | set-prover ADDR | set-authority ADDR
//! coprod start --home H [--abci-address tcp://127.0.0.1:26658]
//! coprod rollback --home H [--hard]
//! coprod export --home H [--height N] [--chain-id C] [--output-document FILE]
//! coprod keys add NAME [--recover] [--words 12|24] | keys list | keys show NAME [-a]
//! coprod keys delete NAME [-y] | keys export NAME | keys import NAME FILE
//! coprod tx bank send FROM TO AMOUNT [--fees 5000ucopro] [--gas 200000|auto]
//!        [--gas-adjustment 1.3] [--from NAME] [-y] [--generate-only] [--wait]
//!        [--note MEMO] [--sequence N] [--account-number N] [--chain-id C]
//! coprod tx sign FILE --from NAME | tx broadcast FILE | tx decode BASE64
//! coprod query bank balance ADDR [--denom ucopro] | balances ADDR | total
//! coprod query account ADDR | query store KEY_HEX [--prove] [--height H]
//! coprod query tx HASH | query block [HEIGHT]
//! coprod tx copro deposit|transfer|withdraw ... | query copro root|account|queue|... [--prove]
//! coprod status | version | config [get KEY | set KEY VALUE]
//! ```
//! Global flags: `--home` (default `~/.coprod`), `--node`, `--keyring-dir`
//! and `--output text|json`. Without a flag, `node`, `chain-id`,
//! `keyring-dir` and `output` come from `H/config/client.toml` (`coprod
//! config`), then from app.toml (`[client] node`, `chain-id`), then the
//! defaults (`http://127.0.0.1:26657`, `H/keyring-test`, `text`).
//!
//! The subcommands of `tx` and `query` (but `query store`), and some of
//! `genesis`, come from the modules ([`coprod::modules`]): a module parses its arguments into messages
//! or a query; this file signs, broadcasts, queries and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{
    ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};
use copro_bank::Coins;
use copro_module::{Address, Registry, Rendered, TxPlan};
use coprod::client_config::ClientDefaults;
use coprod::config::{AppConfig, parse_tcp_address};
use coprod::keyring::{KeyInfo, Keyring};
use coprod::txjson::Tx;
use coprod::{App, client, query, tx};
use serde_json::{Value, json};
use tendermint_rpc::Client;

#[derive(Parser, Debug)]
#[command(
    name = "coprod",
    version,
    about = "copro chain daemon and CLI (ABCI 2.0 app for CometBFT v0.38)"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Home directory (CometBFT config + app.toml + data).
    #[arg(long, global = true, env = "COPROD_HOME")]
    home: Option<PathBuf>,
    /// CometBFT RPC URL (default: client.toml node, else app.toml [client]
    /// node, else http://127.0.0.1:26657).
    #[arg(long, global = true)]
    node: Option<String>,
    /// Keyring directory (default: client.toml keyring-dir, else
    /// HOME/keyring-test; plaintext "test" backend).
    #[arg(long, global = true)]
    keyring_dir: Option<PathBuf>,
    /// Output format (default: client.toml output, else text).
    #[arg(long, short = 'o', global = true, value_enum)]
    output: Option<Output>,
    /// client.toml's chain-id (set by [`Global::with_defaults`]).
    #[arg(skip)]
    chain_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Initialise a home: CometBFT config and keys (via `cometbft init`),
    /// genesis with chain-id and empty app_state, and config/app.toml.
    Init {
        /// Chain-id written into genesis and app.toml.
        #[arg(long)]
        chain_id: String,
        /// Node moniker (CometBFT config.toml).
        #[arg(long)]
        moniker: Option<String>,
        /// Replace an existing genesis.json and app.toml (node keys are kept).
        #[arg(long)]
        overwrite: bool,
    },
    /// Edit genesis.json.
    #[command(subcommand)]
    Genesis(GenesisCmd),
    /// Run the ABCI server (CometBFT connects to it as proxy_app).
    Start {
        /// Listen address, overrides app.toml [abci] address.
        #[arg(long)]
        abci_address: Option<String>,
    },
    /// Roll the node back one height, as the Cosmos SDK's `rollback` does:
    /// CometBFT's state (`cometbft rollback`) and the app state go back one
    /// block, which the node executes again when it starts. Stop the node
    /// first.
    Rollback {
        /// Also remove the last block from CometBFT's block store
        /// (`cometbft rollback --hard`).
        #[arg(long)]
        hard: bool,
    },
    /// Write the app state at a height as a genesis a new chain starts from
    /// (validators and consensus parameters from this node's genesis; the
    /// new chain starts at height 1). Stop the node first.
    Export {
        /// Height (default: the latest committed).
        #[arg(long)]
        height: Option<u64>,
        /// Chain-id of the new chain (default: this chain's; a new one
        /// keeps old signed txs from being replayed there).
        #[arg(long)]
        chain_id: Option<String>,
        /// Write the genesis to this file instead of stdout.
        #[arg(long)]
        output_document: Option<PathBuf>,
    },
    /// Manage keys in the keyring.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Off-chain ledger transfers, signed with the ledger spending key and
    /// posted to a prover daemon (`transfer` version 2): no chain tx, no fee.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    // `tx` and `query` are built from the modules: see `cli`.
    /// Node status: height, app hash, chain-id.
    #[command(display_order = 100)]
    Status,
    /// Version of coprod, its git commit, and the CometBFT and ABCI versions
    /// it speaks.
    #[command(display_order = 101)]
    Version,
    /// Client defaults in HOME/config/client.toml (node, chain-id, output,
    /// keyring-dir); without a subcommand, print them all.
    #[command(display_order = 102)]
    Config {
        #[command(subcommand)]
        cmd: Option<ConfigCmd>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Print one value ("" when unset).
    Get {
        /// chain-id, keyring-dir, node or output.
        key: String,
    },
    /// Set one value ("" unsets it).
    Set {
        /// chain-id, keyring-dir, node or output.
        key: String,
        /// The value.
        value: String,
    },
}

#[derive(Subcommand, Debug)]
enum GenesisCmd {
    /// Add an account with coins to genesis (app_state.auth and app_state.bank).
    AddAccount {
        /// A copro1... address or the name of a key in the keyring.
        address_or_key: String,
        /// Coins, e.g. 1000000000ucopro,500stake.
        coins: String,
    },
    /// Check genesis.json: chain-id, and that app_state applies cleanly.
    Validate,
}

#[derive(Subcommand, Debug)]
enum LedgerCmd {
    /// Sign a transfer of AMOUNT from FROM's ledger account to TO's with
    /// FROM's spending key and post it to the prover; prints its id (follow
    /// it with `coprod ledger transfer-status ID`).
    Transfer {
        /// Key name or its address (its spending key must be bound:
        /// `coprod tx copro set-ledger-key`).
        from: String,
        /// Recipient address (a new ledger account is created if it has none).
        to: String,
        /// Amount, an integer in the ledger denom.
        amount: u64,
        /// Prover API URL.
        #[arg(long, default_value = "http://127.0.0.1:26690")]
        prover: String,
        /// Nonce to sign (default: the settled nonce, or the next free one
        /// the prover names when transfers of FROM are waiting).
        #[arg(long)]
        nonce: Option<u64>,
        /// Chain-id the signature binds (default: client.toml, else the node's).
        #[arg(long)]
        chain_id: Option<String>,
    },
    /// A posted transfer's state at the prover: pending, batched, committed
    /// (with height and tx hash) or dropped (with the reason).
    TransferStatus {
        /// Id printed by `coprod ledger transfer`.
        id: u64,
        /// Prover API URL.
        #[arg(long, default_value = "http://127.0.0.1:26690")]
        prover: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Create a key (prints its mnemonic once), or recover one from a
    /// mnemonic read from stdin with --recover.
    Add {
        /// Key name.
        name: String,
        /// Read a BIP-39 mnemonic (12 or 24 words) from stdin instead of
        /// generating one.
        #[arg(long)]
        recover: bool,
        /// Words of the generated mnemonic: 12 or 24.
        #[arg(long, default_value_t = 24, conflicts_with = "recover")]
        words: usize,
    },
    /// Delete a key from the keyring.
    Delete {
        /// Key name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Print a key (private key and mnemonic, in plaintext) as JSON that
    /// `keys import` reads.
    Export {
        /// Key name (or address).
        name: String,
    },
    /// Store a key from a `keys export` file or a hex private key file
    /// ("-": stdin).
    Import {
        /// Name to give the key.
        name: String,
        /// The file.
        file: PathBuf,
    },
    /// Show a key's ledger spending key (Jubjub), derived from the key: it
    /// signs off-chain ledger transfers once bound to the ledger account with
    /// `coprod tx copro set-ledger-key`.
    SpendingKey {
        /// Key name (or address).
        name: String,
    },
    /// List keys.
    List,
    /// Show a key.
    Show {
        /// Key name (or address).
        name: String,
        /// Print the address only.
        #[arg(short = 'a', long = "address")]
        address_only: bool,
    },
}

// Flags of every `coprod tx` command, added to each module's leaf commands.
// (A `///` comment here would replace the about text of those commands.)
#[derive(Args, Debug)]
struct TxFlags {
    /// Fee (default 5000ucopro = 200000 gas × 0.025ucopro).
    #[arg(long, default_value = "5000ucopro")]
    fees: String,
    /// Gas limit, or "auto": simulate the tx and use the gas it used times
    /// --gas-adjustment.
    #[arg(long, default_value = "200000", value_parser = parse_gas)]
    gas: Gas,
    /// Multiplies the simulated gas of --gas auto.
    #[arg(long, default_value_t = 1.0)]
    gas_adjustment: f64,
    /// The signer's key: must be the sender the command names (a key name
    /// or its address).
    #[arg(long = "from", id = "from_key", value_name = "KEY")]
    from_key: Option<String>,
    /// Skip confirmation (coprod never asks; accepted as in other Cosmos
    /// daemons).
    #[arg(short = 'y', long)]
    yes: bool,
    /// Print the unsigned tx as JSON (for `coprod tx sign`) instead of
    /// signing and broadcasting it.
    #[arg(long)]
    generate_only: bool,
    /// Memo.
    #[arg(long, alias = "memo", default_value = "")]
    note: String,
    /// Sign with this sequence instead of the account's committed one
    /// (to queue several txs per block from one key).
    #[arg(long)]
    sequence: Option<u64>,
    /// Sign with this account number instead of querying it.
    #[arg(long)]
    account_number: Option<u64>,
    /// Chain-id (default: app.toml, else the node's).
    #[arg(long)]
    chain_id: Option<String>,
    /// Wait until the tx is in a block and report its height and code.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 30)]
    wait_timeout: u64,
}

/// A gas limit, or "auto" (simulate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gas {
    Auto,
    Limit(u64),
}

fn parse_gas(s: &str) -> Result<Gas, String> {
    if s == "auto" {
        return Ok(Gas::Auto);
    }
    s.parse()
        .map(Gas::Limit)
        .map_err(|_| format!("'{s}' is neither a gas limit (an integer) nor \"auto\""))
}

// `coprod tx sign` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct SignArgs {
    /// The unsigned tx JSON (from --generate-only); "-": stdin.
    file: PathBuf,
    /// The signer's key (name or address).
    #[arg(long)]
    from: String,
    /// Chain-id (default: client.toml, app.toml, else the node's).
    #[arg(long)]
    chain_id: Option<String>,
    /// Sign with this sequence instead of the account's committed one.
    #[arg(long)]
    sequence: Option<u64>,
    /// Sign with this account number instead of querying it.
    #[arg(long)]
    account_number: Option<u64>,
}

// `coprod tx broadcast` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct BroadcastArgs {
    /// The signed tx JSON (from `coprod tx sign`); "-": stdin.
    file: PathBuf,
    /// Wait until the tx is in a block and report its height and code.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 30)]
    wait_timeout: u64,
}

// `coprod tx decode` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct DecodeArgs {
    /// The tx's bytes (protobuf TxRaw) in base64, as CometBFT shows them.
    base64_tx: String,
}

// `coprod query tx` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct TxQueryArgs {
    /// The tx hash (64 hex digits).
    hash: String,
}

// `coprod query block` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct BlockArgs {
    /// Height (default: the latest block).
    height: Option<u64>,
}

// `coprod query store` (no `///`: it would replace the command's about).
#[derive(Args, Debug)]
struct StoreArgs {
    /// Key, hex (e.g. of `bank/balance/copro1.../ucopro`).
    key_hex: String,
    /// Ask for a proof and verify it against the app hash of header H+1.
    #[arg(long)]
    prove: bool,
    /// State after block H (0 = latest committed).
    #[arg(long, default_value_t = 0)]
    height: u64,
}

/// The whole command line: the derived commands plus `tx` and `query`,
/// whose subcommands the modules bring.
fn cli(registry: &Registry) -> Command {
    let tx = registry.tx_commands().into_iter().fold(
        Command::new("tx")
            .about("Sign and broadcast transactions")
            .subcommand_required(true)
            .arg_required_else_help(true),
        |tx, module| tx.subcommand(with_tx_flags(module)),
    );
    let query = registry.query_commands().into_iter().fold(
        Command::new("query")
            .about("Query the chain")
            .alias("q")
            .subcommand_required(true)
            .arg_required_else_help(true),
        Command::subcommand,
    );
    let store = StoreArgs::augment_args(
        Command::new("store").about("Raw store value, optionally with a verified ICS-23 proof"),
    );
    let tx_query = TxQueryArgs::augment_args(
        Command::new("tx").about("A committed tx by hash: height, code, gas, events, messages"),
    );
    let block = BlockArgs::augment_args(
        Command::new("block").about("A block: height, hash, time, app hash, tx hashes"),
    );
    let sign = SignArgs::augment_args(
        Command::new("sign")
            .about("Sign an unsigned tx file (from --generate-only); prints the signed tx JSON"),
    );
    let broadcast = BroadcastArgs::augment_args(
        Command::new("broadcast").about("Broadcast a signed tx file (from `coprod tx sign`)"),
    );
    let decode = DecodeArgs::augment_args(
        Command::new("decode").about("Print a base64 protobuf tx as JSON"),
    );
    let genesis_commands = registry.genesis_commands();
    Cli::command()
        .mut_subcommand("genesis", |genesis| {
            genesis_commands
                .into_iter()
                .fold(genesis, Command::subcommand)
        })
        .subcommand(tx.subcommand(sign).subcommand(broadcast).subcommand(decode))
        .subcommand(
            query
                .subcommand(store)
                .subcommand(tx_query)
                .subcommand(block),
        )
}

/// Adds the [`TxFlags`] to every leaf of a module's `tx` command.
fn with_tx_flags(cmd: Command) -> Command {
    if cmd.has_subcommands() {
        cmd.mut_subcommands(with_tx_flags)
    } else {
        TxFlags::augment_args(cmd)
    }
}

/// The matches of the innermost subcommand.
fn leaf(mut matches: &ArgMatches) -> &ArgMatches {
    while let Some((_, sub)) = matches.subcommand() {
        matches = sub;
    }
    matches
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".coprod")
}

impl Global {
    /// The global flags of `matches`, completed from client.toml.
    fn from_matches(matches: &ArgMatches) -> anyhow::Result<Self> {
        Global::from_arg_matches(matches)?.with_defaults()
    }

    /// Fills what the flags left unset from `H/config/client.toml`.
    fn with_defaults(mut self) -> anyhow::Result<Self> {
        let home = self.home();
        let d = ClientDefaults::load(&home)?;
        self.node = self.node.or_else(|| ClientDefaults::some(&d.node));
        self.keyring_dir = self.keyring_dir.or_else(|| d.keyring_dir(&home));
        self.chain_id = ClientDefaults::some(&d.chain_id);
        if self.output.is_none() && !d.output.is_empty() {
            self.output = Some(Output::from_str(&d.output, true).map_err(|_| {
                anyhow::anyhow!(
                    "{}: output must be text or json, not '{}'; fix it with `coprod config set output json`",
                    ClientDefaults::path(&home).display(),
                    d.output
                )
            })?);
        }
        Ok(self)
    }

    fn output(&self) -> Output {
        self.output.unwrap_or(Output::Text)
    }

    /// The output of the commands that must work whatever client.toml
    /// holds (`config`, `version`): the flag, else client.toml's if it reads.
    fn lenient(mut self) -> Self {
        if self.output.is_none() {
            self.output = ClientDefaults::load(&self.home())
                .ok()
                .and_then(|d| Output::from_str(&d.output, true).ok());
        }
        self
    }

    /// The chain-id from a flag, client.toml or app.toml, else the node's.
    async fn chain_id(&self, flag: Option<String>) -> anyhow::Result<String> {
        if let Some(c) = flag
            .or_else(|| self.chain_id.clone())
            .or_else(|| self.config().map(|c| c.chain_id))
        {
            return Ok(c);
        }
        Ok(self
            .client()?
            .status()
            .await
            .context("cannot reach the node for its chain-id; pass --chain-id")?
            .node_info
            .network
            .to_string())
    }

    fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(default_home)
    }
    fn keyring(&self) -> Keyring {
        Keyring::new(
            self.keyring_dir
                .clone()
                .unwrap_or_else(|| self.home().join("keyring-test")),
        )
    }
    fn config(&self) -> Option<AppConfig> {
        AppConfig::load(&self.home()).ok()
    }
    fn node(&self) -> String {
        self.node
            .clone()
            .or_else(|| self.config().map(|c| c.client.node))
            .unwrap_or_else(|| "http://127.0.0.1:26657".to_string())
    }
    fn client(&self) -> anyhow::Result<tendermint_rpc::HttpClient> {
        client::connect(&self.node())
    }
}

fn print(output: Output, value: &Value, text: impl FnOnce() -> String) {
    match output {
        Output::Json => println!("{value}"),
        Output::Text => println!("{}", text()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let registry = coprod::modules::registry();
    let matches = cli(&registry).get_matches();
    match run(&registry, &matches).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", coprod::report::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    match matches.subcommand() {
        Some(("tx", m)) => return tx(registry, m).await,
        Some(("query", m)) => return query(registry, m).await,
        Some(("genesis", m)) => {
            if let Some((command, _)) = m.subcommand()
                && let Some(module) = registry.genesis_module(command)
            {
                return edit_genesis_section(registry, module, command, m);
            }
        }
        _ => {}
    }
    let cli = Cli::from_arg_matches(matches).unwrap_or_else(|e| e.exit());
    // A node starts, and client.toml can be fixed, whatever client.toml holds.
    let g = match cli.cmd {
        Cmd::Init { .. } | Cmd::Start { .. } | Cmd::Rollback { .. } | Cmd::Export { .. } => {
            cli.global
        }
        Cmd::Version | Cmd::Config { .. } => cli.global.lenient(),
        _ => cli.global.with_defaults()?,
    };
    match cli.cmd {
        Cmd::Init {
            chain_id,
            moniker,
            overwrite,
        } => init(&g, registry, &chain_id, moniker.as_deref(), overwrite),
        Cmd::Genesis(GenesisCmd::AddAccount {
            address_or_key,
            coins,
        }) => add_genesis_account(&g, registry, &address_or_key, &coins),
        Cmd::Genesis(GenesisCmd::Validate) => validate_genesis(&g, registry),
        Cmd::Start { abci_address } => start(&g, abci_address).await,
        Cmd::Rollback { hard } => rollback(&g, hard),
        Cmd::Export {
            height,
            chain_id,
            output_document,
        } => export(
            &g,
            registry,
            height,
            chain_id.as_deref(),
            output_document.as_deref(),
        ),
        Cmd::Keys(cmd) => keys(&g, cmd),
        Cmd::Ledger(cmd) => ledger(&g, cmd).await,
        Cmd::Status => status(&g).await,
        Cmd::Version => version(&g),
        Cmd::Config { cmd } => config(&g, cmd),
    }
}

/// What `coprod version` prints.
fn version_info() -> Value {
    json!({
        "name": "coprod",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("COPROD_GIT_COMMIT").unwrap_or(""),
        "app_version": coprod::app::APP_VERSION.to_string(),
        "cometbft": COMETBFT_VERSION,
        "abci": ABCI_VERSION,
    })
}

/// The CometBFT release line coprod runs under (scripts/setup.sh pins the
/// exact release).
const COMETBFT_VERSION: &str = "0.38";
/// The ABCI protocol version of CometBFT 0.38 (`version.ABCISemVer`).
const ABCI_VERSION: &str = "2.0.0";

fn version(g: &Global) -> anyhow::Result<ExitCode> {
    let v = version_info();
    print(g.output(), &v, || {
        let commit = v["commit"].as_str().unwrap_or_default();
        format!(
            "coprod {}{}\napp version: {}\nCometBFT: v{COMETBFT_VERSION}.x\nABCI: {ABCI_VERSION}",
            env!("CARGO_PKG_VERSION"),
            if commit.is_empty() {
                String::new()
            } else {
                format!(" ({commit})")
            },
            coprod::app::APP_VERSION
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `coprod config [get KEY | set KEY VALUE]` on `H/config/client.toml`.
fn config(g: &Global, cmd: Option<ConfigCmd>) -> anyhow::Result<ExitCode> {
    let home = g.home();
    let path = ClientDefaults::path(&home);
    match cmd {
        None => {
            let d = ClientDefaults::load(&home)?;
            let entries = d.entries();
            let doc: serde_json::Map<String, Value> = entries
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            print(g.output(), &Value::Object(doc), || {
                let mut text = format!("# {}", path.display());
                for (k, v) in entries {
                    text.push_str(&format!("\n{k} = {v:?}"));
                }
                text
            });
        }
        Some(ConfigCmd::Get { key }) => {
            let d = ClientDefaults::load(&home)?;
            let value = d.get(&key)?;
            print(g.output(), &json!({ key.as_str(): value }), || {
                value.to_string()
            });
        }
        Some(ConfigCmd::Set { key, value }) => {
            // A broken file is replaced key by key rather than refused, so
            // `config set` can repair it.
            let mut d = ClientDefaults::load(&home).unwrap_or_default();
            d.set(&key, &value)?;
            d.save(&home)?;
            print(
                g.output(),
                &json!({ "key": key, "value": value, "file": path }),
                || format!("{key} = {value:?} in {}", path.display()),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cometbft_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("COMETBFT_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        bail!(
            "COMETBFT_BIN={} does not exist; install CometBFT: run scripts/setup.sh",
            bin.display()
        );
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("cometbft"))
        .find(|p| p.is_file())
        .context("cometbft not found on PATH (or set COMETBFT_BIN); install CometBFT: run scripts/setup.sh")
}

fn genesis_path(home: &Path) -> PathBuf {
    home.join("config").join("genesis.json")
}

fn init(
    g: &Global,
    registry: &Registry,
    chain_id: &str,
    moniker: Option<&str>,
    overwrite: bool,
) -> anyhow::Result<ExitCode> {
    let home = g.home();
    let genesis = genesis_path(&home);
    let app_toml = AppConfig::path(&home);
    if (genesis.exists() || app_toml.exists()) && !overwrite {
        bail!(
            "{} is already initialised ({} exists); use --overwrite to replace genesis.json and app.toml",
            home.display(),
            if app_toml.exists() {
                app_toml.display()
            } else {
                genesis.display()
            }
        );
    }
    if chain_id.is_empty() || chain_id.len() > 50 {
        bail!("chain-id must be 1-50 characters");
    }
    if overwrite && genesis.exists() {
        std::fs::remove_file(&genesis)?;
    }
    let bin = cometbft_bin()?;
    let out = std::process::Command::new(&bin)
        .arg("init")
        .arg("--home")
        .arg(&home)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "`cometbft init --home {}` failed: {}",
            home.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Genesis: chain-id and an empty app_state.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&genesis)?)
        .context("cometbft wrote an unreadable genesis.json")?;
    doc["chain_id"] = Value::String(chain_id.to_string());
    doc["app_state"] = registry.default_genesis();
    std::fs::write(&genesis, serde_json::to_string_pretty(&doc)?)?;
    if let Some(moniker) = moniker {
        let cfg_path = home.join("config").join("config.toml");
        let cfg = std::fs::read_to_string(&cfg_path)?;
        let escaped = moniker.replace('\\', "\\\\").replace('"', "\\\"");
        let cfg: String = cfg
            .lines()
            .map(|l| {
                if l.starts_with("moniker = ") {
                    format!("moniker = \"{escaped}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&cfg_path, cfg + "\n")?;
    }
    AppConfig::new(chain_id).save(&home)?;
    print(
        g.output(),
        &json!({"home": home, "chain_id": chain_id, "genesis": genesis, "app_toml": app_toml}),
        || {
            format!(
                "initialised {} for chain {chain_id}\n  genesis: {}\n  app config: {}",
                home.display(),
                genesis.display(),
                app_toml.display()
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

fn add_genesis_account(
    g: &Global,
    registry: &Registry,
    address_or_key: &str,
    coins: &str,
) -> anyhow::Result<ExitCode> {
    let home = g.home();
    let address = match Address::parse(address_or_key) {
        Ok(a) => a,
        Err(_) => {
            let key = g.keyring().resolve(address_or_key).with_context(|| {
                format!("'{address_or_key}' is not a copro1... address nor a key name")
            })?;
            Address::parse(&key.address).map_err(|e| anyhow::anyhow!(e.log))?
        }
    };
    let coins = Coins::parse(coins).map_err(|e| anyhow::anyhow!(e.log))?;
    if coins.is_empty() {
        bail!("give at least one coin, e.g. 1000000ucopro");
    }
    let path = genesis_path(&home);
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}; run `coprod init` first", path.display())
        })?)?;
    if !(doc["app_state"].is_null() || doc["app_state"].is_object()) {
        bail!("genesis app_state is invalid: not a JSON object keyed by module name");
    }
    let mut auth: copro_auth::genesis::GenesisState = genesis_section(&doc, "auth")?;
    let mut bank: copro_bank::genesis::GenesisState = genesis_section(&doc, "bank")?;
    auth.add_account(&address);
    let total = bank
        .add_coins(&address, &coins)
        .map_err(|e| anyhow::anyhow!(e.log))?;
    if doc["app_state"].is_null() {
        doc["app_state"] = registry.default_genesis();
    }
    doc["app_state"]["auth"] = serde_json::to_value(&auth)?;
    doc["app_state"]["bank"] = serde_json::to_value(&bank)?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    print(
        g.output(),
        &json!({"address": address.to_string(), "coins": total.to_string()}),
        || format!("genesis account {address}: {total}"),
    );
    Ok(ExitCode::SUCCESS)
}

/// `coprod genesis <command>` of a module: the module edits its own section
/// of `app_state`; the file is written only when the whole edit succeeded.
fn edit_genesis_section(
    registry: &Registry,
    module: &dyn copro_module::Module,
    command: &str,
    matches: &ArgMatches,
) -> anyhow::Result<ExitCode> {
    let g = Global::from_matches(leaf(matches))?;
    let path = genesis_path(&g.home());
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}; run `coprod init` first", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    if doc["app_state"].is_null() {
        doc["app_state"] = registry.default_genesis();
    }
    if !doc["app_state"].is_object() {
        bail!("genesis app_state is invalid: not a JSON object keyed by module name");
    }
    let name = module.name();
    let mut section = doc["app_state"][name].take();
    let keyring = g.keyring();
    let Rendered { json, text, .. } =
        module.genesis_edit(command, matches, &mut section, &keyring)?;
    doc["app_state"][name] = section;
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    print(g.output(), &json, || text);
    Ok(ExitCode::SUCCESS)
}

/// The section `name` of genesis.json's `app_state` (the default if absent).
fn genesis_section<T: serde::de::DeserializeOwned + Default>(
    doc: &Value,
    name: &str,
) -> anyhow::Result<T> {
    match &doc["app_state"][name] {
        Value::Null => Ok(T::default()),
        section => T::deserialize(section)
            .with_context(|| format!("genesis app_state is invalid: section {name}")),
    }
}

fn validate_genesis(g: &Global, registry: &Registry) -> anyhow::Result<ExitCode> {
    let path = genesis_path(&g.home());
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )
    .context("genesis.json is not JSON")?;
    let chain_id = doc["chain_id"].as_str().unwrap_or_default();
    if chain_id.is_empty() {
        bail!("genesis.json has no chain_id");
    }
    let app_state = serde_json::to_vec(&doc["app_state"])?;
    let accounts = coprod::app::validate_genesis(registry, chain_id, &app_state)
        .map_err(|e| anyhow::anyhow!("genesis app_state is invalid: {e}"))?;
    print(
        g.output(),
        &json!({"chain_id": chain_id, "valid": true, "accounts": accounts}),
        || format!("genesis of {chain_id} is valid: {accounts} accounts"),
    );
    Ok(ExitCode::SUCCESS)
}

async fn start(g: &Global, abci_address: Option<String>) -> anyhow::Result<ExitCode> {
    let home = g.home();
    let config = AppConfig::load(&home)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .context("invalid [log] level in app.toml")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let addr = parse_tcp_address(abci_address.as_deref().unwrap_or(&config.abci.address))?;
    let min_gas_price = tx::GasPrice::parse(&config.minimum_gas_prices)
        .map_err(|e| anyhow::anyhow!("app.toml minimum-gas-prices: {e}"))?;
    let store_file = config.store_file(&home);
    let storage = copro_store::Storage::open(&store_file)
        .with_context(|| format!("cannot open the store {}", store_file.display()))?;
    tracing::info!(
        store = %store_file.display(),
        height = ?storage.latest_version()?,
        %addr,
        "starting coprod"
    );
    if !config.metrics.address.is_empty() {
        let metrics_addr =
            parse_tcp_address(&config.metrics.address).context("app.toml [metrics] address")?;
        tokio::spawn(async move {
            if let Err(e) = coprod::metrics::serve(metrics_addr).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
    // One CosmWasm VM per node: compiled contracts are cached in memory and
    // in `wasm/` beside the store, for the app and the query servers alike.
    let wasm_dir = store_file
        .parent()
        .map(|d| d.join("wasm"))
        .unwrap_or_else(|| home.join("data").join("wasm"));
    let wasm = copro_wasm::Wasm::new(copro_wasm::Vm::new(&wasm_dir));
    if !config.grpc.address.is_empty() || !config.api.address.is_empty() {
        // One node answers both transports: REST calls go through the same
        // handlers as gRPC calls.
        let rpc = client::connect(&config.client.node).context("app.toml [client] node")?;
        let node = std::sync::Arc::new(coprod::grpc::Node::new(
            storage.clone(),
            coprod::modules::registry_with_wasm(wasm.clone()),
            rpc,
        )?);
        if !config.grpc.address.is_empty() {
            let grpc_addr =
                parse_tcp_address(&config.grpc.address).context("app.toml [grpc] address")?;
            let listener = coprod::grpc::bind(grpc_addr).await?;
            let node = std::sync::Arc::clone(&node);
            tokio::spawn(coprod::grpc::run(listener, node, std::future::pending()));
        }
        if !config.api.address.is_empty() {
            let api_addr =
                parse_tcp_address(&config.api.address).context("app.toml [api] address")?;
            let router = coprod::rest::router(node)?;
            let listener = coprod::rest::bind(api_addr).await?;
            tokio::spawn(coprod::rest::run(listener, router));
        }
    }
    let app = App::with_wasm(storage, min_gas_price, wasm);
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    coprod::server::serve(app, addr, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the app store of a stopped node (the store is locked while coprod
/// runs).
fn open_stopped_store(g: &Global) -> anyhow::Result<copro_store::Storage> {
    let home = g.home();
    let store_file = AppConfig::load(&home)?.store_file(&home);
    if !store_file.exists() {
        bail!(
            "no app state at {} (is --home right?)",
            store_file.display()
        );
    }
    copro_store::Storage::open(&store_file).with_context(|| {
        format!(
            "cannot open the store {}: stop coprod first",
            store_file.display()
        )
    })
}

/// `coprod export`.
fn export(
    g: &Global,
    registry: &Registry,
    height: Option<u64>,
    chain_id: Option<&str>,
    output_document: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let storage = open_stopped_store(g)?;
    let (height, app_state) = coprod::export::app_state_at(&storage, registry, height)?;
    let path = genesis_path(&g.home());
    let genesis: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let doc = coprod::export::genesis_doc(&genesis, app_state, chain_id)?;
    let text = serde_json::to_string_pretty(&doc)?;
    match output_document {
        None => println!("{text}"),
        Some(file) => {
            std::fs::write(file, text + "\n")
                .with_context(|| format!("cannot write {}", file.display()))?;
            print(
                g.output(),
                &json!({"height": height, "chain_id": doc["chain_id"], "file": file}),
                || {
                    format!(
                        "exported the state at height {height} to {}",
                        file.display()
                    )
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `coprod rollback`: the store is opened first (it is locked while coprod
/// runs), then CometBFT rolls back (it refuses while CometBFT runs), then
/// the app state goes back to CometBFT's new height. Were this cut short
/// after CometBFT's rollback, the app would be one block ahead, which
/// CometBFT's start-up handshake repairs as after a crash.
fn rollback(g: &Global, hard: bool) -> anyhow::Result<ExitCode> {
    let home = g.home();
    let storage = open_stopped_store(g)?;
    let app_height = storage
        .latest_version()?
        .context("the app state has no committed height: nothing to roll back")?;
    let bin = cometbft_bin()?;
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("rollback").arg("--home").arg(&home);
    if hard {
        cmd.arg("--hard");
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        bail!(
            "`cometbft rollback --home {}` failed (stop CometBFT first); nothing was rolled back: {}{}",
            home.display(),
            said,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let height = cometbft_rollback_height(&said).with_context(|| {
        format!(
            "CometBFT rolled back but said '{said}'; the app state is still at height {app_height}: \
             start the node and it will replay"
        )
    })?;
    let mut latest = app_height;
    while latest > height {
        latest = storage
            .rollback()
            .with_context(|| format!("cannot roll the app state back from height {latest}"))?;
    }
    let app_hash = storage
        .root_hash(latest)?
        .map(hex::encode_upper)
        .unwrap_or_default();
    print(
        g.output(),
        &json!({"height": latest, "app_hash": app_hash, "cometbft": said}),
        || format!("rolled back to height {latest}, app hash {app_hash}\nCometBFT: {said}"),
    );
    Ok(ExitCode::SUCCESS)
}

/// The height in CometBFT's "Rolled back state to height H and hash X".
fn cometbft_rollback_height(said: &str) -> Option<u64> {
    said.split("height ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn key_text(k: &KeyInfo) -> String {
    let mut s = format!(
        "- name: {}\n  address: {}\n  pubkey: '{}'",
        k.name, k.address, k.pubkey
    );
    if let Some(m) = &k.mnemonic {
        s.push_str(&format!(
            "\n\n**Important** write this mnemonic phrase in a safe place.\n\
             It is the only way to recover your account if you ever forget your password.\n\n{m}"
        ));
    }
    s
}

fn keys(g: &Global, cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let kr = g.keyring();
    match cmd {
        KeysCmd::Add {
            name,
            recover,
            words,
        } => {
            let info = if recover {
                eprintln!("> Enter your bip39 mnemonic");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                kr.recover(&name, &line)?
            } else {
                kr.generate(&name, words)?
            };
            eprintln!(
                "note: keyring-backend test: the key is stored UNENCRYPTED in {}",
                kr.dir().display()
            );
            print(g.output(), &serde_json::to_value(&info)?, || {
                key_text(&info)
            });
        }
        KeysCmd::List => {
            let keys: Vec<KeyInfo> = kr.list()?.iter().map(KeyInfo::from).collect();
            print(g.output(), &serde_json::to_value(&keys)?, || {
                keys.iter().map(key_text).collect::<Vec<_>>().join("\n")
            });
        }
        KeysCmd::Show { name, address_only } => {
            let info = KeyInfo::from(&kr.resolve(&name)?);
            if address_only {
                println!("{}", info.address);
            } else {
                print(g.output(), &serde_json::to_value(&info)?, || {
                    key_text(&info)
                });
            }
        }
        KeysCmd::Delete { name, yes } => {
            kr.get(&name)?;
            if !yes {
                eprint!("Key reference will be deleted. Continue? [y/N]: ");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    bail!("key '{name}' not deleted (answer y, or pass -y)");
                }
            }
            let deleted = KeyInfo::from(&kr.delete(&name)?);
            print(
                g.output(),
                &json!({"deleted": deleted.name, "address": deleted.address}),
                || {
                    format!(
                        "Key deleted forever (uh oh!): {} ({})",
                        deleted.name, deleted.address
                    )
                },
            );
        }
        KeysCmd::SpendingKey { name } => {
            let key = kr.resolve(&name)?;
            let public = hex::encode(key.spending_key()?.public_key().to_bytes());
            print(
                g.output(),
                &json!({"name": key.name, "address": key.address, "spending_key": public}),
                || {
                    format!(
                        "ledger spending key of {} ({}): {public}\nbind it to the ledger account \
                         with: coprod tx copro set-ledger-key {} {public}",
                        key.name, key.address, key.name
                    )
                },
            );
        }
        KeysCmd::Export { name } => {
            eprintln!("note: the export holds the private key UNENCRYPTED; keep it secret");
            println!("{}", serde_json::to_string_pretty(&kr.export(&name)?)?);
        }
        KeysCmd::Import { name, file } => {
            let info = kr.import(&name, &read_input(&file)?)?;
            print(g.output(), &serde_json::to_value(&info)?, || {
                key_text(&info)
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The contents of `path`, or of stdin for "-".
async fn ledger(g: &Global, cmd: LedgerCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCmd::Transfer {
            from,
            to,
            amount,
            prover,
            nonce,
            chain_id,
        } => {
            let chain_id = g.chain_id(chain_id).await?;
            let posted = coprod::ledger_cli::transfer(
                &g.keyring(),
                &g.client()?,
                &chain_id,
                &prover,
                coprod::ledger_cli::Order {
                    from: &from,
                    to: &to,
                    amount,
                    nonce,
                },
            )
            .await?;
            let id = posted.record.get("id").cloned().unwrap_or(Value::Null);
            print(g.output(), &posted.record, || {
                format!(
                    "transfer {id} accepted by the prover (nonce {}); follow it with: coprod ledger transfer-status {id} --prover {prover}",
                    posted.request.nonce
                )
            });
        }
        LedgerCmd::TransferStatus { id, prover } => {
            let record = coprod::ledger_cli::status(&prover, id).await?;
            print(g.output(), &record, || {
                let field = |k: &str| {
                    record
                        .get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .unwrap_or_default()
                };
                match field("state").as_str() {
                    "committed" => format!(
                        "transfer {id}: committed at height {} in tx {}",
                        field("height"),
                        field("tx_hash")
                    ),
                    "dropped" => format!("transfer {id}: dropped: {}", field("reason")),
                    s => format!("transfer {id}: {s}"),
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("cannot read stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `coprod tx <command> ...`: `sign`, `broadcast` and `decode` are coprod's
/// own; otherwise the module that brings `<command>` turns the arguments
/// into messages, which are signed with the [`TxFlags`] and broadcast (or
/// printed unsigned with `--generate-only`).
async fn tx(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (command, module_matches) = matches.subcommand().context("give a tx subcommand")?;
    match command {
        "sign" => return tx_sign(registry, module_matches).await,
        "broadcast" => return tx_broadcast(module_matches).await,
        "decode" => return tx_decode(module_matches),
        _ => {}
    }
    let module = registry
        .tx_module(command)
        .with_context(|| format!("no module brings `coprod tx {command}`"))?;
    let leaf = leaf(module_matches);
    let g = Global::from_matches(leaf)?;
    let flags = TxFlags::from_arg_matches(leaf)?;
    let keyring = g.keyring();
    let plan = module.tx(module_matches, &keyring)?;
    if let Some(from) = &flags.from_key {
        let address = copro_module::Keys::address(&keyring, from)?;
        if address != plan.signer {
            bail!(
                "--from {from} is {address}, but this command's sender is {}: drop --from or name the same key",
                plan.signer
            );
        }
    }
    sign_and_broadcast(&g, &keyring, plan, flags).await
}

async fn sign_and_broadcast(
    g: &Global,
    keyring: &Keyring,
    plan: TxPlan,
    a: TxFlags,
) -> anyhow::Result<ExitCode> {
    let TxPlan { signer: from, msgs } = plan;
    let fee = Coins::parse(&a.fees).map_err(|e| anyhow::anyhow!(e.log))?;
    let mut tx = Tx::unsigned(msgs, &a.note, &fee, 0);
    if let (true, Gas::Limit(gas)) = (a.generate_only, a.gas) {
        // Nothing to ask the node: the signer's numbers come at `tx sign`.
        tx.set_gas_limit(gas);
        println!("{}", serde_json::to_string_pretty(&tx.to_json())?);
        return Ok(ExitCode::SUCCESS);
    }
    let signing_key = keyring.resolve(from.as_str())?.signing_key()?;
    let client = g.client()?;
    let chain_id = g.chain_id(a.chain_id).await?;
    let (account_number, sequence) =
        account_numbers(&client, &from, a.account_number, a.sequence).await?;
    let gas = match a.gas {
        Gas::Limit(gas) => gas,
        Gas::Auto => {
            let mut trial = tx.clone();
            trial.sign(&signing_key, &chain_id, account_number, sequence)?;
            let gas = estimate_gas(&client, trial, a.gas_adjustment).await?;
            eprintln!("gas estimate: {gas}");
            gas
        }
    };
    tx.set_gas_limit(gas);
    if a.generate_only {
        println!("{}", serde_json::to_string_pretty(&tx.to_json())?);
        return Ok(ExitCode::SUCCESS);
    }
    tx.sign(&signing_key, &chain_id, account_number, sequence)?;
    let wait = a.wait.then(|| Duration::from_secs(a.wait_timeout));
    broadcast_and_print(g, &client, tx.to_raw(), wait).await
}

/// The signer's account number and sequence: the given ones, the rest
/// queried.
async fn account_numbers(
    client: &tendermint_rpc::HttpClient,
    from: &Address,
    number: Option<u64>,
    sequence: Option<u64>,
) -> anyhow::Result<(u64, u64)> {
    if let (Some(n), Some(s)) = (number, sequence) {
        return Ok((n, s));
    }
    let account = client::query_account(client, from.as_str())
        .await?
        .with_context(|| format!("account {from} does not exist on chain; fund it first"))?;
    Ok((
        number.unwrap_or(account.account_number),
        sequence.unwrap_or(account.sequence),
    ))
}

/// `--gas auto`: simulates `trial` (signed, with any gas limit) with the
/// highest gas limit the chain accepts, so the real tx, whose limit takes
/// no more bytes, needs no more gas; returns the gas used × `adjustment`.
async fn estimate_gas(
    client: &tendermint_rpc::HttpClient,
    mut trial: Tx,
    adjustment: f64,
) -> anyhow::Result<u64> {
    use prost::Message;
    if !(adjustment.is_finite() && adjustment > 0.0) {
        bail!("--gas-adjustment must be a positive number, e.g. 1.3");
    }
    trial.set_gas_limit(tx::MAX_GAS_LIMIT);
    let request = cosmrs::proto::cosmos::tx::v1beta1::SimulateRequest {
        tx_bytes: trial.to_raw(),
        ..Default::default()
    };
    let resp = client::abci_query(
        client,
        query::SIMULATE_PATH,
        request.encode_to_vec(),
        0,
        false,
    )
    .await
    .context("--gas auto: the simulation failed; fix the tx, or give --gas N")?;
    let used = cosmrs::proto::cosmos::tx::v1beta1::SimulateResponse::decode(resp.value.as_slice())
        .context("--gas auto: the node's simulation answer does not decode")?
        .gas_info
        .context("--gas auto: the node's simulation answer has no gas info")?
        .gas_used;
    // Client-side arithmetic on a small integer: f64 is exact enough.
    Ok((used as f64 * adjustment).ceil() as u64)
}

async fn broadcast_and_print(
    g: &Global,
    client: &tendermint_rpc::HttpClient,
    tx_bytes: Vec<u8>,
    wait: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let result = client::broadcast(client, tx_bytes, wait).await?;
    print(g.output(), &serde_json::to_value(&result)?, || {
        let mut s = format!("txhash: {}\ncode: {}", result.txhash, result.code);
        if let Some(h) = result.height {
            s.push_str(&format!("\nheight: {h}"));
        }
        if !result.log.is_empty() {
            s.push_str(&format!("\nlog: {}", result.log));
        }
        s
    });
    Ok(if result.code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads a tx JSON file, naming the file and the command that makes one.
fn read_tx_file(path: &Path, made_by: &str) -> anyhow::Result<Tx> {
    let doc: Value = serde_json::from_str(&read_input(path)?).with_context(|| {
        format!(
            "{} is not JSON: give the file {made_by} printed",
            path.display()
        )
    })?;
    Tx::from_json(&doc).with_context(|| format!("{} is not a tx", path.display()))
}

/// `coprod tx sign FILE --from KEY`: signs an unsigned tx file as the one
/// signer its messages name, and prints the signed tx JSON.
async fn tx_sign(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let g = Global::from_matches(matches)?;
    let a = SignArgs::from_arg_matches(matches)?;
    let mut tx = read_tx_file(&a.file, "`coprod tx ... --generate-only`")?;
    let key = g.keyring().resolve(&a.from)?;
    let from = Address::parse(&key.address).map_err(|e| anyhow::anyhow!(e.log))?;
    for (i, any) in tx.body.messages.iter().enumerate() {
        let msg = registry
            .decode(&any.type_url, &any.value)
            .map_err(|e| anyhow::anyhow!("message {i} of {}: {}", a.file.display(), e.log))?;
        if let Some(other) = msg.msg.signers().iter().find(|s| **s != from) {
            bail!(
                "message {i} must be signed by {other}, but --from {} is {from}: sign with that key",
                a.from
            );
        }
    }
    if tx.body.messages.is_empty() {
        bail!("{} has no messages: nothing to sign", a.file.display());
    }
    let client = g.client()?;
    let chain_id = g.chain_id(a.chain_id).await?;
    let (number, sequence) = account_numbers(&client, &from, a.account_number, a.sequence).await?;
    tx.sign(&key.signing_key()?, &chain_id, number, sequence)?;
    println!("{}", serde_json::to_string_pretty(&tx.to_json())?);
    Ok(ExitCode::SUCCESS)
}

/// `coprod tx broadcast FILE`.
async fn tx_broadcast(matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let g = Global::from_matches(matches)?;
    let a = BroadcastArgs::from_arg_matches(matches)?;
    let tx = read_tx_file(&a.file, "`coprod tx sign`")?;
    if tx.signatures.is_empty() {
        bail!(
            "{} is not signed: sign it with `coprod tx sign {} --from KEY`",
            a.file.display(),
            a.file.display()
        );
    }
    let wait = a.wait.then(|| Duration::from_secs(a.wait_timeout));
    broadcast_and_print(&g, &g.client()?, tx.to_raw(), wait).await
}

/// `coprod tx decode BASE64`.
fn tx_decode(matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    use base64::Engine as _;
    let a = DecodeArgs::from_arg_matches(matches)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a.base64_tx.trim())
        .context("the tx is not base64: give the bytes as CometBFT shows them")?;
    let tx = Tx::from_raw(&bytes)?;
    println!("{}", serde_json::to_string_pretty(&tx.to_json())?);
    Ok(ExitCode::SUCCESS)
}

/// `coprod query tx HASH`.
async fn query_tx(
    g: &Global,
    client: &tendermint_rpc::HttpClient,
    hash: &str,
) -> anyhow::Result<ExitCode> {
    let bytes: [u8; 32] = hex::decode(hash.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!("'{hash}' is not a tx hash: give the 64 hex digits a broadcast printed")
        })?;
    let found = client
        .tx(tendermint::Hash::Sha256(bytes), false)
        .await
        .with_context(|| {
            format!(
                "tx {} not found on {}: is it in a block yet, and is this the node it was sent to?",
                hex::encode_upper(bytes),
                g.node()
            )
        })?;
    let r = &found.tx_result;
    let events: Vec<Value> = r
        .events
        .iter()
        .map(|e| {
            let attributes: Vec<Value> = e
                .attributes
                .iter()
                .map(|a| {
                    json!({
                        "key": String::from_utf8_lossy(a.key_bytes()),
                        "value": String::from_utf8_lossy(a.value_bytes()),
                    })
                })
                .collect();
            json!({"type": e.kind, "attributes": attributes})
        })
        .collect();
    let decoded = Tx::from_raw(&found.tx).map(|t| t.to_json()).ok();
    let out = json!({
        "txhash": found.hash.to_string(),
        "height": found.height.value(),
        "index": found.index,
        "code": r.code.value(),
        "codespace": r.codespace,
        "log": r.log,
        "gas_wanted": r.gas_wanted.to_string(),
        "gas_used": r.gas_used.to_string(),
        "events": events,
        "tx": decoded,
    });
    print(g.output(), &out, || {
        let types: Vec<&str> = out["tx"]["body"]["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["@type"].as_str()).collect())
            .unwrap_or_default();
        format!(
            "txhash: {}\nheight: {}\ncode: {}\ngas: {} used of {}\nmessages: {}\nlog: {}",
            found.hash,
            found.height,
            r.code.value(),
            r.gas_used,
            r.gas_wanted,
            types.join(", "),
            r.log
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// `coprod query block [HEIGHT]`.
async fn query_block(
    g: &Global,
    client: &tendermint_rpc::HttpClient,
    height: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let resp = match height {
        Some(h) => {
            let h = tendermint::block::Height::try_from(h)
                .with_context(|| format!("height {h} is out of range"))?;
            client.block(h).await.with_context(|| {
                format!(
                    "block {h} is not on {}: give a height it has (see `coprod status`)",
                    g.node()
                )
            })?
        }
        None => client
            .latest_block()
            .await
            .with_context(|| format!("cannot reach {}", g.node()))?,
    };
    let header = &resp.block.header;
    let txs: Vec<String> = resp
        .block
        .data
        .iter()
        .map(|t| {
            use sha2::Digest;
            hex::encode_upper(sha2::Sha256::digest(t))
        })
        .collect();
    let out = json!({
        "height": header.height.value(),
        "hash": resp.block_id.hash.to_string(),
        "chain_id": header.chain_id.to_string(),
        "time": header.time.to_rfc3339(),
        "proposer": header.proposer_address.to_string(),
        "app_hash": header.app_hash.to_string(),
        "num_txs": txs.len(),
        "txs": txs,
    });
    print(g.output(), &out, || {
        let mut s = format!(
            "height: {}\nhash: {}\ntime: {}\nproposer: {}\napp hash: {}\ntxs: {}",
            header.height,
            resp.block_id.hash,
            header.time.to_rfc3339(),
            header.proposer_address,
            header.app_hash,
            txs.len()
        );
        for t in &txs {
            s.push_str(&format!("\n  {t}"));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// `coprod query <command> ...`: `store` is coprod's own; any other command
/// belongs to a module, which builds the query and renders the answer.
async fn query(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (command, sub) = matches.subcommand().context("give a query subcommand")?;
    let g = Global::from_matches(leaf(sub))?;
    let client = g.client()?;
    match command {
        "store" => {
            let a = StoreArgs::from_arg_matches(sub)?;
            return query_store(&g, &client, &a.key_hex, a.prove, a.height).await;
        }
        "tx" => return query_tx(&g, &client, &TxQueryArgs::from_arg_matches(sub)?.hash).await,
        "block" => return query_block(&g, &client, BlockArgs::from_arg_matches(sub)?.height).await,
        _ => {}
    }
    let module = registry
        .query_module(command)
        .with_context(|| format!("no module brings `coprod query {command}`"))?;
    let plan = module.query_plan(sub)?;
    let value = client::abci_query_optional(&client, &plan.path, plan.data, plan.height).await?;
    let Rendered {
        mut json,
        mut text,
        proof,
    } = (plan.render)(value.as_deref())?;
    let mut ok = true;
    if let Some(proven) = proof {
        let (verified, detail, app_hash) = verify_proven_value(&client, &proven).await;
        ok = verified;
        if let Value::Object(map) = &mut json {
            map.insert("proof_verified".into(), json!(verified));
            map.insert("verification".into(), json!(detail));
            map.insert("app_hash".into(), json!(app_hash));
        }
        text.push_str(&format!("\nproof: {detail}"));
    }
    print(g.output(), &json, || text);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn query_store(
    g: &Global,
    client: &tendermint_rpc::HttpClient,
    key_hex: &str,
    prove: bool,
    height: u64,
) -> anyhow::Result<ExitCode> {
    let key = hex::decode(key_hex.trim_start_matches("0x")).context("KEY_HEX is not hex")?;
    let resp =
        client::abci_query(client, query::STORE_KEY_PATH, key.clone(), height, prove).await?;
    let h = resp.height.value();
    let exists = !resp.value.is_empty();
    let mut out = json!({
        "key": hex::encode(&key),
        "value": hex::encode(&resp.value),
        "exists": exists,
        "height": h,
    });
    let mut text = format!(
        "height: {h}\nkey: {}\nvalue: {}",
        hex::encode(&key),
        if exists {
            hex::encode(&resp.value)
        } else {
            "(absent)".into()
        }
    );
    let mut ok = true;
    if prove {
        let (verified, detail, app_hash) = verify_store_proof(client, &resp, &key, h).await;
        ok = verified;
        out["proof_verified"] = json!(verified);
        out["verification"] = json!(detail);
        out["app_hash"] = json!(app_hash);
        text.push_str(&format!("\nproof: {detail}"));
    }
    print(g.output(), &out, || text);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Verifies a module's proven answer: its `MerkleProof` must hold exactly
/// one ICS-23 proof (the store is one tree whose root is the app hash).
async fn verify_proven_value(
    client: &tendermint_rpc::HttpClient,
    proven: &copro_module::ProvenValue,
) -> (bool, String, String) {
    use prost::Message;
    let proofs =
        ibc_proto::ibc::core::commitment::v1::MerkleProof::decode(proven.merkle_proof.as_slice())
            .map(|p| p.proofs)
            .unwrap_or_default();
    let Ok([proof]) = <[ics23::CommitmentProof; 1]>::try_from(proofs) else {
        return (
            false,
            "NOT verified: the node returned no proof, or not exactly one".into(),
            String::new(),
        );
    };
    verify_commitment(
        client,
        &proof,
        &proven.key,
        proven.value.as_deref(),
        proven.height,
    )
    .await
}

/// Verifies a `/store/key` proof against the app hash in the header of block
/// `height + 1` (waiting a few seconds for that block if needed).
async fn verify_store_proof(
    client: &tendermint_rpc::HttpClient,
    resp: &tendermint_rpc::endpoint::abci_query::AbciQuery,
    key: &[u8],
    height: u64,
) -> (bool, String, String) {
    use prost::Message;
    let Some(op) = resp.proof.as_ref().and_then(|p| p.ops.first()) else {
        return (
            false,
            "NOT verified: the node returned no proof".into(),
            String::new(),
        );
    };
    if op.field_type != query::PROOF_OP_TYPE {
        return (
            false,
            format!("NOT verified: unknown proof type {}", op.field_type),
            String::new(),
        );
    }
    let Ok(proof) = ics23::CommitmentProof::decode(op.data.as_slice()) else {
        return (
            false,
            "NOT verified: undecodable proof".into(),
            String::new(),
        );
    };
    let value = (!resp.value.is_empty()).then_some(resp.value.as_slice());
    verify_commitment(client, &proof, key, value, height).await
}

/// Checks that `proof` proves `key → value` (or, with `None`, that `key` is
/// absent) under the app hash in the header of block `height + 1`. Returns
/// the verdict, a sentence saying it, and the app hash used (hex).
async fn verify_commitment(
    client: &tendermint_rpc::HttpClient,
    proof: &ics23::CommitmentProof,
    key: &[u8],
    value: Option<&[u8]>,
    height: u64,
) -> (bool, String, String) {
    let mut header = None;
    for _ in 0..20 {
        if let Ok(c) = client
            .commit(tendermint::block::Height::try_from(height + 1).unwrap_or_default())
            .await
        {
            header = Some(c.signed_header.header);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let Some(header) = header else {
        return (
            false,
            format!(
                "NOT verified: block {} (whose header holds the app hash of height {height}) is not available",
                height + 1
            ),
            String::new(),
        );
    };
    let root = header.app_hash.as_bytes().to_vec();
    let app_hash = hex::encode_upper(&root);
    let spec = copro_store::proof_spec();
    let verified = match value {
        None => {
            ics23::verify_non_membership::<ics23::HostFunctionsManager>(proof, &spec, &root, key)
        }
        Some(value) => {
            ics23::verify_membership::<ics23::HostFunctionsManager>(proof, &spec, &root, key, value)
        }
    };
    let what = if value.is_none() {
        "non-existence"
    } else {
        "existence"
    };
    if verified {
        (
            true,
            format!(
                "{what} proof verified against app hash {app_hash} of header {}",
                height + 1
            ),
            app_hash,
        )
    } else {
        (
            false,
            format!(
                "{what} proof does NOT verify against app hash {app_hash} of header {}",
                height + 1
            ),
            app_hash,
        )
    }
}

async fn status(g: &Global) -> anyhow::Result<ExitCode> {
    let client = g.client()?;
    let s = client
        .status()
        .await
        .with_context(|| format!("cannot reach {}", g.node()))?;
    let height = s.sync_info.latest_block_height.value();
    let app_hash = s.sync_info.latest_app_hash.to_string();
    let chain_id = s.node_info.network.to_string();
    print(
        g.output(),
        &json!({
            "chain_id": chain_id,
            "height": height,
            "app_hash": app_hash,
            "catching_up": s.sync_info.catching_up,
            "moniker": s.node_info.moniker.to_string(),
        }),
        || format!("chain-id: {chain_id}\nheight: {height}\napp hash: {app_hash}"),
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(args: &[&str]) -> Result<ArgMatches, clap::Error> {
        cli(&coprod::modules::registry())
            .try_get_matches_from(std::iter::once("coprod").chain(args.iter().copied()))
    }

    /// The subcommand path of `args` and the innermost matches.
    fn parse(args: &[&str]) -> (Vec<String>, ArgMatches) {
        let matches = try_parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let mut names = Vec::new();
        let mut m = &matches;
        while let Some((name, sub)) = m.subcommand() {
            names.push(name.to_string());
            m = sub;
        }
        (names, m.clone())
    }

    #[test]
    fn the_command_line_is_well_formed() {
        cli(&coprod::modules::registry()).debug_assert();
    }

    #[test]
    fn tx_bank_send_keeps_its_arguments_and_flags() {
        // As `localnet demo` runs it.
        let (names, leaf) = parse(&[
            "tx",
            "bank",
            "send",
            "alice",
            "copro1bob",
            "1000ucopro",
            "--keyring-dir",
            "/k",
            "--node",
            "http://n:26657",
            "--chain-id",
            "c-1",
            "--wait",
        ]);
        assert_eq!(names, ["tx", "bank", "send"]);
        assert_eq!(leaf.get_one::<String>("from").unwrap(), "alice");
        assert_eq!(leaf.get_one::<String>("to").unwrap(), "copro1bob");
        assert_eq!(leaf.get_one::<String>("amount").unwrap(), "1000ucopro");
        let flags = TxFlags::from_arg_matches(&leaf).unwrap();
        assert_eq!(flags.fees, "5000ucopro");
        assert_eq!(flags.gas, Gas::Limit(200_000));
        assert_eq!(flags.gas_adjustment, 1.0);
        assert!(!flags.generate_only && !flags.yes && flags.from_key.is_none());
        assert_eq!(flags.note, "");
        assert_eq!(flags.chain_id.as_deref(), Some("c-1"));
        assert!(flags.wait);
        assert_eq!(flags.wait_timeout, 30);
        let g = Global::from_arg_matches(&leaf).unwrap();
        assert_eq!(g.node.as_deref(), Some("http://n:26657"));
        assert_eq!(g.keyring_dir, Some(PathBuf::from("/k")));

        // Global flags before the subcommand; every tx flag; --memo.
        let (_, leaf) = parse(&[
            "--node",
            "http://m:1",
            "-o",
            "json",
            "tx",
            "bank",
            "send",
            "a",
            "b",
            "1ucopro",
            "--fees",
            "7ucopro",
            "--gas",
            "9",
            "--memo",
            "hi",
            "--sequence",
            "3",
            "--account-number",
            "4",
            "--wait-timeout",
            "5",
        ]);
        let flags = TxFlags::from_arg_matches(&leaf).unwrap();
        assert_eq!(
            (flags.fees.as_str(), flags.gas, flags.note.as_str()),
            ("7ucopro", Gas::Limit(9), "hi")
        );
        assert_eq!((flags.sequence, flags.account_number), (Some(3), Some(4)));
        assert_eq!(flags.wait_timeout, 5);
        let g = Global::from_arg_matches(&leaf).unwrap();
        assert_eq!(g.node.as_deref(), Some("http://m:1"));
        assert_eq!(g.output, Some(Output::Json));
        let (_, leaf) = parse(&["tx", "bank", "send", "a", "b", "1ucopro", "--note", "n"]);
        assert_eq!(TxFlags::from_arg_matches(&leaf).unwrap().note, "n");
    }

    #[test]
    fn queries_keep_their_names_and_flags() {
        let (names, leaf) = parse(&["query", "bank", "balance", "copro1x", "--node", "n"]);
        assert_eq!(names, ["query", "bank", "balance"]);
        assert_eq!(leaf.get_one::<String>("denom").unwrap(), "ucopro");
        let (names, leaf) = parse(&["q", "bank", "balances", "copro1x", "-o", "json"]);
        assert_eq!(names, ["query", "bank", "balances"]);
        assert_eq!(
            Global::from_arg_matches(&leaf).unwrap().output,
            Some(Output::Json)
        );
        let (names, leaf) = parse(&["query", "account", "copro1x"]);
        assert_eq!(names, ["query", "account"]);
        assert_eq!(leaf.get_one::<String>("address").unwrap(), "copro1x");
        let (names, leaf) = parse(&["query", "store", "ab01", "--prove", "--height", "3"]);
        assert_eq!(names, ["query", "store"]);
        let store = StoreArgs::from_arg_matches(&leaf).unwrap();
        assert_eq!(
            (store.key_hex.as_str(), store.prove, store.height),
            ("ab01", true, 3)
        );
    }

    #[test]
    fn the_other_commands_still_parse_as_before() {
        let m = try_parse(&[
            "keys",
            "add",
            "alice",
            "--output",
            "json",
            "--keyring-dir",
            "/k",
        ])
        .unwrap();
        let parsed = Cli::from_arg_matches(&m).unwrap();
        assert!(
            matches!(parsed.cmd, Cmd::Keys(KeysCmd::Add { ref name, recover: false, words: 24 }) if name == "alice")
        );
        assert_eq!(parsed.global.output, Some(Output::Json));
        let m = try_parse(&["genesis", "add-account", "alice", "1ucopro", "--home", "/h"]).unwrap();
        assert!(matches!(
            Cli::from_arg_matches(&m).unwrap().cmd,
            Cmd::Genesis(GenesisCmd::AddAccount { .. })
        ));
        for bad in [
            &["tx"][..],
            &["tx", "bank"],
            &["query", "bank", "nope"],
            &["tx", "staking"],
        ] {
            assert!(try_parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_cosmos_tx_flags_parse_and_bad_gas_is_refused() {
        let args = "tx bank send alice copro1bob 1ucopro --from alice -y --gas auto --gas-adjustment 1.5 --generate-only";
        let (_, leaf) = parse(&args.split(' ').collect::<Vec<_>>());
        let flags = TxFlags::from_arg_matches(&leaf).unwrap();
        assert_eq!(flags.gas, Gas::Auto);
        assert_eq!(flags.gas_adjustment, 1.5);
        assert_eq!(flags.from_key.as_deref(), Some("alice"));
        assert!(flags.yes && flags.generate_only);
        // The positional sender keeps its own id.
        assert_eq!(leaf.get_one::<String>("from").unwrap(), "alice");
        let e = try_parse(&["tx", "bank", "send", "a", "b", "1ucopro", "--gas", "lots"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'lots' is neither a gas limit"), "{e}");
        assert_eq!(parse_gas("auto"), Ok(Gas::Auto));
        assert_eq!(parse_gas("12"), Ok(Gas::Limit(12)));
        assert!(parse_gas("-1").is_err());
    }

    #[test]
    fn the_new_daemon_commands_parse() {
        let (names, leaf) = parse(&["tx", "sign", "unsigned.json", "--from", "alice"]);
        assert_eq!(names, ["tx", "sign"]);
        let a = SignArgs::from_arg_matches(&leaf).unwrap();
        assert_eq!(
            (a.file, a.from),
            (PathBuf::from("unsigned.json"), "alice".into())
        );
        assert!(
            try_parse(&["tx", "sign", "unsigned.json"]).is_err(),
            "--from is required"
        );
        let (names, leaf) = parse(&["tx", "broadcast", "signed.json", "--wait"]);
        assert_eq!(names, ["tx", "broadcast"]);
        assert!(BroadcastArgs::from_arg_matches(&leaf).unwrap().wait);
        let (names, _) = parse(&["tx", "decode", "CgQ="]);
        assert_eq!(names, ["tx", "decode"]);
        let (names, leaf) = parse(&["query", "tx", "AB12"]);
        assert_eq!(names, ["query", "tx"]);
        assert_eq!(TxQueryArgs::from_arg_matches(&leaf).unwrap().hash, "AB12");
        let (_, leaf) = parse(&["q", "block"]);
        assert_eq!(BlockArgs::from_arg_matches(&leaf).unwrap().height, None);
        let (_, leaf) = parse(&["q", "block", "7"]);
        assert_eq!(BlockArgs::from_arg_matches(&leaf).unwrap().height, Some(7));
        let (names, _) = parse(&["q", "bank", "total"]);
        assert_eq!(names, ["query", "bank", "total"]);

        let cmd = |args: &[&str]| {
            Cli::from_arg_matches(&try_parse(args).unwrap())
                .unwrap()
                .cmd
        };
        assert!(matches!(cmd(&["version"]), Cmd::Version));
        assert!(matches!(cmd(&["config"]), Cmd::Config { cmd: None }));
        assert!(matches!(
            cmd(&["config", "set", "node", "http://n:1"]),
            Cmd::Config { cmd: Some(ConfigCmd::Set { ref key, ref value }) } if key == "node" && value == "http://n:1"
        ));
        assert!(matches!(
            cmd(&["keys", "add", "k", "--words", "12"]),
            Cmd::Keys(KeysCmd::Add {
                words: 12,
                recover: false,
                ..
            })
        ));
        assert!(try_parse(&["keys", "add", "k", "--words", "12", "--recover"]).is_err());
        assert!(matches!(
            cmd(&["keys", "delete", "k", "-y"]),
            Cmd::Keys(KeysCmd::Delete { yes: true, .. })
        ));
        assert!(matches!(
            cmd(&["keys", "export", "k"]),
            Cmd::Keys(KeysCmd::Export { .. })
        ));
        assert!(matches!(
            cmd(&["keys", "import", "k", "-"]),
            Cmd::Keys(KeysCmd::Import { ref file, .. }) if file == Path::new("-")
        ));
        assert!(matches!(
            cmd(&["keys", "spending-key", "k"]),
            Cmd::Keys(KeysCmd::SpendingKey { ref name }) if name == "k"
        ));
    }

    #[test]
    fn client_toml_fills_what_the_flags_leave_unset() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let mut d = ClientDefaults::default();
        d.set("node", "http://127.0.0.1:1").unwrap();
        d.set("output", "json").unwrap();
        d.set("keyring-dir", "k").unwrap();
        d.set("chain-id", "c-9").unwrap();
        d.save(home.path()).unwrap();
        let global = |args: &[&str]| {
            let (_, leaf) = parse(args);
            Global::from_matches(&leaf).unwrap()
        };
        let g = global(&["status", "--home", h]);
        assert_eq!(g.node(), "http://127.0.0.1:1");
        assert_eq!(g.output(), Output::Json);
        assert_eq!(g.keyring().dir(), home.path().join("k"));
        assert_eq!(g.chain_id.as_deref(), Some("c-9"));
        let g = global(&["status", "--home", h, "--node", "http://x:2", "-o", "text"]);
        assert_eq!((g.node(), g.output()), ("http://x:2".into(), Output::Text));

        std::fs::write(ClientDefaults::path(home.path()), "output = \"yaml\"\n").unwrap();
        let (_, leaf) = parse(&["status", "--home", h]);
        let e = Global::from_matches(&leaf).unwrap_err().to_string();
        assert!(e.contains("coprod config set output json"), "{e}");
    }

    #[test]
    fn version_names_the_crate_app_and_protocol_versions() {
        let v = version_info();
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["app_version"], "1");
        assert_eq!(v["cometbft"], "0.38");
        assert_eq!(v["abci"], "2.0.0");
    }

    #[test]
    fn the_rollback_height_is_read_from_what_cometbft_says() {
        assert_eq!(
            cometbft_rollback_height("Rolled back state to height 41 and hash 6DE8A837"),
            Some(41)
        );
        assert_eq!(
            cometbft_rollback_height("Rolled back both state and block to height 7 and hash AB"),
            Some(7)
        );
        assert_eq!(cometbft_rollback_height("something else"), None);
        assert!(matches!(
            Cli::from_arg_matches(&try_parse(&["rollback", "--hard"]).unwrap())
                .unwrap()
                .cmd,
            Cmd::Rollback { hard: true }
        ));
    }
}
