# oracle-case: 1 double release: closed in except and again in finally
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
        conn.close()
        return "error"
    finally:
        if conn:
            conn.close()
