#!/usr/bin/env bash
# The hooks of .pre-commit-hooks.yaml under the real pre-commit (from PyPI).
#
#   bash scripts/pre-commit-test.sh       (from anywhere in this repository)
#
# 1. A venv with pre-commit under target/pre-commit-venv (reused), and
#    PRE_COMMIT_HOME under target/ so pre-commit's build of connfix (a
#    `cargo install`, 1-3 minutes the first time) is cached per commit.
# 2. Clones this repository into a temporary folder and uses its HEAD as the
#    hook's `rev`: only committed work is tested.
# 3. In a temporary git repository with a leaky file and a
#    .pre-commit-config.yaml pointing at that clone:
#    - hook `connfix`: the first `git commit` is refused with the hook's
#      output, the file is fixed (exact content), and after `git add` the
#      second commit passes;
#    - hook `connfix-check`: the commit is refused and the file is left as it
#      was; once fixed, the commit passes;
#    - the same for `connfix-python` and `connfix-check-python`, which
#      pre-commit installs with pip (maturin builds the wheel; 2-4 minutes the
#      first time).
# Exits non-zero with "PRE-COMMIT TEST FAIL: ..." on any failed check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/target/pre-commit-venv"
export PRE_COMMIT_HOME="$ROOT/target/pre-commit-home"
# cargo install --path builds in the clone's own target/, pip's maturin build
# in a temporary copy: share one target folder so a new commit rebuilds
# incrementally.
export CARGO_TARGET_DIR="$ROOT/target/pre-commit-build"
export PIP_DISABLE_PIP_VERSION_CHECK=1 NO_COLOR=1

log() { printf '\n[pre-commit-test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '\nPRE-COMMIT TEST FAIL: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$ROOT/target"
if [[ ! -x "$VENV/bin/pre-commit" ]]; then
    log "installing pre-commit into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q pre-commit
fi
export PATH="$VENV/bin:$PATH"
pre-commit --version

REV=$(git -C "$ROOT" rev-parse HEAD)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no) ]]; then
    log "note: uncommitted changes are not part of the test (the hook is HEAD, $REV)"
fi
git clone -q "$ROOT" "$WORK/hook-repo"
git -C "$WORK/hook-repo" checkout -q "$REV"

LEAKY='def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def route():
    conn = get_db_connection()
    if conn: conn.close()
'
fixed() { # the file connfix writes for LEAKY saved as $1
    cat <<PY
def get_db_connection():
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    conn = connect(use_pool=True)
    # Track this connection acquisition
    context, track_start = track_connection_acquired("$1::get_db_connection")
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


def route():
    conn = get_db_connection()
    if conn:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
PY
}

# A fresh repository whose pre-commit runs hook $1 of the clone.
project() {
    local dir="$WORK/project-$1"
    mkdir -p "$dir"
    cd "$dir"
    git init -q .
    git config user.email test@example.invalid
    git config user.name "pre-commit test"
    cat > .pre-commit-config.yaml <<YAML
repos:
  - repo: $WORK/hook-repo
    rev: $REV
    hooks:
      - id: $1
YAML
    printf '%s' "$LEAKY" > routes.py
    printf 'x = 1\n' > clean.py
    git add .pre-commit-config.yaml routes.py clean.py
    pre-commit install >/dev/null
}

# A fixing hook: the commit is refused, the file fixed, the next commit passes.
fix_hook() {
    local id=$1
    log "hook $id (pre-commit builds connfix the first time)"
    project "$id"
    if git commit -q -m "leaky" >"$WORK/out" 2>&1; then
        cat "$WORK/out"; fail "$id: the first commit with a leaky file was accepted"
    fi
    cat "$WORK/out"
    grep -q '^connfix (fix database connection leaks)\.*Failed$' "$WORK/out" || fail "$id: no 'Failed' line of the hook"
    grep -q -- '- files were modified by this hook' "$WORK/out" || fail "$id: pre-commit did not report the file as modified"
    grep -q '^fixed routes.py (2 fixes)$' "$WORK/out" || fail "$id: the hook's output does not name the fixed file"
    diff -u <(fixed routes.py) routes.py || fail "$id: routes.py is not fixed as expected"
    [[ $(cat clean.py) == "x = 1" ]] || fail "$id: clean.py changed"
    git add routes.py
    git commit -q -m "fixed" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "$id: the second commit was refused"; }
    grep -q '^connfix (fix database connection leaks)\.*Passed$' "$WORK/out" || { cat "$WORK/out"; fail "$id: no 'Passed' line"; }
    COMMITS=$(git rev-list --count HEAD)
    [[ $COMMITS == 1 ]] || fail "$id: expected exactly one commit, found $COMMITS: $(git log --oneline)"
    log "hook $id: refused, fixed, then passed"
}

# A checking hook: the commit is refused, nothing changes; once fixed, it passes.
check_hook() {
    local id=$1
    log "hook $id"
    project "$id"
    if git commit -q -m "leaky" >"$WORK/out" 2>&1; then
        cat "$WORK/out"; fail "$id accepted a leaky file"
    fi
    cat "$WORK/out"
    grep -q '^connfix check (database connection leaks)\.*Failed$' "$WORK/out" || fail "$id: no 'Failed' line"
    grep -q '^would fix routes.py (2 fixes)$' "$WORK/out" || fail "$id does not name the file"
    grep -q 'files were modified' "$WORK/out" && fail "$id modified files"
    [[ $(cat routes.py) == "$(printf '%s' "$LEAKY")" ]] || fail "$id changed routes.py"
    fixed routes.py > routes.py
    git add routes.py
    git commit -q -m "fixed" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "$id refused a fixed file"; }
    grep -q '^connfix check (database connection leaks)\.*Passed$' "$WORK/out" || { cat "$WORK/out"; fail "$id: no 'Passed' line"; }
    log "hook $id: refused without changing the file, then passed"
}

fix_hook connfix
check_hook connfix-check
fix_hook connfix-python
# The Python hooks run the binary pip installed into pre-commit's venv.
compgen -G "$PRE_COMMIT_HOME/repo*/py_env-*/bin/connfix" >/dev/null ||
    fail "no connfix in a Python environment of pre-commit under $PRE_COMMIT_HOME"
check_hook connfix-check-python

log "PASS"
