//! A plaintext "test" keyring: one JSON file per key in a directory
//! (default `H/keyring-test`). Private keys and mnemonics are stored
//! UNENCRYPTED — for local networks and tests only.
//!
//! Keys are secp256k1, derived from a 12- or 24-word BIP-39 mnemonic along
//! the Cosmos path `m/44'/118'/0'/0/0`, so the same mnemonic gives the same
//! address in other Cosmos wallets (with the `copro` prefix). A key imported
//! from a bare private key has no mnemonic (an empty `mnemonic` field).
//!
//! `keys export` writes a [`KeyExport`] (JSON, as plaintext as the keyring
//! itself) that `keys import` reads back, checking that its address,
//! private key and mnemonic belong together.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use bip32::XPrv;
use bip39::Mnemonic;
use copro_auth::{Address, address_from_pubkey};
use cosmrs::crypto::secp256k1::SigningKey;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// HD path of Cosmos keys.
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// `format` of a [`KeyExport`].
pub const EXPORT_FORMAT: &str = "coprod-key-export/v1";

/// The word counts `keys add --words` accepts.
pub const WORD_COUNTS: [usize; 2] = [12, 24];

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

/// Domain of the ledger spending key's derivation from an account's
/// secp256k1 secret.
pub const SPENDING_KEY_DOMAIN: &[u8] = b"copro/ledger-spending-key/v1";

impl KeyFile {
    /// The account's ledger spending key (Jubjub, see `docs/protocol.md`,
    /// "Spend authorization"): derived from its secp256k1 secret,
    /// `SpendingKey::from_seed(SHA-256(SPENDING_KEY_DOMAIN || secret))`, so
    /// whoever recovers the account from its mnemonic recovers this key too,
    /// and the keyring stores nothing more.
    pub fn spending_key(&self) -> anyhow::Result<copro_circuits::spend_auth::SpendingKey> {
        use sha2::Digest as _;
        let secret = hex::decode(&self.private_key).context("corrupt private key in keyring")?;
        let seed: [u8; 32] = sha2::Sha256::new()
            .chain_update(SPENDING_KEY_DOMAIN)
            .chain_update(&secret)
            .finalize()
            .into();
        copro_circuits::spend_auth::SpendingKey::from_seed(&seed)
            .map_err(|e| anyhow::anyhow!("cannot derive a spending key: {e}"))
    }

    /// The signing key.
    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let bytes = hex::decode(&self.private_key).context("corrupt private key in keyring")?;
        SigningKey::from_slice(&bytes).map_err(|e| anyhow::anyhow!("corrupt private key: {e}"))
    }

    /// The key file of `name` for the 32-byte secret `secret`, with its
    /// mnemonic (empty when imported from a bare private key).
    fn from_secret(name: &str, secret: &[u8], mnemonic: String) -> anyhow::Result<Self> {
        let signing = SigningKey::from_slice(secret)
            .map_err(|e| anyhow::anyhow!("invalid secp256k1 private key: {e}"))?;
        let public = signing.public_key();
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_bytes())
            .context("derived an invalid public key")?;
        let address: Address = address_from_pubkey(&vk);
        Ok(Self {
            name: name.to_string(),
            address: address.to_string(),
            pubkey: public.to_json(),
            private_key: hex::encode(secret),
            mnemonic,
        })
    }
}

/// What `keys export` prints and `keys import` reads: the key in plaintext.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// Name the key had.
    pub name: String,
    /// Bech32 address (checked against the private key on import).
    pub address: String,
    /// Public key, Cosmos JSON.
    pub pubkey: String,
    /// Private key scalar, hex (plaintext!).
    pub private_key: String,
    /// The mnemonic, if the key has one (plaintext!).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mnemonic: String,
}

/// Parses a BIP-39 English phrase (any whitespace between words) of 12 or
/// 24 words.
fn parse_mnemonic(phrase: &str) -> anyhow::Result<Mnemonic> {
    let words = phrase.split_whitespace().collect::<Vec<_>>();
    if !WORD_COUNTS.contains(&words.len()) {
        bail!(
            "invalid mnemonic: it has {} words; give a 12- or 24-word English BIP-39 phrase",
            words.len()
        );
    }
    Mnemonic::parse_in_normalized(bip39::Language::English, &words.join(" ")).map_err(|e| {
        anyhow::anyhow!("invalid mnemonic ({e}): give a 12- or 24-word English BIP-39 phrase")
    })
}

/// The private key of `mnemonic` at [`HD_PATH`] (empty BIP-39 passphrase).
fn derive_secret(mnemonic: &Mnemonic) -> anyhow::Result<[u8; 32]> {
    let seed = mnemonic.to_seed("");
    let path = HD_PATH.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let xprv = XPrv::derive_from_path(seed, &path)
        .map_err(|e| anyhow::anyhow!("key derivation failed: {e}"))?;
    Ok(xprv.private_key().to_bytes().into())
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

    /// Creates key `name` from `mnemonic` (12 or 24 words), or from a fresh
    /// random 24-word mnemonic (returned in the info) when `None`.
    pub fn add(&self, name: &str, mnemonic: Option<&str>) -> anyhow::Result<KeyInfo> {
        match mnemonic {
            Some(phrase) => self.recover(name, phrase),
            None => self.generate(name, 24),
        }
    }

    /// Creates key `name` from a fresh random mnemonic of `words` words (12
    /// or 24), returned in the info: the only time it is shown.
    pub fn generate(&self, name: &str, words: usize) -> anyhow::Result<KeyInfo> {
        if !WORD_COUNTS.contains(&words) {
            bail!("--words must be 12 or 24, not {words}");
        }
        // 12 words carry 128 bits of entropy, 24 words 256.
        let mut entropy = [0u8; 32];
        let entropy = &mut entropy[..words / 3 * 4];
        rand_core::OsRng.fill_bytes(entropy);
        let mnemonic = Mnemonic::from_entropy(entropy)
            .map_err(|e| anyhow::anyhow!("cannot make a mnemonic: {e}"))?;
        let file = self.store_mnemonic(name, &mnemonic)?;
        let mut info = KeyInfo::from(&file);
        info.mnemonic = Some(file.mnemonic.clone());
        Ok(info)
    }

    /// Creates key `name` from the BIP-39 phrase `phrase` (12 or 24 words).
    pub fn recover(&self, name: &str, phrase: &str) -> anyhow::Result<KeyInfo> {
        let mnemonic = parse_mnemonic(phrase)?;
        Ok(KeyInfo::from(&self.store_mnemonic(name, &mnemonic)?))
    }

    fn store_mnemonic(&self, name: &str, mnemonic: &Mnemonic) -> anyhow::Result<KeyFile> {
        let secret = derive_secret(mnemonic)?;
        let file = KeyFile::from_secret(name, &secret, mnemonic.to_string())?;
        self.store(&file)?;
        Ok(file)
    }

    /// Writes a new key file; an existing key of the same name is an error.
    fn store(&self, file: &KeyFile) -> anyhow::Result<()> {
        let name = &file.name;
        if !valid_name(name) {
            bail!("invalid key name '{name}': use letters, digits, '-', '_' or '.'");
        }
        let path = self.file(name);
        if path.exists() {
            bail!(
                "key '{name}' already exists in {}; choose another name or `coprod keys delete {name}` first",
                self.dir.display()
            );
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create keyring dir {}", self.dir.display()))?;
        write_private(&path, serde_json::to_string_pretty(file)?.as_bytes())
    }

    /// Deletes key `name`; returns what it was.
    pub fn delete(&self, name: &str) -> anyhow::Result<KeyFile> {
        let key = self.get(name)?;
        let path = self.file(&key.name);
        std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
        Ok(key)
    }

    /// Key `name` (or the key with that address) as an export.
    pub fn export(&self, name_or_address: &str) -> anyhow::Result<KeyExport> {
        let k = self.resolve(name_or_address)?;
        Ok(KeyExport {
            format: EXPORT_FORMAT.to_string(),
            name: k.name,
            address: k.address,
            pubkey: k.pubkey,
            private_key: k.private_key,
            mnemonic: k.mnemonic,
        })
    }

    /// Stores key `name` from `text`: a [`KeyExport`] (JSON), or a bare
    /// private key in hex. An export must be self-consistent: its address
    /// and mnemonic must belong to its private key.
    pub fn import(&self, name: &str, text: &str) -> anyhow::Result<KeyInfo> {
        let text = text.trim();
        let file = if text.starts_with('{') {
            let export: KeyExport = serde_json::from_str(text)
                .context("not a key export: expected the JSON `coprod keys export` prints")?;
            if export.format != EXPORT_FORMAT {
                bail!(
                    "unknown key export format '{}'; this coprod reads {EXPORT_FORMAT}",
                    export.format
                );
            }
            let secret =
                hex::decode(&export.private_key).context("the export's private_key is not hex")?;
            let file = KeyFile::from_secret(name, &secret, export.mnemonic.clone())?;
            if file.address != export.address {
                bail!(
                    "the export says address {} but its private key is that of {}: the export is damaged",
                    export.address,
                    file.address
                );
            }
            if !export.mnemonic.is_empty()
                && derive_secret(&parse_mnemonic(&export.mnemonic)?)?.as_slice()
                    != secret.as_slice()
            {
                bail!(
                    "the export's mnemonic does not derive its private key: the export is damaged"
                );
            }
            file
        } else {
            let secret = hex::decode(text.trim_start_matches("0x")).context(
                "not a key export nor a hex private key: give the JSON of `coprod keys export` or 64 hex digits",
            )?;
            if secret.len() != 32 {
                bail!(
                    "a hex private key is 32 bytes (64 hex digits), this one is {} bytes",
                    secret.len()
                );
            }
            KeyFile::from_secret(name, &secret, String::new())?
        };
        self.store(&file)?;
        Ok(KeyInfo::from(&file))
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

    const ABANDON_12: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

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
    fn the_spending_key_follows_the_mnemonic_and_signs_what_the_circuit_checks() {
        use copro_circuits::spend_auth::{SignedTransfer, TransferMessage};
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::new(dir.path());
        kr.recover("a", ABANDON_12).unwrap();
        kr.recover("again", ABANDON_12).unwrap();
        kr.generate("other", 12).unwrap();
        let key = |name: &str| kr.get(name).unwrap().spending_key().unwrap();
        // The same mnemonic, the same spending key; another, another.
        assert_eq!(key("a").to_bytes(), key("again").to_bytes());
        assert_ne!(key("a").to_bytes(), key("other").to_bytes());
        // Pinned, so wallets can check their derivation against it.
        assert_eq!(
            hex::encode(key("a").public_key().to_bytes()),
            "ce72f32c8f93967d1083d68ef952d3d9c274294485c80cbc165f79734af1103f"
        );
        // It signs a transfer the chain's verifier accepts, for this chain.
        let msg = TransferMessage {
            from_index: 1,
            to_index: 2,
            to_key: copro_circuits::field::fr_from_u64(7),
            amount: 5,
            nonce: 0,
        };
        let signed = SignedTransfer::sign(&key("a"), b"copro-1", msg);
        let public = key("a").public_key();
        assert!(signed.verify(&public, b"copro-1").is_ok());
        assert!(signed.verify(&public, b"copro-2").is_err());
        assert!(
            signed
                .verify(&key("other").public_key(), b"copro-1")
                .is_err()
        );
    }

    #[test]
    fn twelve_and_twenty_four_word_mnemonics_are_made_and_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::new(dir.path());
        for words in WORD_COUNTS {
            let made = kr.generate(&format!("k{words}"), words).unwrap();
            let phrase = made.mnemonic.unwrap();
            assert_eq!(phrase.split(' ').count(), words);
            let again = kr.recover(&format!("r{words}"), &phrase).unwrap();
            assert_eq!(again.address, made.address);
        }
        let e = kr.generate("k18", 18).unwrap_err().to_string();
        assert_eq!(e, "--words must be 12 or 24, not 18");
        // The well-known test phrase: the address every Cosmos wallet
        // derives for it (cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4),
        // with copro's prefix.
        let k = kr.recover("abandon", ABANDON_12).unwrap();
        let bytes = |a: &str| a.parse::<cosmrs::AccountId>().unwrap().to_bytes();
        assert_eq!(
            bytes(&k.address),
            bytes("cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4")
        );
    }

    #[test]
    fn a_24_word_phrase_derives_the_key_bip32_derived_before() {
        // Keyrings written before 12-word support used bip32's own BIP-39
        // code; both must give the same key for the same phrase.
        let phrase = format!("{} art", "abandon ".repeat(23).trim_end());
        let old = bip32::Mnemonic::new(&phrase, bip32::Language::English).unwrap();
        let old_secret = XPrv::derive_from_path(old.to_seed(""), &HD_PATH.parse().unwrap())
            .unwrap()
            .private_key()
            .to_bytes();
        let new_secret = derive_secret(&parse_mnemonic(&phrase).unwrap()).unwrap();
        assert_eq!(old_secret.as_slice(), new_secret.as_slice());
    }

    #[test]
    fn bad_mnemonics_are_refused_with_what_to_give() {
        let kr = Keyring::new(tempfile::tempdir().unwrap().path());
        let eleven = ABANDON_12.rsplit_once(' ').unwrap().0;
        let e = kr.recover("k", eleven).unwrap_err().to_string();
        assert!(e.contains("it has 11 words; give a 12- or 24-word"), "{e}");
        let bad_checksum = ABANDON_12.replace("about", "abandon");
        let e = kr.recover("k", &bad_checksum).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        let unknown = ABANDON_12.replace("about", "aboutt");
        assert!(kr.recover("k", &unknown).is_err());
        assert!(kr.list().unwrap().is_empty(), "nothing stored");
    }

    #[test]
    fn export_then_import_restores_the_key_under_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let kr = Keyring::new(dir.path());
        let made = kr.generate("alice", 12).unwrap();
        let export = serde_json::to_string(&kr.export("alice").unwrap()).unwrap();
        let e = kr.import("alice", &export).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        let back = kr.import("alice2", &export).unwrap();
        assert_eq!(back.address, made.address);
        assert_eq!(back.pubkey, made.pubkey);
        assert_eq!(kr.get("alice2").unwrap().mnemonic, made.mnemonic.unwrap());

        // Deleting removes the file, and only that one.
        assert_eq!(kr.delete("alice").unwrap().address, made.address);
        assert!(kr.get("alice").is_err());
        assert!(kr.delete("alice").is_err());
        assert_eq!(kr.list().unwrap().len(), 1);

        // A bare hex private key imports without a mnemonic.
        let hex_key = kr.get("alice2").unwrap().private_key;
        let plain = kr.import("plain", &format!("{hex_key}\n")).unwrap();
        assert_eq!(plain.address, made.address);
        assert_eq!(kr.get("plain").unwrap().mnemonic, "");
        assert!(kr.get("plain").unwrap().signing_key().is_ok());
    }

    #[test]
    fn a_damaged_export_is_refused() {
        let kr = Keyring::new(tempfile::tempdir().unwrap().path());
        kr.generate("a", 24).unwrap();
        kr.generate("b", 24).unwrap();
        let a = kr.export("a").unwrap();
        let b = kr.export("b").unwrap();
        let import = |e: &KeyExport| {
            kr.import("x", &serde_json::to_string(e).unwrap())
                .unwrap_err()
                .to_string()
        };
        let wrong_address = KeyExport {
            address: b.address.clone(),
            ..a.clone()
        };
        assert!(import(&wrong_address).contains("the export is damaged"));
        let wrong_mnemonic = KeyExport {
            mnemonic: b.mnemonic.clone(),
            ..a.clone()
        };
        assert!(import(&wrong_mnemonic).contains("mnemonic does not derive"));
        let wrong_format = KeyExport {
            format: "other".into(),
            ..a.clone()
        };
        assert!(import(&wrong_format).contains("unknown key export format 'other'"));
        let e = kr.import("x", "abcd").unwrap_err().to_string();
        assert!(e.contains("32 bytes (64 hex digits), this one is 2"), "{e}");
        assert!(kr.import("x", "not hex").is_err());
        assert!(kr.get("x").is_err(), "nothing stored");
    }
}
