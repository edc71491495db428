#!/usr/bin/env bash
# Stress test of `connfix apply` on the CPython standard library and PyPI sdists.
#
# Usage: scripts/stress.sh [extra stress.py arguments]
# Env:   CONNFIX=path/to/connfix   (default: target/release/connfix, built if missing)
#        STRESS_OUT=STRESS.md      (where the Markdown summary goes)
#        STRESS_PYPI="Django==5.1.4 SQLAlchemy==2.0.36"   (sdists to test; empty: none)
# Exit:  0 all checks passed, 1 a check failed (listed in the summary), other: setup error.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

connfix="${CONNFIX:-target/release/connfix}"
if [[ ! -x "$connfix" ]]; then
    echo "stress.sh: $connfix missing, building it" >&2
    cargo build --release --locked
    connfix=target/release/connfix
fi

python="${PYTHON:-python3}"
"$python" scripts/oracle_selftest.py

corpora=(--corpus stdlib)
for spec in ${STRESS_PYPI-Django==5.1.4 SQLAlchemy==2.0.36}; do
    corpora+=(--corpus "pypi:$spec")
done

# The release build checks itself as debug builds do (the prefilter against
# every rule, anchored query matches against a whole-tree run, incremental
# re-parses against fresh ones): a disagreement panics, which fails the run.
export CONNFIX_SELF_CHECK="${CONNFIX_SELF_CHECK-1}"
exec "$python" scripts/stress.py --connfix "$connfix" "${corpora[@]}" \
    --out "${STRESS_OUT:-target/STRESS.md}" "$@"
