import functools


class Repository:
    @staticmethod
    def get_db_connection():
        from src.db_compat import connect
        return connect(use_pool=True)

    def get_db_connection_pool(self):
        return None


def make_app():
    def get_db_connection() -> "Connection":
        # nested helper
        from src import db_compat
        return db_compat.connect(use_pool=True)

    return get_db_connection


@functools.wraps(make_app)
def get_db_connection(*args, **kwargs):
    from src.db_compat import connect
    return connect(*args, use_pool=True, **kwargs)
