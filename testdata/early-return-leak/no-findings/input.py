def closes_first(tid):
    conn = get_db_connection()
    row = fetch(conn, tid)
    if row is None:
        conn.close()
        return None
    conn.close()
    return row


def finally_closes(tid):
    conn = get_db_connection()
    try:
        if tid is None:
            return None
        return fetch(conn, tid)
    finally:
        conn.close()


def return_after_close(tid):
    conn = get_db_connection()
    row = fetch(conn, tid)
    conn.close()
    return row


def nested_function_returns():
    conn = get_db_connection()

    def helper():
        return 1

    helper()
    conn.close()
