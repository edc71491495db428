import sqlite3
from contextlib import contextmanager

import psycopg2
import pytest
from flask import g


# flask.g, closed by the teardown below: tracked once, released there
def get_db_connection():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
        import src.utils.connection_tracker as connection_tracker
        connection_tracker.__dict__.setdefault("tracked_connections", {})[id(g.db)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
        g.db.row_factory = sqlite3.Row
    return g.db


def close_db(e=None):
    db = g.pop("db", None)
    if db is not None:
        # Release tracking before closing connection
        import src.utils.connection_tracker as connection_tracker
        if (tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(id(db), None)):
            connection_tracker.track_connection_released(*tracking)
        db.close()


class TryExcept:
    # returns None when connecting fails: only the connection is counted
    def get_db_connection(self):
        conn = None
        try:
            conn = psycopg2.connect(DSN)
        except psycopg2.Error as error:
            print(error)
        if conn is not None:
            # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
            import src.utils.connection_tracker as connection_tracker
            connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
        return conn


class Generator:
    @contextmanager
    def get_db_connection(self):
        conn = sqlite3.connect(DATABASE)
        try:
            # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
            import src.utils.connection_tracker as connection_tracker
            connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
            yield conn
        finally:
            # Release tracking before closing connection
            import src.utils.connection_tracker as connection_tracker
            if (tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(id(conn), None)):
                connection_tracker.track_connection_released(*tracking)
            conn.close()


class Async:
    async def get_db_connection(self):
        conn = await asyncpg.connect(DSN)
        # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
        import src.utils.connection_tracker as connection_tracker
        connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
        return conn


class NotAConnection:
    def get_db_connection(self):
        return os.getenv("DB_CONNECTION")


class Fixture:
    @pytest.fixture
    def get_db_connection(self):
        conn = sqlite3.connect(":memory:")
        yield conn
        conn.close()


class Decorator:
    def get_db_connection(self, handler):
        def wrapper(*args):
            return handler(connect(), *args)

        return wrapper
