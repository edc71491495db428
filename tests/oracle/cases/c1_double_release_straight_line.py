# oracle-case: 1 (found by the oracle) conn.close() twice in a row (the pool makes the second a no-op)
# oracle-inputs: 0
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    r = conn.execute("q")
    conn.close()
    conn.close()
    return r
