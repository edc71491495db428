# oracle-case: 0 baseline: the audit's route shape, which connfix fixes correctly
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = None
    try:
        conn = get_db_connection()
        return conn.execute("q", x & 1)
    except DBError:
        return "error"
    finally:
        if conn:
            conn.close()
