# oracle-case: 7 self.conn = get_db_connection() closed in another method
# oracle-inputs: 0 1
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


class Repo:
    def open(self):
        self.conn = get_db_connection()

    def query(self, x):
        return self.conn.execute("q", x & 1)

    def close(self):
        self.conn.close()


def handler(x):
    r = Repo()
    r.open()
    try:
        return r.query(x)
    finally:
        r.close()
