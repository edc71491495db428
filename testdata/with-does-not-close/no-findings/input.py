import sqlite3
from contextlib import closing


def closed():
    with closing(sqlite3.connect("app.db")) as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def files():
    with open("x") as f:
        f.read()


def ctx():
    with connection_ctx() as conn:
        conn.cursor()
