def route(flag):
    conn = None
    if flag:
        conn = get_db_connection()
    else:
        conn = None
    for _ in range(3):
        pass
    if conn is not None:
        conn.close()


def loop():
    conn = None
    while True:
        if conn:
            conn.close()
        conn = get_db_connection()


def chained():
    a = b = get_db_connection()
    a.close()
