"""Authentication.  ALREADY FIXED: uses connection_ctx()."""

from flask import Blueprint, jsonify, request

from src.db_compat import connection_ctx

auth_bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@auth_bp.post("/login")
def login():
    body = request.get_json(silent=True) or {}
    with connection_ctx("auth.py::login") as conn:
        cur = conn.cursor()
        cur.execute("SELECT id, role, password FROM users WHERE username = %s", (body.get("username"),))
        row = cur.fetchone()
        cur.close()
    if row is None or row[2] != body.get("password"):
        return jsonify(error="invalid credentials"), 401
    return jsonify(user_id=row[0], role=row[1], token=f"demo-token-{row[0]}")
