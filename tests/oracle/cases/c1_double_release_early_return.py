# oracle-case: 1 double release: closed on an early-return path and again in finally
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    try:
        if x & 1:
            conn.close()
            return "early"
        return conn.execute("q")
    finally:
        conn.close()
