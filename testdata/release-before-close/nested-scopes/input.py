def outer():
    conn = get_db_connection()

    def inner(conn):
        conn.close()

    class Holder:
        conn = None

        def close(self):
            self.conn.close()

    inner(conn)
    conn.close()


conn = get_db_connection()
conn.close()
