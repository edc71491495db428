import sqlite3


def get_db_connection():
    conn = sqlite3.connect(DATABASE)
    conn.row_factory = sqlite3.Row
    return conn


def release_db_connection(conn):
    conn.close()


def delete(id):
    conn = get_db_connection()
    try:
        conn.execute("DELETE FROM posts WHERE id = ?", (id,))
        conn.commit()
    except sqlite3.Error:
        # Release tracking before closing connection
        import builtins, src.utils.connection_tracker as connection_tracker
        if (_tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(builtins.id(conn), None)):
            connection_tracker.track_connection_released(*_tracking)
        conn.close()
        raise
    finally:
        # Release tracking before closing connection
        import builtins, src.utils.connection_tracker as connection_tracker
        if (_tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(builtins.id(conn), None)):
            connection_tracker.track_connection_released(*_tracking)
        conn.close()


def listing():
    tracking = "kept"
    conn = get_db_connection()
    try:
        return conn.execute("SELECT * FROM posts").fetchall(), tracking
    finally:
        # Release tracking before closing connection
        import builtins, src.utils.connection_tracker as connection_tracker
        if (_tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(builtins.id(conn), None)):
            connection_tracker.track_connection_released(*_tracking)
        release_db_connection(conn)
