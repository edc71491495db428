import sqlite3

import psycopg2
from psycopg2 import pool

DB_POOL = pool.SimpleConnectionPool(1, 5, DSN)


def get_db_connection():
    conn = sqlite3.connect("database.db")
    conn.row_factory = sqlite3.Row
    return conn


class Repo:
    def get_db_connection(self):
        return psycopg2.connect(DSN)


def pooled():
    def get_db_connection():
        return DB_POOL.getconn()

    return get_db_connection
