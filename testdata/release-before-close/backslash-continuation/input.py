def outer():
    conn = get_db_connection()
\
    conn.close()

    class Holder:
        conn = None

    return Holder


conn = get_db_connection()
conn.close()
