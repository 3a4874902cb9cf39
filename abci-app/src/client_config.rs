//! `H/config/client.toml`: the defaults of the client commands (`tx`,
//! `query`, `keys`, `status`), as `coprod config` reads and writes them.
//!
//! ```toml
//! chain-id = "copro-local"
//! keyring-dir = ""            # relative to the home directory unless absolute
//! node = "http://127.0.0.1:26657"
//! output = "text"             # or "json"
//! ```
//!
//! An empty value (or a missing file) means "not set": a flag wins over
//! this file, and this file over app.toml's `chain-id` and `[client] node`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// The keys of `client.toml`, in the order `coprod config` prints them.
pub const KEYS: [&str; 4] = ["chain-id", "keyring-dir", "node", "output"];

/// The whole `client.toml`; empty strings are unset values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClientDefaults {
    /// Chain-id to sign for.
    #[serde(default)]
    pub chain_id: String,
    /// Keyring directory.
    #[serde(default)]
    pub keyring_dir: String,
    /// CometBFT RPC URL.
    #[serde(default)]
    pub node: String,
    /// `text` or `json`.
    #[serde(default)]
    pub output: String,
}

fn unknown_key(key: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "unknown config key '{key}'; the keys are {}",
        KEYS.join(", ")
    )
}

impl ClientDefaults {
    /// `H/config/client.toml`.
    pub fn path(home: &Path) -> PathBuf {
        home.join("config").join("client.toml")
    }

    /// Loads `H/config/client.toml`; a missing file is all defaults.
    pub fn load(home: &Path) -> anyhow::Result<Self> {
        let path = Self::path(home);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| {
                format!(
                    "invalid {}: fix it, or set its keys with `coprod config set KEY VALUE`",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes `H/config/client.toml` (creating `H/config` if needed).
    pub fn save(&self, home: &Path) -> anyhow::Result<()> {
        let path = Self::path(home);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, toml::to_string(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The value of `key` ("" when unset).
    pub fn get(&self, key: &str) -> anyhow::Result<&str> {
        Ok(match key {
            "chain-id" => &self.chain_id,
            "keyring-dir" => &self.keyring_dir,
            "node" => &self.node,
            "output" => &self.output,
            _ => return Err(unknown_key(key)),
        })
    }

    /// Sets `key` to `value` after checking it ("" unsets it).
    pub fn set(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        if !value.is_empty() {
            match key {
                "chain-id" if value.len() > 50 || value.chars().any(char::is_whitespace) => {
                    bail!("chain-id must be 1-50 characters without spaces, e.g. copro-local")
                }
                "node" if !value.starts_with("http://") && !value.starts_with("https://") => {
                    bail!("node must be an http:// or https:// URL, e.g. http://127.0.0.1:26657")
                }
                "node" => {
                    crate::client::connect(value)?;
                }
                "output" if value != "text" && value != "json" => {
                    bail!("output must be text or json, not '{value}'")
                }
                _ => {}
            }
        }
        let slot = match key {
            "chain-id" => &mut self.chain_id,
            "keyring-dir" => &mut self.keyring_dir,
            "node" => &mut self.node,
            "output" => &mut self.output,
            _ => return Err(unknown_key(key)),
        };
        *slot = value.to_string();
        Ok(())
    }

    /// Every key and its value, in [`KEYS`] order.
    pub fn entries(&self) -> [(&'static str, &str); 4] {
        KEYS.map(|k| (k, self.get(k).unwrap_or_default()))
    }

    /// `value` as an option: `None` when unset.
    pub fn some(value: &str) -> Option<String> {
        (!value.is_empty()).then(|| value.to_string())
    }

    /// The keyring directory, resolved against `home` when relative.
    pub fn keyring_dir(&self, home: &Path) -> Option<PathBuf> {
        Self::some(&self.keyring_dir).map(|d| home.join(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_all_unset_and_set_values_round_trip() {
        let home = tempfile::tempdir().unwrap();
        let mut c = ClientDefaults::load(home.path()).unwrap();
        assert_eq!(c, ClientDefaults::default());
        c.set("node", "http://127.0.0.1:38001").unwrap();
        c.set("chain-id", "copro-e2e").unwrap();
        c.set("output", "json").unwrap();
        c.set("keyring-dir", "keys").unwrap();
        c.save(home.path()).unwrap();
        let back = ClientDefaults::load(home.path()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.get("node").unwrap(), "http://127.0.0.1:38001");
        assert_eq!(
            back.entries(),
            [
                ("chain-id", "copro-e2e"),
                ("keyring-dir", "keys"),
                ("node", "http://127.0.0.1:38001"),
                ("output", "json")
            ]
        );
        assert_eq!(
            back.keyring_dir(home.path()),
            Some(home.path().join("keys"))
        );
        let mut c = back;
        c.set("keyring-dir", "/abs").unwrap();
        assert_eq!(c.keyring_dir(home.path()), Some(PathBuf::from("/abs")));
        c.set("node", "").unwrap();
        assert_eq!(c.get("node").unwrap(), "");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_what_to_give() {
        let mut c = ClientDefaults::default();
        let e = c.set("nodes", "x").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown config key 'nodes'; the keys are chain-id, keyring-dir, node, output"
        );
        assert!(c.get("gas").is_err());
        let e = c.set("output", "yaml").unwrap_err().to_string();
        assert_eq!(e, "output must be text or json, not 'yaml'");
        let e = c.set("node", "127.0.0.1:26657").unwrap_err().to_string();
        assert!(
            e.starts_with("node must be an http:// or https:// URL"),
            "{e}"
        );
        assert!(c.set("chain-id", "a b").is_err());
        assert_eq!(c, ClientDefaults::default(), "nothing changed");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_the_file() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("config")).unwrap();
        std::fs::write(
            ClientDefaults::path(home.path()),
            "broadcast-mode = \"sync\"\n",
        )
        .unwrap();
        let e = format!("{:#}", ClientDefaults::load(home.path()).unwrap_err());
        assert!(e.contains("client.toml"), "{e}");
    }
}
