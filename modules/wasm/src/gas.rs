//! How contract work is priced, in SDK gas (the unit of the tx's gas meter).
//!
//! cosmwasm-vm meters every wasm instruction in *VM gas*; wasmd converts
//! with a fixed multiplier and so do we: [`GAS_MULTIPLIER`] VM gas are one
//! SDK gas. Storage reads and writes are priced as the Cosmos SDK's KV gas
//! config prices them (they are charged to the VM's own meter, converted, so
//! one limit bounds all the work of a call). The flat costs are wasmd's
//! defaults. Every amount is a pure function of the inputs: two nodes charge
//! the same.

/// VM gas per SDK gas: wasmd's multiplier for CosmWasm 2 and 3. CosmWasm
/// 2.0 cut the VM's prices by 1000 (its target went from 10^12 VM gas per
/// millisecond to 10^12 per second; a Wasm operation costs 115), and wasmd
/// cut its multiplier from 140,000,000 to 140,000 with it. So one SDK gas
/// is about 0.14 µs of wasm, near the Cosmos SDK's own calibration (10 gas
/// per µs), and the same contract costs the same gas here as on wasmd.
pub const GAS_MULTIPLIER: u64 = 140_000;

/// SDK gas for loading a contract instance (wasmd's `DefaultInstanceCost`).
pub const INSTANCE_COST: u64 = 60_000;
/// SDK gas per byte of wasm compiled on upload (wasmd's
/// `DefaultCompileCost`).
pub const COMPILE_COST_PER_BYTE: u64 = 3;
/// SDK gas per byte of a contract's event attributes and data returned
/// (wasmd's `DefaultEventAttributeDataCost` and `DefaultPerByteUncompressCost`
/// rounded to one).
pub const EVENT_BYTE_COST: u64 = 1;

/// SDK gas of a coprocessor request a contract emits (one Poseidon hash of
/// the queue chain, the entry and its callback record written), on top of
/// the callback gas it prepays.
pub const COPRO_REQUEST_COST: u64 = 20_000;

/// SDK gas of a bank send a contract emits (two balance reads and writes).
pub const BANK_SEND_COST: u64 = 10_000;

/// Storage costs (the Cosmos SDK's `KVGasConfig`).
pub mod kv {
    /// Flat cost of a read.
    pub const READ_FLAT: u64 = 1_000;
    /// Cost of each byte read (key and value).
    pub const READ_PER_BYTE: u64 = 3;
    /// Flat cost of a write.
    pub const WRITE_FLAT: u64 = 2_000;
    /// Cost of each byte written (key and value).
    pub const WRITE_PER_BYTE: u64 = 30;
    /// Cost of a delete.
    pub const DELETE: u64 = 1_000;
    /// Cost of each step of an iterator.
    pub const ITER_NEXT: u64 = 30;
}

/// SDK gas → VM gas (saturating: a limit that large is no limit).
pub fn to_vm(sdk: u64) -> u64 {
    sdk.saturating_mul(GAS_MULTIPLIER)
}

/// VM gas → SDK gas, rounded up (a partly used SDK gas unit is paid).
pub fn to_sdk(vm: u64) -> u64 {
    vm.div_ceil(GAS_MULTIPLIER)
}

/// SDK gas of a read of `key` returning `value_len` bytes.
pub fn read(key_len: usize, value_len: usize) -> u64 {
    kv::READ_FLAT.saturating_add(kv::READ_PER_BYTE.saturating_mul(bytes(key_len, value_len)))
}

/// SDK gas of a write of `key_len + value_len` bytes.
pub fn write(key_len: usize, value_len: usize) -> u64 {
    kv::WRITE_FLAT.saturating_add(kv::WRITE_PER_BYTE.saturating_mul(bytes(key_len, value_len)))
}

fn bytes(a: usize, b: usize) -> u64 {
    u64::try_from(a.saturating_add(b)).unwrap_or(u64::MAX)
}

/// SDK gas of `n` bytes at `per_byte`.
pub fn per_byte(n: usize, per_byte: u64) -> u64 {
    per_byte.saturating_mul(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_up_and_saturates() {
        assert_eq!(to_sdk(0), 0);
        assert_eq!(to_sdk(1), 1);
        assert_eq!(to_sdk(GAS_MULTIPLIER), 1);
        assert_eq!(to_sdk(GAS_MULTIPLIER + 1), 2);
        assert_eq!(to_vm(10_000_000), 1_400_000_000_000);
        assert_eq!(to_vm(u64::MAX), u64::MAX);
        assert_eq!(read(3, 7), 1_030);
        assert_eq!(write(3, 7), 2_300);
    }
}
