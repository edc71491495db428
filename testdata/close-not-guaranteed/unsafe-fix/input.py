def leaderboard():
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("""
SELECT name, score
  FROM scores
""")
    rows = cur.fetchall()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
    conn.close()
    return rows


def guarded(tid):
    conn = get_db_connection()
    row = fetch(conn, tid)
    if conn:
        conn.close()
    return row


def branches(flag):
    conn = get_db_connection()
    if flag:
        conn.close()
        return 1
    work(conn)
    conn.close()
    return 2
