#!/usr/bin/env bash
# Validate `connfix report --format sarif` against the official SARIF 2.1.0
# JSON schema (shipped in the npm package @microsoft/jest-sarif), over the
# testdata, the example app and a file with a syntax error (so the tool
# execution notifications are exercised too).
#   bash scripts/sarif-validate.sh        (CONNFIX=path to use a built binary)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CONNFIX=${CONNFIX:-$ROOT/target/release/connfix}
[[ -x "$CONNFIX" ]] || cargo build --release --locked
VENV="$ROOT/target/sarif-venv"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check jsonschema==4.23.0

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz)
SCHEMA="$WORK/package/lib/schemas/sarif-2.1.0-rtm.5.json"
[[ -f "$SCHEMA" ]] || { echo "SARIF schema not found in the npm package" >&2; exit 1; }

mkdir -p "$WORK/bad"
printf 'def get_db_connection(:\n' > "$WORK/bad/broken.py"
rc=0
"$CONNFIX" report --format sarif --fail-on never testdata examples/app "$WORK/bad" > "$WORK/report.sarif" || rc=$?
[[ $rc -eq 2 ]] || { echo "expected exit 2 (one file has a syntax error), got $rc" >&2; exit 1; }

"$VENV/bin/python" - "$SCHEMA" "$WORK/report.sarif" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
jsonschema.validate(log, schema, cls=jsonschema.Draft7Validator)
run = log["runs"][0]
results = run["results"]
rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
assert results, "no results"
assert all(r["ruleId"] in rules for r in results), "a result names an unknown rule"
assert run["invocations"][0]["executionSuccessful"] is False
assert len(run["invocations"][0]["toolExecutionNotifications"]) == 1
print(f"SARIF valid: {len(results)} results, {len(rules)} rules, 1 notification")
PY
