def outer():
    conn = get_db_connection()
\
    conn.close()

    class Holder:
        conn = None

    return Holder


conn = get_db_connection()
# Release tracking before closing connection
if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
    from src.utils.connection_tracker import track_connection_released
    track_connection_released(conn._tracking_context, conn._tracking_start)
    del conn._tracking_context, conn._tracking_start
conn.close()
