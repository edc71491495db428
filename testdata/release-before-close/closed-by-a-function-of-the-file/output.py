def close_conn(c):
    c.close()


def maybe_close(c, flag):
    if flag:
        c.close()


def handler():
    conn = get_db_connection()
    rows = conn.cursor().fetchall()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    close_conn(conn)
    return rows


def conditional_closer_is_not_a_close(flag):
    conn = get_db_connection()
    maybe_close(conn, flag)
