def get_conn():
    from app.tracking import acquired

    # Track this connection acquisition
    context, track_start = acquired("input.py::get_conn")
    conn = psycopg_pool.connect()
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


def get_db_connection():
    return connect(use_pool=True)
