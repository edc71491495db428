"""Random small programs in the audit's domain, as a statement tree that can
be rendered and shrunk structurally.

A program is a list of statements.  A statement is a `Line` (one simple
statement, atomic for the shrinker) or a `Block` (a header such as `if x & 2:`
with a body, and clauses such as `else:` / `except DBError:` / `finally:`,
each with a body).  The runner calls every top-level function whose name
starts with `handler`, in order, with the input `x`; branches test bits of
`x`, and `conn.execute(q, x & K)` makes the fake driver raise on some inputs.
"""

import copy
import random


class Line:
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def render(self, ind, out):
        out.append("    " * ind + self.text)


class Group:
    """Statements the shrinker keeps together: a hand-written release and
    the close it releases (a release left without its close would be the
    program's own bug, which tracking the helper exposes)."""

    __slots__ = ("body", "atomic", "header", "clauses")

    def __init__(self, body):
        self.body = body
        self.atomic = True
        self.header = ""
        self.clauses = []

    def render(self, ind, out):
        for s in self.body:
            s.render(ind, out)


class Block:
    __slots__ = ("header", "body", "clauses", "atomic")

    def __init__(self, header, body, clauses=None, atomic=False):
        self.header = header
        self.body = body
        self.clauses = clauses or []  # [(header, body)]
        # a hand-written release block: the shrinker may drop it whole, never
        # take it apart (an unguarded or import-less release is a bug of the
        # program's own, which tracking the helper would expose)
        self.atomic = atomic

    def render(self, ind, out):
        if self.header == "try:" and not any(
            h.startswith(("except", "finally")) for h, _ in self.clauses
        ):
            # a try that lost all its handlers while shrinking: its body
            render_body(self.body, ind, out, allow_empty=True)
            for h, b in self.clauses:  # an else: without except
                render_body(b, ind, out, allow_empty=True)
            return
        out.append("    " * ind + self.header)
        render_body(self.body, ind + 1, out)
        for h, b in self.clauses:
            out.append("    " * ind + h)
            render_body(b, ind + 1, out)


def render_body(body, ind, out, allow_empty=False):
    if not body:
        if not allow_empty:
            out.append("    " * ind + "pass")
        return
    for s in body:
        s.render(ind, out)


def render(prog):
    out = []
    for s in prog:
        s.render(0, out)
        if isinstance(s, Block):
            out.append("")
    return "\n".join(out) + "\n"


def size(prog):
    n = 0
    for s in prog:
        n += 1
        if isinstance(s, Block):
            n += size(s.body) + sum(1 + size(b) for _, b in s.clauses)
    return n


# ---------------------------------------------------------------- shrinking
def _bodies(prog):
    """Every statement list in the tree (the top level included)."""
    yield prog
    for s in prog:
        if isinstance(s, Block) and not s.atomic:
            yield from _bodies(s.body)
            for _, b in s.clauses:
                yield from _bodies(b)


def shrink_candidates(prog):
    """Smaller programs, biggest cuts first.  Each is a fresh deep copy."""
    n_lists = sum(1 for _ in _bodies(prog))
    for li in range(n_lists):
        lst = list(_bodies(prog))[li]
        for i in range(len(lst)):
            s = lst[i]
            # drop the statement
            yield _edit(prog, li, lambda l, i=i: l.__delitem__(i))
            if getattr(s, "atomic", False):
                continue
            if isinstance(s, Block) and not s.header.startswith(("def ", "class ")):
                # the block replaced by its body (and, for a try, its clauses');
                # never a function's (its body would run at import, not per call)
                def hoist(l, i=i):
                    b = l[i]
                    new = list(b.body)
                    if b.header == "try:":
                        for h, cb in b.clauses:
                            if h.startswith("finally") or h == "else:":
                                new += cb
                    l[i : i + 1] = new

                yield _edit(prog, li, hoist)
            if isinstance(s, Block):
                for ci, (h, cb) in enumerate(s.clauses):
                    # drop one clause; or the block replaced by that clause's body
                    yield _edit(prog, li, lambda l, i=i, ci=ci: l[i].clauses.__delitem__(ci))
                    yield _edit(prog, li, lambda l, i=i, ci=ci: l.__setitem__(slice(i, i + 1), list(l[i].clauses[ci][1])))
                for alt in _simpler_headers(s.header):
                    yield _edit(prog, li, lambda l, i=i, alt=alt: setattr(l[i], "header", alt))
            else:
                for alt in _simpler_lines(s.text):
                    yield _edit(prog, li, lambda l, i=i, alt=alt: setattr(l[i], "text", alt))


def _edit(prog, li, f):
    p = copy.deepcopy(prog)
    f(list(_bodies(p))[li])
    return p


def _simpler_headers(h):
    if h.startswith(("if x", "elif x")) and h != "if True:":
        yield "if True:"
    if h.startswith("for i in range(x % 3)"):
        yield "for i in range(1):"


def _simpler_lines(t):
    import re

    if re.search(r", x & \d+\)", t):
        yield re.sub(r", x & \d+\)", ")", t)
    if t.startswith("out.append(") and t.endswith(")"):
        yield t[len("out.append(") : -1]


# ---------------------------------------------------------------- generation
HEADER = [
    "from src.db_compat import DBError",
    "from sqlalchemy import create_engine",
    "from sqlalchemy.orm import sessionmaker",
    "from contextlib import closing",
    "STORE = []",
    "ENGINES = []",
    "REGISTRY = []",
]

HELPERS = {
    "return-call": [
        '"""Get database connection from pool - caller MUST call conn.close()"""',
        "from src.db_compat import connect",
        "return connect(use_pool=True)",
    ],
    "assigned": [
        "from src.db_compat import connect",
        "conn = connect(use_pool=True)",
        "return conn",
    ],
    "hand-tracked": [
        "from src.db_compat import connect",
        "from src.utils.connection_tracker import track_connection_acquired",
        'context, track_start = track_connection_acquired("by-hand::get_db_connection")',
        "conn = connect(use_pool=True)",
        "conn._tracking_context = context",
        "conn._tracking_start = track_start",
        "return conn",
    ],
}

RELEASE_GUARD = "if hasattr({c}, '_tracking_context') and hasattr({c}, '_tracking_start'):"


class G:
    def __init__(self, rng):
        self.rng = rng
        self.q = 0
        self.module_release = False
        self.aux = set()  # auxiliary top-level functions used

    def bit(self):
        return self.rng.choice([1, 2, 4, 8, 16])

    def query(self):
        self.q += 1
        return f'"q{self.q}"'

    def maybe_fail(self):
        return f", x & {self.bit()}" if self.rng.random() < 0.5 else ""

    # -- program ---------------------------------------------------------
    def program(self):
        r = self.rng
        prog = [Line(h) for h in HEADER]
        self.module_release = r.random() < 0.3
        if self.module_release:
            prog.insert(0, Line("from src.utils.connection_tracker import track_connection_released"))
        helper = r.choices(list(HELPERS), weights=[5, 3, 1])[0]
        prog.append(Block("def get_db_connection():", [Line(t) for t in HELPERS[helper]]))
        handlers = []
        if r.random() < 0.08:
            prog += self.repo_class()
            handlers.append(self.repo_handler())
        for k in range(r.choice([1, 1, 2])):
            self.fn = {"conns": [], "engines": []}
            body = [Line("out = []")] + self.body(0, r.randint(2, 6)) + [Line("return out")]
            handlers.append(Block(f"def handler{k}(x):", body))
        for name in sorted(self.aux):
            prog.append(AUX[name]())
        return prog + handlers

    def repo_class(self):
        return [
            Block(
                "class Repo:",
                [
                    Block("def open(self):", [Line("self.conn = get_db_connection()")]),
                    Block("def query(self, x):", [Line(f"return self.conn.execute({self.query()}{self.maybe_fail()})")]),
                    Block("def close(self):", [Line("self.conn.close()")]),
                ],
            )
        ]

    def repo_handler(self):
        return Block(
            "def handler_repo(x):",
            [
                Line("r = Repo()"),
                Line("r.open()"),
                Block("try:", [Line("return r.query(x)")], [("finally:", [Line("r.close()")])]),
            ],
        )

    # -- bodies ----------------------------------------------------------
    def body(self, depth, n):
        out = []
        for _ in range(n):
            out += self.stmt(depth)
        return out

    def conn(self):
        c = self.fn["conns"]
        return self.rng.choice(c) if c else "conn"

    def engine(self):
        e = self.fn["engines"]
        return self.rng.choice(e) if e else "engine"

    def stmt(self, depth):
        r = self.rng
        has_c = bool(self.fn["conns"])
        has_e = bool(self.fn["engines"])
        table = [
            (self.acquire, 6 if not has_c else 1.5),
            (self.audit_try, 4 if depth < 2 else 0),
            (self.use, 4 if has_c else 0.3),
            (self.close, 4 if has_c else 0.3),
            (self.odd_close, 2 if has_c else 0),
            (self.unbind_conn, 1 if has_c else 0),
            (self.early_exit, 2),
            (self.branch, 2.5 if depth < 3 else 0),
            (self.loop, 1 if depth < 3 else 0),
            (self.try_block, 2.5 if depth < 3 else 0),
            (self.pass_on, 1 if has_c else 0),
            (self.engine_create, 3 if not has_e else 0.7),
            (self.engine_use, 3 if has_e else 0),
            (self.engine_escape, 2 if has_e else 0),
            (self.engine_unbind, 1.5 if has_e else 0),
        ]
        fs, ws = zip(*table)
        return r.choices(fs, weights=ws)[0](depth)

    def bind_conn(self):
        names = ["conn", "conn", "conn2"]
        c = self.rng.choice(names)
        if c not in self.fn["conns"]:
            self.fn["conns"].append(c)
        return c

    def acquire(self, depth):
        r = self.rng
        c = self.bind_conn()
        k = r.choices(["plain", "walrus", "alias", "closing", "with", "none-first"], weights=[8, 1.2, 0.7, 1, 0.7, 1.5])[0]
        if k == "plain":
            return [Line(f"{c} = get_db_connection()")]
        if k == "none-first":
            return [Line(f"{c} = None"), Line(f"{c} = get_db_connection()")]
        if k == "alias":
            return [Line("gdc = get_db_connection"), Line(f"{c} = gdc()")]
        if k == "walrus":
            return [Block(f"if ({c} := get_db_connection()):", self.body(depth + 1, r.randint(1, 3)))]
        if k == "closing":
            return [Block(f"with closing(get_db_connection()) as {c}:", self.body(depth + 1, r.randint(1, 2)))]
        return [Block(f"with get_db_connection() as {c}:", self.body(depth + 1, r.randint(1, 2)))]

    def use(self, depth):
        c = self.conn()
        k = self.rng.choice(["append", "append", "cursor", "bare"])
        if k == "append":
            return [Line(f"out.append({c}.execute({self.query()}{self.maybe_fail()}))")]
        if k == "cursor":
            return [Line(f"cur = {c}.cursor()"), Line(f"out.append(cur.execute({self.query()}{self.maybe_fail()}))")]
        return [Line(f"{c}.execute({self.query()}{self.maybe_fail()})")]

    def release_block(self, c, local_import):
        inner = []
        # A hand-fixed function imports the release function one way: a
        # local import beside reads of the module's name would be a latent
        # UnboundLocalError of the program's own (it shows once the helper
        # is tracked), not connfix's.
        if not self.module_release:
            inner.append(Line("from src.utils.connection_tracker import track_connection_released"))
        inner.append(Line(f"track_connection_released({c}._tracking_context, {c}._tracking_start)"))
        return Block(RELEASE_GUARD.format(c=c), inner, atomic=True)

    def close(self, depth):
        r = self.rng
        c = self.conn()
        k = r.choices(["plain", "guarded", "hand", "hand-guarded"], weights=[5, 3, 1.2 + 2 * self.module_release, 0.6])[0]
        if k == "plain":
            return [Line(f"{c}.close()")]
        if k == "guarded":
            return [Block(f"if {c}:", [Line(f"{c}.close()")])]
        if k == "hand":
            return [Group([self.release_block(c, r.random() < 0.3), Line(f"{c}.close()")])]
        return [Block(f"if {c}:", [Group([self.release_block(c, r.random() < 0.3), Line(f"{c}.close()")])])]

    def odd_close(self, depth):
        """Closes connfix may not see: nested function, lambda, expression,
        through a callee."""
        c = self.conn()
        k = self.rng.choice(["inner", "lambda", "expr", "callee", "return-close"])
        if k == "inner":
            return [Block("def inner():", [Line(f"{c}.close()")]), Line("inner()")]
        if k == "lambda":
            return [Line(f"closer = lambda: {c}.close()"), Line("closer()")]
        if k == "expr":
            return [Line(f"out.append({c}.close())")]
        if k == "callee":
            self.aux.add("close_conn")
            return [Line(f"close_conn({c})")]
        return [Line(f"return {c}.close()")]

    def unbind_conn(self, depth):
        c = self.conn()
        return [Line(self.rng.choice([f"del {c}", f"{c} = None"]))]

    def pass_on(self, depth):
        c = self.conn()
        k = self.rng.choice(["use", "store", "return", "return-exec"])
        if k == "use":
            self.aux.add("use_conn")
            return [Line(f"out.append(use_conn({c}))")]
        if k == "store":
            return [Line(f"STORE.append({c})")]
        if k == "return":
            return [Line(f"return {c}")]
        return [Line(f"return {c}.execute({self.query()})")]

    def early_exit(self, depth):
        k = self.rng.choice(["return", "return", "raise"])
        s = Line("return out") if k == "return" else Line('raise ValueError("early")')
        return [Block(f"if x & {self.bit()}:", [s])]

    def branch(self, depth):
        r = self.rng
        clauses = []
        if r.random() < 0.5:
            clauses.append(("else:", self.body(depth + 1, r.randint(1, 2))))
        return [Block(f"if x & {self.bit()}:", self.body(depth + 1, r.randint(1, 3)), clauses)]

    def loop(self, depth):
        return [Block("for i in range(x % 3):", self.body(depth + 1, self.rng.randint(1, 3)))]

    def try_block(self, depth):
        r = self.rng
        body = self.body(depth + 1, r.randint(1, 3))
        clauses = []
        k = r.choice(["except", "finally", "both"])
        if k in ("except", "both"):
            hb = self.body(depth + 1, r.randint(0, 2))
            hb.append(Line(r.choice(["raise", "pass", "return out", "out.append('handled')"])))
            clauses.append((r.choice(["except DBError:", "except Exception:"]), hb))
        if k in ("finally", "both"):
            clauses.append(("finally:", self.body(depth + 1, r.randint(1, 2))))
        return [Block("try:", body, clauses)]

    def audit_try(self, depth):
        """The audit's route shape: conn = None; try: acquire, use;
        except: maybe close and return/raise; finally: if conn: close."""
        r = self.rng
        c = self.bind_conn()
        body = [Line(f"{c} = get_db_connection()")] + self.body(depth + 1, r.randint(1, 3))
        clauses = []
        if r.random() < 0.7:
            hb = []
            if r.random() < 0.5:
                hb += self.close(depth + 1)
            hb.append(Line(r.choice(["raise", "return out", "out.append('error')"])))
            clauses.append(("except DBError:", hb))
        fin = r.choice(
            [
                [Block(f"if {c}:", [Line(f"{c}.close()")])],
                [Line(f"{c}.close()")],
                self.close(depth + 1),
            ]
        )
        clauses.append(("finally:", fin))
        return [Line(f"{c} = None"), Block("try:", body, clauses)]

    # -- engines ---------------------------------------------------------
    def bind_engine(self):
        e = self.rng.choice(["engine", "engine", "engine2"])
        if e not in self.fn["engines"]:
            self.fn["engines"].append(e)
        return e

    def engine_create(self, depth):
        e = self.bind_engine()
        return [Line(f'{e} = create_engine("db{self.rng.randint(1, 9)}")')]

    def engine_use(self, depth):
        e = self.engine()
        k = self.rng.choice(["with", "exec", "dispose"])
        if k == "with":
            return [Block(f"with {e}.connect() as ec:", [Line(f'out.append(ec.execute({self.query()}{self.maybe_fail()}))')])]
        if k == "exec":
            return [Line(f'out.append({e}.execute({self.query()}{self.maybe_fail()}))')]
        return [Line(f"{e}.dispose()")]

    def engine_escape(self, depth):
        e = self.engine()
        k = self.rng.choice(["return", "session", "register", "append", "pair", "closure", "attr"])
        if k == "return":
            return [Line(f"return {e}")]
        if k == "session":
            return [Line(f"Session = sessionmaker(bind={e})"), Line("return Session")]
        if k == "register":
            self.aux.add("register")
            return [Line(f"register({e})")]
        if k == "append":
            return [Line(f"ENGINES.append({e})")]
        if k == "pair":
            return [Line(f"pair = ({e}, 1)"), Line("return pair")]
        if k == "closure":
            return [Block("def later():", [Line(f'return {e}.execute("later")')]), Line("return later")]
        return [Line(f"REGISTRY.append(dict(engine={e}))")]

    def engine_unbind(self, depth):
        e = self.engine()
        return [Line(self.rng.choice([f"del {e}", f"{e} = None", f'{e} = create_engine("b")']))]


AUX = {
    "register": lambda: Block("def register(e):", [Line("REGISTRY.append(e)")]),
    "use_conn": lambda: Block("def use_conn(c):", [Line('return c.execute("u")')]),
    "close_conn": lambda: Block("def close_conn(c):", [Line("c.close()")]),
}


def generate(seed):
    return G(random.Random(seed)).program()


if __name__ == "__main__":
    import sys

    print(render(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
