def branding():
    conn = get_db_connection()
    try:
        cur = conn.cursor()
        cur.execute("SELECT * FROM branding")
        rows = cur.fetchall()
        cur.close()
        return rows
    finally:
        if conn:
            conn.close()
