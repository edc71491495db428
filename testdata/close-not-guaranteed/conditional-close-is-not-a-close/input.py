def only_sometimes(flag):
    conn = get_db_connection()
    if flag:
        conn.close()
    rows = conn.cursor().execute("SELECT 1").fetchall()
    conn.close()
    return rows


def if_conn_is_a_close():
    conn = get_db_connection()
    if conn:
        conn.close()
