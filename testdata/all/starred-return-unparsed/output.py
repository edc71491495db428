"""A Dash callback returns an unparenthesised starred item, which Python
3.8+ accepts and tree-sitter-python 0.25 cannot read: that function is left
alone (a warning names it), the rest of the file is fixed."""
import dash

from src.db import get_db_connection


def update_alerts(n):
    alert = n > 3
    conn = get_db_connection()
    conn.close()
    return True, alert, *([dash.no_update] * 6)


def route():
    conn = get_db_connection()
    rows = conn.execute("select 1").fetchall()
    # Release tracking before closing connection
    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
        from src.utils.connection_tracker import track_connection_released
        track_connection_released(conn._tracking_context, conn._tracking_start)
        del conn._tracking_context, conn._tracking_start
    conn.close()
    return rows
