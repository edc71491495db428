# oracle-case: 6 (found by the oracle) a rebinding after return (dead code) makes the live connection never-closed
# oracle-inputs: 0 1
# oracle-forbid: never-closed
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    try:
        conn = get_db_connection()
        return conn.execute("q", x & 1)
        conn = get_db_connection()
    finally:
        conn.close()
