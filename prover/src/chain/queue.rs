//! Checking the pending queue a node returned against the proven
//! `QueueState`.
//!
//! The `Queue` query has no proof, but every entry carries the queue's hash
//! chain: `q_{n+1} = queue_step(entry_n, q_n)`, and the proven state holds
//! `settled_hash` (the chain before the first pending entry) and `head_hash`
//! (after the last). Recomputing the chain from `settled_hash` over the
//! returned entries and landing on `head_hash` proves every hashed field of
//! every entry (kind, indices, keys, amount, nonce) with one ICS-23 proof, and
//! these are exactly the values the transfer circuit binds through its
//! `queue_before`/`queue_after` public inputs. Fields outside the hash
//! (addresses, enqueue height) are not proven this way: the prover must not
//! rely on them.

use copro_circuits::field::Fr;
use copro_coprocessor::record::{self, pb};

/// Why a returned queue was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// A page came with another queue state than the proven one (the node
    /// answered from another height, or lied).
    #[error("the queue page's state differs from the proven queue state at height {height}")]
    StateMismatch {
        /// The height read.
        height: u64,
    },
    /// A field of the proven state or of an entry is not a field element.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was malformed.
        what: String,
        /// Why.
        reason: String,
    },
    /// Entries must come in sequence order, without gaps.
    #[error("expected queue entry {expected}, the node returned entry {got}")]
    Sequence {
        /// The next sequence number due.
        expected: u64,
        /// The one returned.
        got: u64,
    },
    /// An entry's stored chain hash is not the hash chain of its fields.
    #[error(
        "queue entry {sequence} does not continue the hash chain: its fields or its chain hash were altered"
    )]
    ChainBreak {
        /// The entry.
        sequence: u64,
    },
    /// More entries than the proven state has pending.
    #[error("the node returned entries past the proven queue head (next sequence {next_sequence})")]
    PastHead {
        /// The proven next sequence number.
        next_sequence: u64,
    },
    /// All pending entries were read but the chain does not end at the
    /// proven head: some entry was dropped, added or altered.
    #[error("the hash chain over the {count} pending entries does not end at the proven head hash")]
    HeadMismatch {
        /// Entries read.
        count: u64,
    },
    /// The node stopped paging before the proven head.
    #[error("the node returned {got} of the {pending} pending entries")]
    Incomplete {
        /// Entries read.
        got: u64,
        /// Entries pending per the proven state.
        pending: u64,
    },
}

fn element(bytes: &[u8], what: &str) -> Result<Fr, QueueError> {
    record::fr_of(bytes, what).map_err(|e| QueueError::Malformed {
        what: what.to_string(),
        reason: e.log,
    })
}

/// Walks the hash chain of the pending queue page by page.
#[derive(Debug, Clone)]
pub struct QueueChecker {
    state: pb::QueueState,
    head: Fr,
    next: u64,
    chain: Fr,
    entries: Vec<pb::QueueEntry>,
}

impl QueueChecker {
    /// Starts at the first pending entry of the proven `state`.
    pub fn new(state: pb::QueueState) -> Result<Self, QueueError> {
        let chain = element(&state.settled_hash, "proven settled_hash")?;
        let head = element(&state.head_hash, "proven head_hash")?;
        Ok(QueueChecker {
            next: state.settled_up_to,
            chain,
            head,
            state,
            entries: Vec::new(),
        })
    }

    /// Checks one page: its state must be the proven one, and its entries
    /// must continue the chain from where the previous page ended.
    pub fn page(
        &mut self,
        height: u64,
        page_state: Option<&pb::QueueState>,
        entries: &[pb::QueueEntry],
    ) -> Result<(), QueueError> {
        if page_state != Some(&self.state) {
            return Err(QueueError::StateMismatch { height });
        }
        for stored in entries {
            if stored.sequence != self.next {
                return Err(QueueError::Sequence {
                    expected: self.next,
                    got: stored.sequence,
                });
            }
            if stored.sequence >= self.state.next_sequence {
                return Err(QueueError::PastHead {
                    next_sequence: self.state.next_sequence,
                });
            }
            let entry = record::circuit_entry_v2(stored).map_err(|e| QueueError::Malformed {
                what: format!("queue entry {}", stored.sequence),
                reason: e.log,
            })?;
            let claimed = element(&stored.chain_hash, "entry chain_hash")?;
            let chain = entry.queue_step(self.chain);
            if chain != claimed {
                return Err(QueueError::ChainBreak {
                    sequence: stored.sequence,
                });
            }
            self.chain = chain;
            self.next += 1;
            self.entries.push(stored.clone());
        }
        Ok(())
    }

    /// Ends the walk: every pending entry was read and the chain ends at the
    /// proven head. Returns the entries in queue order.
    pub fn finish(self) -> Result<Vec<pb::QueueEntry>, QueueError> {
        let got = self.entries.len() as u64;
        let pending = record::pending(&self.state);
        if got != pending {
            return Err(QueueError::Incomplete { got, pending });
        }
        if self.chain != self.head {
            return Err(QueueError::HeadMismatch { count: got });
        }
        Ok(self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copro_circuits::transfer::QueueEntry as CircuitEntry;
    use ff::Field;

    /// A proven-looking state and its pending entries, built like the chain
    /// builds them (deposits of 10, 20, 30 after two settled ones).
    fn queue() -> (pb::QueueState, Vec<pb::QueueEntry>) {
        let mut chain = Fr::ZERO;
        let mut settled_hash = Fr::ZERO;
        let mut stored = Vec::new();
        for seq in 0..5u64 {
            let entry = CircuitEntry::deposit(seq as u32, Fr::from(seq + 1), 10 * seq);
            chain = entry.queue_step(chain);
            if seq == 1 {
                settled_hash = chain;
            }
            if seq >= 2 {
                stored.push(record::stored_entry(
                    seq,
                    &entry,
                    None,
                    Some("addr"),
                    7,
                    &chain,
                ));
            }
        }
        let state = pb::QueueState {
            next_sequence: 5,
            settled_up_to: 2,
            head_hash: record::fr_bytes(&chain),
            settled_hash: record::fr_bytes(&settled_hash),
        };
        (state, stored)
    }

    fn check(
        state: &pb::QueueState,
        pages: &[&[pb::QueueEntry]],
    ) -> Result<Vec<pb::QueueEntry>, QueueError> {
        let mut c = QueueChecker::new(state.clone())?;
        for p in pages {
            c.page(9, Some(state), p)?;
        }
        c.finish()
    }

    #[test]
    fn the_pending_queue_is_accepted_in_one_or_several_pages() {
        let (state, entries) = queue();
        assert_eq!(check(&state, &[&entries]).unwrap(), entries);
        assert_eq!(
            check(&state, &[&entries[..1], &entries[1..]]).unwrap(),
            entries
        );
    }

    #[test]
    fn an_altered_amount_breaks_the_chain() {
        let (state, mut entries) = queue();
        entries[1].amount += 1;
        assert_eq!(
            check(&state, &[&entries]),
            Err(QueueError::ChainBreak { sequence: 3 })
        );
    }

    #[test]
    fn a_rehashed_forgery_does_not_reach_the_proven_head() {
        // The node alters the last entry and recomputes its chain hash: the
        // chain is self-consistent but ends elsewhere than the proven head.
        let (state, mut entries) = queue();
        let last = entries.len() - 1;
        entries[last].amount = 999;
        let prev = record::fr_of(&entries[last - 1].chain_hash, "x").unwrap();
        let forged = record::circuit_entry(&entries[last])
            .unwrap()
            .queue_step(prev);
        entries[last].chain_hash = record::fr_bytes(&forged);
        assert_eq!(
            check(&state, &[&entries]),
            Err(QueueError::HeadMismatch { count: 3 })
        );
    }

    #[test]
    fn dropped_skipped_or_extra_entries_are_refused() {
        let (state, entries) = queue();
        assert_eq!(
            check(&state, &[&entries[..2]]),
            Err(QueueError::Incomplete { got: 2, pending: 3 })
        );
        assert_eq!(
            check(&state, &[&entries[1..]]),
            Err(QueueError::Sequence {
                expected: 2,
                got: 3
            })
        );
        let mut extra = entries.clone();
        let mut past = entries[2].clone();
        past.sequence = 5;
        extra.push(past);
        assert_eq!(
            check(&state, &[&extra]),
            Err(QueueError::PastHead { next_sequence: 5 })
        );
    }

    #[test]
    fn a_page_with_another_state_is_refused() {
        let (state, entries) = queue();
        let mut other = state.clone();
        other.next_sequence = 6;
        let mut c = QueueChecker::new(state).unwrap();
        assert_eq!(
            c.page(9, Some(&other), &entries),
            Err(QueueError::StateMismatch { height: 9 })
        );
    }
}
