class Repository:
    def open(self):
        self.conn = get_db_connection()

    def rows(self):
        return self.conn.cursor().execute("SELECT 1").fetchall()

    def close(self):
        self.conn.close()
        self.other.close()


class Unrelated:
    def close(self):
        self.conn.close()
