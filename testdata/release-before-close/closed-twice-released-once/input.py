def handler(tenant):
    conn = get_db_connection()
    try:
        row = conn.cursor().execute("SELECT 1").fetchone()
        if row is None:
            conn.close()
            return None
        return row
    except Exception:
        conn.close()
        raise
    finally:
        conn.close()
