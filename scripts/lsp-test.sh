#!/usr/bin/env bash
# `connfix server` end to end with a real LSP client: pytest-lsp (on pygls,
# from PyPI) runs tests/lsp/test_server.py against the release binary.
#
#   bash scripts/lsp-test.sh                  (builds target/release/connfix if missing)
#   CONNFIX=path/to/connfix bash scripts/lsp-test.sh
#
# The venv is target/lsp-venv (reused). Exits non-zero on any failure, and
# when no test ran (pytest's exit code 5 is a failure here too).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/target/lsp-venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ -z ${CONNFIX:-} ]]; then
    CONNFIX="$ROOT/target/release/connfix"
    [[ -x $CONNFIX ]] || cargo build --release --locked --manifest-path "$ROOT/Cargo.toml"
fi
export CONNFIX

if [[ ! -x "$VENV/bin/pytest" ]] || ! "$VENV/bin/python" -c 'import pytest_lsp' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'pytest-lsp==1.0.1'
fi
"$VENV/bin/python" -m pip list 2>/dev/null | grep -E '^(pytest-lsp|pygls|pytest) '

cd "$ROOT/tests/lsp"
status=0
"$VENV/bin/python" -m pytest -v -p no:cacheprovider test_server.py || status=$?
if [[ $status == 5 ]]; then
    echo "LSP TEST FAIL: pytest collected no tests" >&2
fi
exit "$status"
