"""Greedy structural shrinking: keep the first smaller candidate that still
fails with the same kind, until no candidate does.  connfix runs once per
candidate through `--stdin-filename` (apply, and check --json for the
findings that may explain a gap)."""

import time

from . import gen, runner


def failures(prog, name, inputs):
    src = gen.render(prog)
    try:
        compile(src, name, "exec")
    except SyntaxError:
        return []
    new, findings = runner.connfix_one(name, src)
    return runner.compare(src, new, name, inputs, findings)


def shrink(prog, kind, name, inputs, deadline):
    best = None
    for f in failures(prog, name, inputs):
        if f[0] == kind:
            best = f
    if best is None:  # not reproducible alone (should not happen)
        return prog, None
    improved = True
    while improved and time.time() < deadline:
        improved = False
        for cand in gen.shrink_candidates(prog):
            if time.time() > deadline:
                break
            if gen.size(cand) >= gen.size(prog) and gen.render(cand) == gen.render(prog):
                continue
            fs = [f for f in failures(cand, name, inputs) if f[0] == kind]
            if fs:
                prog, best, improved = cand, fs[0], True
                break
    # keep only the inputs that fail
    return prog, best


def show(prog, f, name):
    src = gen.render(prog)
    new, findings = runner.connfix_one(name, src)
    print("--- smallest original program:")
    print(src.rstrip())
    print("--- rewritten by connfix:")
    print(new.rstrip())
    print(f"--- findings: {', '.join(f'{r} (line {l})' for r, l in findings) or 'none'}")
    if f:
        print(f"--- input x={f[2][0] if f[2] else None}" + (f", connect() #{f[2][1]} fails" if f[2] and f[2][1] else ""))
        print(f"--- violated: {f[0]}: {f[1]}")
