# oracle-case: 8 (found by the oracle) the tracked helper counts an acquisition whose connect() raised
# oracle-inputs: 0 0@1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    try:
        return conn.execute("q")
    finally:
        conn.close()
