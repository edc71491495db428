def route(flag):
    conn = None
    if flag:
        conn = get_db_connection()
    else:
        conn = None
    for _ in range(3):
        pass
    if conn is not None:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()


def loop():
    conn = None
    while True:
        if conn:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()
        conn = get_db_connection()


def chained():
    a = b = get_db_connection()
    # Release tracking before closing connection
    if hasattr(a, '_tracking_context') and hasattr(a, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(a._tracking_context, a._tracking_start)
        del a._tracking_context, a._tracking_start
    a.close()
