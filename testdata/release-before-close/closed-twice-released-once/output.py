def handler(tenant):
    conn = get_db_connection()
    try:
        row = conn.cursor().execute("SELECT 1").fetchone()
        if row is None:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()
            return None
        return row
    except Exception:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
        raise
    finally:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
