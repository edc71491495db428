#!/usr/bin/env bash
# End-to-end test of connfix against a real PostgreSQL server.
#
#   bash scripts/e2e-postgres.sh          (from the repository root, as root)
#
# 1. Installs what is missing (PostgreSQL from Debian, a Python venv with
#    examples/app/requirements.txt under target/e2e-venv) and starts a
#    throwaway cluster on a free 127.0.0.1 port in a temporary folder.
# 2. Builds connfix (cargo build --release) unless CONNFIX=path is given.
# 3. Runs the example app unchanged ("before") with scripts/e2e_driver.py and
#    shows the leaks.
# 4. Runs `connfix apply` on a second copy ("after"), checks the result
#    compiles, that a second apply changes nothing and that files which need
#    no fix are byte-identical, then runs the same requests.
# 5. Compares: Active Now back to 0 after every round, server connections
#    exactly pool base + long-lived engines, identical responses.  Prints the
#    table and writes it to target/e2e-table.md.
# Exits non-zero with "E2E FAIL: ..." lines on any failed check.
#
# E2E_AFTER_DIR=folder uses that folder (a copy of examples/app fixed some
# other way, e.g. by hand) as the "after" copy instead of running connfix on
# one: connfix diff / apply / idempotence and driver_safety.py are skipped
# unless CONNFIX is also given; every other check runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
APP_SRC="$ROOT/examples/app"
DRIVER="$ROOT/scripts/e2e_driver.py"
VENV="$ROOT/target/e2e-venv"
TABLE="${E2E_TABLE:-$ROOT/target/e2e-table.md}"
ROUNDS="${E2E_ROUNDS:-5}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

log() { printf '\n[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '\nE2E FAIL: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "run as root (installs packages, runs PostgreSQL as the postgres user)"
[[ -d "$APP_SRC/src" ]] || fail "missing $APP_SRC/src"

mkdir -p "$ROOT/target"
PGTMP="" WORK="" PGDATA="" PG_OS_USER="" PGBIN=""
cleanup() {
    local rc=$?
    if [[ -n "$PGDATA" && -f "$PGDATA/postmaster.pid" ]]; then
        runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    [[ -n "$PGTMP" ]] && rm -rf "$PGTMP"
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    if [[ $rc -ne 0 ]]; then
        printf '\n[e2e] FAILED (exit %s); cluster stopped, temporary folders removed\n' "$rc" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. install
pgbin() { { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1; }
PGBIN=$(pgbin)
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
    log "installing PostgreSQL (apt-get)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    PGBIN=$(pgbin)
    [[ -n "$PGBIN" && -x "$PGBIN/initdb" ]] || fail "initdb not found under /usr/lib/postgresql/*/bin after installing"
fi
log "PostgreSQL binaries: $PGBIN ($("$PGBIN/postgres" --version))"

# initdb refuses to run as root: the cluster belongs to an ordinary system user.
if id -u postgres >/dev/null 2>&1; then
    PG_OS_USER=postgres
else
    PG_OS_USER=connfix-pg
    id -u "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
fi

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found"
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    log "creating the venv $VENV"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's own python3 needs python3-venv for ensurepip.
        log "installing python3-venv (apt-get)"
        rm -rf "$VENV"
        apt-get update -qq
        apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV" || fail "cannot create a venv with $PYTHON"
    fi
fi
log "pip install -r examples/app/requirements.txt"
"$VENV/bin/python" -m pip install -q -r "$APP_SRC/requirements.txt"
PY="$VENV/bin/python"
"$PY" -c 'import sys, flask, sqlalchemy, psycopg2; print("python", sys.version.split()[0], "sqlalchemy", sqlalchemy.__version__, "psycopg2", psycopg2.__version__.split()[0])'

# ----------------------------------------------------------- start the cluster
PGTMP=$(mktemp -d /tmp/connfix-e2e-pg.XXXXXX)
WORK=$(mktemp -d /tmp/connfix-e2e-work.XXXXXX)
chown "$PG_OS_USER" "$PGTMP"
PGDATA="$PGTMP/data"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log "initdb in $PGDATA, server on 127.0.0.1:$PORT (user $PG_OS_USER)"
runuser -u "$PG_OS_USER" -- "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$PGTMP/initdb.log" 2>&1 \
    || { cat "$PGTMP/initdb.log" >&2; fail "initdb failed"; }
if ! runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGTMP/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGTMP -c max_connections=200 -c fsync=off -c synchronous_commit=off" \
    start >/dev/null; then
    tail -n 30 "$PGTMP/server.log" >&2 || true
    fail "PostgreSQL did not start"
fi
export PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c "CREATE DATABASE connfix_template"
psql -d connfix_template -f "$APP_SRC/schema.sql" >/dev/null
# One database per run, both copies of the same seeded template, so that both
# runs start from the same state and see the same ids.
psql -d postgres -c "CREATE DATABASE app_before TEMPLATE connfix_template"
psql -d postgres -c "CREATE DATABASE app_after TEMPLATE connfix_template"
log "databases app_before and app_after created from examples/app/schema.sql"

# ------------------------------------------------------------- 2. connfix
AFTER_DIR="${E2E_AFTER_DIR:-}"
if [[ -n "$AFTER_DIR" ]]; then
    [[ -d "$AFTER_DIR/src" ]] || fail "E2E_AFTER_DIR=$AFTER_DIR holds no src/"
    AFTER_DIR=$(cd "$AFTER_DIR" && pwd)
fi
if [[ -n "$AFTER_DIR" && -z "${CONNFIX:-}" ]]; then
    CONNFIX=""
    log "E2E_AFTER_DIR=$AFTER_DIR: no connfix run (set CONNFIX to run its checks too)"
elif [[ -n "${CONNFIX:-}" ]]; then
    [[ -x "$CONNFIX" ]] || fail "CONNFIX=$CONNFIX is not an executable"
    CONNFIX=$(cd "$(dirname "$CONNFIX")" && pwd)/$(basename "$CONNFIX")
else
    log "cargo build --release"
    cargo build --release --quiet
    CONNFIX="$ROOT/target/release/connfix"
    [[ -x "$CONNFIX" ]] || fail "cargo build did not produce $CONNFIX"
fi
[[ -z "$CONNFIX" ]] || log "connfix: $CONNFIX"

# ------------------------------------------------------------- 3. before
BEFORE="$WORK/before" AFTER="$WORK/after"
cp -a "$APP_SRC" "$BEFORE"
cp -a "${AFTER_DIR:-$APP_SRC}" "$AFTER"
find "$BEFORE" "$AFTER" -name __pycache__ -prune -exec rm -rf {} +
log "run BEFORE connfix ($ROUNDS rounds)"
DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/app_before" \
    timeout 300 "$PY" "$DRIVER" run --app "$BEFORE" --label before --rounds "$ROUNDS" --out "$WORK/before.json" \
    || fail "the run before connfix failed (see [e2e-driver] lines above)"

# ------------------------------------------------------------- 4. after
if [[ -n "$AFTER_DIR" ]]; then
    log "after copy taken from E2E_AFTER_DIR=$AFTER_DIR (not rewritten by connfix)"
else
    log "connfix diff $AFTER/src (written to target/e2e-connfix.diff)"
    rc=0
    "$CONNFIX" diff --config "$AFTER/connfix.toml" "$AFTER/src" >"$ROOT/target/e2e-connfix.diff" || rc=$?
    [[ $rc -le 1 ]] || fail "connfix diff exited $rc"
    cmp -s <(cd "$APP_SRC" && find src -type f -name '*.py' -exec sha256sum {} + | sort) \
           <(cd "$AFTER" && find src -type f -name '*.py' -exec sha256sum {} + | sort) \
        || fail "connfix diff changed files"
    echo "$(wc -l <"$ROOT/target/e2e-connfix.diff") diff lines"

    log "connfix apply $AFTER/src (expect exit 1: changed)"
    rc=0
    "$CONNFIX" apply --config "$AFTER/connfix.toml" "$AFTER/src" || rc=$?
    [[ $rc -eq 1 ]] || fail "first connfix apply exited $rc, expected 1 (files changed)"
fi

log "checks on the rewritten files"
find "$AFTER/src" -name '*.py' -print0 | sort -z | xargs -0 "$PY" -m py_compile \
    || fail "a rewritten file does not compile"
find "$AFTER" -name __pycache__ -prune -exec rm -rf {} +
# Files with nothing to fix must come out byte-identical.
for f in src/__init__.py src/errors.py src/main.py src/db_compat.py src/utils/__init__.py \
         src/utils/connection_tracker.py src/routes/__init__.py src/routes/betting.py src/routes/auth.py \
         src/routes/rich_admin_interface.py; do
    cmp -s "$APP_SRC/$f" "$AFTER/$f" || fail "$f needs no fix but connfix changed it"
done
# Files with leaks must have changed, and got exactly as many release blocks as
# they have closes of connections taken with get_db_connection().
declare -A RELEASES=(
    [branding.py]=3 [public_leaderboard.py]=2 [multitenant_routing.py]=2 [theme_customization.py]=2
    [sportsbook_registration.py]=3 [json_sports.py]=3 [comprehensive_admin.py]=4 [superadmin.py]=2
    [rich_admin_interface.py]=3 [raw_reports.py]=4 [notes.py]=1
)
for f in "${!RELEASES[@]}"; do
    n=$(grep -c '# Release tracking before closing connection' "$AFTER/src/routes/$f" || true)
    [[ $n -eq ${RELEASES[$f]} ]] || fail "$f: $n release blocks after connfix, expected ${RELEASES[$f]}"
    n=$(grep -c "track_connection_acquired(\"$f::get_db_connection\")" "$AFTER/src/routes/$f" || true)
    [[ $n -eq 1 ]] || fail "$f: get_db_connection() tracks its acquisition $n times after connfix, expected once"
    [[ $f == rich_admin_interface.py ]] || ! cmp -s "$APP_SRC/src/routes/$f" "$AFTER/src/routes/$f" \
        || fail "$f has leaks but connfix left it unchanged"
done
grep -q 'engine.dispose()' "$AFTER/src/routes/health.py" || fail "health.py: no engine.dispose() after connfix"
# Line endings and indentation style are kept.
"$PY" - "$AFTER/src/routes/public_leaderboard.py" "$AFTER/src/routes/theme_customization.py" <<'EOF' || fail "line endings or indentation style not kept"
import re, sys
crlf, tabs = (open(p, "rb").read() for p in sys.argv[1:])
bare_lf = crlf.count(b"\n") - crlf.count(b"\r\n")
if bare_lf:
    sys.exit(f"public_leaderboard.py: {bare_lf} line(s) end with LF alone in a CRLF file")
spaced = [i + 1 for i, l in enumerate(tabs.split(b"\n")) if re.match(rb"^ +\S", l)]
if spaced:
    sys.exit(f"theme_customization.py: lines indented with spaces in a TAB file: {spaced[:10]}")
EOF
# Code that must not be touched inside files that do change: the module-level,
# cached and returned engines in health.py, the sqlite3 connection in
# json_sports.py, the io.StringIO file object in sportsbook_registration.py.
"$PY" - "$APP_SRC/src/routes" "$AFTER/src/routes" <<'EOF' || fail "connfix changed code that needs no fix"
import ast, sys
before_dir, after_dir = sys.argv[1:]
keep = {
    "health.py": ["DATABASE_URL_SQLALCHEMY", "_shared_engine", "_engines_seen", "reporting_engine", "make_engine",
                  "health", "health_reporting"],
    "json_sports.py": ["_implied_probabilities"],
}
def segments(path):
    src = open(path, encoding="utf-8").read()
    out = {}
    for node in ast.parse(src).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = ast.get_source_segment(src, node)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.get_source_segment(src, node)
    return out
bad = []
for name, symbols in keep.items():
    b, a = segments(f"{before_dir}/{name}"), segments(f"{after_dir}/{name}")
    bad += [f"{name}: {s}" for s in symbols if b.get(s) is None or b.get(s) != a.get(s)]
export = open(f"{after_dir}/sportsbook_registration.py").read().split("def export_registrations", 1)[1]
if "\n    payload = f.getvalue()\n    f.close()\n" not in export:
    bad.append("sportsbook_registration.py: f.close()")
if bad:
    sys.exit("changed: " + ", ".join(bad))
EOF

if [[ -n "$CONNFIX" ]]; then
    log "connfix apply again (expect exit 0: nothing left to change)"
    rc=0
    "$CONNFIX" apply --config "$AFTER/connfix.toml" "$AFTER/src" || rc=$?
    [[ $rc -eq 0 ]] || fail "second connfix apply exited $rc, expected 0 (nothing to change)"
fi

log "run AFTER connfix ($ROUNDS rounds)"
DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/app_after" \
    timeout 300 "$PY" "$DRIVER" run --app "$AFTER" --label after --rounds "$ROUNDS" --out "$WORK/after.json" \
    || fail "the run after connfix failed (see [e2e-driver] lines above)"

# ------------------------------------------------------------- 5. report
log "before/after (also in target/e2e-table.md)"
"$PY" "$DRIVER" report --before "$WORK/before.json" --after "$WORK/after.json" --table "$TABLE" \
    || fail "before/after checks failed (see E2E FAIL lines above)"
if [[ -n "$CONNFIX" ]]; then
    log "driver safety: connfix's edits on raw sqlite3 and psycopg2 connections"
    mkdir -p "$WORK/drivers"
    "$PY" "$ROOT/scripts/driver_safety.py" "$CONNFIX" "postgresql://postgres@127.0.0.1:$PORT/app_after" "$WORK/drivers" \
        || fail "driver safety failed (see DRIVER SAFETY FAIL above)"
fi
log "E2E PASSED"
