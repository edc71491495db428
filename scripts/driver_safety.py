"""Runtime safety of connfix's edits on real drivers (run by e2e-postgres.sh).

The audit's Step 1 stores `_tracking_context` / `_tracking_start` on the
connection. sqlite3 and psycopg2 connections are C objects that take no new
attributes, so that form would raise AttributeError at run time. This script
shows that, then lets connfix rewrite a module whose helpers return raw
sqlite3 and psycopg2 connections (and one wrapper class that does take
attributes) and runs every rewritten function against real connections:
nothing may raise, raw helpers must get the registry form (the tracking kept
in the tracker, keyed by the connection) and never the attribute form, a
connection closed twice is released once, a route whose parameter is named
`id` still works, and every context's tracking must return to zero.

    python driver_safety.py CONNFIX DSN WORKDIR
"""

import importlib.util
import os
import sqlite3
import subprocess
import sys
import textwrap

import psycopg2

connfix, dsn, work = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(message):
    print(f"DRIVER SAFETY FAIL: {message}", file=sys.stderr)
    sys.exit(1)


# 1. The audit's attribute form fails on raw driver connections.
for label, connect in [("sqlite3", lambda: sqlite3.connect(":memory:")), ("psycopg2", lambda: psycopg2.connect(dsn))]:
    conn = connect()
    try:
        conn._tracking_context = "x"
    except AttributeError:
        print(f"{label}: the audit's `conn._tracking_context = ...` raises AttributeError (as expected)")
    else:
        fail(f"{label} connections accept attributes; the premise of this test is wrong")
    finally:
        conn.close()

# 2. connfix on helpers returning raw connections and a wrapper.
os.makedirs(os.path.join(work, "src", "utils"), exist_ok=True)
open(os.path.join(work, "src", "__init__.py"), "w").close()
open(os.path.join(work, "src", "utils", "__init__.py"), "w").close()
with open(os.path.join(work, "src", "utils", "connection_tracker.py"), "w") as f:
    f.write(textwrap.dedent('''
        ACTIVE = {}

        def track_connection_acquired(context):
            ACTIVE[context] = ACTIVE.get(context, 0) + 1
            return context, 0.0

        def track_connection_released(context, start):
            ACTIVE[context] -= 1
    '''))
module = os.path.join(work, "drivers.py")
with open(module, "w") as f:
    f.write(textwrap.dedent(f'''
        import sqlite3

        import psycopg2

        DSN = {dsn!r}


        class Wrapped:
            def __init__(self):
                self.raw = sqlite3.connect(":memory:")

            def close(self):
                self.raw.close()


        def get_db_connection():
            return sqlite3.connect(":memory:")


        def get_pg_connection():
            conn = psycopg2.connect(DSN)
            return conn


        def get_wrapped_connection():
            return Wrapped()


        def lite():
            conn = get_db_connection()
            try:
                return conn.execute("SELECT 1").fetchone()[0]
            finally:
                conn.close()


        def pg():
            conn = get_pg_connection()
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                return cur.fetchone()[0]
            finally:
                if conn: conn.close()


        def wrapped():
            conn = get_wrapped_connection()
            conn.close()
            return 1


        def lite_twice():
            conn = get_db_connection()
            try:
                conn.execute("SELECT 1")
                conn.close()
                return 1
            finally:
                conn.close()


        def delete(id):
            conn = get_pg_connection()
            try:
                cur = conn.cursor()
                cur.execute("SELECT %s", (id,))
                return cur.fetchone()[0]
            finally:
                conn.close()
    '''))
with open(os.path.join(work, "connfix.toml"), "w") as f:
    f.write('helpers = ["get_db_connection", "get_pg_connection", "get_wrapped_connection"]\n')
run = subprocess.run([connfix, "apply", "drivers.py"], cwd=work, capture_output=True, text=True)
print(run.stdout + run.stderr)
if run.returncode != 1:
    fail(f"connfix apply exited {run.returncode}, expected 1")
text = open(module).read()
if text.count("conn._tracking_context = context") != 1:
    fail("only the wrapper helper may get the attribute form")
if text.count('.__dict__.setdefault("tracked_connections", {})') != 2:
    fail("the two raw helpers must get the registry form")
if text.count("track_connection_released(conn._tracking_context") != 1:
    fail("the wrapper's close must get the audit's release block")
if text.count('.__dict__.get("tracked_connections", {}).pop(') != 5:
    fail("the five closes of raw connections must get the registry's release block")

sys.path.insert(0, work)
spec = importlib.util.spec_from_file_location("drivers", module)
drivers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(drivers)
for name in ("lite", "pg", "wrapped", "lite_twice"):
    if getattr(drivers, name)() != 1:
        fail(f"{name}() returned the wrong value")
if drivers.delete(1) != 1:
    fail("delete(id) returned the wrong value")
from src.utils import connection_tracker  # noqa: E402

expected = {f"drivers.py::{h}": 0 for h in ("get_db_connection", "get_pg_connection", "get_wrapped_connection")}
if connection_tracker.ACTIVE != expected:
    fail(f"tracker state after the calls: {connection_tracker.ACTIVE}")
if connection_tracker.__dict__.get("tracked_connections"):
    fail(f"registry entries left: {connection_tracker.tracked_connections}")
print("driver safety: raw sqlite3/psycopg2 helpers tracked in the registry, a double close released once, "
      "`def delete(id)` unharmed, wrapper tracked and released; every context back to 0")
