def leaderboard():
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.close()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()  # done
    conn = get_db_connection()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()
    log("closed")
    conn = get_db_connection()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()  # noqa: E501
