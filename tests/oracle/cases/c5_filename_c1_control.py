# oracle-case: 5 a C1 control character (U+009B) in the file name
# oracle-inputs: 0
# oracle-filename: a\x9b.py
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()
    r = conn.execute("q")
    conn.close()
    return r
