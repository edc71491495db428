"""The hand-written regression cases, tests/oracle/cases/*.py: one program
per bug class.  Each case is an ordinary program of the oracle (handlers
named `handler*` taking `x`), with a header:

    # oracle-case: <class>: what it shows
    # oracle-inputs: 0 1 2 5@1      (x values; x@n: the n-th connect() fails)
    # oracle-filename: we"ird.py    (optional: the name connfix sees)
    # oracle-forbid: never-closed   (optional: findings that would be wrong)

A case passes when the oracle finds nothing: they fail on connfix versions
with the bug and pass once it is fixed."""

import glob
import os
import re

from . import runner

CASES = os.path.join(os.path.dirname(__file__), "cases")


def load():
    out = []
    for path in sorted(glob.glob(os.path.join(CASES, "*.py"))):
        with open(path, encoding="utf-8") as f:
            src = f.read()
        meta = dict(re.findall(r"^# oracle-([a-z]+): (.*)$", src, re.M))
        inputs = []
        for tok in meta.get("inputs", "0 1 2 3").split():
            x, _, fo = tok.partition("@")
            inputs.append((int(x), int(fo) if fo else None))
        name = meta.get("filename", os.path.basename(path))
        name = name.encode().decode("unicode_escape") if "\\" in name else name
        out.append((os.path.basename(path), name, src, inputs, meta.get("case", ""), meta.get("forbid", "").split()))
    return out


def run_cases():
    cases = load()
    new, codes, errors = runner.connfix_dir({c[1]: c[2] for c in cases})
    stderr = runner.connfix_dir.last_stderr
    ok_all = True
    print(f"regression cases ({len(cases)}):")
    for case, name, src, inputs, what, forbid in cases:
        fails = runner.compare(src, new[name], name, inputs, codes.get(name, []))
        for code in sorted(set(forbid) & {r for r, _ in codes.get(name, [])}):
            fails.append(("wrong-finding", f"connfix reports {code}, which this program does not have", None))
        bad = _controls(name) & set(stderr)
        if bad:
            i = min(stderr.index(c) for c in bad)
            fails.append(("message-text", f"connfix prints the file name's control characters raw: ...{stderr[max(0, i - 30):i + 30]!r}...", None))
        if name in errors:
            fails.append(("connfix-error", errors[name], None))
        print(f"  {'PASS' if not fails else 'FAIL'} {case}  ({what})")
        for kind, msg, inp in fails:
            print(f"       {kind}: {msg}" + (f"  [x={inp[0]}{'' if inp[1] is None else f', connect #{inp[1]} fails'}]" if inp else ""))
        ok_all &= not fails
    return ok_all


def _controls(s):
    """C0 (but newline and tab) and C1 control characters: printed raw to a
    terminal, a file name holding them becomes terminal escape sequences."""
    return {c for c in s if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0}
