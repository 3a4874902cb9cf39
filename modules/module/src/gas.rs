//! The gas meter of one transaction: the pipeline charges the fixed cost of
//! the transaction's bytes up front, and a message whose cost depends on what
//! it does (a CosmWasm contract call) charges the rest as it runs.

use std::cell::Cell;

use crate::error::{Code, TxError};

/// Gas used against a limit. Shared by reference through
/// [`ExecContext`](crate::ExecContext) (interior mutability, because a
/// context is handed out by shared reference to every stage); a transaction
/// runs on one thread, so a `Cell` suffices.
#[derive(Debug)]
pub struct GasMeter {
    limit: u64,
    used: Cell<u64>,
}

impl GasMeter {
    /// A meter with `used` of `limit` already consumed.
    pub fn new(limit: u64, used: u64) -> Self {
        Self {
            limit,
            used: Cell::new(used),
        }
    }

    /// A meter for work that no transaction pays for (genesis, tests):
    /// nothing is used and the limit is `limit`.
    pub fn unpaid(limit: u64) -> Self {
        Self::new(limit, 0)
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Gas used so far (never above the limit).
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// Gas left.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used.get())
    }

    /// Consumes `amount` for `what`. Past the limit the meter is left full
    /// and the error is code 11 (`OutOfGas`), as the Cosmos SDK reports it.
    pub fn consume(&self, amount: u64, what: &str) -> Result<(), TxError> {
        let total = self.used.get().saturating_add(amount);
        if total > self.limit {
            self.used.set(self.limit);
            return Err(TxError::new(
                Code::OutOfGas,
                format!(
                    "out of gas in {what}: gas limit {}, needed at least {total}; raise --gas",
                    self.limit
                ),
            ));
        }
        self.used.set(total);
        Ok(())
    }

    /// Marks the whole limit as used (a VM call that ran out of gas).
    pub fn exhaust(&self) {
        self.used.set(self.limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_past_the_limit_is_out_of_gas_and_fills_the_meter() {
        let m = GasMeter::new(100, 40);
        m.consume(50, "x").unwrap();
        assert_eq!((m.used(), m.remaining()), (90, 10));
        let e = m.consume(11, "the contract").unwrap_err();
        assert_eq!(e.code, Code::OutOfGas);
        assert!(e.log.contains("the contract"), "{}", e.log);
        assert_eq!(m.used(), 100);
        assert!(m.consume(u64::MAX, "y").is_err());
    }
}
