import sqlite3

import psycopg2
from psycopg2 import pool

DB_POOL = pool.SimpleConnectionPool(1, 5, DSN)


def get_db_connection():
    conn = sqlite3.connect("database.db")
    conn.row_factory = sqlite3.Row
    # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
    import src.utils.connection_tracker as connection_tracker
    connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
    return conn


class Repo:
    def get_db_connection(self):
        conn = psycopg2.connect(DSN)
        # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
        import src.utils.connection_tracker as connection_tracker
        connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
        return conn


def pooled():
    def get_db_connection():
        conn = DB_POOL.getconn()
        # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)
        import src.utils.connection_tracker as connection_tracker
        connection_tracker.__dict__.setdefault("tracked_connections", {})[id(conn)] = connection_tracker.track_connection_acquired("input.py::get_db_connection")
        return conn

    return get_db_connection
