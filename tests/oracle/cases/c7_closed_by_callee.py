# oracle-case: 7 (found by the oracle) the connection is closed by a function it is passed to
# oracle-inputs: 0
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def close_conn(c):
    c.close()


def handler(x):
    conn = get_db_connection()
    r = conn.execute("q")
    close_conn(conn)
    return r
