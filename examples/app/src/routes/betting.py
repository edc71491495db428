"""Betting: open bets and bet slips.  ALREADY FIXED: uses connection_ctx()."""

from flask import Blueprint, jsonify

from src.db_compat import connection_ctx

betting_bp = Blueprint("betting", __name__, url_prefix="/api/bets")


@betting_bp.get("/user/<username>")
def bets_for_user(username):
    with connection_ctx("betting.py::bets_for_user") as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT b.id, e.home, e.away, b.pick, b.stake, b.status FROM bets b "
            "JOIN users u ON u.id = b.user_id JOIN events e ON e.id = b.event_id "
            "WHERE u.username = %s ORDER BY b.id",
            (username,),
        )
        rows = cur.fetchall()
        cur.close()
    return jsonify(
        username=username,
        bets=[{"id": i, "event": f"{h} v {a}", "pick": p, "stake": str(s), "status": st} for i, h, a, p, s, st in rows],
    )


@betting_bp.get("/open")
def open_bets():
    with connection_ctx("betting.py::open_bets") as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*), COALESCE(SUM(stake), 0) FROM bets WHERE status = 'open'")
        count, total = cur.fetchone()
        cur.close()
    return jsonify(open=count, total_stake=str(total))
