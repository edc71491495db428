# oracle-case: 7 with closing(get_db_connection()) as conn
# oracle-inputs: 0 1
from contextlib import closing
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    with closing(get_db_connection()) as conn:
        return conn.execute("q", x & 1)
