"""Rich admin interface.  ALREADY FIXED by hand with the audit's pattern."""

from flask import Blueprint, jsonify

rich_admin_bp = Blueprint("rich_admin", __name__, url_prefix="/admin/rich")


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired
    
    # Track this connection acquisition
    context, track_start = track_connection_acquired("rich_admin_interface.py::get_db_connection")
    conn = connect(use_pool=True)
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


@rich_admin_bp.get("/overview")
def overview():
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute("SELECT t.slug, COUNT(u.id) FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id GROUP BY t.slug ORDER BY t.slug")
        per_tenant = dict(cur.fetchall())
        cur.close()
    finally:
        if conn:
            # Release tracking before closing connection
            if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
                from src.utils.connection_tracker import track_connection_released
                track_connection_released(conn._tracking_context, conn._tracking_start)
            conn.close()
    return jsonify(users_per_tenant=per_tenant)


@rich_admin_bp.get("/events/<int:event_id>")
def event_detail(event_id):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT home, away, odds_home, odds_away FROM events WHERE id = %s", (event_id,))
    row = cur.fetchone()
    cur.close()
    if row is None:
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
        conn.close()
        return jsonify(error="no such event", id=event_id), 404
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
    conn.close()
    return jsonify(id=event_id, home=row[0], away=row[1], odds=[str(row[2]), str(row[3])])
