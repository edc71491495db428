def route():
    conn = get_db_connection()
    conn.close()