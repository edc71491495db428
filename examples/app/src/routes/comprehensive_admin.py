"""Comprehensive admin interface (admin only, low traffic)."""

from flask import Blueprint, jsonify

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def get_db_connection():
    """Admin connection from the pool; the caller closes it."""
    from src.db_compat import connect
    connection = connect(use_pool=True)
    connection.cursor().execute("SET statement_timeout = 5000")
    return connection


@admin_bp.get("/stats")
def admin_stats():
    connection = None
    try:
        connection = get_db_connection()
        cur = connection.cursor()
        stats = {}
        for table in ("tenants", "users", "sports", "events", "bets"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            stats[table] = cur.fetchone()[0]
        cur.close()
    finally:
        if connection:
            connection.close()
    return jsonify(stats)


@admin_bp.get("/users/<int:user_id>")
def admin_user(user_id):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT username, email, balance, role FROM users WHERE id = %s", (user_id,))
    row = cur.fetchone()
    cur.close()
    if not row:
        conn.close()  # back to the pool before the early return
        return jsonify(error="user not found", id=user_id), 404
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*), COALESCE(SUM(stake), 0) FROM bets WHERE user_id = %s", (user_id,))
    bets, staked = cur.fetchone()
    cur.close()
    conn.close()  # done
    return jsonify(id=user_id, username=row[0], email=row[1], balance=str(row[2]), role=row[3], bets=bets, staked=str(staked))


@admin_bp.get("/users/<int:user_id>/recalculate")
def admin_recalculate(user_id):
    conn = get_db_connection()
    try:
        cur = conn.cursor()
        cur.execute("SELECT balance FROM users WHERE id = %s", (user_id,))
        row = cur.fetchone()
        cur.close()
        # Bug kept on purpose: a missing user raises after the connection was taken.
        balance = row[0] * 1
    finally:
        if conn:
            conn.close()
    return jsonify(id=user_id, balance=str(balance))
