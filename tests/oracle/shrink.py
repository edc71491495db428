"""Greedy structural shrinking: keep the first smaller candidate that still
fails with the same kind, until no candidate does.  connfix runs once per
candidate through `--stdin-filename` (apply, and check --json for the
findings that may explain a gap)."""

import time

from . import gen, runner


def unresolved_globals(src):
    """Names functions read as globals that the module never defines (nor
    builtins): a program the shrinker broke by dropping an import or a
    definition.  Such a program may fail only once rewritten (a hand-written
    release whose import was dropped runs once the helper is tracked), which
    would make the shrunk program show a bug of its own, not connfix's."""
    import builtins
    import symtable

    top = symtable.symtable(src, "p.py", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    defined |= set(dir(builtins))
    missing = set()
    stack = list(top.get_children())
    while stack:
        t = stack.pop()
        stack += t.get_children()
        for sym in t.get_symbols():
            if sym.is_referenced() and sym.is_global() and sym.get_name() not in defined:
                missing.add(sym.get_name())
    return missing


def failures(prog, name, inputs, strict=(False, False), known=frozenset()):
    """strict: (original, rewritten) must not raise NameError.  The original
    must not read undefined globals beyond `known` (those of the program the
    shrinking started from)."""
    src = gen.render(prog)
    try:
        compile(src, name, "exec")
    except SyntaxError:
        return []
    if unresolved_globals(src) - known:
        return []
    if strict[0] and runner.name_error(src, name, inputs):
        return []
    new, findings = runner.connfix_one(name, src)
    if strict[1] and runner.name_error(new, name, inputs):
        return []
    return runner.compare(src, new, name, inputs, findings)


def shrink(prog, kind, name, inputs, deadline):
    best = None
    for f in failures(prog, name, inputs):
        if f[0] == kind:
            best = f
    if best is None:  # not reproducible alone (should not happen)
        return prog, None
    src = gen.render(prog)
    known = frozenset(unresolved_globals(src))
    strict = (
        not runner.name_error(src, name, inputs),
        not runner.name_error(runner.connfix_one(name, src)[0], name, inputs),
    )
    improved = True
    while improved and time.time() < deadline:
        improved = False
        for cand in gen.shrink_candidates(prog):
            if time.time() > deadline:
                break
            if gen.size(cand) >= gen.size(prog) and gen.render(cand) == gen.render(prog):
                continue
            fs = [f for f in failures(cand, name, inputs, strict, known) if f[0] == kind]
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


def signature(prog):
    """The shrunk program with names and numbers normalised: two failures with
    the same signature are the same failure class."""
    import re

    src = gen.render(prog)
    src = re.sub(r"\bconn2\b", "conn", src)
    src = re.sub(r"\bengine2\b", "engine", src)
    src = re.sub(r'"(q|db)\d+"', r'"\1"', src)
    src = re.sub(r"x & \d+", "x & K", src)
    return src
