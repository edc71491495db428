def get_db_connection():
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    connection = connect(use_pool=True)  # pooled
    # Track this connection acquisition
    context, track_start = track_connection_acquired("input.py::get_db_connection")
    connection._tracking_context = context
    connection._tracking_start = track_start
    return connection
