"""Sports and events as JSON for the public site."""

import sqlite3

from flask import Blueprint, jsonify

sports_bp = Blueprint("sports", __name__, url_prefix="/api/sports")


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    return connect(use_pool=True)


def _implied_probabilities(rows):
    """Implied win probabilities, worked out in a scratch in-memory SQLite table."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE odds (id INTEGER, home REAL, away REAL)")
    conn.executemany("INSERT INTO odds VALUES (?, ?, ?)", [(r[0], float(r[3]), float(r[4])) for r in rows])
    result = {
        event_id: {"home": round(p_home, 4), "away": round(p_away, 4)}
        for event_id, p_home, p_away in conn.execute(
            "SELECT id, (1.0 / home) / (1.0 / home + 1.0 / away), (1.0 / away) / (1.0 / home + 1.0 / away) FROM odds"
        )
    }
    conn.close()
    return result


@sports_bp.get("")
def list_sports():
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute("SELECT id, name FROM sports WHERE active ORDER BY id")
        sports = [{"id": i, "name": n} for i, n in cur.fetchall()]
        cur.close()
    finally:
        if conn:
            conn.close()
    return jsonify(sports=sports)


@sports_bp.get("/<int:sport_id>/events")
def list_events(sport_id):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT id FROM sports WHERE id = %s AND active", (sport_id,))
    if cur.fetchone() is None:
        cur.close()
        conn.close()
        return jsonify(error="no such sport", sport_id=sport_id), 404
    cur.execute(
        "SELECT id, home, away, odds_home, odds_away FROM events WHERE sport_id = %s ORDER BY id",
        (sport_id,),
    )
    rows = cur.fetchall()
    cur.close()
    conn.close()
    probabilities = _implied_probabilities(rows)
    return jsonify(
        sport_id=sport_id,
        events=[
            {"id": r[0], "home": r[1], "away": r[2], "odds": [str(r[3]), str(r[4])], "implied": probabilities[r[0]]}
            for r in rows
        ],
    )
