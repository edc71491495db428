# oracle-case: 6 (found by the oracle) the except rebinds only when the try's acquisition failed: not never-closed
# oracle-inputs: 0
# oracle-forbid: never-closed
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    try:
        conn = get_db_connection()
    except DBError:
        conn = get_db_connection()
    try:
        return conn.execute("q")
    finally:
        conn.close()
