from flask import g


def get_db_connection():
    if "db" not in g:
        g.db = connect(use_pool=True)
    return g.db


class A:
    def get_db_connection(self):
        conn = connect(use_pool=True)
        yield conn
        conn.close()


class B:
    def get_db_connection(self, fresh):
        if fresh:
            return connect(use_pool=False)
        return connect(use_pool=True)


class C:
    def get_db_connection(self): return connect(use_pool=True)
