"""Routes for tenant branding."""
from flask import Blueprint, jsonify
from sqlalchemy import create_engine

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


@bp.route("/branding/<tenant>")
def branding(tenant):
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute("SELECT logo FROM branding WHERE tenant = %s", (tenant,))
        row = cur.fetchone()
        cur.close()
        if row is None:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()
            return jsonify({}), 404
        return jsonify({"logo": row[0]})
    finally:
        if conn:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
                del conn._tracking_context, conn._tracking_start
            conn.close()


@bp.route("/branding/health")
def health():
    engine = create_engine(DATABASE_URL)
    try:
        conn = get_db_connection()
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
        conn.close()
        return "ok"
    finally:
        engine.dispose()
