class Repository:
    def open(self):
        self.conn = get_db_connection()

    def rows(self):
        return self.conn.cursor().execute("SELECT 1").fetchall()

    def close(self):
        # Release tracking before closing connection
        if hasattr(self.conn, '_tracking_context') and hasattr(self.conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(self.conn._tracking_context, self.conn._tracking_start)
            del self.conn._tracking_context, self.conn._tracking_start
        self.conn.close()
        self.other.close()


class Unrelated:
    def close(self):
        self.conn.close()
