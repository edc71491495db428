def get_conn():
    from app.tracking import acquired

    conn = psycopg_pool.connect()
    # Track this connection acquisition
    context, track_start = acquired("input.py::get_conn")
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


def get_db_connection():
    return connect(use_pool=True)
