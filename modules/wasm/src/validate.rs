//! Checks of uploaded wasm that come before any compilation: size (after
//! gunzip, which is bounded so a gzip bomb costs no more than the limit)
//! and the wasm magic. The VM's own static checks (imports, exports,
//! capabilities, limits, no SIMD) run next, in [`crate::Vm::store`].
//!
//! Floating-point instructions are accepted, as cosmwasm-vm 3 accepts them:
//! its compiler canonicalises every NaN, which makes float arithmetic
//! deterministic across machines. (Refusing them would refuse every
//! contract built with Rust's std: its formatting code carries `f64`
//! arithmetic, as `contracts/` shows.)

use std::io::Read;

use copro_module::TxError;

use crate::codes;
use crate::limits::MAX_WASM_BYTES;

const WASM_MAGIC: &[u8] = b"\0asm";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// The wasm of an upload: `bytes` as sent, or gunzipped when they are
/// gzip (as cosmjs and wasmd's CLI send them). Code 12 when empty, 13 when
/// over [`MAX_WASM_BYTES`] (before or after gunzip), 2 when neither wasm
/// nor gzip.
pub fn uncompress(bytes: &[u8]) -> Result<Vec<u8>, TxError> {
    if bytes.is_empty() {
        return Err(TxError::new(
            codes::EMPTY,
            "empty wasm code: upload a .wasm file",
        ));
    }
    let too_large = |n: String| {
        TxError::new(
            codes::LIMIT,
            format!("wasm code too large: {n} bytes, the limit is {MAX_WASM_BYTES}"),
        )
    };
    if bytes.starts_with(GZIP_MAGIC) {
        let mut out = Vec::new();
        let limit = u64::try_from(MAX_WASM_BYTES).unwrap_or(u64::MAX) + 1;
        flate2::read::GzDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| TxError::new(codes::CREATE_FAILED, format!("invalid gzip: {e}")))?;
        if out.len() > MAX_WASM_BYTES {
            return Err(too_large(format!("more than {MAX_WASM_BYTES} (gunzipped)")));
        }
        check_magic(&out)?;
        return Ok(out);
    }
    if bytes.len() > MAX_WASM_BYTES {
        return Err(too_large(bytes.len().to_string()));
    }
    check_magic(bytes)?;
    Ok(bytes.to_vec())
}

fn check_magic(wasm: &[u8]) -> Result<(), TxError> {
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(TxError::new(
            codes::CREATE_FAILED,
            "not a wasm module (no \\0asm header): upload a .wasm file, raw or gzipped",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzipped_wasm_is_unpacked_and_a_gzip_bomb_stops_at_the_limit() {
        let wasm = wat::parse_str("(module)").unwrap();
        assert_eq!(uncompress(&gzip(&wasm)).unwrap(), wasm);
        assert_eq!(uncompress(&wasm).unwrap(), wasm);
        let mut bomb = WASM_MAGIC.to_vec();
        bomb.resize(MAX_WASM_BYTES * 4, 0);
        let packed = gzip(&bomb);
        assert!(
            packed.len() < 64 * 1024,
            "compresses well: {}",
            packed.len()
        );
        assert_eq!(uncompress(&packed).unwrap_err().code, codes::LIMIT);
        assert_eq!(uncompress(&bomb).unwrap_err().code, codes::LIMIT);
        assert_eq!(uncompress(b"").unwrap_err().code, codes::EMPTY);
        assert_eq!(uncompress(b"hello").unwrap_err().code, codes::CREATE_FAILED);
        assert_eq!(
            uncompress(&[0x1f, 0x8b, 1, 2]).unwrap_err().code,
            codes::CREATE_FAILED
        );
    }
}
