def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    # Track this connection acquisition
    context, track_start = track_connection_acquired("filename.py::get_db_connection")
    conn = connect(use_pool=True)
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn
