import sqlite3

import psycopg2


def get_db_connection():
    return sqlite3.connect("app.db")


def direct():
    with sqlite3.connect("app.db") as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def helper_as_context():
    with get_db_connection() as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def named():
    conn = psycopg2.connect(DSN)
    with conn:
        conn.cursor().execute("SELECT 1")
    conn.close()
