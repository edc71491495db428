"""Public leaderboard.  NOTE: this file uses CRLF line endings (kept on purpose)."""

from flask import Blueprint, jsonify, request

leaderboard_bp = Blueprint("leaderboard", __name__, url_prefix="/api/leaderboard")

LEADERBOARD_SQL = """
    SELECT u.username,
           COALESCE(SUM(b.payout - b.stake), 0) AS profit,
           COUNT(b.id) AS bets
      FROM users u
      LEFT JOIN bets b ON b.user_id = u.id
     GROUP BY u.username
     ORDER BY profit DESC, u.username
"""


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired
    
    # Track this connection acquisition
    context, track_start = track_connection_acquired("public_leaderboard.py::get_db_connection")
    conn = connect(use_pool=True)
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


@leaderboard_bp.get("")
def leaderboard():
    limit = request.args.get("limit", default=10, type=int)
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute(LEADERBOARD_SQL + " LIMIT %s", (limit,))
        rows = cur.fetchall()
        cur.close()
    finally:
        if conn:
            conn.close()
    return jsonify(
        [{"rank": i + 1, "username": u, "profit": str(p), "bets": n} for i, (u, p, n) in enumerate(rows)]
    )


@leaderboard_bp.get("/<username>")
def leaderboard_entry(username):
    conn = get_db_connection()
    try:
        cur = conn.cursor()
        cur.execute(LEADERBOARD_SQL)
        rows = cur.fetchall()
        cur.close()
    finally:
        conn.close()
    for i, (name, profit, bets) in enumerate(rows):
        if name == username:
            return jsonify(rank=i + 1, username=name, profit=str(profit), bets=bets)
    return jsonify(error="no such player", username=username), 404
