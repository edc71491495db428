import functools


class Repository:
    @staticmethod
    def get_db_connection():
        from src.db_compat import connect
        from src.utils.connection_tracker import track_connection_acquired

        conn = connect(use_pool=True)
        # Track this connection acquisition
        context, track_start = track_connection_acquired("input.py::get_db_connection")
        conn._tracking_context = context
        conn._tracking_start = track_start
        return conn

    def get_db_connection_pool(self):
        return None


def make_app():
    def get_db_connection() -> "Connection":
        # nested helper
        from src import db_compat
        from src.utils.connection_tracker import track_connection_acquired

        conn = db_compat.connect(use_pool=True)
        # Track this connection acquisition
        context, track_start = track_connection_acquired("input.py::get_db_connection")
        conn._tracking_context = context
        conn._tracking_start = track_start
        return conn

    return get_db_connection


@functools.wraps(make_app)
def get_db_connection(*args, **kwargs):
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    conn = connect(*args, use_pool=True, **kwargs)
    # Track this connection acquisition
    context, track_start = track_connection_acquired("input.py::get_db_connection")
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn
