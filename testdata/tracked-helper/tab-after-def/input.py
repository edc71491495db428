def	get_db_connection():
    """Pooled connection; the caller closes it."""
    from src.db_compat import connect
    return connect(use_pool=True)


def route():
    conn = get_db_connection()
    try:
        return conn.execute("SELECT 1")
    finally:
        conn.close()
