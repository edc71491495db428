from db import get_db_connection


class Repository:
    def _get_connection(self):
        return get_db_connection()

    def get_db_connection(self):
        return get_db_connection()

    def count(self):
        conn = self._get_connection()
        try:
            return conn.execute("SELECT count(*) FROM users").fetchone()
        finally:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()

    def names(self):
        conn = self.get_db_connection()
        try:
            return conn.execute("SELECT name FROM users").fetchall()
        finally:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()


def not_a_wrapper(flag):
    if flag:
        return get_db_connection()
    return None
