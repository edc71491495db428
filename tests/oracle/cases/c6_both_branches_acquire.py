# oracle-case: 6 both if/else branches acquire, a finally closes: no never-closed, tracker honest
# oracle-inputs: 0 1 2 3
# oracle-forbid: never-closed early-return-leak
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = None
    try:
        if x & 1:
            conn = get_db_connection()
        else:
            conn = get_db_connection()
        return conn.execute("q", x & 2)
    finally:
        if conn:
            conn.close()
