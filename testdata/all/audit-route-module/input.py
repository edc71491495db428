"""Routes for tenant branding."""
from flask import Blueprint, jsonify
from sqlalchemy import create_engine

bp = Blueprint("branding", __name__)


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    return connect(use_pool=True)


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
            conn.close()
            return jsonify({}), 404
        return jsonify({"logo": row[0]})
    finally:
        if conn:
            conn.close()


@bp.route("/branding/health")
def health():
    engine = create_engine(DATABASE_URL)
    conn = get_db_connection()
    conn.close()
    return "ok"
