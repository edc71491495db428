def leaderboard():
    conn = get_db_connection()
    if conn:
    	rows = conn.execute("SELECT 1")
    conn.close()
    return rows
