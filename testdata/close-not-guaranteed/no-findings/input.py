def in_finally():
    conn = get_db_connection()
    try:
        work(conn)
    finally:
        conn.close()


def enclosing_try():
    conn = None
    try:
        conn = get_db_connection()
        work(conn)
    finally:
        if conn:
            conn.close()


def adjacent():
    conn = get_db_connection()
    conn.close()


def returned():
    conn = get_db_connection()
    work(conn)
    return conn
