//! `coprod`: copro's daemon and CLI, in the style of Cosmos SDK daemons.
//!
//! ```text
//! coprod init --home H --chain-id C [--moniker M] [--overwrite]
//! coprod genesis add-account ADDR_OR_KEYNAME COINS --home H [--keyring-dir K]
//! coprod genesis add-program --keys DIR | set-prover ADDR | set-authority ADDR
//! coprod start --home H [--abci-address tcp://127.0.0.1:26658]
//! coprod keys add NAME [--recover] | keys list | keys show NAME [-a]
//! coprod tx bank send FROM TO AMOUNT [--fees 5000ucopro] [--gas 200000] [--wait]
//!        [--note MEMO] [--sequence N] [--account-number N] [--chain-id C]
//! coprod query bank balance ADDR [--denom ucopro] | query bank balances ADDR
//! coprod query account ADDR | query store KEY_HEX [--prove] [--height H]
//! coprod tx copro deposit|transfer|withdraw ... | query copro root|account|queue|... [--prove]
//! coprod status
//! ```
//! Global flags: `--home` (default `~/.coprod`), `--node` (default: app.toml
//! `[client] node`), `--keyring-dir` (default `H/keyring-test`),
//! `--output text|json`.
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
use coprod::config::{AppConfig, parse_tcp_address};
use coprod::keyring::{KeyInfo, Keyring};
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
    /// CometBFT RPC URL (default: app.toml [client] node, else http://127.0.0.1:26657).
    #[arg(long, global = true)]
    node: Option<String>,
    /// Keyring directory (default: HOME/keyring-test; plaintext "test" backend).
    #[arg(long, global = true)]
    keyring_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
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
    /// Manage keys in the keyring.
    #[command(subcommand)]
    Keys(KeysCmd),
    // `tx` and `query` are built from the modules: see `cli`.
    /// Node status: height, app hash, chain-id.
    #[command(display_order = 100)]
    Status,
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
enum KeysCmd {
    /// Create a key (prints its mnemonic once), or recover one from a
    /// mnemonic read from stdin with --recover.
    Add {
        /// Key name.
        name: String,
        /// Read a BIP-39 mnemonic from stdin instead of generating one.
        #[arg(long)]
        recover: bool,
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
    /// Gas limit.
    #[arg(long, default_value_t = 200_000)]
    gas: u64,
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
    let genesis_commands = registry.genesis_commands();
    Cli::command()
        .mut_subcommand("genesis", |genesis| {
            genesis_commands
                .into_iter()
                .fold(genesis, Command::subcommand)
        })
        .subcommand(tx)
        .subcommand(query.subcommand(store))
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
            eprintln!("Error: {e:#}");
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
    let g = cli.global;
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
        Cmd::Keys(cmd) => keys(&g, cmd),
        Cmd::Status => status(&g).await,
    }
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
        g.output,
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
        g.output,
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
    let g = Global::from_arg_matches(leaf(matches))?;
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
    print(g.output, &json, || text);
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
        g.output,
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
    let app = App::new(storage, min_gas_price);
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
        KeysCmd::Add { name, recover } => {
            let mnemonic = if recover {
                eprintln!("> Enter your bip39 mnemonic");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line)
            } else {
                None
            };
            let info = kr.add(&name, mnemonic.as_deref())?;
            eprintln!(
                "note: keyring-backend test: the key is stored UNENCRYPTED in {}",
                kr.dir().display()
            );
            print(g.output, &serde_json::to_value(&info)?, || key_text(&info));
        }
        KeysCmd::List => {
            let keys: Vec<KeyInfo> = kr.list()?.iter().map(KeyInfo::from).collect();
            print(g.output, &serde_json::to_value(&keys)?, || {
                keys.iter().map(key_text).collect::<Vec<_>>().join("\n")
            });
        }
        KeysCmd::Show { name, address_only } => {
            let info = KeyInfo::from(&kr.resolve(&name)?);
            if address_only {
                println!("{}", info.address);
            } else {
                print(g.output, &serde_json::to_value(&info)?, || key_text(&info));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `coprod tx <command> ...`: the module that brings `<command>` turns the
/// arguments into messages; they are signed with the [`TxFlags`] and
/// broadcast.
async fn tx(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (command, module_matches) = matches.subcommand().context("give a tx subcommand")?;
    let module = registry
        .tx_module(command)
        .with_context(|| format!("no module brings `coprod tx {command}`"))?;
    let leaf = leaf(module_matches);
    let g = Global::from_arg_matches(leaf)?;
    let flags = TxFlags::from_arg_matches(leaf)?;
    let keyring = g.keyring();
    let plan = module.tx(module_matches, &keyring)?;
    sign_and_broadcast(&g, &keyring, plan, flags).await
}

async fn sign_and_broadcast(
    g: &Global,
    keyring: &Keyring,
    plan: TxPlan,
    a: TxFlags,
) -> anyhow::Result<ExitCode> {
    let TxPlan { signer: from, msgs } = plan;
    let signing_key = keyring.resolve(from.as_str())?.signing_key()?;
    let fee = Coins::parse(&a.fees).map_err(|e| anyhow::anyhow!(e.log))?;
    let client = g.client()?;
    let chain_id = match a.chain_id.or_else(|| g.config().map(|c| c.chain_id)) {
        Some(c) => c,
        None => client
            .status()
            .await
            .context("cannot reach the node for its chain-id; pass --chain-id")?
            .node_info
            .network
            .to_string(),
    };
    let (account_number, sequence) = match (a.account_number, a.sequence) {
        (Some(n), Some(s)) => (n, s),
        (n, s) => {
            let account = client::query_account(&client, from.as_str())
                .await?
                .with_context(|| {
                    format!("account {from} does not exist on chain; fund it first")
                })?;
            (
                n.unwrap_or(account.account_number),
                s.unwrap_or(account.sequence),
            )
        }
    };
    let tx_bytes = client::sign_tx(
        msgs,
        &client::SignParams {
            key: &signing_key,
            fee: &fee,
            gas: a.gas,
            memo: &a.note,
            chain_id: &chain_id,
            account_number,
            sequence,
        },
    )?;
    let wait = a.wait.then(|| Duration::from_secs(a.wait_timeout));
    let result = client::broadcast(&client, tx_bytes, wait).await?;
    print(g.output, &serde_json::to_value(&result)?, || {
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

/// `coprod query <command> ...`: `store` is coprod's own; any other command
/// belongs to a module, which builds the query and renders the answer.
async fn query(registry: &Registry, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (command, sub) = matches.subcommand().context("give a query subcommand")?;
    let g = Global::from_arg_matches(leaf(sub))?;
    let client = g.client()?;
    if command == "store" {
        let a = StoreArgs::from_arg_matches(sub)?;
        return query_store(&g, &client, &a.key_hex, a.prove, a.height).await;
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
    print(g.output, &json, || text);
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
    print(g.output, &out, || text);
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
        g.output,
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
        assert_eq!(flags.gas, 200_000);
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
            ("7ucopro", 9, "hi")
        );
        assert_eq!((flags.sequence, flags.account_number), (Some(3), Some(4)));
        assert_eq!(flags.wait_timeout, 5);
        let g = Global::from_arg_matches(&leaf).unwrap();
        assert_eq!(g.node.as_deref(), Some("http://m:1"));
        assert_eq!(g.output, Output::Json);
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
            Output::Json
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
            matches!(parsed.cmd, Cmd::Keys(KeysCmd::Add { ref name, recover: false }) if name == "alice")
        );
        assert_eq!(parsed.global.output, Output::Json);
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
}
