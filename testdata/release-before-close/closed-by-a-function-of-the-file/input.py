def close_conn(c):
    c.close()


def maybe_close(c, flag):
    if flag:
        c.close()


def handler():
    conn = get_db_connection()
    rows = conn.cursor().fetchall()
    close_conn(conn)
    return rows


def conditional_closer_is_not_a_close(flag):
    conn = get_db_connection()
    maybe_close(conn, flag)
