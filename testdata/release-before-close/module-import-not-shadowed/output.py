from src.utils.connection_tracker import track_connection_released


def partly_fixed_by_hand(flag):
    conn = get_db_connection()
    if flag:
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()


def shadowed_by_a_parameter(track_connection_released):
    conn = get_db_connection()
    track_connection_released("not the tracker")
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released as _track_connection_released
        _track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()
