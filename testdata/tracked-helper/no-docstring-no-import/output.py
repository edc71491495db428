from src.db_compat import connect


def get_db_connection():
    from src.utils.connection_tracker import track_connection_acquired

    conn = connect(use_pool=True)
    # Track this connection acquisition
    context, track_start = track_connection_acquired("input.py::get_db_connection")
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn
