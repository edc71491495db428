import sqlite3
from contextlib import contextmanager


@contextmanager
def get_db_connection():
    conn = sqlite3.connect("app.db")
    try:
        yield conn
    finally:
        conn.close()


def route():
    with get_db_connection() as conn:
        conn.execute("SELECT 1")
