def route():
    conn = get_db_connection()
    cur = conn.cursor()
    try:
        if cur is None:
            return None
        return cur.fetchall()
    finally:
        conn.close()


def right_after():
    conn = get_db_connection()
    # the try follows at once
    try:
        return conn.cursor().fetchall()
    finally:
        conn.close()
