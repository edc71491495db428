def route():
    conn = get_db_connection()
    cur = conn.cursor()
    try:
        if cur is None:
            return None
        return cur.fetchall()
    finally:
        conn.close()
