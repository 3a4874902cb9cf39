#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit tests, circuit tests and
# the end-to-end tests against real CometBFT processes. Installs what is missing
# first (scripts/setup.sh; the cosmjs client with npm ci), and reuses one
# target dir for everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Every error report at its longest (tendermint-rpc's then carry a stack
# trace): what the nodes send to clients must stay short even so.
export RUST_BACKTRACE=1

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== build (binaries are needed by the end-to-end tests)"
cargo build --workspace --bins --locked

echo "== unit and circuit tests"
cargo test --workspace --locked --exclude copro-integration

echo "== contracts' unit tests (their own workspace, native, cosmwasm-std's mocks)"
(cd contracts && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/contracts-native" cargo test --locked --quiet)

echo "== cosmjs client used by an end-to-end test (npm ci when missing or stale)"
cosmjs=integration/cosmjs
command -v npm >/dev/null 2>&1 || { echo "test: npm is missing: install Node.js >= 18 with npm" >&2; exit 1; }
if [ ! -f "$cosmjs/node_modules/.package-lock.json" ] \
    || [ "$cosmjs/package-lock.json" -nt "$cosmjs/node_modules/.package-lock.json" ]; then
    (cd "$cosmjs" && npm ci --no-audit --no-fund)
fi

echo "== end-to-end tests against real CometBFT (one localnet at a time: 2 cores)"
COPRO_BIN_DIR="$CARGO_TARGET_DIR/debug" cargo test -p copro-integration --locked -- --test-threads=1

echo "== clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "all tests passed"
