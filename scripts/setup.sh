#!/usr/bin/env bash
# Installs what the project needs and is not in the repository, only when it is
# missing or at the wrong version, so a second run costs a second:
#   - CometBFT, pinned, built from source with `go install` (never a prebuilt binary);
#   - the wasm toolchain for the CosmWasm contracts (Debian packages), and
#     the contracts themselves, built to contracts/artifacts/*.wasm.
# Source it (`. scripts/setup.sh`) to get the tool paths exported.
set -euo pipefail

COMETBFT_VERSION="${COMETBFT_VERSION:-v0.38.25}"

die() { echo "setup: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is missing: install Go >= 1.22 (e.g. 'apt-get install -y golang-go') and run again"
command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust (rustup) and run again"

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

want="${COMETBFT_VERSION#v}"
have="$(cometbft version 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
    echo "setup: installing CometBFT $COMETBFT_VERSION with go install (have: '${have:-none}')" >&2
    go install "github.com/cometbft/cometbft/cmd/cometbft@${COMETBFT_VERSION}" \
        || die "go install of CometBFT $COMETBFT_VERSION failed (see above); check that the Go module proxy is reachable"
    have="$(cometbft version)"
    [ "$have" = "$want" ] || die "installed CometBFT reports '$have', expected '$want'"
fi
COMETBFT_BIN="$(command -v cometbft)"
export COMETBFT_BIN

# CosmWasm contracts (contracts/, a workspace of their own) built to wasm32
# with Debian's Rust (rustup here has no wasm32 target): rustc-web with its
# std sources (rebuilt for wasm32 with -Zbuild-std) and lld-19 as the linker.
# Installed only when missing; cargo rebuilds only what changed, so a
# second run costs about a second. The wasm lands in contracts/artifacts/.
if [ "${COPRO_SKIP_CONTRACTS:-}" != "1" ]; then
    need=""
    for pkg in rustc-web cargo-web rust-web-src lld-19; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
    done
    if [ -n "$need" ]; then
        command -v apt-get >/dev/null 2>&1 || die "the contracts need Debian packages:$need (apt-get not found)"
        echo "setup: installing$need for the CosmWasm contracts" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq $need >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $need >/dev/null; } \
            || die "apt-get install$need failed (see above)"
    fi
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    contracts_target="${CARGO_TARGET_DIR:-$repo/contracts/target}/contracts-wasm32"
    (
        cd "$repo/contracts"
        RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
        RUSTFLAGS="-C linker=wasm-ld-19 -C link-arg=--allow-undefined -C target-cpu=mvp" \
        CARGO_TARGET_DIR="$contracts_target" \
            /usr/bin/cargo build --quiet --release --locked --lib \
                --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort \
                -p verified-gate -p ledger-requester -p chaos
    ) || die "building the CosmWasm contracts failed (see above)"
    mkdir -p "$repo/contracts/artifacts"
    for c in verified_gate ledger_requester chaos; do
        src="$contracts_target/wasm32-unknown-unknown/release/$c.wasm"
        [ -f "$src" ] || die "contract $c.wasm was not built"
        cmp -s "$src" "$repo/contracts/artifacts/$c.wasm" || cp "$src" "$repo/contracts/artifacts/$c.wasm"
    done
    COPRO_CONTRACTS_DIR="$repo/contracts/artifacts"
    export COPRO_CONTRACTS_DIR
fi
