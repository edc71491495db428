from psycopg2 import pool

POOL = pool.SimpleConnectionPool(1, 10, dsn=DSN)


def get_db_connection():
    conn = POOL.getconn()
    return conn


def release_db_connection(conn):
    POOL.putconn(conn)


def fetch(query):
    conn = get_db_connection()
    try:
        return conn.cursor().execute(query)
    finally:
        release_db_connection(conn)


def fetch_inline(query):
    conn = get_db_connection()
    try:
        return conn.cursor().execute(query)
    finally:
        POOL.putconn(conn, close=False)
