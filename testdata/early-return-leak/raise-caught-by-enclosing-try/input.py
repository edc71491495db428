def caught(rows):
    conn = get_db_connection()
    try:
        if not rows:
            raise ValueError("no rows")
        conn.cursor().executemany("INSERT", rows)
    except ValueError:
        pass
    conn.close()


def not_caught(rows):
    conn = get_db_connection()
    if not rows:
        raise ValueError("no rows")
    conn.close()
