#!/usr/bin/env python3
"""Measure connfix on public `get_db_connection` helpers (issue 14).

Usage:
    python3 scripts/public_helpers.py /tmp/connfix-public \
        [--tsv corpus/public-helpers.tsv] [--connfix target/release/connfix] \
        [--markdown FILE]

The folder holds one sub-folder per repository, named `owner__repo`, with the
files fetched as described in corpus/README.md. For each repository the script
runs `connfix check --json .` inside that folder and classifies every helper
definition listed in the TSV by the findings at its `def` line:

  instrumented  `tracked-helper` with a fix (fix != "none")
  correct       no finding on the helper, or only info-level findings
  declined      `unrecognised-helper`
  untrackable   `untrackable-connection`
  (other)       any other rule at the def line, listed under its own name

It also counts `never-closed` (and `with-does-not-close`) findings whose line
calls a helper of a shape the caller does not own (flask-g, attr-cache,
lru-cache, generator, contextmanager): those findings are false by design.
Helpers not named `get_db_connection` are passed to connfix with a temporary
`helpers = [...]` configuration. Standard library only; always exits 0.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_OWNED = {"flask-g", "attr-cache", "lru-cache", "generator", "contextmanager"}
HELPER_RULES = {
    "unrecognised-helper": "declined",
    "untrackable-connection": "untrackable",
}
COLUMNS = ["instrumented", "correct", "declined", "untrackable"]
DEF_RE = re.compile(r"\s*(?:async\s+)?def\s+(\w+)\s*\(")


def read_rows(tsv):
    with open(tsv, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def source_lines(folder, row):
    path = os.path.join(folder, row["repo"].replace("/", "__"), row["path"])
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().split("\n")
    except OSError:
        return None


def run_connfix(connfix, repo_dir, names):
    cmd = [connfix, "check", "--json", "--color", "never"]
    cfg = None
    if set(names) - {"get_db_connection"}:
        cfg = tempfile.NamedTemporaryFile("w", suffix="connfix.toml", delete=False)
        cfg.write("helpers = %s\n" % json.dumps(sorted(set(names) | {"get_db_connection"})))
        cfg.close()
        cmd += ["--config", cfg.name]
    proc = subprocess.run(cmd + ["."], cwd=repo_dir, capture_output=True, text=True)
    if cfg:
        os.unlink(cfg.name)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return None
    files = {}
    for f in report.get("files", []):
        files[os.path.normpath(f["path"])] = f
    return files


def classify(row, lines, files):
    """Outcome of one helper definition from the findings at its def line."""
    if lines is None:
        return "missing-file"
    if files is None:
        return "connfix-error"
    line = int(row["line"])
    first = line  # decorators above the def count as the definition too
    while first > 1 and lines[first - 2].lstrip().startswith("@"):
        first -= 1
    entry = files.get(os.path.normpath(row["path"]))
    if entry is None:
        return "correct"
    if entry.get("error"):
        return "parse-error"
    at_def = [x for x in entry["findings"] if first <= x["start"]["line"] <= line]
    for x in at_def:
        if x["rule"] == "tracked-helper":
            return "instrumented" if x.get("fix", "none") != "none" else "tracked-helper(no fix)"
        if x["rule"] in HELPER_RULES:
            return HELPER_RULES[x["rule"]]
    others = [x["rule"] for x in at_def if x["severity"] != "info"]
    return others[0] if others else "correct"


def caller_findings(rows_of_repo, folder, files):
    """never-closed / with-does-not-close findings on connections from not-owned helpers."""
    counts = collections.Counter()
    helpers = {}
    for row in rows_of_repo:
        lines = source_lines(folder, row)
        m = DEF_RE.match(lines[int(row["line"]) - 1]) if lines else None
        if m:
            helpers[m.group(1)] = row["shape"]
    for path, entry in (files or {}).items():
        src = os.path.join(folder, rows_of_repo[0]["repo"].replace("/", "__"), path)
        try:
            with open(src, encoding="utf-8") as f:
                text = f.read().split("\n")
        except OSError:
            continue
        for x in entry["findings"]:
            if x["rule"] not in ("never-closed", "with-does-not-close"):
                continue
            code = text[x["start"]["line"] - 1] if x["start"]["line"] <= len(text) else ""
            for name, shape in helpers.items():
                if re.search(r"\b%s\s*\(" % re.escape(name), code):
                    owned = "not-owned" if shape in NOT_OWNED else "owned"
                    counts[(x["rule"], owned, shape)] += 1
                    break
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("folder", help="folder of fetched repositories (owner__repo/...)")
    ap.add_argument("--tsv", default=os.path.join(ROOT, "corpus", "public-helpers.tsv"))
    ap.add_argument("--connfix", default=os.path.join(ROOT, "target", "release", "connfix"))
    ap.add_argument("--markdown", help="also write a markdown summary to this file")
    args = ap.parse_args()
    connfix = os.path.abspath(args.connfix) if os.sep in args.connfix else args.connfix

    rows = read_rows(args.tsv)
    by_repo = collections.OrderedDict()
    for row in rows:
        by_repo.setdefault(row["repo"], []).append(row)

    results, callers = [], collections.Counter()
    for repo, repo_rows in by_repo.items():
        repo_dir = os.path.join(args.folder, repo.replace("/", "__"))
        names = []
        for row in repo_rows:
            lines = source_lines(args.folder, row)
            m = DEF_RE.match(lines[int(row["line"]) - 1]) if lines and int(row["line"]) <= len(lines) else None
            row["name"] = m.group(1) if m else "?"
            names.append(row["name"])
        files = run_connfix(connfix, repo_dir, names) if os.path.isdir(repo_dir) else None
        for row in repo_rows:
            results.append((row, classify(row, source_lines(args.folder, row), files)))
        callers += caller_findings(repo_rows, args.folder, files)

    # Table per shape.
    table = collections.OrderedDict()
    extra_cols = sorted({o for _, o in results if o not in COLUMNS})
    for row, outcome in sorted(results, key=lambda r: r[0]["shape"]):
        t = table.setdefault(row["shape"], collections.Counter())
        t["helpers"] += 1
        t[outcome] += 1
    for (rule, owned, shape), n in callers.items():
        if rule == "never-closed" and owned == "not-owned":
            table.setdefault(shape, collections.Counter())["nc"] += n
    cols = ["helpers"] + COLUMNS + extra_cols + ["nc"]
    heads = ["shape"] + cols[:-1] + ["never-closed (not owned)"]
    total = collections.Counter()
    body = []
    for shape, t in table.items():
        body.append([shape] + [str(t[c]) for c in cols])
        total.update(t)
    body.append(["**total**"] + [str(total[c]) for c in cols])
    good = total["instrumented"] + total["correct"]
    share = "instrumented + correct: %d / %d = %.1f %%" % (good, total["helpers"], 100.0 * good / max(total["helpers"], 1))
    other_alt = sum(1 for r, _ in results if r["name"] != "get_db_connection")

    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(heads)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(heads))
    for b in body:
        print(fmt % tuple(b))
    print()
    print(share)
    print("helpers named other than get_db_connection (configured as helpers for their repository): %d" % other_alt)
    nc_owned = sum(n for (r, o, _), n in callers.items() if r == "never-closed" and o == "owned")
    wdc = sum(n for (r, o, _), n in callers.items() if r == "with-does-not-close" and o == "not-owned")
    print("never-closed on connections the caller owns (pool/raw helpers): %d" % nc_owned)
    print("with-does-not-close on connections from not-owned helpers: %d" % wdc)

    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as md:
            md.write("| " + " | ".join(heads) + " |\n")
            md.write("|" + "---|" * len(heads) + "\n")
            for b in body:
                md.write("| " + " | ".join(b) + " |\n")
            md.write("\n%s\n\n" % share)
            md.write("- helpers named other than `get_db_connection`: %d\n" % other_alt)
            md.write("- `never-closed` on connections the caller owns: %d\n" % nc_owned)
            md.write("- `with-does-not-close` on connections from not-owned helpers: %d\n\n" % wdc)
            md.write("<details><summary>Per helper</summary>\n\n| repo | path:line | name | shape | outcome |\n|---|---|---|---|---|\n")
            for row, outcome in results:
                md.write("| %s | %s:%s | %s | %s | %s |\n" % (row["repo"], row["path"], row["line"], row["name"], row["shape"], outcome))
            md.write("\n</details>\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
