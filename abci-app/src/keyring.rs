//! A plaintext "test" keyring: one JSON file per key in a directory
//! (default `H/keyring-test`). Private keys and mnemonics are stored
//! UNENCRYPTED — for local networks and tests only.
//!
//! Keys are secp256k1, derived from a 24-word BIP-39 mnemonic (12-word
//! phrases are not supported by the `bip32` crate) along the
//! Cosmos path `m/44'/118'/0'/0/0`, so the same mnemonic gives the same
//! address in other Cosmos wallets (with the `copro` prefix).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use bip32::{Language, Mnemonic, XPrv};
use copro_auth::{Address, address_from_pubkey};
use cosmrs::crypto::secp256k1::SigningKey;
use serde::{Deserialize, Serialize};

/// HD path of Cosmos keys.
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// One stored key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Key name.
    pub name: String,
    /// Bech32 address.
    pub address: String,
    /// Public key, Cosmos JSON (`{"@type":...,"key":base64}`).
    pub pubkey: String,
    /// Private key scalar, hex (plaintext!).
    pub private_key: String,
    /// The mnemonic (plaintext!).
    pub mnemonic: String,
}

/// What `keys add/show/list` print.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key name.
    pub name: String,
    /// Bech32 address.
    pub address: String,
    /// Public key, Cosmos JSON.
    pub pubkey: String,
    /// Mnemonic, only right after `keys add` without `--recover`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mnemonic: Option<String>,
}

impl From<&KeyFile> for KeyInfo {
    fn from(k: &KeyFile) -> Self {
        Self {
            name: k.name.clone(),
            address: k.address.clone(),
            pubkey: k.pubkey.clone(),
            mnemonic: None,
        }
    }
}

impl KeyFile {
    /// The signing key.
    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let bytes = hex::decode(&self.private_key).context("corrupt private key in keyring")?;
        SigningKey::from_slice(&bytes).map_err(|e| anyhow::anyhow!("corrupt private key: {e}"))
    }
}

/// A directory of key files.
#[derive(Clone, Debug)]
pub struct Keyring {
    dir: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

impl Keyring {
    /// The keyring in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Creates key `name` from `mnemonic`, or from a fresh random 24-word
    /// mnemonic (returned in the info) when `None`.
    pub fn add(&self, name: &str, mnemonic: Option<&str>) -> anyhow::Result<KeyInfo> {
        if !valid_name(name) {
            bail!("invalid key name '{name}': use letters, digits, '-', '_' or '.'");
        }
        let path = self.file(name);
        if path.exists() {
            bail!("key '{name}' already exists in {}", self.dir.display());
        }
        let (mnemonic, fresh) = match mnemonic {
            Some(phrase) => {
                let words = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
                (
                    Mnemonic::new(words, Language::English).map_err(|e| {
                        anyhow::anyhow!(
                            "invalid mnemonic ({e}): a 24-word English BIP-39 phrase is required"
                        )
                    })?,
                    false,
                )
            }
            None => (Mnemonic::random(rand_core::OsRng, Language::English), true),
        };
        let seed = mnemonic.to_seed("");
        let path_parsed = HD_PATH.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let xprv = XPrv::derive_from_path(seed, &path_parsed)
            .map_err(|e| anyhow::anyhow!("key derivation failed: {e}"))?;
        let secret = xprv.private_key().to_bytes();
        let signing = SigningKey::from_slice(&secret).map_err(|e| anyhow::anyhow!("{e}"))?;
        let public = signing.public_key();
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_bytes())
            .context("derived an invalid public key")?;
        let address: Address = address_from_pubkey(&vk);
        let file = KeyFile {
            name: name.to_string(),
            address: address.to_string(),
            pubkey: public.to_json(),
            private_key: hex::encode(secret),
            mnemonic: mnemonic.phrase().to_string(),
        };
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create keyring dir {}", self.dir.display()))?;
        write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
        let mut info = KeyInfo::from(&file);
        if fresh {
            info.mnemonic = Some(file.mnemonic.clone());
        }
        Ok(info)
    }

    /// Key `name`.
    pub fn get(&self, name: &str) -> anyhow::Result<KeyFile> {
        if !valid_name(name) {
            bail!("no key named '{name}' in {}", self.dir.display());
        }
        let path = self.file(name);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no key named '{name}' in {} (create it with `coprod keys add {name}`)",
                self.dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("corrupt key file {}", path.display()))
    }

    /// All keys, by name.
    pub fn list(&self) -> anyhow::Result<Vec<KeyFile>> {
        let mut keys = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(keys);
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path)?;
                if let Ok(key) = serde_json::from_str::<KeyFile>(&text) {
                    keys.push(key);
                }
            }
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// A key by name, or by address.
    pub fn resolve(&self, name_or_address: &str) -> anyhow::Result<KeyFile> {
        if let Ok(key) = self.get(name_or_address) {
            return Ok(key);
        }
        self.list()?
            .into_iter()
            .find(|k| k.address == name_or_address)
            .with_context(|| {
                format!(
                    "'{name_or_address}' is neither a key name nor the address of a key in {}",
                    self.dir.display()
                )
            })
    }
}

/// What the modules' `coprod tx` commands see of the keyring.
impl copro_module::Keys for Keyring {
    fn address(&self, name_or_address: &str) -> anyhow::Result<Address> {
        let key = self.resolve(name_or_address)?;
        Address::parse(&key.address).map_err(|e| anyhow::anyhow!(e.log))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovering_a_mnemonic_gives_the_same_address() {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::new(dir.path());
        let made = kr.add("alice", None).unwrap();
        let phrase = made.mnemonic.clone().unwrap();
        assert_eq!(phrase.split(' ').count(), 24);
        assert!(made.address.starts_with("copro1"));
        let again = kr.add("alice2", Some(&phrase)).unwrap();
        assert_eq!(again.address, made.address);
        assert!(again.mnemonic.is_none());
        assert!(kr.add("alice", None).is_err());
        assert_eq!(kr.resolve(&made.address).unwrap().name, "alice");
        assert_eq!(kr.list().unwrap().len(), 2);
    }

    #[test]
    fn only_24_word_mnemonics_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::new(dir.path());
        let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let err = kr.add("k", Some(twelve)).unwrap_err().to_string();
        assert!(err.contains("24"), "{err}");
        let zero = format!("{} art", "abandon ".repeat(23).trim_end());
        let a = kr.add("z", Some(&zero)).unwrap();
        let b = Keyring::new(tempfile::tempdir().unwrap().path())
            .add("z", Some(&zero))
            .unwrap();
        assert_eq!(a.address, b.address);
    }
}
