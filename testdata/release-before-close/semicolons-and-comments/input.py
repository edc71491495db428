def leaderboard():
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.close(); conn.close()  # done
    conn = get_db_connection()
    conn.close(); log("closed")
    conn = get_db_connection()
    conn.close()  # noqa: E501
