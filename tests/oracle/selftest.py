"""--selftest: the oracle must be able to fail.  connfix's output for known
programs is mutated in known-bad ways, and each mutation must be caught
with the expected kind; the unmutated output of a correctly fixed program
must pass (no false alarm)."""

import re
import textwrap

from . import runner

ROUTE = textwrap.dedent(
    '''
    from src.db_compat import DBError


    def get_db_connection():
        from src.db_compat import connect
        return connect(use_pool=True)


    def handler(x):
        conn = None
        try:
            conn = get_db_connection()
            return conn.execute("q", x & 1)
        except DBError:
            return "error"
        finally:
            if conn:
                conn.close()
    '''
).lstrip()

ENGINE = textwrap.dedent(
    '''
    from sqlalchemy import create_engine


    def handler(x):
        engine = create_engine("db")
        r = engine.execute("q")
        return r


    def handler_escape(x):
        engine2 = create_engine("db2")
        return engine2
    '''
).lstrip()


def dup_line(pat):
    def f(s):
        lines = s.split("\n")
        i = next(i for i, l in enumerate(lines) if pat in l)
        return "\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])

    return f


def drop_line(pat, repl=None):
    def f(s):
        lines = s.split("\n")
        i = next(i for i, l in enumerate(lines) if pat in l)
        if repl is None:
            del lines[i]
        else:
            lines[i] = re.sub(r"\S.*", repl, lines[i])
        return "\n".join(lines)

    return f


MUTATIONS = [
    # (name, program, mutation of connfix's output, the kind that must be reported)
    ("unmutated output of the audit route passes", ROUTE, None, None),
    ("release block duplicated", ROUTE, dup_line("track_connection_released("), "double-release"),
    ("release call dropped", ROUTE, drop_line("track_connection_released(", "pass"), "tracker-truth"),
    ("acquisition not tracked", ROUTE, drop_line("conn._tracking_start = track_start"), "untracked-acquisition"),
    ("context string changed", ROUTE, lambda s: s.replace("::get_db_connection", "::other"), "context-text"),
    ("a close dropped", ROUTE, drop_line("        conn.close()", "pass"), "driver-events"),
    ("a result changed", ROUTE, lambda s: s.replace('"error"', '"err"'), "behaviour"),
    ("escaping engine disposed", ENGINE, lambda s: s.replace("    return engine2", "    engine2.dispose()\n    return engine2"), "use-after-dispose"),
    ("dispose dropped", ENGINE, drop_line("engine.dispose()", "pass"), "engine-not-disposed"),
    ("rewrite does not compile", ROUTE, lambda s: s + "\n)\n", "compiles"),
    # a wrong report-only finding: never-closed on the route's acquisition (line 12)
    ("never-closed reported on a closed connection", ROUTE, ("findings", lambda fs: fs + [("never-closed", 12)]), "false-never-closed"),
]
INPUTS = [(0, None), (1, None)]


def main():
    ok = True
    print("selftest (connfix's output mutated; the oracle must catch each):")
    for what, prog, mut, kind in MUTATIONS:
        name = "selftest.py"
        new, codes = runner.connfix_one(name, prog)
        if isinstance(mut, tuple):
            codes = mut[1](codes)
        elif mut is not None:
            m = mut(new)
            if m == new:
                print(f"  FAIL {what}: the mutation did not apply to connfix's output")
                ok = False
                continue
            new = m
        fails = runner.compare(prog, new, name, INPUTS, codes)
        kinds = {f[0] for f in fails}
        good = (not fails) if kind is None else (kind in kinds)
        ok &= good
        print(f"  {'PASS' if good else 'FAIL'} {what}: " + (f"caught as {sorted(kinds)}" if fails else "no failure"))
    return ok
