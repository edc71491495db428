#!/usr/bin/env python3
"""Stress test for `connfix apply` on large real-world Python corpora.

For every corpus (the CPython standard library of this machine, PyPI sdists)
and every configuration, a fresh copy of the corpus is rewritten in place by
`connfix apply`, and then:

  a. every changed file compiles with CPython (`compile()`); one whose
     original did not compile must fail the same way (the fix kept the
     error, it did not make one);
  b. AST oracle: the rewritten file's AST equals the original's once the
     constructs connfix inserts are taken out again (see `Oracle`), and the
     inserted constructs sit where the contract says;
  c. a second `connfix apply` on the same tree changes no byte;
  d. files reported as errors, and files the tool did not change, are
     byte-identical to the originals; no non-.py file is touched;
  e. no file CPython compiles is called a syntax error (configuration P
     makes nearly every file parsed, so this covers the whole corpus).

Only the standard library is used, so the oracle can be imported by
scripts/oracle_selftest.py.

Usage:
  python3 scripts/stress.py --connfix target/release/connfix \
      --corpus stdlib --corpus pypi:Django==5.1.4 --out STRESS.md
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import hashlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import tokenize
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TRACK_COMMENT = "# Track this connection acquisition"
RELEASE_COMMENT = "# Release tracking before closing connection"
# Connections that take no attributes (raw drivers) are tracked in a
# registry of the tracker module, keyed by `id()` of the connection.
TRACK_REGISTRY_COMMENT = (
    "# Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)"
)
INSERTED_COMMENTS = (TRACK_COMMENT, RELEASE_COMMENT, TRACK_REGISTRY_COMMENT)
# The name a `return <call>` rewrite binds: the first of these the function does not use.
RETURN_NAMES = ("conn", "connection", "db_conn", "_conn")

# Engine defaults of connfix (used by configurations that leave them out).
# Overridable on the command line if the tool's defaults differ.
DEFAULT_ENGINE_FACTORIES = ["create_engine", "create_async_engine"]
DEFAULT_DISPOSE_METHOD = "dispose"


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass
class Cfg:
    """What the oracle needs to know about one connfix configuration."""

    helpers: list[str] = field(default_factory=list)
    tracker_module: str = "src.utils.connection_tracker"
    acquire: str = "track_connection_acquired"
    release: str = "track_connection_released"
    engine_factories: list[str] = field(default_factory=lambda: list(DEFAULT_ENGINE_FACTORIES))
    dispose_method: str = DEFAULT_DISPOSE_METHOD
    # Which keys are written to the TOML file (others are left to the tool's defaults).
    written_keys: tuple[str, ...] = (
        "helpers",
        "tracker_module",
        "acquire",
        "release",
        "engine_factories",
        "dispose_method",
    )

    def toml(self) -> str:
        def q(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        out = []
        for key in self.written_keys:
            val = getattr(self, key)
            if isinstance(val, list):
                out.append(f"{key} = [{', '.join(q(v) for v in val)}]")
            else:
                out.append(f"{key} = {q(val)}")
        return "\n".join(out) + "\n"


def builtin_configs() -> dict[str, Cfg]:
    return {
        # A: tracked helpers open/urlopen, engine settings left to the defaults.
        "A": Cfg(
            helpers=["open", "urlopen"],
            written_keys=("helpers", "tracker_module", "acquire", "release"),
        ),
        # B: dispose-engine on file/socket factories, no helper ever matches.
        "B": Cfg(
            helpers=["connfix_stress_helper_that_never_occurs"],
            engine_factories=["socket.socket", "tempfile.NamedTemporaryFile", "io.open"],
            dispose_method="close",
        ),
        # D: many closeable constructors as helpers, so that release blocks go
        # in front of thousands of real `x.close()` sites.
        "D": Cfg(
            helpers=["open", "urlopen", "StringIO", "BytesIO", "socket", "create_connection", "Popen",
                     "ZipFile", "TemporaryFile", "NamedTemporaryFile", "HTTPConnection", "SMTP", "FTP",
                     "connect", "mmap", "GzipFile", "BZ2File", "LZMAFile", "TarFile", "urlretrieve"],
            written_keys=("helpers", "tracker_module", "acquire", "release"),
        ),
        # E: the same constructors as engines disposed with close(): wraps.
        "E": Cfg(
            helpers=["connfix_stress_helper_that_never_occurs"],
            engine_factories=["io.StringIO", "io.BytesIO", "socket.socket", "socket.create_connection",
                              "tempfile.TemporaryFile", "tempfile.NamedTemporaryFile", "zipfile.ZipFile",
                              "subprocess.Popen", "sqlite3.connect", "urllib.request.urlopen"],
            dispose_method="close",
        ),
        # P: names nearly every file calls, so nearly every file is parsed
        # (and, where tree-sitter cannot read it, judged): no file CPython
        # compiles may be called a syntax error.
        "P": Cfg(
            helpers=["print", "len", "isinstance"],
            written_keys=("helpers", "tracker_module", "acquire", "release"),
        ),
        # C: database-flavoured names, custom tracker names, all rules at once.
        "C": Cfg(
            helpers=["connect", "get_new_connection", "_connect", "get_connection"],
            tracker_module="stress.tracker",
            acquire="acq",
            release="rel",
            engine_factories=["create_engine", "sqlite3.connect", "socket.create_connection"],
            dispose_method="close",
        ),
    }


# --------------------------------------------------------------------------
# AST helpers
# --------------------------------------------------------------------------


def dump(node) -> str:
    if isinstance(node, list):
        return "[" + ", ".join(ast.dump(n) for n in node) + "]"
    return ast.dump(node)


def dotted(expr) -> str | None:
    """`a.b.c` for Name/Attribute chains, else None."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def is_call_stmt_on(stmt, method: str):
    """If stmt is `X.method()` or `await X.method()` (no args), return (X, awaited)."""
    if not isinstance(stmt, ast.Expr):
        return None
    v = stmt.value
    awaited = False
    if isinstance(v, ast.Await):
        v, awaited = v.value, True
    if (
        isinstance(v, ast.Call)
        and isinstance(v.func, ast.Attribute)
        and v.func.attr == method
        and not v.args
        and not v.keywords
    ):
        return v.func.value, awaited
    return None


def stmt_lists(node):
    """(field name, list) of every statement-list field of a node."""
    for name in node._fields:
        val = getattr(node, name, None)
        if isinstance(val, list) and val and isinstance(val[0], ast.stmt):
            yield name, val


def binds(stmt, target) -> bool:
    """Does `stmt` bind the expression `target` (by dump equality)?"""
    t = dump(_as_store(target))

    def match(x) -> bool:
        if x is None:
            return False
        if dump(_as_store(x)) == t:
            return True
        if isinstance(x, (ast.Tuple, ast.List)):
            return any(match(e) for e in x.elts)
        if isinstance(x, ast.Starred):
            return match(x.value)
        return False

    if isinstance(stmt, ast.Assign):
        return any(match(x) for x in stmt.targets)
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        return match(stmt.target)
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return match(stmt.target)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return any(match(i.optional_vars) for i in stmt.items)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.NamedExpr):
        return match(stmt.value.target)
    return False


def ref_key(x) -> str:
    """Identity of a reference expression, ignoring Load/Store."""
    d = dotted(x)
    if d is not None:
        return d
    return re.sub(r"ctx=(Load|Store|Del)\(\)", "", ast.dump(x))


def _as_store(x):
    x = copy.deepcopy(x)
    for n in ast.walk(x):
        if hasattr(n, "ctx"):
            n.ctx = ast.Store()
    return x


def _as_load(x):
    x = copy.deepcopy(x)
    for n in ast.walk(x):
        if hasattr(n, "ctx"):
            n.ctx = ast.Load()
    return x


def names_used(node) -> set[str]:
    """Every identifier a function uses: Name ids, arguments, declared globals."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            out.update(n.names)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not node:
            out.add(n.name)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
    return out


FUNC = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Ctx:
    """Where a statement list sits."""

    func: ast.AST | None = None  # innermost enclosing function (rewritten tree)
    orig_func: ast.AST | None = None  # the same function in the original tree, if paired
    helper: bool = False  # innermost function is a tracked helper
    state: dict = field(default_factory=dict)  # per-helper bookkeeping


class Oracle:
    """Takes connfix's inserted constructs out of a rewritten AST.

    `check(orig_src, new_src)` returns (counts, failures). The normaliser walks
    the rewritten tree alongside the original one; the original is only used
    as a hint to choose between two interpretations that the contract both
    allows (a dispose call that was inserted vs. one that moved into the
    `finally`; an original `try/finally` vs. an inserted one; `return call()`
    vs. `name = call(); return name`). The final verdict is always the plain
    equality of `ast.dump` of both trees, so a hint can never hide a change.
    """

    def __init__(self, cfg: Cfg, basename: str):
        self.cfg = cfg
        self.basename = basename
        self.counts: Counter = Counter()
        self.failures: list[tuple[str, str]] = []
        self.new_lines: list[str] = []
        self.orig_tree = None
        self._tracked_cache: dict = {}
        self.factories = set(cfg.engine_factories)
        self.factory_last = {f.rsplit(".", 1)[-1] for f in cfg.engine_factories}
        self.helpers = set(cfg.helpers)

    # ---------------------------------------------------------------- API
    def check(self, orig_src, new_src):
        orig_tree = self.orig_tree = ast.parse(orig_src)
        new_tree = ast.parse(new_src)
        text = new_src.decode("utf-8", "replace") if isinstance(new_src, bytes) else new_src
        if isinstance(new_src, bytes):
            try:
                text = importlib.util.decode_source(new_src)
            except Exception:
                pass
        self.new_lines = text.splitlines()
        self.cached = self.cached_connections(new_tree)
        norm = new_tree  # normalised in place
        norm.body = self.block(norm.body, orig_tree.body, Ctx(), top=False)
        a, b = ast.dump(orig_tree, indent=1), ast.dump(norm, indent=1)
        if a != b:
            diff = difflib.unified_diff(
                a.splitlines(), b.splitlines(), "original", "rewritten-normalised", n=2, lineterm=""
            )
            lines = list(diff)
            where = first_difference(orig_tree.body, norm.body)
            head = f"first differing statement: original line {where[0]}, rewritten line {where[1]}\n" if where else ""
            more = f"\n... ({len(lines) - 40} more diff lines)" if len(lines) > 40 else ""
            self.fail("ast-mismatch", head + "\n".join(lines[:40]) + more)
        self.check_comments(orig_src, new_src)
        return self.counts, self.failures

    def fail(self, kind: str, msg: str):
        self.failures.append((kind, msg))

    # ------------------------------------------------------ classification
    def is_track_import(self, s, ctx: Ctx) -> bool:
        return (
            ctx.helper
            and isinstance(s, ast.ImportFrom)
            and s.module == self.cfg.tracker_module
            and s.level == 0
            and len(s.names) == 1
            and s.names[0].name == self.cfg.acquire
            and s.names[0].asname is None
        )

    def is_track_acquire(self, s, ctx: Ctx) -> bool:
        if not (ctx.helper and isinstance(s, ast.Assign) and len(s.targets) == 1):
            return False
        t, v = s.targets[0], s.value
        return (
            isinstance(t, ast.Tuple)
            and [getattr(e, "id", None) for e in t.elts] == ["context", "track_start"]
            and isinstance(v, ast.Call)
            and isinstance(v.func, ast.Name)
            and v.func.id == self.cfg.acquire
            and not v.keywords
            and len(v.args) == 1
            and isinstance(v.args[0], ast.Constant)
            and v.args[0].value == f"{self.basename}::{ctx.func.name}"
        )

    def track_attr(self, s, ctx: Ctx):
        """`X._tracking_context = context` -> ('context', X); same for start."""
        if not (ctx.helper and isinstance(s, ast.Assign) and len(s.targets) == 1):
            return None
        t, v = s.targets[0], s.value
        if not (isinstance(t, ast.Attribute) and isinstance(v, ast.Name)):
            return None
        if t.attr == "_tracking_context" and v.id == "context":
            return "context", t.value
        if t.attr == "_tracking_start" and v.id == "track_start":
            return "start", t.value
        return None

    def release_if(self, s):
        """The inserted release `If`; returns X or None.

        Its body: the import of the release function (as the audit writes
        it, or aliased when the scope uses the name otherwise, or left out
        when the module-level import is what the scope sees), the release
        call, and the `del` of the tracking attributes that makes a second
        release of the same connection a no-op.
        """
        if not (isinstance(s, ast.If) and not s.orelse and len(s.body) in (2, 3)):
            return None
        t = s.test
        if not (isinstance(t, ast.BoolOp) and isinstance(t.op, ast.And) and len(t.values) == 2):
            return None
        xs = []
        for call, attr in zip(t.values, ("_tracking_context", "_tracking_start")):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "hasattr"
                and len(call.args) == 2
                and not call.keywords
                and isinstance(call.args[1], ast.Constant)
                and call.args[1].value == attr
            ):
                return None
            xs.append(call.args[0])
        if dump(xs[0]) != dump(xs[1]):
            return None
        x = xs[0]
        body = list(s.body)
        callee = self.cfg.release
        if len(body) == 3:
            imp = body.pop(0)
            if not (
                isinstance(imp, ast.ImportFrom)
                and imp.module == self.cfg.tracker_module
                and imp.level == 0
                and len(imp.names) == 1
                and imp.names[0].name == self.cfg.release
            ):
                return None
            callee = imp.names[0].asname or self.cfg.release
        call, delete = body
        expect = ast.Expr(
            ast.Call(
                ast.Name(callee, ast.Load()),
                [ast.Attribute(_as_load(x), "_tracking_context", ast.Load()),
                 ast.Attribute(_as_load(x), "_tracking_start", ast.Load())],
                [],
            )
        )
        if dump(call) != dump(expect):
            return None
        expect_del = ast.Delete(
            [ast.Attribute(_as_load(x), "_tracking_context", ast.Del()),
             ast.Attribute(_as_load(x), "_tracking_start", ast.Del())]
        )
        if dump(delete) != dump(expect_del):
            return None
        return x

    # ------------------------------------- registry form and tracking units
    def _tmpl(self, src: str, x) -> str:
        """dump of the first statement of `src`, with the name `__X__` replaced by `x`."""
        d = ast.dump(ast.parse(src).body[0])
        return d.replace("Name(id='__X__', ctx=Load())", dump(_as_load(x)))

    def registry_import(self, s):
        """`import <tracker> as A`, `import builtins, <tracker> as A` or
        `import builtins as B, <tracker> as A` -> (A, the `id` function's
        text, the names bound)."""
        if not isinstance(s, ast.Import):
            return None
        names = s.names
        if len(names) == 1:
            idf = "id"
        elif len(names) == 2 and names[0].name == "builtins":
            idf = (names[0].asname or "builtins") + ".id"
        else:
            return None
        m = names[-1]
        if m.name != self.cfg.tracker_module or not m.asname:
            return None
        return m.asname, idf, [a.asname or a.name for a in names]

    def registry_track(self, s, imp, ctx: Ctx):
        """`A.__dict__.setdefault("tracked_connections", {})[id(X)] = A.<acquire>("<file>::<helper>")` -> X."""
        if not (ctx.helper and isinstance(s, ast.Assign) and len(s.targets) == 1):
            return None
        t = s.targets[0]
        if not (isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Call) and len(t.slice.args) == 1):
            return None
        x = t.slice.args[0]
        alias, idf, _ = imp
        where = f"{self.basename}::{ctx.func.name}"
        src = (
            f'{alias}.__dict__.setdefault("tracked_connections", {{}})[{idf}(__X__)]'
            f" = {alias}.{self.cfg.acquire}({where!r})"
        )
        return x if dump(s) == self._tmpl(src, x) else None

    def registry_release_if(self, s, imp):
        """`if (T := A.__dict__.get("tracked_connections", {}).pop(id(X), None)):` with
        body `A.<release>(*T)` -> (X, T)."""
        if not (isinstance(s, ast.If) and not s.orelse and len(s.body) == 1):
            return None
        t = s.test
        if not (
            isinstance(t, ast.NamedExpr)
            and isinstance(t.target, ast.Name)
            and isinstance(t.value, ast.Call)
            and len(t.value.args) == 2
            and isinstance(t.value.args[0], ast.Call)
            and len(t.value.args[0].args) == 1
        ):
            return None
        x, v = t.value.args[0].args[0], t.target.id
        alias, idf, _ = imp
        src = (
            f'if ({v} := {alias}.__dict__.get("tracked_connections", {{}}).pop({idf}(__X__), None)):\n'
            f"    {alias}.{self.cfg.release}(*{v})"
        )
        return (x, v) if dump(s) == self._tmpl(src, x) else None

    def match_release(self, stmts, k):
        """A release at stmts[k] -> (number of statements, X, form, import or None)."""
        s = stmts[k]
        x = self.release_if(s)
        if x is not None:
            return 1, x, "attr", None
        imp = self.registry_import(s)
        if imp is not None and k + 1 < len(stmts):
            r = self.registry_release_if(stmts[k + 1], imp)
            if r is not None:
                return 2, r[0], "registry", (imp, r[1])
        return None

    def match_track(self, stmts, k, ctx: Ctx):
        """A tracking unit at stmts[k] -> dict or None. Units: `[import] acquire
        attrs` (attribute form), `import; registry assignment` (registry
        form), or one of them alone under `if X is not None:`."""
        if not ctx.helper or k >= len(stmts):
            return None
        s = stmts[k]
        if isinstance(s, ast.If) and not s.orelse and not isinstance(s.test, ast.NamedExpr):
            t = s.test
            if not (
                isinstance(t, ast.Compare)
                and len(t.ops) == 1
                and isinstance(t.ops[0], ast.IsNot)
                and isinstance(t.comparators[0], ast.Constant)
                and t.comparators[0].value is None
            ):
                return None
            inner = self.match_track(s.body, 0, ctx)
            if inner is None or inner["len"] != len(s.body) or dump(_as_load(inner["x"])) != dump(_as_load(t.left)):
                return None
            return dict(inner, len=1, guard=s)
        imp = self.registry_import(s)
        if imp is not None:
            x = self.registry_track(stmts[k + 1], imp, ctx) if k + 1 < len(stmts) else None
            if x is None:
                return None
            return {"len": 2, "form": "registry", "x": x, "first": s, "stmt": stmts[k + 1], "imp": imp}
        first = s
        adjacent = self.is_track_import(s, ctx)
        if adjacent:
            k += 1
        if k + 2 >= len(stmts) or not self.is_track_acquire(stmts[k], ctx):
            return None
        a, b = self.track_attr(stmts[k + 1], ctx), self.track_attr(stmts[k + 2], ctx)
        if a is None or b is None or a[0] != "context" or b[0] != "start" or dump(a[1]) != dump(b[1]):
            return None
        return {"len": 3 + adjacent, "form": "attr", "x": a[1], "first": first, "stmt": stmts[k], "adjacent": adjacent}

    def comment_before(self, first, stmt, comment: str, kind: str):
        """`comment` on the line above `first`, or (when an import `first`
        precedes `stmt`) between the two: `import; # comment; stmt`."""
        if first is not stmt and first.end_lineno == stmt.lineno - 2 and 2 <= stmt.lineno <= len(self.new_lines):
            here = self.new_lines[stmt.lineno - 1]
            if self.new_lines[stmt.lineno - 2] == here[: len(here) - len(here.lstrip())] + comment:
                return
        self.comment_above(first, comment, kind)

    def module_imports_acquire(self) -> bool:
        return any(
            isinstance(s, ast.ImportFrom)
            and s.module == self.cfg.tracker_module
            and s.level == 0
            and any(a.name == self.cfg.acquire and a.asname is None for a in s.names)
            for s in self.orig_tree.body
        )

    def apply_track(self, u, ctx: Ctx, prev, nxt):
        """Check and count a tracking unit; `prev`/`nxt`: the statements around it."""
        x = u["x"]
        lineno = u["stmt"].lineno
        ctx.state.setdefault("tracked_keys", set()).add(ref_key(x))
        if u["form"] == "attr":
            if u["adjacent"]:
                ctx.state["unit_import"] += 1
                self.comment_before(u["first"], u["stmt"], TRACK_COMMENT, "comment-missing")
            else:
                if not ctx.state["import"] and not self.module_imports_acquire():
                    self.fail("tracking-order", f"line {lineno}: acquire call before the tracker import")
                self.comment_above(u["stmt"], TRACK_COMMENT, "comment-missing")
            ctx.state["acquire"] += 1
            ctx.state["attrs"] += 1
            self.name_clash(ctx, ["context", "track_start", self.cfg.acquire], "tracking", lineno)
        else:
            ctx.state["registry"] += 1
            self.comment_before(u["first"], u["stmt"], TRACK_REGISTRY_COMMENT, "comment-missing")
            self.name_clash(ctx, u["imp"][2], "tracking import", lineno)
            self.counts["registry_tracks"] += 1
        # Right after the statement binding X, or right before handing X out.
        xl = dump(_as_load(x))
        hands_out = (isinstance(nxt, ast.Return) and nxt.value is not None and dump(nxt.value) == xl) or (
            isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Yield) and nxt.value.value is not None
            and dump(nxt.value.value) == xl
        )
        if not hands_out and not (prev is not None and binds(prev, x)):
            self.fail(
                "tracking-attr-misplaced" if u["form"] == "attr" else "tracking-misplaced",
                f"line {lineno}: tracking of `{ast.unparse(x)}` neither follows a statement binding it "
                f"nor precedes `return`/`yield` of it",
            )

    def check_return_name(self, name: str, ctx: Ctx, lineno: int):
        scope = ctx.orig_func
        used = names_used(scope)
        want = next((c for c in RETURN_NAMES if c not in used), None)
        if name != want:
            self.fail("name-clash", f"line {lineno}: return rewrite binds `{name}`, expected `{want}` (the first of {', '.join(RETURN_NAMES)} `{scope.name}` does not use)")
        for node in ast.walk(scope):
            if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                self.fail("name-clash", f"line {lineno}: return rewrite assigns `{name}`, declared global/nonlocal in `{scope.name}`")
            if node is not scope and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if any(isinstance(m, ast.Name) and m.id == name for m in ast.walk(node)):
                    self.fail("name-clash", f"line {lineno}: return rewrite assigns `{name}`, which a nested scope of `{scope.name}` uses")
                    break

    def wrap_try(self, s):
        """An inserted dispose `try/finally`; returns (X, awaited) or None.

        The finally holds `X.<dispose>()` (or its await), possibly preceded by
        inserted release blocks for X (when a moved `X.close()` is also a
        tracked connection's close).
        """
        if not (isinstance(s, ast.Try) and not s.handlers and not s.orelse and s.finalbody):
            return None
        r = is_call_stmt_on(s.finalbody[-1], self.cfg.dispose_method)
        if r is None:
            return None
        for extra in s.finalbody[:-1]:
            x = self.release_if(extra)
            if x is None or ref_key(x) != ref_key(r[0]):
                return None
        return r[0], r[1]

    # -------------------------------------------------------------- checks
    def comment_above(self, s, comment: str, kind: str):
        ln = s.lineno - 1  # index of the statement's line
        if ln < 1 or ln > len(self.new_lines):
            self.fail(kind, f"line {s.lineno}: no line above for {comment!r}")
            return
        above, here = self.new_lines[ln - 1], self.new_lines[ln]
        indent = here[: len(here) - len(here.lstrip())]
        if above != indent + comment:
            self.fail(kind, f"line {s.lineno}: expected {comment!r} on the line above at the same indentation, got {above!r}")

    def name_clash(self, ctx: Ctx, names: list[str], what: str, lineno: int):
        scope = ctx.orig_func
        if scope is None:
            return
        used = names_used(scope)
        clash = sorted(set(names) & used)
        if clash:
            self.fail(
                "name-clash",
                f"line {lineno}: {what} binds {', '.join(clash)}, which function "
                f"`{scope.name}` already uses",
            )

    def check_comments(self, orig_src, new_src):
        a = comments_of(orig_src)
        b = comments_of(new_src)
        if a is None or b is None:
            return
        a = [c for c in a if c not in INSERTED_COMMENTS]
        b = [c for c in b if c not in INSERTED_COMMENTS]
        if a != b:
            sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
            lost = [a[i] for tag, i1, i2, _, _ in sm.get_opcodes() if tag in ("delete", "replace") for i in range(i1, i2)]
            added = [b[j] for tag, _, _, j1, j2 in sm.get_opcodes() if tag in ("insert", "replace") for j in range(j1, j2)]
            self.fail("comments-changed", f"comments lost: {lost[:5]} added: {added[:5]}")

    # ----------------------------------------------------------- traversal
    def visit(self, node, hint, ctx: Ctx):
        """Normalise every statement list below `node` (in place)."""
        if isinstance(node, FUNC):
            helper = node.name in self.helpers
            ctx = Ctx(
                func=node,
                orig_func=hint if isinstance(hint, FUNC) else None,
                helper=helper,
                state={"import": 0, "acquire": 0, "attrs": 0, "return": 0, "unit_import": 0, "registry": 0},
            )
            if helper and isinstance(hint, FUNC):
                self.check_docstring(node, hint)
            node.body = self.block(node.body, getattr(hint, "body", None), ctx, top=True)
            if helper:
                self.finish_helper(node, ctx)
            rest = [f for f in node._fields if f != "body"]
        else:
            if isinstance(node, ast.ClassDef):
                # A class body is its own scope: tracking statements do not belong there.
                ctx = Ctx(func=ctx.func, orig_func=ctx.orig_func, helper=False, state={})
            rest = node._fields
        for name in rest:
            val = getattr(node, name, None)
            hval = getattr(hint, name, None) if hint is not None and type(hint) is type(node) else None
            if isinstance(val, list) and val and isinstance(val[0], ast.stmt):
                setattr(node, name, self.block(val, hval if isinstance(hval, list) else None, ctx, top=False))
            elif isinstance(val, list):
                for k, item in enumerate(val):
                    if isinstance(item, (ast.excepthandler, ast.match_case)):
                        h = hval[k] if isinstance(hval, list) and k < len(hval) else None
                        self.visit(item, h, ctx)

    def check_docstring(self, new_fn, orig_fn):
        ob = orig_fn.body
        if ob and isinstance(ob[0], ast.Expr) and isinstance(ob[0].value, ast.Constant) and isinstance(ob[0].value.value, str):
            nb = new_fn.body
            if not nb or dump(nb[0]) != dump(ob[0]):
                self.fail("docstring-displaced", f"line {new_fn.lineno}: `{new_fn.name}` no longer starts with its docstring")

    def finish_helper(self, fn, ctx: Ctx):
        st = ctx.state
        if st["acquire"] or st["import"] or st["attrs"] or st["unit_import"] or st["registry"]:
            a, imp, uimp = st["acquire"], st["import"], st["unit_import"]
            ok = (
                # one import at the top of the function, one acquire
                (imp == 1 and uimp == 0 and a == 1)
                # one import in front of every acquire, or none when the module imports it
                or (imp == 0 and a >= 1 and (uimp == a or (uimp == 0 and self.module_imports_acquire())))
                # registry form only
                or (imp == 0 and uimp == 0 and a == 0 and st["registry"] >= 1)
            )
            if not ok:
                self.fail(
                    "tracking-shape",
                    f"line {fn.lineno}: helper `{fn.name}` has {imp} tracker imports at its top, {uimp} in front of "
                    f"an acquire call and {a} acquire calls (expected 1, 0 and 1, or 0 and one per acquire call)",
                )
            self.counts["helpers_instrumented"] += 1

    def block(self, stmts, hint, ctx: Ctx, top: bool):
        out = []
        j = 0
        n = len(stmts)
        i = 0
        last_attr_target = None
        while i < n:
            s = stmts[i]
            h = hint[j] if hint is not None and j < len(hint) else None
            if h is not None and type(h) is type(s) and self.is_candidate(s, ctx) and dump(h) == dump(s):
                # The original already had this exact statement here (e.g. code that
                # was instrumented by hand): it is not an insertion.
                self.visit(s, h, ctx)
                out.append(s)
                j += 1
                i += 1
                continue
            # --- tracked-helper: `return <call>` -> `conn = <call>; <tracking>; return conn`
            if (
                ctx.helper
                and isinstance(h, ast.Return)
                and h.value is not None
                and isinstance(s, ast.Assign)
                and len(s.targets) == 1
                and isinstance(s.targets[0], ast.Name)
                and dump(s.value) == dump(h.value)
            ):
                name = s.targets[0].id
                u = self.match_track(stmts, i + 1, ctx)
                e = i + 1 + u["len"] if u is not None else n
                r = stmts[e] if e < n else None
                if (
                    u is not None
                    and dump(_as_load(u["x"])) == dump(ast.Name(name, ast.Load()))
                    and isinstance(r, ast.Return)
                    and isinstance(r.value, ast.Name)
                    and r.value.id == name
                ):
                    self.apply_track(u, ctx, s, r)
                    self.check_return_name(name, ctx, s.lineno)
                    self.counts["return_rewrites"] += 1
                    out.append(ast.copy_location(ast.Return(s.value), s))
                    j += 1
                    i = e + 1
                    continue
            # --- tracked-helper: a tracking unit
            u = self.match_track(stmts, i, ctx)
            if u is not None:
                e = i + u["len"]
                self.apply_track(u, ctx, out[-1] if out else None, stmts[e] if e < n else None)
                last_attr_target = (len(out), dump(_as_load(u["x"])))
                i = e
                continue
            # --- tracked-helper: import / acquire / attribute lines
            if self.is_track_import(s, ctx):
                ctx.state["import"] += 1
                if ctx.state["acquire"]:
                    self.fail("tracking-order", f"line {s.lineno}: tracker import after the acquire call")
                i += 1
                continue
            if self.is_track_acquire(s, ctx):
                ctx.state["acquire"] += 1
                if not ctx.state["import"]:
                    self.fail("tracking-order", f"line {s.lineno}: acquire call before the tracker import")
                self.comment_above(s, TRACK_COMMENT, "comment-missing")
                self.name_clash(ctx, ["context", "track_start", self.cfg.acquire], "tracking", s.lineno)
                i += 1
                continue
            ta = self.track_attr(s, ctx)
            if ta is not None:
                which, target = ta
                nxt = self.track_attr(stmts[i + 1], ctx) if i + 1 < n else None
                if which != "context" or nxt is None or nxt[0] != "start" or dump(nxt[1]) != dump(target):
                    self.fail("tracking-attr-misplaced", f"line {s.lineno}: tracking attribute lines are not the expected pair")
                    # leave it in place: the AST comparison reports it too
                else:
                    if not ctx.state["acquire"]:
                        self.fail("tracking-order", f"line {s.lineno}: tracking attributes set before the acquire call")
                    if not out or not binds(out[-1], target):
                        self.fail(
                            "tracking-attr-misplaced",
                            f"line {s.lineno}: `{ast.unparse(target)}._tracking_context` does not follow a statement binding it",
                        )
                    ctx.state["attrs"] += 1
                    last_attr_target = (len(out), dump(_as_load(target)))
                    i += 2
                    continue
            # --- release-before-close
            rel = self.match_release(stmts, i)
            if rel is not None:
                width, x, form, reg = rel
                nxt = stmts[i + width] if i + width < n else None
                r = is_call_stmt_on(nxt, "close") if nxt is not None else None
                # Or a call handing X to a function of the file that closes
                # that parameter (`close_conn(conn)`).
                # The registry form also goes before an attribute call handing X
                # on (`db.release(conn)`, `pool.putconn(conn, close=False)`).
                handed = (
                    isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Call)
                    and (isinstance(nxt.value.func, ast.Name) or (form == "registry" and isinstance(nxt.value.func, ast.Attribute)))
                    and any(dump(_as_load(a)) == dump(_as_load(x)) for a in nxt.value.args)
                )
                if not handed and (r is None or ref_key(r[0]) != ref_key(x)):
                    self.fail(
                        "release-misplaced",
                        f"line {s.lineno}: release block for `{ast.unparse(x)}` is not directly followed by `{ast.unparse(x)}.close()`",
                    )
                elif not self.tracked(x, ctx) and not self.tracked_otherwise(x, ctx):
                    self.fail(
                        "release-untracked",
                        f"line {s.lineno}: `{ast.unparse(x)}` is not bound from a helper call ({', '.join(self.cfg.helpers)}) in this scope",
                    )
                if form == "attr":
                    self.comment_above(s, RELEASE_COMMENT, "comment-missing")
                    imp = s.body[0] if len(s.body) == 3 else None
                    if ctx.func is not None and imp is not None:
                        bound = imp.names[0].asname or imp.names[0].name
                        self.name_clash(ctx, [bound], "release import", s.lineno)
                else:
                    self.comment_before(s, stmts[i + 1], RELEASE_COMMENT, "comment-missing")
                    if ctx.func is not None:
                        self.name_clash(ctx, reg[0][2] + [reg[1]], "release", s.lineno)
                    self.counts["registry_releases"] += 1
                self.counts["release_blocks"] += 1
                i += width
                continue
            # --- dispose-engine wrap
            w = self.wrap_try(s)
            if w is not None and not (
                # The original already had this try/finally (maybe with a release
                # block inserted before its close): it is not an inserted wrap.
                isinstance(h, ast.Try)
                and not h.handlers
                and not h.orelse
                and dump(h.finalbody) == dump([f for f in s.finalbody if self.release_if(f) is None])
            ):
                var, awaited = w
                self.check_wrap_site(s, var, awaited, out, ctx)
                self.check_escape(s, var)
                fin = self.block(s.finalbody, None, ctx, top=False)[-1]
                sub_hint = hint[j:] if hint is not None else None
                body = self.block(s.body, sub_hint, ctx, top=False)
                k = len(body)
                moved = hint is not None and j + k < len(hint) and dump(hint[j + k]) == dump(fin)
                out.extend(body)
                j += k
                self.counts["wraps"] += 1
                if moved:
                    out.append(fin)
                    j += 1
                    self.counts["wraps_moved_dispose"] += 1
                else:
                    # The wrap ends at the end of its block, or right before
                    # the statement that binds the name again (`del e`,
                    # `e = ...`): the engine is disposed while the name
                    # still holds it.
                    nxt = stmts[i + 1] if i + 1 < n else None
                    rebinds = nxt is not None and (
                        binds(nxt, var)
                        or (isinstance(nxt, ast.Delete) and any(dump(_as_load(t)) == dump(_as_load(var)) for t in nxt.targets))
                    )
                    if i != n - 1 and not rebinds:
                        self.fail(
                            "wrap-not-to-end",
                            f"line {s.lineno}: inserted try/finally does not reach the end of its block "
                            f"and its dispose call was not moved from the original",
                        )
                    for b in body:
                        r = is_call_stmt_on(b, self.cfg.dispose_method)
                        if r is not None and dump(_as_load(r[0])) == dump(_as_load(var)):
                            self.fail(
                                "dispose-not-moved",
                                f"line {s.lineno}: a bare `{ast.unparse(var)}.{self.cfg.dispose_method}()` stays inside the inserted try",
                            )
                i += 1
                continue
            # --- an ordinary statement
            self.visit(s, h if (h is not None and type(h) is type(s)) else None, ctx)
            out.append(s)
            j += 1
            i += 1
        if top and ctx.helper and hint is not None:
            out = self.undo_return_rewrite(out, hint, ctx, last_attr_target)
        return out

    def is_candidate(self, s, ctx: Ctx) -> bool:
        return (
            self.is_track_import(s, ctx)
            or self.is_track_acquire(s, ctx)
            or self.track_attr(s, ctx) is not None
            or self.release_if(s) is not None
            or self.registry_import(s) is not None
        )

    def tracked(self, x, ctx: Ctx) -> bool:
        """Is `x` bound from a helper call (or a call of a local alias of a
        helper) in the original, in its function or in a scope its names
        resolve to (an enclosing function, the module; the class, for
        `self.attr`)? connfix decides this with its semantic model and
        reaching bindings; the oracle only checks that such a binding exists
        somewhere in the file, which keeps it independent of connfix's flow
        analysis."""
        scope = self.orig_tree
        if scope is None:
            return True  # unpaired: cannot tell; the AST check still runs
        keys = self._tracked_cache.get(id(scope))
        if keys is None:
            keys = self._tracked_cache[id(scope)] = set()
            aliases = set()
            for node in ast.walk(scope):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, (ast.Name, ast.Attribute))
                    and (node.value.id if isinstance(node.value, ast.Name) else node.value.attr) in self.helpers
                ):
                    aliases.add(node.targets[0].id)
                # `from builtins import open as _builtin_open`
                if isinstance(node, ast.ImportFrom):
                    aliases.update(a.asname for a in node.names if a.asname and a.name in self.helpers)
            self._aliases = aliases
            # Wrappers: functions of the file whose every return (one at
            # least) returns a helper call (`def _get(self): return get_db_connection()`).
            self._wrappers = set()
            wrappers = set()
            for node in ast.walk(scope):
                if isinstance(node, FUNC):
                    rets = list(returns_of(node))
                    if rets and all(r.value is not None and self.is_helper_call(r.value) for r in rets):
                        wrappers.add(node.name)
            self._wrappers = wrappers
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign):
                    pairs = [(t, node.value) for t in node.targets]
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                    pairs = [(node.target, node.value)]
                elif isinstance(node, (ast.With, ast.AsyncWith)):
                    pairs = [(it.optional_vars, it.context_expr) for it in node.items if it.optional_vars is not None]
                else:
                    continue
                for t, v in pairs:
                    if v is not None and self.is_helper_call(v):
                        keys.add(ref_key(t))
        return ref_key(x) in keys

    def cached_connections(self, tree) -> set:
        """`g.db` of every helper that tracks a connection right after caching
        it in an attribute (`g.db = sqlite3.connect(...)`); read before the
        tree is normalised."""
        out = set()
        for fn in ast.walk(tree):
            if not (isinstance(fn, FUNC) and fn.name in self.helpers):
                continue
            c = Ctx(func=fn, helper=True)
            for node in ast.walk(fn):
                for _, lst in stmt_lists(node):
                    for k in range(1, len(lst)):
                        u = self.match_track(lst, k, c)
                        if u is not None and isinstance(u["x"], ast.Attribute) and binds(lst[k - 1], u["x"]):
                            out.add(ref_key(u["x"]))
        return out

    def bound_values(self, x):
        """The values the original binds to `x` anywhere in the file."""
        key = ref_key(x)
        for node in ast.walk(self.orig_tree):
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                pairs = [(node.target, node.value)]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                pairs = [(it.optional_vars, it.context_expr) for it in node.items if it.optional_vars is not None]
            else:
                continue
            for t, v in pairs:
                if v is not None and ref_key(t) == key:
                    yield v

    def tracked_otherwise(self, x, ctx: Ctx) -> bool:
        """Releases of connections that no helper call binds in this file, but
        which connfix tracks (counted, not failed):
        - the close of the connection a generator helper tracked before
          yielding it (`conn = sqlite3.connect(); <track>; yield conn; <release>; conn.close()`);
        - the teardown of a connection a helper caches and tracks (`g.db`):
          `g.db.close()`, or `db = g.pop("db", None)` / `db = g.db` then `db.close()`;
        - a connection bound from a function imported from another module
          (a helper of another file of the project, which the oracle cannot resolve)."""
        if self.orig_tree is None:
            return False
        key = ref_key(x)
        if (
            ctx.helper
            and key in ctx.state.get("tracked_keys", ())
            and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in walk_scope(ctx.func))
        ):
            self.counts["release_own_generator"] += 1
            return True
        if key in self.cached:
            self.counts["release_teardown"] += 1
            return True
        imported = set()
        modules = set()
        for node in ast.walk(self.orig_tree):
            if isinstance(node, ast.ImportFrom):
                imported.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                modules.update((a.asname or a.name).split(".")[0] for a in node.names)
        for v in self.bound_values(x):
            while isinstance(v, ast.Await):
                v = v.value
            if (
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Attribute)
                and v.func.attr == "pop"
                and len(v.args) in (1, 2)
                and isinstance(v.args[0], ast.Constant)
                and isinstance(v.args[0].value, str)
                and dotted(v.func.value) is not None
                and f"{dotted(v.func.value)}.{v.args[0].value}" in self.cached
            ) or (dotted(v) is not None and dotted(v) in self.cached):
                self.counts["release_teardown"] += 1
                return True
        for v in self.bound_values(x):
            while isinstance(v, ast.Await):
                v = v.value
            if isinstance(v, ast.Call) and (
                (isinstance(v.func, ast.Name) and v.func.id in imported)
                or (dotted(v.func) is not None and "." in dotted(v.func) and dotted(v.func).split(".")[0] in modules)
            ):
                self.counts["release_cross_file"] += 1
                return True
        return False

    def is_helper_call(self, v) -> bool:
        while isinstance(v, ast.Await):
            v = v.value
        if isinstance(v, ast.IfExp):
            return self.is_helper_call(v.body) or self.is_helper_call(v.orelse)
        if not isinstance(v, ast.Call):
            return False
        f = v.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        return (
            name in self.helpers
            or (isinstance(f, ast.Name) and f.id in getattr(self, "_aliases", ()))
            or name in getattr(self, "_wrappers", ())
        )

    def check_wrap_site(self, s, var, awaited, out, ctx: Ctx):
        where = f"line {s.lineno}"
        if ctx.func is None:
            self.fail("wrap-outside-function", f"{where}: dispose try/finally outside any function")
        if not isinstance(var, ast.Name):
            self.fail("wrap-no-binding", f"{where}: disposed object `{ast.unparse(var)}` is not a plain name")
            return
        prev = out[-1] if out else None
        val = None
        if isinstance(prev, ast.Assign) and len(prev.targets) == 1 and dump(prev.targets[0]) == dump(_as_store(var)):
            val = prev.value
        elif isinstance(prev, ast.AnnAssign) and dump(prev.target) == dump(_as_store(var)):
            val = prev.value
        if val is None:
            self.fail("wrap-no-binding", f"{where}: try/finally disposing `{var.id}` does not follow `{var.id} = <factory>(...)`")
            return
        if isinstance(val, ast.Await):
            val = val.value
        fname = dotted(val.func) if isinstance(val, ast.Call) else None
        # Exact dotted match, or a bare name equal to a factory's last part
        # (`from socket import socket`). `os.open` is not the factory `open`.
        if fname is not None and "." in fname and fname.rsplit(".", 1)[-1] in self.cfg.engine_factories:
            self.fail(
                "wrap-qualified-factory",
                f"{where}: `{var.id}` is bound from `{fname}(...)`, which only shares its last name with "
                f"the plain factory `{fname.rsplit('.', 1)[-1]}`",
            )
            return
        if fname is None or not (fname in self.factories or ("." not in fname and fname in self.factory_last)):
            self.fail(
                "wrap-non-factory",
                f"{where}: `{var.id}` is bound from `{ast.unparse(val)[:60]}`, not from a configured factory",
            )
            return
        if fname not in self.factories:
            self.counts["wraps_alias_factory"] += 1
        if awaited and "async" not in fname.lower():
            self.fail("await-mismatch", f"{where}: `await {var.id}.{self.cfg.dispose_method}()` for non-async factory `{fname}`")
        if not awaited and "async" in fname.lower():
            self.counts["warn_async_factory_not_awaited"] += 1

    def check_escape(self, s, var):
        """The wrapped object must not leave the block: it is closed at its end."""
        if not isinstance(var, ast.Name):
            return
        name = var.id

        def is_var(e) -> bool:
            if isinstance(e, ast.Name):
                return e.id == name
            if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
                return any(is_var(x) for x in e.elts)
            if isinstance(e, ast.Dict):
                return any(is_var(x) for x in e.values if x is not None)
            if isinstance(e, ast.Starred):
                return is_var(e.value)
            return False

        stack = list(s.body)
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # another scope
            how = None
            if isinstance(n, ast.Return) and n.value is not None and is_var(n.value):
                how = "returned"
            elif isinstance(n, (ast.Yield, ast.YieldFrom)) and n.value is not None and is_var(n.value):
                how = "yielded"
            elif isinstance(n, ast.Assign) and is_var(n.value) and any(
                isinstance(t, (ast.Attribute, ast.Subscript)) for t in n.targets
            ):
                how = "stored in " + ast.unparse(n.targets[0])
            if how:
                self.fail(
                    "wrap-escape",
                    f"line {s.lineno}: `{name}` is {how} (line {n.lineno}) inside the try that disposes it",
                )
                return
            stack.extend(ast.iter_child_nodes(n))

    def undo_return_rewrite(self, out, hint, ctx: Ctx, last_attr_target):
        """`name = call(); <attrs>; return name` -> `return call()` when the original had that."""
        if len(out) < 2 or len(hint) != len(out) - 1:
            return out
        a, r = out[-2], out[-1]
        h = hint[-1]
        if not (
            isinstance(a, ast.Assign)
            and len(a.targets) == 1
            and isinstance(a.targets[0], ast.Name)
            and isinstance(r, ast.Return)
            and isinstance(r.value, ast.Name)
            and r.value.id == a.targets[0].id
            and isinstance(h, ast.Return)
            and h.value is not None
            and dump(h.value) == dump(a.value)
        ):
            return out
        name = a.targets[0].id
        if last_attr_target != (len(out) - 1, dump(ast.Name(name, ast.Load()))):
            self.fail("return-rewrite-shape", f"line {a.lineno}: `return {name}` rewrite without tracking attributes right after the assignment")
        scope = ctx.orig_func
        for node in ast.walk(scope):
            if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                self.fail("name-clash", f"line {a.lineno}: return rewrite assigns `{name}`, declared global/nonlocal in `{scope.name}`")
            if node is not scope and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if any(isinstance(m, ast.Name) and m.id == name for m in ast.walk(node)):
                    self.fail("name-clash", f"line {a.lineno}: return rewrite assigns `{name}`, which a nested scope of `{scope.name}` uses")
                    break
        self.counts["return_rewrites"] += 1
        ret = ast.Return(a.value)
        return out[:-2] + [ret]


def walk_scope(fn):
    """The nodes of a function, not of the scopes nested in it."""
    stack = list(fn.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


def returns_of(fn):
    """The `return` statements of a function, not of the scopes nested in it."""
    stack = list(fn.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, ast.Return):
            yield n
        stack.extend(ast.iter_child_nodes(n))


def first_difference(a, b):
    """(orig lineno, new lineno) of the first top-level-or-nested statement that differs."""
    for x, y in zip(a, b):
        if dump(x) != dump(y):
            if type(x) is type(y):
                for name, lx in stmt_lists(x):
                    ly = getattr(y, name, None)
                    if isinstance(ly, list):
                        r = first_difference(lx, ly)
                        if r:
                            return r
            return getattr(x, "lineno", "?"), getattr(y, "lineno", "?")
    if len(a) != len(b):
        x = a[len(b)] if len(a) > len(b) else None
        y = b[len(a)] if len(b) > len(a) else None
        return getattr(x, "lineno", "end"), getattr(y, "lineno", "end")
    return None


def comments_of(src) -> list[str] | None:
    data = src if isinstance(src, bytes) else src.encode("utf-8")
    try:
        return [t.string.strip() for t in tokenize.tokenize(io.BytesIO(data).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, IndentationError):
        return None


def compiles(src: bytes, name: str) -> str | None:
    """None if `src` compiles to bytecode, else the error text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(src, name, "exec", dont_inherit=True)
            return None
        except (SyntaxError, ValueError) as e:
            return f"{type(e).__name__}: {e}"
        except RecursionError:
            return "RecursionError"


def check_file(orig: bytes, new: bytes, basename: str, cfg: Cfg):
    """Oracle for one changed file -> (counts, failures)."""
    err = compiles(new, basename)
    if err is not None:
        return Counter(), [("compile-failed", err)]
    try:
        counts, fails = Oracle(cfg, basename).check(orig, new)
    except RecursionError:
        return Counter(), [("oracle-recursion", "file too deeply nested for the oracle")]
    return counts, fails


def with_text_diff(orig: bytes, new: bytes, fails):
    """Attach the text diff of the file to its first failure."""
    if fails:
        kind, msg = fails[0]
        fails = [(kind, msg + "\n--- text diff (original -> rewritten):\n" + text_diff(orig, new, "original", "rewritten", 30))] + fails[1:]
    return fails


# --------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------

SKIP_DIRS = {"site-packages", "__pycache__", "lib-dynload", ".git"}


def stdlib_source() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def prepare_stdlib(dest: Path):
    src = stdlib_source()

    def ignore(d, names):
        out = []
        for n in names:
            p = os.path.join(d, n)
            if n in SKIP_DIRS or n.startswith("config-") and os.path.isdir(p):
                out.append(n)
            elif n.endswith((".pyc", ".pyo", ".so", ".a")):
                out.append(n)
        return out

    shutil.copytree(src, dest, symlinks=True, ignore=ignore)


def cache_dir(repo: Path) -> Path:
    d = repo / "target" / "stress-cache"
    d.mkdir(parents=True, exist_ok=True)
    return d


def prepare_pypi(spec: str, dest: Path, cache: Path, log):
    key = re.sub(r"[^A-Za-z0-9_.=-]", "_", spec)
    dl = cache / key
    archives = [p for p in dl.glob("*") if p.is_file()] if dl.exists() else []
    if not archives:
        dl.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", spec, "-d", str(dl)]
        log(f"$ {' '.join(shlex.quote(c) for c in cmd)}")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        archives = [p for p in dl.glob("*") if p.is_file()]
    if len(archives) != 1:
        raise RuntimeError(f"expected one sdist for {spec} in {dl}, found {archives}")
    arch = archives[0]
    tmp = dest.parent / (dest.name + ".extract")
    tmp.mkdir()
    if arch.name.endswith(".zip"):
        with zipfile.ZipFile(arch) as z:
            z.extractall(tmp)
    else:
        with tarfile.open(arch) as t:
            t.extractall(tmp, filter="data")
    inner = list(tmp.iterdir())
    root = inner[0] if len(inner) == 1 and inner[0].is_dir() else tmp
    shutil.move(str(root), str(dest))
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every regular file."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


SUMMARY_RE = re.compile(r"^connfix: \d+ files? checked")
FINDING_RE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<rule>[a-z][a-z-]*): (?P<msg>.*)$")
ERR_RE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)$")


def reason_of(msg: str) -> str:
    msg = re.sub(r"`[^`]*`", "`_`", msg)
    msg = re.sub(r"'[^']*'", "'_'", msg)
    msg = re.sub(r'"[^"]*"', '"_"', msg)
    msg = re.sub(r"\d+", "N", msg)
    return msg[:100]


# Set by scripts/stress.sh: the first apply of every corpus and
# configuration runs with connfix's self-checks on.
SELF_CHECK = os.environ.get("CONNFIX_SELF_CHECK") == "1"


def run_tool(connfix, cfg_path, root, timeout, self_check=False):
    """`connfix apply`; with `self_check`, connfix checks itself as it goes
    (CONNFIX_SELF_CHECK=1: a disagreement panics, a tool crash here)."""
    t0 = time.monotonic()
    env = dict(os.environ)
    if self_check:
        env["CONNFIX_SELF_CHECK"] = "1"
    else:
        env.pop("CONNFIX_SELF_CHECK", None)
    try:
        p = subprocess.run(
            [connfix, "apply", "--config", str(cfg_path), str(root)],
            capture_output=True,
            timeout=timeout,
            env=env,
        )
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", e.stderr or b""
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.monotonic() - t0


def parse_errors(stderr: str, root: Path):
    """-> ({relpath: [messages]}, [unparsed lines])"""
    errs: dict[str, list[str]] = {}
    other = []
    rootr = os.path.realpath(root)
    for line in stderr.splitlines():
        m = ERR_RE.match(line)
        if not m:
            if line.strip():
                other.append(line)
            continue
        p = m["path"]
        ap = os.path.realpath(p if os.path.isabs(p) else os.path.join(os.getcwd(), p))
        rel = os.path.relpath(ap, rootr)
        errs.setdefault(rel, []).append(f"{m['line']}:{m['col']}: {m['msg']}")
    return errs, other


@dataclass
class Result:
    corpus: str
    config: str
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # (kind, file, message)
    error_reasons: Counter = field(default_factory=Counter)
    finding_reasons: Counter = field(default_factory=Counter)
    valid_error_files: list = field(default_factory=list)
    times: dict = field(default_factory=dict)
    exit_codes: tuple = ()


def run_one(connfix, corpus_name, corpus_src: Path, cfg_name, cfg: Cfg, work: Path, timeout, log) -> Result:
    res = Result(corpus_name, cfg_name)
    root = work / f"{safe(corpus_name)}-{cfg_name}"
    if root.exists():
        shutil.rmtree(root)
    t0 = time.monotonic()
    shutil.copytree(corpus_src, root, symlinks=True)
    cfg_path = work / f"connfix-{cfg_name}.toml"
    cfg_path.write_text(cfg.toml())
    before = snapshot(root)
    res.times["copy"] = time.monotonic() - t0
    c = res.counts
    c["files"] = sum(1 for p in before if p.endswith(".py"))

    def fail(kind, path, msg=""):
        res.failures.append((kind, path, msg))

    # The first apply checks itself (the re-apply, on the fixed text, runs
    # the same code on text it already checked once).
    rc1, out1, err1, dt = run_tool(connfix, cfg_path, root, timeout, self_check=SELF_CHECK)
    res.times["apply"] = dt
    (work / f"{safe(corpus_name)}-{cfg_name}.apply1.stderr").write_text(err1)
    (work / f"{safe(corpus_name)}-{cfg_name}.apply1.stdout").write_text(out1)
    log(f"  [{corpus_name} x {cfg_name}] first apply: exit {rc1} in {dt:.1f}s")
    after = snapshot(root)
    errs, other = parse_errors(err1, root)
    if rc1 not in (0, 1, 2):
        fail("tool-crash", "-", f"exit {rc1}; stderr tail:\n" + "\n".join(err1.splitlines()[-15:]))
    for line in other:
        if "panicked" in line or "RUST_BACKTRACE" in line:
            fail("tool-panic", "-", line)
    other = [line for line in other if not SUMMARY_RE.match(line)]
    c["stderr_other_lines"] = len(other)
    for line in out1.splitlines():
        m = FINDING_RE.match(line)
        if m:
            res.finding_reasons[f"{m['rule']}: {reason_of(m['msg'])[:90]}"] += 1
    changed = sorted(p for p in after if before.get(p) != after[p])
    new_files = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    for p in new_files:
        fail("file-created", p, "")
    for p in gone:
        fail("file-deleted", p, "")
    changed = [p for p in changed if p in before]
    c["files_changed"] = len(changed)
    c["files_with_errors"] = len(errs)
    for rel, msgs in errs.items():
        for m in msgs:
            res.error_reasons[reason_of(m.split(": ", 1)[-1])] += 1
        if rel not in before:
            fail("error-unknown-path", rel, msgs[0])
        elif rel.endswith(".py") and compiles((corpus_src / rel).read_bytes(), rel) is None:
            c["errors_on_valid_python"] += 1
            res.valid_error_files.append(f"{rel}: {msgs[0]}")
            # connfix rejecting its own fixes of valid Python is a bug in
            # connfix, and so is calling valid Python a syntax error.
            for m in msgs:
                if "internal error: " in m:
                    fail("internal-error", rel, m)
                if m.split(": ", 1)[-1].startswith("syntax error:"):
                    fail("false-syntax-error", rel, m)
    if rc1 == 0 and (changed or errs):
        fail("exit-code", "-", f"exit 0 but {len(changed)} files changed and {len(errs)} files with errors")
    if rc1 == 1 and (not changed or errs):
        fail("exit-code", "-", f"exit 1 but {len(changed)} files changed and {len(errs)} files with errors")
    if rc1 == 2 and not errs:
        fail("exit-code", "-", "exit 2 without any `path:line:col: error:` line")

    # Originals come from the pristine corpus copy.
    t1 = time.monotonic()
    for rel in changed:
        orig = (corpus_src / rel).read_bytes()
        new = (root / rel).read_bytes()
        if not rel.endswith(".py"):
            fail("non-python-changed", rel, "")
            continue
        if rel in errs:
            fail("error-file-changed", rel, errs[rel][0])
        orig_err = compiles(orig, rel)
        if orig_err is not None:
            c["changed_uncompilable_originals"] += 1
            new_err = compiles(new, rel)
            # Compared without positions: the fix may move the error's line.
            if new_err is not None and re.sub(r"\(.*?line \d+\)|line \d+", "", new_err) != re.sub(
                r"\(.*?line \d+\)|line \d+", "", orig_err
            ):
                fail("compile-failed", rel, f"the original: {orig_err}\nthe rewritten file: {new_err}")
            continue
        counts, fails = check_file(orig, new, os.path.basename(rel), cfg)
        fails = with_text_diff(orig, new, fails)
        c.update(counts)
        for kind, msg in fails:
            fail(kind, rel, msg)
    res.times["oracle"] = time.monotonic() - t1

    first = {rel: (root / rel).read_bytes() for rel in changed}
    rc2, out2, err2, dt2 = run_tool(connfix, cfg_path, root, timeout)
    res.times["reapply"] = dt2
    (work / f"{safe(corpus_name)}-{cfg_name}.apply2.stderr").write_text(err2)
    log(f"  [{corpus_name} x {cfg_name}] second apply: exit {rc2} in {dt2:.1f}s")
    again = snapshot(root)
    errs2, _ = parse_errors(err2, root)
    for p in sorted(again):
        if after.get(p) != again[p]:
            prev = first.get(p)
            if prev is None and (corpus_src / p).is_file():
                prev = (corpus_src / p).read_bytes()
            fail("not-idempotent", p, text_diff(prev or b"", (root / p).read_bytes(), "after-1st-apply", "after-2nd-apply"))
    if rc2 not in (0, 2) or (rc2 == 2 and not errs) or (rc2 == 2 and not set(errs2) <= set(errs)):
        fail("not-idempotent-exit", "-", f"second apply exit {rc2}; new error files: {sorted(set(errs2) - set(errs))[:5]}\n" + err2[-1500:])
    res.exit_codes = (rc1, rc2)
    return res


def text_diff(a: bytes, b: bytes, an: str, bn: str, limit: int = 40) -> str:
    la = a.decode("utf-8", "replace").splitlines()
    lb = b.decode("utf-8", "replace").splitlines()
    lines = list(difflib.unified_diff(la, lb, an, bn, n=2, lineterm=""))
    more = f"\n... ({len(lines) - limit} more diff lines)" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

COLS = [
    ("files", "files"),
    ("files_changed", "changed"),
    ("helpers_instrumented", "helpers"),
    ("return_rewrites", "return rewrites"),
    ("release_blocks", "release blocks"),
    ("wraps", "try/finally wraps"),
    ("wraps_moved_dispose", "moved dispose"),
    ("files_with_errors", "error files"),
    ("errors_on_valid_python", "errors on valid Python"),
    ("changed_uncompilable_originals", "changed, orig. not compilable"),
]


def reasons_section(out, title, results, counter, top):
    """A section listing, for every corpus and configuration, the `top` most
    common reasons in the Counter attribute `counter` of its result."""
    out.append(f"## {title}")
    out.append("")
    lines = [
        f"- {r.corpus} x {r.config}: {n} x `{reason}`"
        for r in results
        for reason, n in getattr(r, counter).most_common(top)
    ]
    out.extend(lines or ["none"])


def report(results: list[Result], command: str, configs: dict[str, Cfg], max_failures: int, total_time: float) -> str:
    out = ["# connfix stress test", ""]
    out.append(f"Command: `{command}`")
    out.append("")
    fails = sum(len(r.failures) for r in results)
    out.append(f"Result: **{'PASS' if not fails else f'FAIL ({fails} failures)'}** in {total_time:.0f}s")
    out.append("")
    out.append("| corpus | config | " + " | ".join(h for _, h in COLS) + " | failures | exit 1st/2nd | apply s | re-apply s | oracle s |")
    out.append("|" + "---|" * (len(COLS) + 7))
    for r in results:
        cells = [str(r.counts.get(k, 0)) for k, _ in COLS]
        out.append(
            f"| {r.corpus} | {r.config} | " + " | ".join(cells)
            + f" | {len(r.failures)} | {'/'.join(map(str, r.exit_codes))}"
            + f" | {r.times.get('apply', 0):.1f} | {r.times.get('reapply', 0):.1f} | {r.times.get('oracle', 0):.1f} |"
        )
    out.append("")
    out.append("## Configurations")
    out.append("")
    for name, cfg in configs.items():
        out.append(f"{name}:")
        out.append("```toml")
        out.append(cfg.toml().rstrip())
        out.append("```")
    warn = Counter()
    for r in results:
        for k, v in r.counts.items():
            if k.startswith(("warn_", "allowed_")) or k in (
                "wraps_alias_factory",
                "stderr_other_lines",
                "registry_tracks",
                "registry_releases",
                "release_own_generator",
                "release_teardown",
                "release_cross_file",
            ):
                warn[f"{r.corpus} x {r.config}: {k}"] += v
    if any(warn.values()):
        out.append("")
        out.append("## Notes (not failures)")
        out.append("")
        for k, v in sorted(warn.items()):
            if v:
                out.append(f"- {k}: {v}")
    out.append("")
    reasons_section(out, "Errors reported by connfix (by reason)", results, "error_reasons", 15)
    valid = [(r, v) for r in results for v in r.valid_error_files]
    if valid:
        out.append("")
        out.append("Errors on files that Python itself compiles (a `syntax error` among them is a failure):")
        out.append("")
        for r, v in valid[:20]:
            out.append(f"- {r.corpus} x {r.config}: `{v[:200]}`")
    out.append("")
    reasons_section(out, "Findings connfix printed (first apply, top reasons)", results, "finding_reasons", 6)
    out.append("")
    out.append("## Failures by kind")
    out.append("")
    kinds = Counter()
    for r in results:
        for kind, _, _ in r.failures:
            kinds[f"{r.corpus} x {r.config}: {kind}"] += 1
    if not kinds:
        out.append("none")
    for k, v in sorted(kinds.items()):
        out.append(f"- {k}: {v}")
    shown = 0
    if fails:
        out.append("")
        out.append(f"## First {min(max_failures, fails)} failures")
        for r in results:
            for kind, path, msg in r.failures:
                if shown >= max_failures:
                    break
                shown += 1
                out.append("")
                out.append(f"### {shown}. {kind}: {r.corpus} x {r.config}: `{path}`")
                if msg:
                    out.append("```")
                    out.append(msg.rstrip()[:4000])
                    out.append("```")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connfix", required=True, help="path of the connfix binary")
    ap.add_argument("--corpus", action="append", required=True, help="`stdlib` or `pypi:NAME==VERSION` (repeatable)")
    ap.add_argument("--config", action="append", help="built-in configuration names to run (default: all: A to E and P)")
    ap.add_argument("--out", help="write the Markdown summary here")
    ap.add_argument("--work", help="work folder (default: a temp folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--max-failures", type=int, default=30, help="failures shown in detail")
    ap.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="KIND",
        help="count failures of this kind as notes instead (e.g. wrap-qualified-factory); repeatable",
    )
    ap.add_argument("--failures-json", help="write every failure (kind, corpus, config, file, message) here as JSON")
    ap.add_argument("--timeout", type=float, default=900, help="seconds for one connfix run")
    ap.add_argument("--default-engine-factories", help="comma list: connfix's default engine_factories")
    ap.add_argument("--default-dispose-method", help="connfix's default dispose_method")
    args = ap.parse_args(argv)

    global DEFAULT_ENGINE_FACTORIES, DEFAULT_DISPOSE_METHOD
    if args.default_engine_factories:
        DEFAULT_ENGINE_FACTORIES = args.default_engine_factories.split(",")
    if args.default_dispose_method:
        DEFAULT_DISPOSE_METHOD = args.default_dispose_method
    configs = builtin_configs()
    if args.config:
        unknown = [c for c in args.config if c not in configs]
        if unknown:
            ap.error(f"unknown configuration(s) {unknown}; known: {sorted(configs)}")
        configs = {k: v for k, v in configs.items() if k in args.config}

    connfix = os.path.abspath(args.connfix)
    if not os.access(connfix, os.X_OK):
        ap.error(f"{connfix} is not an executable")
    repo = Path(__file__).resolve().parent.parent
    command = "python3 " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.monotonic()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="connfix-stress-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for spec in args.corpus:
            src = work / f"corpus-{safe(spec)}"
            if src.exists():
                shutil.rmtree(src)
            t0 = time.monotonic()
            if spec == "stdlib":
                prepare_stdlib(src)
            elif spec.startswith("pypi:"):
                prepare_pypi(spec[5:], src, cache_dir(repo), log)
            else:
                ap.error(f"unknown corpus {spec!r}")
            log(f"corpus {spec}: prepared in {time.monotonic() - t0:.1f}s")
            for name, cfg in configs.items():
                r = run_one(connfix, spec, src, name, cfg, work, args.timeout, log)
                for kind, _, _ in r.failures:
                    if kind in args.allow:
                        r.counts[f"allowed_{kind}"] += 1
                r.failures = [f for f in r.failures if f[0] not in args.allow]
                results.append(r)
                shutil.rmtree(work / f"{safe(spec)}-{name}", ignore_errors=True) if not args.keep else None
            if not args.keep:
                shutil.rmtree(src, ignore_errors=True)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    md = report(results, command, configs, args.max_failures, time.monotonic() - started)
    if args.out:
        Path(args.out).write_text(md)
    if args.failures_json:
        import json

        rows = [
            {"kind": k, "corpus": r.corpus, "config": r.config, "file": f, "message": m}
            for r in results
            for k, f, m in r.failures
        ]
        Path(args.failures_json).write_text(json.dumps(rows, indent=1))
    print(md)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
