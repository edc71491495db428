#!/usr/bin/env bash
# Execution oracle (issue 13): random small programs run before and after
# `connfix apply` under stand-ins for the driver, the tracker and SQLAlchemy,
# plus the hand-written regression cases (tests/oracle/cases/) and the
# oracle's self-test (mutated rewrites it must catch).
#
#   CONNFIX          the binary under test (default target/release/connfix)
#   ORACLE_PROGRAMS  how many random programs (default here: 10000, as CI)
#   ORACLE_SEED      the seed (default random; printed, so a failure reproduces)
#   ORACLE_SHRINK_SECONDS  time budget for shrinking failures (default 300)
#
# Extra arguments go to `python3 -m tests.oracle` (--cases-only, --no-shrink,
# --programs N, --seed S, --no-cases).  Pure standard-library Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNFIX="${CONNFIX:-$PWD/target/release/connfix}"
export ORACLE_PROGRAMS="${ORACLE_PROGRAMS:-10000}"
[ -x "$CONNFIX" ] || { echo "oracle.sh: no connfix at $CONNFIX (cargo build --release)" >&2; exit 2; }
exec python3 -m tests.oracle --selftest "$@"
