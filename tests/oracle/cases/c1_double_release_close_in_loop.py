# oracle-case: 1 (found by the oracle) a close inside a loop runs once per iteration: one release per close
# oracle-inputs: 0 1 2
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    r = conn.execute("q")
    for i in range(x % 3):
        conn.close()
    return r
