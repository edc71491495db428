import db


class Routes:
    def get_db_connection(self):
        return None

    def one(self):
        connection = self.get_db_connection()
        connection.close()

    def two(self):
        db_conn = db.get_db_connection()
        try:
            pass
        finally:
            db_conn.close()
