# oracle-case: 7 (found by the oracle) with get_db_connection() as conn, then conn.close(): the close is not released
# oracle-inputs: 0
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    with get_db_connection() as conn:
        r = conn.execute("q")
    conn.close()
    return r
