"""Run a program original vs rewritten under the stand-ins and compare.

Invariants (names are what a failure prints):

ALWAYS (whatever connfix reported):
  behaviour         same return values (after `consume`), same exceptions
                    (type and message), call by call
  driver-events     same driver event sequence (opens, executes, closes,
                    engine creation and use; disposes are left out: adding
                    them is the point of the rewrite)
  double-release / release-unknown / negative-count / use-after-dispose
                    recorded by the stand-ins during the rewritten run and
                    not already in the original run
  compiles          the rewritten file compiles
  context-text      every context the tracker receives is the helper's
                    `<file name>::get_db_connection` (or one written by hand)
  false-never-closed  (report-only rules, class 6) no `never-closed` finding on
                    a line whose connections the original program closed in
                    every run (a finding on a connection leaked on some path
                    but closed on another is right)

UNLESS EXPLAINED by a finding of `connfix check --json` (see EXPLAINS):
  tracker-truth         after every call, tracker active == connections open
                        (judged on what the call changes, so a gap excused
                        in one handler is not blamed on the next)
                        (tracker-truth-connect-failed: the difference is
                        exactly the acquisitions whose connect() raised)
  untracked-acquisition every connection opened carries its tracker token
  engine-not-disposed   every engine unreachable after a call was disposed
"""

import builtins
import gc
import json
import os
import subprocess
import tempfile
import types
from collections import Counter

from . import standins as S

# Which finding codes excuse which gap.  A finding excuses a gap seen during
# a call of handler h when it lies inside h, or outside every handler (in
# the helper, a class, an auxiliary function, the module level), since those
# run on behalf of any handler.
EXPLAINS = {
    "tracker-truth": {
        # a close connfix saw and declined to guard (`return conn.close()`,
        # a lambda): the connection closes, the tracker still counts it
        "close-in-expression",
        # a helper shape it does not rewrite: acquisitions stay untracked
        # while their closes may be released, or the reverse
        "unrecognised-helper",
        # a helper returning a raw driver connection: no tracking possible
        "untrackable-connection",
    },
    # no finding explains an acquisition counted for a connect() that raised
    # no finding explains an acquisition counted for a connect() that raised,
    # but a helper the program tracked by hand (`by-hand-tracking`: the
    # original already calls the acquire function, tracking first as the
    # audit writes it) is the program's own order, which connfix leaves
    # (and connfix's helper connects before it tracks, so a gap that only
    # looks like a failed connect's is one of tracker-truth's own, below)
    "tracker-truth-connect-failed": {
        "by-hand-tracking",
        "unrecognised-helper",
        "close-in-expression",
        "untrackable-connection",
    },
    "untracked-acquisition": {
        "unrecognised-helper",  # the helper was not rewritten
        "untrackable-connection",  # the connection takes no attributes
    },
    "engine-not-disposed": {
        # reported as never disposed, with no fix: connfix says so and
        # leaves it to the author
        "dispose-engine-unfixed",
        # an engine handed to a call that may keep it: disposing it is an
        # unsafe fix, reported and not applied by default
        "unsafe-fix",
        # connfix judged the engine to outlive the call and left it
        # undisposed on purpose; an over-cautious judgement is reported,
        # so it is not a silent leak
        "engine-escapes",
        "module-engine",
    },
}
ALWAYS_KINDS = (
    "compiles",
    "behaviour",
    "driver-events",
    "double-release",
    "release-unknown",
    "negative-count",
    "use-after-dispose",
    "context-text",
)
HAND_CONTEXTS = {"by-hand::get_db_connection"}


def fmt_exc(e):
    return f"{type(e).__name__}: {e}"


def consume(v, depth=0):
    """What a caller does with a returned value: engines and session
    factories are used (so disposing an escaping engine shows), the rest is
    described."""
    if depth > 3:
        return "..."
    if isinstance(v, S.FakeEngine):
        return ("engine", v.execute("consume"))
    if isinstance(v, type) and issubclass(v, S.Session):
        return ("session", v().execute("consume"))
    if isinstance(v, (tuple, list)):
        return tuple(consume(i, depth + 1) for i in v)
    if isinstance(v, dict):
        return tuple((k, consume(i, depth + 1)) for k, i in v.items())
    if callable(v) and getattr(v, "__name__", "") in ("later", "<lambda>"):
        return ("called", consume(v(), depth + 1))
    if isinstance(v, (str, int, float, type(None), S.FakeConnection)):
        return repr(v)
    return type(v).__name__


class Run:
    def __init__(self):
        self.calls = []  # (name, result, exception)
        self.events = []
        self.violations = []  # (kind, message)
        self.gaps = []  # (kind, message)
        self.contexts = []
        self.sites = Counter()  # helper call line -> connections it gave
        self.closed_sites = Counter()  # ... of which the program closed


def classify(msg):
    if msg.startswith("double release"):
        return "double-release"
    if msg.startswith("release of something"):
        return "release-unknown"
    if msg.startswith("tracker active count negative"):
        return "negative-count"
    if "used after dispose" in msg:
        return "use-after-dispose"
    return "stand-in"


def run(code, filename, x, fail_open_at):
    w = S.new_world(fail_open_at)
    r = Run()
    g = {"__name__": "oracle_program", "__file__": filename, "__builtins__": builtins}
    try:
        exec(code, g)
    except Exception as e:
        r.calls.append(("<module>", None, fmt_exc(e)))
        r.events = w.events
        return r
    handlers = [(k, v) for k, v in list(g.items()) if k.startswith("handler") and callable(v)]
    seen_conn, seen_engine = set(), set()
    for name, h in handlers:
        # the tracker's error before the call: each call is judged on what it
        # changes, so a gap a finding excuses in one handler is not blamed on
        # the handlers called after it
        diff0, failed0 = w.active - w.really_open(), w.failed_opens
        try:
            res = h(x)
            try:
                out = repr(consume(res))
            except Exception as e:
                out = "consume raised " + fmt_exc(e)
            r.calls.append((name, out, None))
        except Exception as e:
            r.calls.append((name, None, fmt_exc(e)))
        res = None
        for store in ("STORE", "ENGINES", "REGISTRY"):
            try:
                consume(g.get(store))
            except Exception:
                pass
        # -- invariants after the call
        diff = w.active - w.really_open()
        if diff == diff0:
            pass
        elif w.failed_opens > failed0 and diff - diff0 == w.failed_opens - failed0:
            # the audit's helper acquires, then connects: a connect() that
            # raises leaves its acquisition counted; a kind of its own so that
            # it does not hide the other tracker-truth failures
            r.gaps.append(("tracker-truth-connect-failed", f"after {name}({x}): tracker active {w.active}, connections open {w.really_open()}, {w.failed_opens} connect() failed", name))
        else:
            r.gaps.append(("tracker-truth", f"after {name}({x}): tracker active {w.active}, connections open {w.really_open()}", name))
        for c in w.all_conns:
            if c._n not in seen_conn and not isinstance(c.__dict__.get("_ever_tracked"), S.Token):
                seen_conn.add(c._n)
                r.gaps.append(("untracked-acquisition", f"during {name}({x}): connection #{c._n} opened without a tracker token", name))
        if any(ref() is not None and not st.disposed for ref, st in w.engines):
            gc.collect()
        for ref, st in w.engines:
            if ref() is None and not st.disposed and st.n not in seen_engine:
                seen_engine.add(st.n)
                r.gaps.append(("engine-not-disposed", f"after {name}({x}): engine #{st.n} unreachable and never disposed", name))
    r.sites = Counter(c._site for c in w.all_conns)
    r.closed_sites = Counter(c._site for c in w.all_conns if c._closed)
    r.events = w.events
    r.violations = [(classify(v), v) for v in w.violations]
    r.contexts = w.contexts
    return r


def handler_lines(code):
    """{handler name: (first line, last line)} of the top-level handlers, from
    the compiled module (a second parse of every program cost a fifth of the
    run)."""
    # a function ends where the next top-level statement starts (its own
    # lines would miss dead code after a return, which the compiler drops)
    tops = sorted({l for _, _, l in code.co_lines() if l is not None})
    out = {}
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and c.co_name.startswith("handler"):
            first = c.co_firstlineno
            later = [l for l in tops if l > first]
            out[c.co_name] = (first, later[0] - 1 if later else 1 << 30)
    return out


def finding_code(x):
    """A finding's rule, or `unsafe-fix` when it carries a fix this run does
    not apply (connfix said it would not change that site safely), or
    `dispose-engine-unfixed` for a never-disposed engine connfix reports
    and leaves to the author (its name is bound again inside the block)."""
    if x.get("fix") == "unsafe":
        return "unsafe-fix"
    if x["rule"] == "dispose-engine" and x.get("fix") == "none":
        return "dispose-engine-unfixed"
    return x["rule"]


def explained(kind, handler, findings, ranges):
    for rule, line in findings:
        if rule not in EXPLAINS[kind]:
            continue
        inside = [h for h, (a, b) in ranges.items() if a <= line <= b]  # noqa: E741
        if not inside or handler in inside:
            return True
    return False


def name_error(src, filename, inputs):
    """Does the program raise NameError (not UnboundLocalError) on some
    input?  The shrinker rejects candidates whose original or rewritten
    program does when the program it started from did not: dropping an
    import must not become the failure."""
    try:
        code = compile(src, filename, "exec")
    except SyntaxError:
        return False
    for x, fo in inputs:
        if any(e and e.startswith("NameError:") for _, _, e in run(code, filename, x, fo).calls):
            return True
    return False


def compare(orig_src, new_src, filename, inputs, findings):
    """Failures [(kind, message, input)] of one program.  findings: the
    (rule, line) pairs `connfix check --json` reported on the original."""
    fails = []
    orig_code = compile(orig_src, filename, "exec")
    ranges = handler_lines(orig_code)
    if "track_connection_acquired(" in orig_src:
        findings = list(findings) + [("by-hand-tracking", 0)]
    try:
        new_code = compile(new_src, filename, "exec")
    except SyntaxError as e:
        return [("compiles", f"rewritten file does not compile: {e}", None)]
    expected_ctx = os.path.basename(filename) + "::get_db_connection"
    sites, closed = Counter(), Counter()
    for inp in inputs:
        x, fo = inp
        a = run(orig_code, filename, x, fo)
        b = run(new_code, filename, x, fo)
        sites.update(a.sites)
        closed.update(a.closed_sites)
        if a.calls != b.calls:
            for ca, cb in zip(a.calls, b.calls):
                if ca != cb:
                    fails.append(("behaviour", f"{ca[0]}: original {_outcome(ca)}, rewritten {_outcome(cb)}", inp))
                    break
            else:
                fails.append(("behaviour", f"calls {a.calls} vs {b.calls}", inp))
        if a.events != b.events:
            i = next((i for i, (p, q) in enumerate(zip(a.events, b.events)) if p != q), min(len(a.events), len(b.events)))
            fails.append(("driver-events", f"from event {i}: original {a.events[i:i + 4]}, rewritten {b.events[i:i + 4]}", inp))
        extra = Counter(k for k, _ in b.violations) - Counter(k for k, _ in a.violations)
        for kind in extra:
            msg = next(m for k, m in b.violations if k == kind)
            fails.append((kind, msg, inp))
        for ctx in b.contexts:
            if ctx != expected_ctx and ctx not in HAND_CONTEXTS:
                fails.append(("context-text", f"tracker got context {ctx!r}, expected {expected_ctx!r}", inp))
                break
        # A call that failed on a name of its own (`del conn` of an unbound
        # name, then `conn.close()` in its finally) skips the rest of its
        # cleanup in the original too: what it leaves undisposed or
        # untracked is the program's bug, which connfix does not make.
        broken = {
            name
            for name, _, exc in a.calls
            if exc and exc.startswith(("UnboundLocalError", "NameError"))
        }
        for kind, msg, handler in b.gaps:
            if handler in broken and kind in ("engine-not-disposed", "tracker-truth"):
                continue
            if not explained(kind, handler, findings, ranges):
                fails.append((kind, msg, inp))
    suspects = [line for rule, line in findings if rule == "never-closed" and sites[line] and closed[line] == sites[line]]
    if suspects:
        # the sampled inputs may miss the path that leaks: confirm on every
        # input the branches can tell apart (five bits of x; x % 3 for loops)
        # with no, the first or the second connect() failing
        for x in range(32):
            for fo in (None, 1, 2):
                a = run(orig_code, filename, x, fo)
                sites.update(a.sites)
                closed.update(a.closed_sites)
        for line in suspects:
            if closed[line] == sites[line]:
                fails.append(("false-never-closed", f"never-closed reported on line {line}, whose {sites[line]} connections the program closed on every input", None))
    # one failure per kind per program
    first = {}
    for f in fails:
        first.setdefault(f[0], f)
    return list(first.values())


def _outcome(c):
    return f"raised {c[2]}" if c[2] else f"returned {c[1]}"


# ---------------------------------------------------------------- connfix
# a RAM-backed scratch folder when there is one: thousands of small files
TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def connfix_bin():
    return os.environ.get("CONNFIX") or os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "connfix")


def connfix_dir(files):
    """files: {name: source}.  Returns ({name: rewritten}, {name: [(rule,
    line)]}, {name: error}) from one `check --json` and one `apply` over a temp dir."""
    exe = os.path.abspath(connfix_bin())
    with tempfile.TemporaryDirectory(prefix="oracle-", dir=TMP) as d:
        for name, src in files.items():
            with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
                f.write(src)
        p = subprocess.run([exe, "check", "--json", "."], cwd=d, capture_output=True)
        if p.returncode == 2 and not p.stdout:
            raise RuntimeError(f"connfix check failed: {p.stderr.decode(errors='replace')}")
        doc = json.loads(p.stdout or b'{"files": []}')
        codes, errors = {}, {}
        for f in doc["files"]:
            name = os.path.basename(f["path"])
            codes[name] = [(finding_code(x), x["start"]["line"]) for x in f["findings"]]
            if f.get("error"):
                errors[name] = f["error"]["message"]
        p = subprocess.run([exe, "apply", "."], cwd=d, capture_output=True)
        if p.returncode not in (0, 1, 2):
            raise RuntimeError(f"connfix apply crashed: {p.returncode} {p.stderr.decode(errors='replace')}")
        connfix_dir.last_stderr = (p.stdout + p.stderr).decode("utf-8", errors="replace")
        out = {}
        for name in files:
            with open(os.path.join(d, name), encoding="utf-8", newline="") as f:
                out[name] = f.read()
    return out, codes, errors


def connfix_one(name, src):
    exe = os.path.abspath(connfix_bin())
    with tempfile.TemporaryDirectory(prefix="oracle-", dir=TMP) as d:
        p = subprocess.run([exe, "apply", "--stdin-filename", name, "-"], cwd=d, input=src.encode(), capture_output=True)
        new = p.stdout.decode() if p.returncode in (0, 1) else src
        q = subprocess.run([exe, "check", "--json", "--stdin-filename", name, "-"], cwd=d, input=src.encode(), capture_output=True)
        doc = json.loads(q.stdout or b'{"files": []}')
    findings = []
    for f in doc["files"]:
        findings += [(finding_code(x), x["start"]["line"]) for x in f["findings"]]
    return new, findings
