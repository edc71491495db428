# oracle-case: 7 the helper called through an alias: gdc = get_db_connection; gdc()
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    gdc = get_db_connection
    conn = gdc()
    try:
        return conn.execute("q", x & 1)
    finally:
        conn.close()
