def names():
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT name FROM t")
    return [r[0] for r in cur.fetchall()]


def with_only():
    conn = get_db_connection()
    with conn:
        conn.execute("UPDATE t SET x = 1")
