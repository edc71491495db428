from psycopg2 import pool

POOL = pool.SimpleConnectionPool(1, 10, dsn=DSN)


def get_db_connection():
    conn = POOL.getconn()
    return conn


def release_db_connection(conn):
    # Release tracking before closing connection
    import src.utils.connection_tracker as connection_tracker
    if (tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(id(conn), None)):
        connection_tracker.track_connection_released(*tracking)
    POOL.putconn(conn)


def fetch(query):
    conn = get_db_connection()
    try:
        return conn.cursor().execute(query)
    finally:
        release_db_connection(conn)


def fetch_inline(query):
    conn = get_db_connection()
    try:
        return conn.cursor().execute(query)
    finally:
        # Release tracking before closing connection
        import src.utils.connection_tracker as connection_tracker
        if (tracking := connection_tracker.__dict__.get("tracked_connections", {}).pop(id(conn), None)):
            connection_tracker.track_connection_released(*tracking)
        POOL.putconn(conn, close=False)
