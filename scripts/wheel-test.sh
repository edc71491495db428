#!/usr/bin/env bash
# The Python install: build the wheel with maturin (from PyPI, in a venv
# under target/), install it into a fresh virtual environment, and run
# connfix from there.
#
#   bash scripts/wheel-test.sh       (from anywhere in this repository)
#
# The build shares target/ with cargo (CARGO_TARGET_DIR), so after `cargo
# build --release` it reuses that build when the flags agree instead of a
# second fat-LTO build. Checks, from the fresh venv's bin/:
# - `connfix --version` prints `connfix <Cargo.toml's version>`;
# - `connfix check` in examples/app exits 1 (it would change files) and
#   prints exactly what target/release/connfix prints there.
# Exits non-zero with "WHEEL TEST FAIL: ..." on any failed check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_VENV="$ROOT/target/maturin-venv"
FRESH="$ROOT/target/wheel-venv"
WHEELS="$ROOT/target/wheels"
export CARGO_TARGET_DIR="$ROOT/target"
export PIP_DISABLE_PIP_VERSION_CHECK=1 NO_COLOR=1

log() { printf '\n[wheel-test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '\nWHEEL TEST FAIL: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$BUILD_VENV/bin/maturin" ]]; then
    log "installing maturin into $BUILD_VENV"
    python3 -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/pip" install -q 'maturin==1.16.0'
fi
"$BUILD_VENV/bin/maturin" --version

log "maturin build --release"
rm -rf "$WHEELS"
start=$SECONDS
"$BUILD_VENV/bin/maturin" build --release --locked --manifest-path "$ROOT/Cargo.toml" --out "$WHEELS"
log "wheel built in $((SECONDS - start)) s: $(cd "$WHEELS" && ls)"
WHEEL=$(ls "$WHEELS"/connfix-*.whl)

log "installing it into a fresh venv, $FRESH"
rm -rf "$FRESH"
python3 -m venv "$FRESH"
"$FRESH/bin/pip" install -q --no-index "$WHEEL"

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)
got=$("$FRESH/bin/connfix" --version)
[[ $got == "connfix $VERSION" ]] || fail "connfix --version printed '$got', expected 'connfix $VERSION'"
log "$got, from $FRESH/bin/connfix"

# Through PATH, as a user of the venv runs it; the summary line (with a
# time only on a terminal) goes to standard error, compared too.
cd "$ROOT/examples/app"
[[ $(PATH="$FRESH/bin:$PATH" command -v connfix) == "$FRESH/bin/connfix" ]] || fail "connfix on PATH is not the venv's"
status=0
PATH="$FRESH/bin:$PATH" connfix check >"$ROOT/target/wheel-check.out" 2>"$ROOT/target/wheel-check.err" || status=$?
[[ $status == 1 ]] || { cat "$ROOT/target/wheel-check.err"; fail "connfix check on examples/app exited $status, expected 1"; }
expected=0
"$ROOT/target/release/connfix" check >"$ROOT/target/cargo-check.out" 2>"$ROOT/target/cargo-check.err" || expected=$?
[[ $expected == 1 ]] || fail "target/release/connfix check exited $expected (build it first: cargo build --release)"
diff -u "$ROOT/target/cargo-check.out" "$ROOT/target/wheel-check.out" || fail "the wheel's check output differs from the cargo build's"
diff -u "$ROOT/target/cargo-check.err" "$ROOT/target/wheel-check.err" || fail "the wheel's summary differs from the cargo build's"
grep -q '^would fix src/routes/branding.py (3 fixes)$' "$ROOT/target/wheel-check.out" || fail "check does not name branding.py"
tail -1 "$ROOT/target/wheel-check.err"
log "PASS"
