def a():
    conn = None
    try:
        conn = get_db_connection()
        work(conn)
    finally: conn.close()


def b():
    conn = get_db_connection()
    if conn: conn.close()


def c(flag):
    conn = get_db_connection()
    try:
        work(conn)
    except ValueError: conn.close(); raise
    else: conn.close()
    if flag:
        pass
    elif conn: conn.close()
