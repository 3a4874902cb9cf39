//! Events emitted by transaction execution (turned into ABCI events by coprod).

/// One event: a type and ordered `(key, value)` attributes, all indexed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Event type, e.g. `transfer`.
    pub kind: String,
    /// Attributes in emission order.
    pub attributes: Vec<(String, String)>,
}

impl Event {
    /// A new event.
    pub fn new<I, K, V>(kind: impl Into<String>, attributes: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            kind: kind.into(),
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}
