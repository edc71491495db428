def a():
    conn = None
    try:
        conn = get_db_connection()
        work(conn)
    finally:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()


def b():
    conn = get_db_connection()
    if conn:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()


def c(flag):
    conn = get_db_connection()
    try:
        work(conn)
    except ValueError:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
        raise
    else:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
    if flag:
        pass
    elif conn:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
