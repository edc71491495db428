import db


class Routes:
    def get_db_connection(self):
        return None

    def one(self):
        connection = self.get_db_connection()
        # Release tracking before closing connection
        if hasattr(connection, '_tracking_context') and hasattr(connection, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(connection._tracking_context, connection._tracking_start)
            del connection._tracking_context, connection._tracking_start
        connection.close()

    def two(self):
        db_conn = db.get_db_connection()
        try:
            pass
        finally:
            # Release tracking before closing connection
            if hasattr(db_conn, '_tracking_context') and hasattr(db_conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(db_conn._tracking_context, db_conn._tracking_start)
                del db_conn._tracking_context, db_conn._tracking_start
            db_conn.close()
