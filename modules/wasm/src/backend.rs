//! What cosmwasm-vm calls back into: contract storage over the app's Merkle
//! store ([`ContractStore`]), address conversion ([`AddressApi`]) and chain
//! queries ([`ChainQuerier`]).
//!
//! cosmwasm-vm wants its backend to be `'static`, but a contract runs on the
//! state of one transaction (a borrowed overlay). [`StateCell`] bridges the
//! two: it holds the borrowed state as a raw pointer for exactly the length
//! of one [`with_state`] / [`with_state_read`] call, and is cleared before
//! that call returns, so a handle that outlived it (none should) reads an
//! error, never freed memory. The VM runs on one thread; nested calls (a
//! contract querying another) go through the same cell one at a time.

use std::cell::Cell;
use std::rc::Rc;

use copro_module::Address;
use copro_store::{StateRead, StateWrite};
use cosmwasm_std::{Binary, ContractResult, Order, Record, SystemError, SystemResult};
use cosmwasm_vm::{BackendApi, BackendError, BackendResult, GasInfo, Querier, Storage};

use crate::gas;
use crate::limits::MAX_ITER_ENTRIES;

/// Most iterators one contract instance may open.
const MAX_ITERATORS: usize = 32;

#[derive(Clone, Copy)]
enum StatePtr {
    Write(*mut (dyn StateWrite + 'static)),
    Read(*const (dyn StateRead + 'static)),
}

/// The state one VM call reads and writes (see the module docs).
pub struct StateCell {
    ptr: Cell<Option<StatePtr>>,
}

impl StateCell {
    fn read<T>(&self, f: impl FnOnce(&dyn StateRead) -> T) -> Result<T, BackendError> {
        match self.ptr.get() {
            // SAFETY: the pointer is set only inside `with_state*`, whose
            // borrow of the state outlives it, and cleared before they
            // return; the VM is single-threaded and no reference made here
            // outlives this call.
            Some(StatePtr::Write(p)) => Ok(f(unsafe { &*p })),
            Some(StatePtr::Read(p)) => Ok(f(unsafe { &*p })),
            None => Err(BackendError::unknown(
                "contract state used after its call ended",
            )),
        }
    }

    fn write(&self, f: impl FnOnce(&mut dyn StateWrite)) -> Result<(), BackendError> {
        match self.ptr.get() {
            // SAFETY: as in `read`; the only other user of the pointer is a
            // nested query, which runs while this contract waits and has
            // returned before the contract writes again.
            Some(StatePtr::Write(p)) => {
                f(unsafe { &mut *p });
                Ok(())
            }
            Some(StatePtr::Read(_)) => Err(BackendError::user_err(
                "contract state is read-only in a query",
            )),
            None => Err(BackendError::unknown(
                "contract state used after its call ended",
            )),
        }
    }
}

/// Clears the cell when the call ends, even by unwinding.
struct Clear<'a>(&'a StateCell);
impl Drop for Clear<'_> {
    fn drop(&mut self) {
        self.0.ptr.set(None);
    }
}

/// Runs `f` with a cell over `state` (read and write).
pub fn with_state<R>(state: &mut dyn StateWrite, f: impl FnOnce(&Rc<StateCell>) -> R) -> R {
    let ptr: *mut (dyn StateWrite + '_) = state;
    // SAFETY: only the lifetime is erased; the cell is cleared before this
    // function returns (guard below), so the pointer is never used after the
    // borrow ends.
    let ptr: *mut (dyn StateWrite + 'static) = unsafe { std::mem::transmute(ptr) };
    let cell = Rc::new(StateCell {
        ptr: Cell::new(Some(StatePtr::Write(ptr))),
    });
    let _clear = Clear(&cell);
    f(&cell)
}

/// Runs `f` with a read-only cell over `state`.
pub fn with_state_read<R>(state: &dyn StateRead, f: impl FnOnce(&Rc<StateCell>) -> R) -> R {
    let ptr: *const (dyn StateRead + '_) = state;
    // SAFETY: as in `with_state`.
    let ptr: *const (dyn StateRead + 'static) = unsafe { std::mem::transmute(ptr) };
    let cell = Rc::new(StateCell {
        ptr: Cell::new(Some(StatePtr::Read(ptr))),
    });
    let _clear = Clear(&cell);
    f(&cell)
}

/// Reads through a cell (for the keeper's own reads inside a query).
pub fn read_cell<T>(
    cell: &StateCell,
    f: impl FnOnce(&dyn StateRead) -> T,
) -> Result<T, BackendError> {
    cell.read(f)
}

fn vm_cost(sdk: u64) -> GasInfo {
    GasInfo::with_cost(gas::to_vm(sdk))
}

fn store_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::unknown(format!("store: {e}"))
}

/// One contract's storage: its keys under `wasm/data/{addr}/` in the app's
/// store. Reads and writes are priced as the SDK's KV store prices them.
pub struct ContractStore {
    cell: Rc<StateCell>,
    prefix: Vec<u8>,
    iterators: Vec<std::vec::IntoIter<Record>>,
}

impl ContractStore {
    /// The storage of the contract whose keys start with `prefix`.
    pub fn new(cell: Rc<StateCell>, prefix: Vec<u8>) -> Self {
        Self {
            cell,
            prefix,
            iterators: Vec::new(),
        }
    }

    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.extend_from_slice(key);
        k
    }
}

impl Storage for ContractStore {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let full = self.key(key);
        let value = match self.cell.read(|s| s.get_raw(&full)) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return (Err(store_err(e)), GasInfo::free()),
            Err(e) => return (Err(e), GasInfo::free()),
        };
        let cost = gas::read(key.len(), value.as_ref().map_or(0, Vec::len));
        (Ok(value), vm_cost(cost))
    }

    /// Lists the contract's entries in the range at once (at most
    /// [`MAX_ITER_ENTRIES`] in its whole storage: the store has no range
    /// reads, only prefix listings), charging a step per entry listed.
    fn scan(
        &mut self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> BackendResult<u32> {
        if self.iterators.len() >= MAX_ITERATORS {
            return (
                Err(BackendError::user_err(format!(
                    "a contract may open at most {MAX_ITERATORS} iterators in one call"
                ))),
                GasInfo::free(),
            );
        }
        let listed = match self
            .cell
            .read(|s| s.prefix_raw(&self.prefix, MAX_ITER_ENTRIES + 1))
        {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return (Err(store_err(e)), GasInfo::free()),
            Err(e) => return (Err(e), GasInfo::free()),
        };
        let cost = gas::kv::READ_FLAT
            .saturating_add(gas::kv::ITER_NEXT.saturating_mul(listed.len() as u64));
        if listed.len() > MAX_ITER_ENTRIES {
            return (
                Err(BackendError::user_err(format!(
                    "contract storage has more than {MAX_ITER_ENTRIES} entries: too many to iterate"
                ))),
                vm_cost(cost),
            );
        }
        let n = self.prefix.len();
        let mut records: Vec<Record> = listed
            .into_iter()
            .map(|(k, v)| (k[n..].to_vec(), v))
            .filter(|(k, _)| {
                start.is_none_or(|s| k.as_slice() >= s) && end.is_none_or(|e| k.as_slice() < e)
            })
            .collect();
        if order == Order::Descending {
            records.reverse();
        }
        let id = self.iterators.len() as u32;
        self.iterators.push(records.into_iter());
        (Ok(id), vm_cost(cost))
    }

    fn next(&mut self, iterator_id: u32) -> BackendResult<Option<Record>> {
        let Some(it) = self.iterators.get_mut(iterator_id as usize) else {
            return (
                Err(BackendError::iterator_does_not_exist(iterator_id)),
                GasInfo::free(),
            );
        };
        let record = it.next();
        let bytes = record.as_ref().map_or(0, |(k, v)| k.len() + v.len());
        let cost = gas::kv::ITER_NEXT.saturating_add(gas::per_byte(bytes, gas::kv::READ_PER_BYTE));
        (Ok(record), vm_cost(cost))
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let full = self.key(key);
        let cost = gas::write(key.len(), value.len());
        let r = self.cell.write(|s| s.put_raw(full, value.to_vec()));
        (r, vm_cost(cost))
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let full = self.key(key);
        let r = self.cell.write(|s| s.delete_raw(full));
        (r, vm_cost(gas::kv::DELETE))
    }
}

/// Address validation and conversion for bech32 `copro` addresses.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddressApi;

impl BackendApi for AddressApi {
    fn addr_validate(&self, input: &str) -> BackendResult<()> {
        let r = match Address::parse(input) {
            // Only the canonical (lower-case) spelling: two spellings of one
            // address would be two keys in contract storage.
            Ok(a) if a.as_str() == input => Ok(()),
            Ok(a) => Err(BackendError::user_err(format!(
                "address '{input}' is not in canonical form; use {a}"
            ))),
            Err(e) => Err(BackendError::user_err(e.log)),
        };
        (r, GasInfo::free())
    }

    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        let r = Address::parse(human)
            .map(|a| a.to_bytes())
            .map_err(|e| BackendError::user_err(e.log));
        (r, GasInfo::free())
    }

    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        let r = Address::from_bytes(canonical)
            .map(|a| a.to_string())
            .map_err(|e| BackendError::user_err(e.log));
        (r, GasInfo::free())
    }
}

/// What a chain query asks of the keeper: answers one request, given the
/// VM gas it may use, with the VM gas it used.
pub type QueryHandler = Rc<dyn Fn(&Rc<StateCell>, &[u8], u64, u32) -> (QueryAnswer, u64)>;

/// The answer to a contract's chain query.
pub type QueryAnswer = SystemResult<ContractResult<Binary>>;

/// Answers a contract's `querier.query(...)`: bank balances, other
/// contracts (smart, raw, contract and code info), through the keeper's
/// handler, at the state the contract runs on.
pub struct ChainQuerier {
    cell: Rc<StateCell>,
    handler: QueryHandler,
    depth: u32,
}

impl ChainQuerier {
    /// A querier for a contract running at query depth `depth` (0: called by
    /// a transaction or a client).
    pub fn new(cell: Rc<StateCell>, handler: QueryHandler, depth: u32) -> Self {
        Self {
            cell,
            handler,
            depth,
        }
    }
}

impl Querier for ChainQuerier {
    fn query_raw(&self, request: &[u8], gas_limit: u64) -> BackendResult<QueryAnswer> {
        let (answer, used) = (self.handler)(&self.cell, request, gas_limit, self.depth + 1);
        (Ok(answer), GasInfo::with_cost(used))
    }
}

/// A system error answer.
pub fn system_err(error: impl Into<String>, request: &[u8]) -> QueryAnswer {
    SystemResult::Err(SystemError::InvalidRequest {
        error: error.into(),
        request: Binary::from(request),
    })
}
