#!/usr/bin/env bash
# The main job: install what is missing, build, start a localnet of
# $VALIDATORS CometBFT validators (default 4), each with its own `coprod`, on
# 127.0.0.1, run a small demo workload against it and print the endpoints.
# The nodes keep running afterwards; stop them with:
#   target/debug/localnet down --home .localnet
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
home="${LOCALNET_HOME:-$PWD/.localnet}"
bin="$CARGO_TARGET_DIR/debug"

cargo build --workspace --bins --locked
export COPRO_BIN_DIR="$bin"
"$bin/localnet" down --home "$home" >/dev/null 2>&1 || true
"$bin/localnet" up --validators "${VALIDATORS:-4}" --home "$home"
"$bin/localnet" demo --home "$home"
"$bin/localnet" status --home "$home"
echo
echo "localnet is running (logs under $home/node*/logs); stop it with:"
echo "  $bin/localnet down --home $home"
