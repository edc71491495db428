def handler():
    conn = get_db_connection()
    log("track_connection_released(conn._tracking_context, conn._tracking_start)")
    conn.close()
