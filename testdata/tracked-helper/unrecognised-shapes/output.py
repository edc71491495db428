from flask import g


def get_db_connection():
    if "db" not in g:
        g.db = connect(use_pool=True)
    return g.db


class A:
    def get_db_connection(self):
        conn = connect(use_pool=True)
        from src.utils.connection_tracker import track_connection_acquired
        # Track this connection acquisition
        context, track_start = track_connection_acquired("input.py::get_db_connection")
        conn._tracking_context = context
        conn._tracking_start = track_start
        yield conn
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()


class B:
    def get_db_connection(self, fresh):
        if fresh:
            conn = connect(use_pool=False)
            from src.utils.connection_tracker import track_connection_acquired
            # Track this connection acquisition
            context, track_start = track_connection_acquired("input.py::get_db_connection")
            conn._tracking_context = context
            conn._tracking_start = track_start
            return conn
        conn = connect(use_pool=True)
        from src.utils.connection_tracker import track_connection_acquired
        # Track this connection acquisition
        context, track_start = track_connection_acquired("input.py::get_db_connection")
        conn._tracking_context = context
        conn._tracking_start = track_start
        return conn


class C:
    def get_db_connection(self): return connect(use_pool=True)
