#!/usr/bin/env bash
# The speed benchmark (issues 6 and 16): one command, `bash bench/run.sh`, rebuilds
# connfix and the floor program (release profile), installs the peers into a
# venv under target/, generates the corpora under target/bench/, times every
# command ROUNDS times (default 7) interleaved (bench/measure.py: wall time
# and CPU time of each run, peak memory from one more), and writes
# BENCHMARKS.md (bench/report.py).
#
# Corpora: the standard library of the machine's python3 (copied, *.py only,
# without site-packages, so that every tool sees the same files), and the
# dense corpus of bench/dense.py at two sizes.
# Commands per corpus: the read, search, parse, walk and verify floors
# (bench/floor.rs), `connfix check`, `connfix diff`, ast-grep with
# bench/ast-grep/ (connfix's three rules), and ruff `check --select SIM115`.
# Thread counts: every tool's default, which is one thread per core for all
# of them.
# Then, unless INSTRUCTIONS=0, the instructions each dense command executes
# on the smallest dense corpus, on one thread, counted by valgrind's
# callgrind: unlike wall times, they do not move with the machine's load.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS="${ROUNDS:-7}"
SIZES="${SIZES:-2000 8000}"
OUT="${OUT:-BENCHMARKS.md}"
WORK=target/bench
AST_GREP_VERSION=0.51.1
RUFF_VERSION=0.17.6

step() { printf '== %s\n' "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
    step "installing GNU time (for peak memory)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

step "building connfix and the floor program (release profile)"
cargo build --release --locked --bin connfix --example floor >&2

step "installing the peers: ast-grep-cli $AST_GREP_VERSION, ruff $RUFF_VERSION"
mkdir -p "$WORK"
[ -x "$WORK/venv/bin/pip" ] || python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "ast-grep-cli==$AST_GREP_VERSION" "ruff==$RUFF_VERSION" >&2

step "corpora"
stdlib="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
python3 - "$stdlib" "$WORK/stdlib" <<'PY'
import pathlib, shutil, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
shutil.rmtree(dst, ignore_errors=True)
for path in src.rglob("*.py"):
    rel = path.relative_to(src)
    if "site-packages" in rel.parts or not path.is_file():
        continue
    (dst / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dst / rel)
PY
# One relevant file, named on the command line: the pre-commit and
# editor-on-save case (issue 16's first target, `connfix check
# src/routes/branding.py`, against ruff on the same file). The tools get the
# file (a corpus's third field: what the commands are given), the floors'
# verify its folder.
rm -rf "$WORK/one" && mkdir -p "$WORK/one"
cp examples/app/src/routes/branding.py "$WORK/one/"
corpora=("one:$WORK/one:$WORK/one/branding.py" "stdlib:$WORK/stdlib")
for n in $SIZES; do
    python3 bench/dense.py "$n" "$WORK/dense-$n" >&2
    corpora+=("dense-$n:$WORK/dense-$n")
done

CONNFIX=target/release/connfix
FLOOR=target/release/examples/floor
# What a diff that verifies its output must parse besides its input: the
# files connfix's fixes change, as fixed, next to each corpus as DIR.fixed
# (the files apply leaves alone are removed from the copy).
for spec in "${corpora[@]}"; do
    dir="${spec#*:}"
    dir="${dir%%:*}"
    rm -rf "$dir.fixed"
    cp -r "$dir" "$dir.fixed"
    "$CONNFIX" apply --quiet "$dir.fixed" >/dev/null 2>&1 || true
    python3 - "$dir" "$dir.fixed" <<'PY'
import filecmp, pathlib, sys
src, fixed = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for path in fixed.rglob("*.py"):
    if filecmp.cmp(path, src / path.relative_to(fixed), shallow=False):
        path.unlink()
PY
done
SG="$WORK/venv/bin/ast-grep"
RUFF="$WORK/venv/bin/ruff"
commands=(
    "read floor|$FLOOR read"
    "search floor|$FLOOR search"
    "parse floor|$FLOOR parse"
    "walk floor|$FLOOR walk"
    "verify floor|$FLOOR verify {} {}.fixed"
    "connfix check|$CONNFIX check --quiet"
    "connfix diff|$CONNFIX diff --quiet --color never"
    "ast-grep scan (3 rules)|$SG scan -c bench/ast-grep/sgconfig.yml --color never"
    "ruff check --select SIM115|$RUFF check --select SIM115 --no-cache --isolated --exit-zero --quiet"
)

results="$WORK/results.tsv"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start="$(load)"
step "timing: $ROUNDS rounds, interleaved (load at start: $load_start)"
python3 bench/measure.py "$ROUNDS" "$results" --corpora "${corpora[@]}" --commands "${commands[@]}"
load_end="$(load)"

instructions="$WORK/instructions.tsv"
: >"$instructions"
# Counted on the smallest dense corpus, the third of the list (none: no count).
counted_corpus="${corpora[2]:-}"
if [ "${INSTRUCTIONS:-1}" != 0 ] && [ -n "$counted_corpus" ]; then
    if ! command -v valgrind >/dev/null; then
        step "installing valgrind (for instruction counts)"
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    fi
    small="${counted_corpus#*:}"
    step "instructions on $small, one thread (callgrind; a few minutes)"
    counted=(
        "parse floor|$FLOOR parse {}"
        "walk floor|$FLOOR walk {}"
        "source floor|$FLOOR source {}"
        "model (every function)|$FLOOR model {}"
        "verify floor|$FLOOR verify {} {}.fixed"
        "judged verify floor|$FLOOR judged {} {}.fixed"
        "connfix check|$CONNFIX check --quiet {}"
        "connfix diff|$CONNFIX diff --quiet --color never {}"
        "ast-grep scan (3 rules)|$SG scan -j 1 -c bench/ast-grep/sgconfig.yml --color never {}"
    )
    for spec in "${counted[@]}"; do
        label="${spec%%|*}"
        cmd="${spec#*|}"
        # shellcheck disable=SC2086 # the command is split into words on purpose
        refs="$(RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            ${cmd//\{\}/$small} 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d ,)" || true
        printf '%s\t%s\n' "$label" "$refs" >>"$instructions"
        step "  $label: $refs"
    done
fi

step "writing $OUT"
python3 bench/report.py "$results" "$OUT" \
    --rounds "$ROUNDS" --load-start "$load_start" --load-end "$load_end" \
    --versions "connfix $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo '+changes'); $("$SG" --version); $("$RUFF" --version); tree-sitter-python $(grep -A1 'name = "tree-sitter-python"' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')" \
    --corpora "${corpora[@]}" --instructions "$instructions" --instructions-corpus "${counted_corpus%%:*}"
cat "$OUT"
