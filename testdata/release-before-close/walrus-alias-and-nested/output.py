import contextlib

gdc = get_db_connection


def walrus(flag):
    if (conn := get_db_connection()):
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()


def through_an_alias():
    conn = gdc()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()


def closed_in_a_nested_function(register):
    conn = get_db_connection()

    def cleanup():
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()

    register(cleanup)


def closed_by_closing():
    with contextlib.closing(get_db_connection()) as conn:
        conn.cursor()
