//! What a module's CLI subcommands produce. A module parses its arguments
//! into a [`TxPlan`] (messages to sign) or a [`QueryPlan`] (a query and how
//! to print its answer); `coprod` owns the keyring, the RPC client, signing,
//! broadcasting and the `--output text|json` switch.

use cosmrs::Any;
use serde_json::Value;

use crate::address::Address;

/// Resolves what a user typed for a signer (a key name, or the address of a
/// key in the keyring) to an address.
pub trait Keys {
    /// The address of the key `name_or_address`; an error if the keyring has
    /// no such key.
    fn address(&self, name_or_address: &str) -> anyhow::Result<Address>;
}

/// A transaction to sign: its messages, all signed by `signer`, whose key
/// must be in the keyring. Fee, gas, memo, sequence and chain-id come from
/// the common transaction flags.
#[derive(Clone, Debug, PartialEq)]
pub struct TxPlan {
    /// Who signs.
    pub signer: Address,
    /// The messages, as protobuf `Any`s.
    pub msgs: Vec<Any>,
}

/// Something to print, as text or as JSON (`-o json`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    /// The JSON document printed with `-o json`.
    pub json: Value,
    /// The text printed otherwise.
    pub text: String,
    /// A Merkle proof that came with the answer, which `coprod` verifies
    /// against the app hash of the chain's header before printing.
    pub proof: Option<ProvenValue>,
}

/// A value a query answered with a proof: `coprod` checks `proof` against
/// the app hash in the header of block `height + 1`, as the membership of
/// `key → value` (or, with `value` `None`, the absence of `key`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenValue {
    /// The height the query read (the state after block `height`).
    pub height: u64,
    /// The store key.
    pub key: Vec<u8>,
    /// The stored bytes the answer claims; `None` claims the key is absent.
    pub value: Option<Vec<u8>>,
    /// An encoded `ibc.core.commitment.v1.MerkleProof` of one ICS-23
    /// commitment proof.
    pub merkle_proof: Vec<u8>,
}

/// Renders a query answer: `Some(value)` on success, `None` if the node
/// answered code 22 (not found). Other failures never reach it.
pub type Render = Box<dyn FnOnce(Option<&[u8]>) -> anyhow::Result<Rendered>>;

/// An ABCI query and how to print its answer.
pub struct QueryPlan {
    /// gRPC method path.
    pub path: String,
    /// Protobuf request.
    pub data: Vec<u8>,
    /// The state read: after block `height` (0: the latest committed).
    pub height: u64,
    /// Turns the answer into output.
    pub render: Render,
}

impl QueryPlan {
    /// A query of `path` with `data`, printed by `render`.
    pub fn new(
        path: impl Into<String>,
        data: Vec<u8>,
        render: impl FnOnce(Option<&[u8]>) -> anyhow::Result<Rendered> + 'static,
    ) -> Self {
        Self {
            path: path.into(),
            data,
            height: 0,
            render: Box::new(render),
        }
    }

    /// The same query on the state after block `height` (0: the latest).
    pub fn at_height(mut self, height: u64) -> Self {
        self.height = height;
        self
    }
}

impl std::fmt::Debug for QueryPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryPlan")
            .field("path", &self.path)
            .field("data", &self.data)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}
