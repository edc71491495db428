from flask import Blueprint

bp = Blueprint("branding", __name__)


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired

    conn = connect(use_pool=True)
    # Track this connection acquisition
    context, track_start = track_connection_acquired("input.py::get_db_connection")
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn
