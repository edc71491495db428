# oracle-case: 5 a backslash in the file name becomes an escape in the context string
# oracle-inputs: 0
# oracle-filename: a\\n.py
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    r = conn.execute("q")
    conn.close()
    return r
