//! A constraint system that only counts, for sizing circuits without keys.

use bellman::{Circuit, ConstraintSystem, Index, LinearCombination, SynthesisError, Variable};

use crate::field::Fr;

/// Counts constraints and variables; evaluates witness closures only when
/// `with_witness` is set (so it also times witness synthesis).
#[derive(Debug, Default, Clone, Copy)]
pub struct ConstraintCounter {
    /// Constraints enforced.
    pub constraints: usize,
    /// Public inputs, including the constant ONE.
    pub inputs: usize,
    /// Private variables.
    pub aux: usize,
    /// Whether to evaluate assignments.
    pub with_witness: bool,
}

impl ConstraintCounter {
    /// Synthesizes `circuit` and returns the counts.
    pub fn count<C: Circuit<Fr>>(
        circuit: C,
        with_witness: bool,
    ) -> Result<ConstraintCounter, SynthesisError> {
        let mut cs = ConstraintCounter {
            inputs: 1,
            with_witness,
            ..ConstraintCounter::default()
        };
        circuit.synthesize(&mut cs)?;
        Ok(cs)
    }
}

impl ConstraintSystem<Fr> for ConstraintCounter {
    type Root = Self;

    fn alloc<F, A, AR>(&mut self, _: A, f: F) -> Result<Variable, SynthesisError>
    where
        F: FnOnce() -> Result<Fr, SynthesisError>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        if self.with_witness {
            f()?;
        }
        self.aux += 1;
        Ok(Variable::new_unchecked(Index::Aux(self.aux - 1)))
    }

    fn alloc_input<F, A, AR>(&mut self, _: A, f: F) -> Result<Variable, SynthesisError>
    where
        F: FnOnce() -> Result<Fr, SynthesisError>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        if self.with_witness {
            f()?;
        }
        self.inputs += 1;
        Ok(Variable::new_unchecked(Index::Input(self.inputs - 1)))
    }

    fn enforce<A, AR, LA, LB, LC>(&mut self, _: A, a: LA, b: LB, c: LC)
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
        LA: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
        LB: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
        LC: FnOnce(LinearCombination<Fr>) -> LinearCombination<Fr>,
    {
        // Build the combinations so that timing includes their cost.
        let _ = (
            a(LinearCombination::zero()),
            b(LinearCombination::zero()),
            c(LinearCombination::zero()),
        );
        self.constraints += 1;
    }

    fn push_namespace<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn pop_namespace(&mut self) {}

    fn get_root(&mut self) -> &mut Self::Root {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Program;
    use crate::smt::TreeConfig;
    use crate::transfer::{Transfer, TransferParams};

    fn count(batch_size: usize, tree: TreeConfig) -> usize {
        ConstraintCounter::count(
            Transfer::circuit(&TransferParams { batch_size, tree }, None),
            false,
        )
        .unwrap()
        .constraints
    }

    #[test]
    fn production_cost_per_entry() {
        let tree = TreeConfig::PRODUCTION;
        let per_entry = count(2, tree) - count(1, tree);
        // 4 path hashes x 16 levels x 300 + 4 leaf hashes + queue + deltas + ranges.
        assert!(
            per_entry < 22_000,
            "per-entry constraints grew to {per_entry}"
        );
        let one = ConstraintCounter::count(
            Transfer::circuit(
                &TransferParams {
                    batch_size: 1,
                    tree,
                },
                None,
            ),
            false,
        )
        .unwrap();
        assert_eq!(one.inputs, 2, "one public input besides ONE");
    }

    fn count_v2(queue_slots: usize, offchain_slots: usize) -> usize {
        use crate::transfer_v2::{TransferV2, TransferV2Params};
        let params = TransferV2Params {
            queue_slots,
            offchain_slots,
            tree: TreeConfig::PRODUCTION,
        };
        ConstraintCounter::count(TransferV2::circuit(&params, None), false)
            .unwrap()
            .constraints
    }

    /// Version 2's slots against version 1's entry at the production tree
    /// (`cargo test -p copro-circuits v2_cost -- --nocapture` prints them;
    /// `docs/circuits.md` quotes them).
    #[test]
    fn production_cost_per_slot_v2() {
        let tree = TreeConfig::PRODUCTION;
        let v1_entry = count(2, tree) - count(1, tree);
        let queue_slot = count_v2(2, 0) - count_v2(1, 0);
        let offchain_slot = count_v2(1, 1) - count_v2(1, 0);
        let fixed = count_v2(1, 0) - queue_slot;
        println!(
            "v1 entry {v1_entry}; v2 queue slot {queue_slot}; v2 off-chain slot \
             {offchain_slot}; v2 per batch {fixed}"
        );
        // A queue slot pays the spend lane of its four leaf hashes and the
        // set-key kind: a few dozen constraints over version 1.
        assert!(queue_slot > v1_entry && queue_slot < v1_entry + 100);
        // An off-chain slot: four Merkle paths and leaf hashes like a queue
        // slot, plus the signature (5,319), minus the queue hash.
        assert!(
            offchain_slot < v1_entry + 5_319 + 500,
            "off-chain slot grew to {offchain_slot}"
        );
    }
}
