import atexit


def route():
    conn = get_db_connection()
    atexit.register(lambda: conn.close())
    return conn.close()


def ctx():
    with get_db_connection() as conn:
        conn.execute("SELECT 1")
    with get_db_connection():
        pass
