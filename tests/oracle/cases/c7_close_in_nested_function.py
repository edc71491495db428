# oracle-case: 7 the close inside a nested function
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    conn = get_db_connection()

    def done():
        conn.close()

    try:
        return conn.execute("q", x & 1)
    finally:
        done()
