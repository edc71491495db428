import sqlite3
from contextlib import contextmanager

import psycopg2
import pytest
from flask import g


# flask.g, closed by the teardown below: tracked once, released there
def get_db_connection():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


def close_db(e=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


class TryExcept:
    # returns None when connecting fails: only the connection is counted
    def get_db_connection(self):
        conn = None
        try:
            conn = psycopg2.connect(DSN)
        except psycopg2.Error as error:
            print(error)
        return conn


class Generator:
    @contextmanager
    def get_db_connection(self):
        conn = sqlite3.connect(DATABASE)
        try:
            yield conn
        finally:
            conn.close()


class Async:
    async def get_db_connection(self):
        return await asyncpg.connect(DSN)


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
