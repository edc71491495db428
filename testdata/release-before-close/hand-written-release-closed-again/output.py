from src.utils.connection_tracker import track_connection_released


def closed_here_and_in_a_callback(register):
    conn = get_db_connection()
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()

    def cleanup():
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()

    register(cleanup)


def closed_once():
    conn = get_db_connection()
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        track_connection_released(conn._tracking_context, conn._tracking_start)
    conn.close()
