# oracle-case: 7 walrus acquisition: if (conn := get_db_connection()):
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    if (conn := get_db_connection()):
        try:
            return conn.execute("q", x & 1)
        finally:
            conn.close()
