"""Stand-ins for the driver (`src.db_compat`), the tracker
(`src.utils.connection_tracker`) and SQLAlchemy (`sqlalchemy`,
`sqlalchemy.orm`), installed in `sys.modules` before a program is executed.

Every run gets a fresh `World`; the stand-in modules are created once and
look the current world up at call time, so `from src.db_compat import
connect` at module level keeps working across runs.

The world records:
- `events`: the driver's events (what the program really does to the
  database), compared between the original and the rewritten program;
- `violations`: breaches of the invariants that must ALWAYS hold (a
  connection released twice, a release of something never acquired, the
  tracker's count going negative, an engine used after dispose);
- the state needed for the invariants checked after every call (connections
  really open, the tracker's active count, engines and whether they were
  disposed).
"""

import sys
import types
import weakref


class DBError(Exception):
    """What the fake driver raises (`cursor.execute` on a failing input)."""


class World:
    def __init__(self, fail_open_at=None):
        self.events = []
        self.violations = []
        self.fail_open_at = fail_open_at  # the n-th connect() raises DBError
        self.n_open = 0
        self.failed_opens = 0
        self.open_conns = {}  # id -> FakeConnection, opened and not closed
        self.all_conns = []
        # tracker
        self.n_acq = 0
        self.outstanding = {}  # token -> context
        self.released = set()
        self.contexts = []  # every context string passed to acquire
        self.active = 0
        self.min_active = 0
        # engines
        self.n_engine = 0
        self.engines = []  # (weakref or None, EngineState)

    def violate(self, what):
        self.violations.append(what)

    # -- driver -----------------------------------------------------------
    def connect(self, kind="pooled"):
        self.n_open += 1
        n = self.n_open
        if self.fail_open_at is not None and n == self.fail_open_at:
            self.events.append(f"open #{n} failed")
            self.failed_opens += 1
            raise DBError(f"could not connect #{n}")
        c = FakeConnection(self, n) if kind == "pooled" else RawConnection(self, n)
        c._site = _call_site()
        self.open_conns[n] = c
        self.all_conns.append(c)
        self.events.append(f"open #{n}")
        return c

    def really_open(self):
        return len(self.open_conns)


WORLD = World()


def _call_site():
    """The line that called the helper (for findings about that line)."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_name != "get_db_connection":
        f = f.f_back
    return f.f_back.f_lineno if f is not None and f.f_back is not None else None


def new_world(fail_open_at=None):
    global WORLD
    WORLD = World(fail_open_at)
    return WORLD


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn

    def execute(self, q, fail=False):
        return self.conn.execute(q, fail)

    def fetchone(self):
        return (1,)

    def fetchall(self):
        return [(1,)]

    def close(self):
        pass


class FakeConnection:
    """A pooled connection (like db_compat's PooledConnection): takes new
    attributes; a second close() is a logged no-op."""

    def __init__(self, world, n):
        self._world = world
        self._n = n
        self._closed = False
        # The tracker token the connection was ever given: a release takes
        # the tracking attributes off again (so a second close releases
        # nothing), and the oracle asks whether it was tracked at all.
        self._ever_tracked = None

    def __setattr__(self, name, value):
        if name == "_tracking_start" and isinstance(value, Token):
            object.__setattr__(self, "_ever_tracked", value)
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"<conn #{self._n}>"

    def __bool__(self):
        return True

    def execute(self, q, fail=False):
        w = self._world
        if self._closed:
            w.events.append(f"execute #{self._n} {q} on closed")
            raise DBError(f"#{self._n} is closed")
        w.events.append(f"execute #{self._n} {q}")
        if fail:
            raise DBError(f"{q} failed")
        return f"{q}#{self._n}"

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self._world.events.append(f"commit #{self._n}")

    def rollback(self):
        self._world.events.append(f"rollback #{self._n}")

    def close(self):
        w = self._world
        if self._closed:
            w.events.append(f"close #{self._n} again")
            return
        self._closed = True
        w.open_conns.pop(self._n, None)
        w.events.append(f"close #{self._n}")

    # DB-API style: `with conn:` ends the transaction, does not close
    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        self._world.events.append(f"{'rollback' if et else 'commit'} #{self._n}")
        return False


class RawConnection(FakeConnection):
    """Like sqlite3/psycopg2 connections: no new attributes (issue 14 hook)."""

    __slots__ = ()

    def __setattr__(self, name, value):
        if name.startswith("_tracking"):
            raise AttributeError(f"'Connection' object has no attribute '{name}'")
        FakeConnection.__setattr__(self, name, value)


# -- tracker ----------------------------------------------------------------
class Token:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"<start {self.n}>"


def track_connection_acquired(context):
    w = WORLD
    w.n_acq += 1
    tok = Token(w.n_acq)
    w.outstanding[tok.n] = context
    w.contexts.append(context)
    w.active += 1
    return context, tok


def track_connection_released(context, start):
    w = WORLD
    n = getattr(start, "n", None)
    if n in w.released:
        w.violate(f"double release of acquisition {n} ({context!r})")
    elif n not in w.outstanding:
        w.violate(f"release of something never acquired: {start!r}")
    else:
        del w.outstanding[n]
        w.released.add(n)
    w.active -= 1
    if w.active < 0:
        w.violate(f"tracker active count negative ({w.active})")
    w.min_active = min(w.min_active, w.active)


# -- SQLAlchemy -------------------------------------------------------------
class EngineState:
    def __init__(self, n, url):
        self.n = n
        self.url = url
        self.disposed = False


class EngineConnection:
    def __init__(self, engine, k):
        self.engine = engine
        self.k = k

    def execute(self, q, fail=False):
        self.engine._use(f"execute {q}")
        if fail:
            raise DBError(f"{q} failed")
        return f"{q}@e{self.engine._st.n}"

    def close(self):
        WORLD.events.append(f"engine #{self.engine._st.n} conn {self.k} close")

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


class FakeEngine:
    def __init__(self, url):
        w = WORLD
        w.n_engine += 1
        self._st = EngineState(w.n_engine, url)
        self._k = 0
        w.engines.append((weakref.ref(self), self._st))
        w.events.append(f"engine #{self._st.n} create {url}")

    def __repr__(self):
        return f"<engine #{self._st.n}>"

    def _use(self, what):
        if self._st.disposed:
            WORLD.violate(f"engine #{self._st.n} used after dispose ({what})")
        WORLD.events.append(f"engine #{self._st.n} {what}")

    def connect(self):
        self._k += 1
        self._use(f"connect {self._k}")
        return EngineConnection(self, self._k)

    begin = connect

    def execute(self, q, fail=False):
        return self.connect().execute(q, fail)

    def dispose(self):
        # not a driver event compared between runs: the rewrite adds these
        self._st.disposed = True


def create_engine(url="sqlite://", **kw):
    return FakeEngine(url)


async def _never():  # pragma: no cover
    pass


class Session:
    def __init__(self, bind):
        self.bind = bind

    def execute(self, q, fail=False):
        return self.bind.execute(q, fail)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def sessionmaker(bind=None, **kw):
    class _Session(Session):
        def __init__(self):
            Session.__init__(self, bind)

    _Session.bind = bind
    _Session.__repr__ = lambda self: "<session>"
    _Session.__qualname__ = "sessionmaker"
    return _Session


# -- installation -----------------------------------------------------------
def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    return m


def install():
    src = _module("src")
    src.__path__ = []
    db_compat = _module(
        "src.db_compat",
        connect=lambda use_pool=True, **kw: WORLD.connect("pooled"),
        raw_connect=lambda *a, **kw: WORLD.connect("raw"),
        DBError=DBError,
    )
    utils = _module("src.utils")
    utils.__path__ = []
    tracker = _module(
        "src.utils.connection_tracker",
        track_connection_acquired=track_connection_acquired,
        track_connection_released=track_connection_released,
    )
    sa = _module("sqlalchemy", create_engine=create_engine, text=lambda s: s)
    sa.__path__ = []
    orm = _module("sqlalchemy.orm", sessionmaker=sessionmaker)
    src.db_compat, src.utils, utils.connection_tracker, sa.orm = db_compat, utils, tracker, orm
    sys.modules.update(
        {
            "src": src,
            "src.db_compat": db_compat,
            "src.utils": utils,
            "src.utils.connection_tracker": tracker,
            "sqlalchemy": sa,
            "sqlalchemy.orm": orm,
        }
    )
