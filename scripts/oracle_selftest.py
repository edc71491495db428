#!/usr/bin/env python3
"""Unit tests for the AST oracle of scripts/stress.py.

Hand-written before/after pairs for every construct connfix inserts (they
must pass), and pairs with a real semantic change (they must be flagged).

Run: python3 scripts/oracle_selftest.py
"""

import os
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stress  # noqa: E402

CFG = stress.Cfg(
    helpers=["get_db_connection", "open"],
    tracker_module="src.utils.connection_tracker",
    acquire="track_connection_acquired",
    release="track_connection_released",
    engine_factories=["create_engine", "create_async_engine", "socket.socket"],
    dispose_method="dispose",
)
CLOSE_CFG = stress.Cfg(
    helpers=["never_used"],
    engine_factories=["socket.socket", "tempfile.NamedTemporaryFile", "open"],
    dispose_method="close",
)


def d(s: str) -> bytes:
    return textwrap.dedent(s).lstrip("\n").encode()


def run(before, after, cfg=CFG, name="mod.py"):
    return stress.check_file(d(before), d(after), name, cfg)


class Base(unittest.TestCase):
    def ok(self, before, after, cfg=CFG, **expect):
        counts, fails = run(before, after, cfg)
        self.assertEqual(fails, [], "oracle flagged a correct rewrite")
        for k, v in expect.items():
            self.assertEqual(counts.get(k, 0), v, k)
        return counts

    def bad(self, before, after, kind, cfg=CFG):
        counts, fails = run(before, after, cfg)
        kinds = [k for k, _ in fails]
        self.assertIn(kind, kinds, f"expected a {kind!r} failure, got {fails}")
        return fails


# --------------------------------------------------------------- positives


class TrackedHelper(Base):
    BEFORE = """
        def get_db_connection():
            \"\"\"Get a pooled connection.\"\"\"
            from src.db_compat import connect
            conn = connect(use_pool=True)
            return conn
        """

    def test_binding_then_return(self):
        self.ok(
            self.BEFORE,
            """
            def get_db_connection():
                \"\"\"Get a pooled connection.\"\"\"
                from src.db_compat import connect
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect(use_pool=True)
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn
            """,
            helpers_instrumented=1,
            return_rewrites=0,
        )

    def test_return_call_rewrite(self):
        self.ok(
            """
            def get_db_connection():
                return connect(use_pool=True)
            """,
            """
            def get_db_connection():
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect(use_pool=True)
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn
            """,
            helpers_instrumented=1,
            return_rewrites=1,
        )

    def test_method_and_async(self):
        self.ok(
            """
            class Pool:
                async def open(self, dsn):
                    if not dsn:
                        raise ValueError(dsn)
                    return await self._connect(dsn)
            """,
            """
            class Pool:
                async def open(self, dsn):
                    from src.utils.connection_tracker import track_connection_acquired
                    # Track this connection acquisition
                    context, track_start = track_connection_acquired("mod.py::open")
                    if not dsn:
                        raise ValueError(dsn)
                    conn = await self._connect(dsn)
                    conn._tracking_context = context
                    conn._tracking_start = track_start
                    return conn
            """,
            helpers_instrumented=1,
            return_rewrites=1,
        )

    def test_already_instrumented_original_is_kept(self):
        src = """
            def get_db_connection():
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect(use_pool=True)
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn

            def work():
                conn = get_db_connection()
                conn.close()
            """
        after = src.replace(
            "        conn = get_db_connection()\n                conn.close()",
            "        conn = get_db_connection()\n"
            "                # Release tracking before closing connection\n"
            "                if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n"
            "                    from src.utils.connection_tracker import track_connection_released\n"
            "                    track_connection_released(conn._tracking_context, conn._tracking_start)\n"
            "                    del conn._tracking_context, conn._tracking_start\n"
            "                conn.close()",
        )
        self.assertNotEqual(src, after)
        self.ok(src, after, release_blocks=1, helpers_instrumented=0)


class ReleaseBeforeClose(Base):
    def test_simple_and_finally(self):
        self.ok(
            """
            def handler():
                conn = get_db_connection()
                try:
                    conn.cursor().execute("select 1")
                finally:
                    if conn:
                        conn.close()
            """,
            """
            def handler():
                conn = get_db_connection()
                try:
                    conn.cursor().execute("select 1")
                finally:
                    if conn:
                        # Release tracking before closing connection
                        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                            from src.utils.connection_tracker import track_connection_released
                            track_connection_released(conn._tracking_context, conn._tracking_start)
                            del conn._tracking_context, conn._tracking_start
                        conn.close()
            """,
            release_blocks=1,
        )

    def test_one_line_forms_split(self):
        self.ok(
            """
            def handler(c):
                conn = get_db_connection()
                if c: conn.close()
                try:
                    pass
                finally: conn.close()
                log(); conn.close()
            """,
            """
            def handler(c):
                conn = get_db_connection()
                if c:
                    # Release tracking before closing connection
                    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                        from src.utils.connection_tracker import track_connection_released
                        track_connection_released(conn._tracking_context, conn._tracking_start)
                        del conn._tracking_context, conn._tracking_start
                    conn.close()
                try:
                    pass
                finally:
                    # Release tracking before closing connection
                    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                        from src.utils.connection_tracker import track_connection_released
                        track_connection_released(conn._tracking_context, conn._tracking_start)
                        del conn._tracking_context, conn._tracking_start
                    conn.close()
                log()
                # Release tracking before closing connection
                if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                    from src.utils.connection_tracker import track_connection_released
                    track_connection_released(conn._tracking_context, conn._tracking_start)
                    del conn._tracking_context, conn._tracking_start
                conn.close()
            """,
            release_blocks=3,
        )

    def test_user_try_finally_gets_release(self):
        # With dispose_method = close, a user's `try/finally: conn.close()` must
        # not be mistaken for an inserted wrap once a release block is added.
        cfg = stress.Cfg(helpers=["connect"], engine_factories=["sqlite3.connect"], dispose_method="close")
        self.ok(
            """
            async def t(engine):
                conn = await engine.connect()
                try:
                    go(conn)
                finally:
                    await conn.close()
            """,
            """
            async def t(engine):
                conn = await engine.connect()
                try:
                    go(conn)
                finally:
                    # Release tracking before closing connection
                    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                        from src.utils.connection_tracker import track_connection_released
                        track_connection_released(conn._tracking_context, conn._tracking_start)
                        del conn._tracking_context, conn._tracking_start
                    await conn.close()
            """,
            cfg=cfg,
            release_blocks=1,
            wraps=0,
        )

    def test_module_level(self):
        self.ok(
            """
            conn = get_db_connection()
            conn.close()
            """,
            """
            conn = get_db_connection()
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()
            """,
            release_blocks=1,
        )


class DisposeEngine(Base):
    def test_wrap_rest_of_block(self):
        self.ok(
            """
            def health():
                engine = create_engine(URL)
                with engine.connect() as c:
                    c.execute("select 1")
                return {"ok": True}
            """,
            """
            def health():
                engine = create_engine(URL)
                try:
                    with engine.connect() as c:
                        c.execute("select 1")
                    return {"ok": True}
                finally:
                    engine.dispose()
            """,
            wraps=1,
            wraps_moved_dispose=0,
        )

    def test_nested_block_and_dotted_factory(self):
        self.ok(
            """
            def probe(hosts):
                for h in hosts:
                    s = socket.socket()
                    s.connect(h)
                    s.send(b"x")
                return True
            """,
            """
            def probe(hosts):
                for h in hosts:
                    s = socket.socket()
                    try:
                        s.connect(h)
                        s.send(b"x")
                    finally:
                        s.dispose()
                return True
            """,
            wraps=1,
        )

    def test_moved_bare_dispose(self):
        self.ok(
            """
            def health():
                engine = create_engine(URL)
                rows = engine.execute("select 1")
                engine.dispose()
                return rows
            """,
            """
            def health():
                engine = create_engine(URL)
                try:
                    rows = engine.execute("select 1")
                finally:
                    engine.dispose()
                return rows
            """,
            wraps=1,
            wraps_moved_dispose=1,
        )

    def test_async_factory_awaits(self):
        self.ok(
            """
            async def health():
                engine = create_async_engine(URL)
                async with engine.connect() as c:
                    await c.execute("select 1")
            """,
            """
            async def health():
                engine = create_async_engine(URL)
                try:
                    async with engine.connect() as c:
                        await c.execute("select 1")
                finally:
                    await engine.dispose()
            """,
            wraps=1,
        )

    def test_two_engines_nest(self):
        self.ok(
            """
            def f():
                a = create_engine(A)
                b = create_engine(B)
                use(a, b)
            """,
            """
            def f():
                a = create_engine(A)
                try:
                    b = create_engine(B)
                    try:
                        use(a, b)
                    finally:
                        b.dispose()
                finally:
                    a.dispose()
            """,
            wraps=2,
        )

    def test_user_try_finally_kept(self):
        src = """
            def f():
                a = create_engine(A)
                try:
                    use(a)
                finally:
                    a.dispose()
                b = create_engine(B)
                use(b)
            """
        self.ok(
            src,
            """
            def f():
                a = create_engine(A)
                try:
                    use(a)
                finally:
                    a.dispose()
                b = create_engine(B)
                try:
                    use(b)
                finally:
                    b.dispose()
            """,
            wraps=1,
        )

    def test_moved_close_of_tracked_connection_keeps_release(self):
        cfg = stress.Cfg(helpers=["connect"], engine_factories=["sqlite3.connect"], dispose_method="close")
        self.ok(
            """
            def f():
                cx = sqlite3.connect(":memory:")
                use(cx)
                cx.close()
            """,
            """
            def f():
                cx = sqlite3.connect(":memory:")
                try:
                    use(cx)
                finally:
                    # Release tracking before closing connection
                    if hasattr(cx, '_tracking_context') and hasattr(cx, '_tracking_start'):
                        from src.utils.connection_tracker import track_connection_released
                        track_connection_released(cx._tracking_context, cx._tracking_start)
                        del cx._tracking_context, cx._tracking_start
                    cx.close()
            """,
            cfg=cfg,
            wraps=1,
            wraps_moved_dispose=1,
            release_blocks=1,
        )

    def test_close_config_open(self):
        self.ok(
            """
            def read(p):
                f = open(p)
                data = f.read()
                f.close()
                return data
            """,
            """
            def read(p):
                f = open(p)
                try:
                    data = f.read()
                finally:
                    f.close()
                return data
            """,
            cfg=CLOSE_CFG,
            wraps=1,
            wraps_moved_dispose=1,
        )


class AllRulesTogether(Base):
    def test_file(self):
        self.ok(
            """
            import socket

            def get_db_connection():
                return connect()

            def handler():
                conn = get_db_connection()
                engine = create_engine(URL)
                conn.close()
                x = 1
            """,
            """
            import socket

            def get_db_connection():
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect()
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn

            def handler():
                conn = get_db_connection()
                engine = create_engine(URL)
                try:
                    # Release tracking before closing connection
                    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                        from src.utils.connection_tracker import track_connection_released
                        track_connection_released(conn._tracking_context, conn._tracking_start)
                        del conn._tracking_context, conn._tracking_start
                    conn.close()
                    x = 1
                finally:
                    engine.dispose()
            """,
            helpers_instrumented=1,
            return_rewrites=1,
            release_blocks=1,
            wraps=1,
        )


# --------------------------------------------------------------- negatives

GOOD_HELPER = """
    def get_db_connection():
        from src.utils.connection_tracker import track_connection_acquired
        # Track this connection acquisition
        context, track_start = track_connection_acquired("mod.py::get_db_connection")
        conn = connect("db")
        conn._tracking_context = context
        conn._tracking_start = track_start
        return conn
    """
HELPER_BEFORE = """
    def get_db_connection():
        conn = connect("db")
        return conn
    """
RELEASE = (
    "# Release tracking before closing connection\n"
    "{i}if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n"
    "{i}    from src.utils.connection_tracker import track_connection_released\n"
    "{i}    track_connection_released(conn._tracking_context, conn._tracking_start)\n"
    "{i}    del conn._tracking_context, conn._tracking_start\n"
)


class Negatives(Base):
    def test_sanity_good_helper(self):
        self.ok(HELPER_BEFORE, GOOD_HELPER)

    def test_changed_string_literal(self):
        self.bad(HELPER_BEFORE, GOOD_HELPER.replace('connect("db")', 'connect("db2")'), "ast-mismatch")

    def test_removed_statement(self):
        self.bad(
            """
            def f():
                e = create_engine(U)
                log("a")
                use(e)
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    use(e)
                finally:
                    e.dispose()
            """,
            "ast-mismatch",
        )

    def test_statement_moved_out_of_try(self):
        # `use(e)` ends up after the try: it now runs after dispose.
        self.bad(
            """
            def f():
                e = create_engine(U)
                log("a")
                use(e)
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    log("a")
                finally:
                    e.dispose()
                use(e)
            """,
            "wrap-not-to-end",
        )

    def test_moved_dispose_but_statement_reordered(self):
        self.bad(
            """
            def f():
                e = create_engine(U)
                a()
                e.dispose()
                b()
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    a()
                    b()
                finally:
                    e.dispose()
            """,
            "ast-mismatch",
        )

    def test_wrong_acquire_label(self):
        self.bad(HELPER_BEFORE, GOOD_HELPER.replace("mod.py::", "other.py::"), "ast-mismatch")

    def test_tracking_in_non_helper(self):
        self.bad(
            HELPER_BEFORE.replace("get_db_connection", "make"),
            GOOD_HELPER.replace("get_db_connection", "make"),
            "ast-mismatch",
        )

    def test_tracking_attrs_before_binding(self):
        after = GOOD_HELPER.replace(
            '        conn = connect("db")\n        conn._tracking_context = context\n        conn._tracking_start = track_start\n',
            '        conn._tracking_context = context\n        conn._tracking_start = track_start\n        conn = connect("db")\n',
        )
        self.assertNotEqual(after, GOOD_HELPER)
        self.bad(HELPER_BEFORE, after, "tracking-attr-misplaced")

    def test_missing_comment(self):
        self.bad(HELPER_BEFORE, GOOD_HELPER.replace("# Track this connection acquisition", "# tracking"), "comment-missing")

    def test_lost_original_comment(self):
        self.bad(
            """
            def get_db_connection():
                # keep me
                conn = connect("db")
                return conn
            """,
            GOOD_HELPER,
            "comments-changed",
        )

    def test_docstring_displaced(self):
        self.bad(
            """
            def get_db_connection():
                \"\"\"Doc.\"\"\"
                conn = connect("db")
                return conn
            """,
            """
            def get_db_connection():
                from src.utils.connection_tracker import track_connection_acquired
                \"\"\"Doc.\"\"\"
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect("db")
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn
            """,
            "docstring-displaced",
        )

    def test_context_name_clash(self):
        self.bad(
            """
            def open(url, context=None):
                return opener(url, context)
            """,
            """
            def open(url, context=None):
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::open")
                conn = opener(url, context)
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn
            """,
            "name-clash",
        )

    def test_return_rewrite_global_name(self):
        self.bad(
            """
            def get_db_connection():
                global conn
                return connect()
            """,
            """
            def get_db_connection():
                global conn
                from src.utils.connection_tracker import track_connection_acquired
                # Track this connection acquisition
                context, track_start = track_connection_acquired("mod.py::get_db_connection")
                conn = connect()
                conn._tracking_context = context
                conn._tracking_start = track_start
                return conn
            """,
            "name-clash",
        )

    def test_release_not_before_close(self):
        i = " " * 4
        self.bad(
            """
            def h():
                conn = get_db_connection()
                conn.commit()
                conn.close()
            """,
            "def h():\n    conn = get_db_connection()\n    " + RELEASE.format(i=i) + "    conn.commit()\n    conn.close()\n",
            "release-misplaced",
        )

    def test_release_untracked(self):
        i = " " * 4
        self.bad(
            """
            def h():
                conn = sqlite3.connect("x")
                conn.close()
            """,
            "def h():\n    conn = sqlite3.connect(\"x\")\n    " + RELEASE.format(i=i) + "    conn.close()\n",
            "release-untracked",
        )

    def test_release_changes_close_target(self):
        i = " " * 4
        self.bad(
            """
            def h():
                conn = get_db_connection()
                conn.close()
            """,
            "def h():\n    conn = get_db_connection()\n    " + RELEASE.format(i=i) + "    conn.close(1)\n",
            "ast-mismatch",
        )

    def test_wrap_non_factory(self):
        self.bad(
            """
            def f():
                e = make_engine(U)
                use(e)
            """,
            """
            def f():
                e = make_engine(U)
                try:
                    use(e)
                finally:
                    e.dispose()
            """,
            "wrap-non-factory",
        )

    def test_wrap_other_module_function_of_same_name(self):
        # factory `open` is the builtin; `os.open` returns an int without .close().
        self.bad(
            """
            def f(p):
                fd = os.open(p)
                use(fd)
            """,
            """
            def f(p):
                fd = os.open(p)
                try:
                    use(fd)
                finally:
                    fd.close()
            """,
            "wrap-qualified-factory",
            cfg=CLOSE_CFG,
        )

    def test_wrap_from_import_alias_is_accepted(self):
        self.ok(
            """
            def f():
                s = socket()
                use(s)
            """,
            """
            def f():
                s = socket()
                try:
                    use(s)
                finally:
                    s.close()
            """,
            cfg=CLOSE_CFG,
            wraps=1,
        )

    def test_wrap_of_escaping_object(self):
        self.bad(
            """
            def f(self):
                e = create_engine(U)
                self.engine = e
            """,
            """
            def f(self):
                e = create_engine(U)
                try:
                    self.engine = e
                finally:
                    e.dispose()
            """,
            "wrap-escape",
        )
        self.bad(
            """
            def f():
                e = create_engine(U)
                if x:
                    return e, 1
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    if x:
                        return e, 1
                finally:
                    e.dispose()
            """,
            "wrap-escape",
        )

    def test_wrap_without_binding(self):
        self.bad(
            """
            def f(e):
                use(e)
            """,
            """
            def f(e):
                try:
                    use(e)
                finally:
                    e.dispose()
            """,
            "wrap-no-binding",
        )

    def test_wrap_outside_function(self):
        self.bad(
            """
            e = create_engine(U)
            use(e)
            """,
            """
            e = create_engine(U)
            try:
                use(e)
            finally:
                e.dispose()
            """,
            "wrap-outside-function",
        )

    def test_double_dispose(self):
        self.bad(
            """
            def f():
                e = create_engine(U)
                use(e)
                e.dispose()
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    use(e)
                    e.dispose()
                finally:
                    e.dispose()
            """,
            "dispose-not-moved",
        )

    def test_double_wrap(self):
        self.bad(
            """
            def f():
                e = create_engine(U)
                try:
                    use(e)
                finally:
                    e.dispose()
            """,
            """
            def f():
                e = create_engine(U)
                try:
                    try:
                        use(e)
                    finally:
                        e.dispose()
                finally:
                    e.dispose()
            """,
            "wrap-no-binding",
        )

    def test_await_for_sync_factory(self):
        self.bad(
            """
            async def f():
                e = create_engine(U)
                use(e)
            """,
            """
            async def f():
                e = create_engine(U)
                try:
                    use(e)
                finally:
                    await e.dispose()
            """,
            "await-mismatch",
        )

    def test_await_outside_async_does_not_compile(self):
        self.bad(
            """
            def f():
                e = create_async_engine(U)
                use(e)
            """,
            """
            def f():
                e = create_async_engine(U)
                try:
                    use(e)
                finally:
                    await e.dispose()
            """,
            "compile-failed",
        )

    def test_bad_indentation_does_not_compile(self):
        self.bad(
            """
            def f():
                e = create_engine(U)
                use(e)
            """,
            """
            def f():
                e = create_engine(U)
                try:
                use(e)
                finally:
                    e.dispose()
            """,
            "compile-failed",
        )

    def test_changed_multiline_string(self):
        # Re-indenting must not touch the inside of a triple-quoted string.
        self.bad(
            '''
            def f():
                e = create_engine(U)
                q = """
            select 1
            """
                use(e, q)
            ''',
            '''
            def f():
                e = create_engine(U)
                try:
                    q = """
                select 1
                """
                    use(e, q)
                finally:
                    e.dispose()
            ''',
            "ast-mismatch",
        )


class Helpers(unittest.TestCase):
    def test_toml(self):
        t = stress.builtin_configs()["A"].toml()
        self.assertIn('helpers = ["open", "urlopen"]', t)
        self.assertNotIn("engine_factories", t)
        self.assertIn('dispose_method = "close"', stress.builtin_configs()["B"].toml())

    def test_parse_errors(self):
        errs, other = stress.parse_errors("/r/a/b.py:3:5: error: cannot do it\nnoise\n", "/r")
        self.assertEqual(errs, {"a/b.py": ["3:5: cannot do it"]})
        self.assertEqual(other, ["noise"])

    def test_reason(self):
        self.assertEqual(stress.reason_of("line 12 `conn` is 'x'"), "line N `_` is '_'")


if __name__ == "__main__":
    unittest.main(verbosity=1)
