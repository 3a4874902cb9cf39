#!/usr/bin/env bash
# Installs what the project needs and is not in the repository, only when it is
# missing or at the wrong version, so a second run costs a second:
#   - CometBFT, pinned, built from source with `go install` (never a prebuilt binary);
#   - (later) the wasm toolchain for contracts from Debian packages.
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
