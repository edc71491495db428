def get_db_connection():
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    ctx, started = track_connection_acquired("x.py::get_db_connection")
    conn = connect(use_pool=True)
    conn._tracking_context = ctx
    return conn
