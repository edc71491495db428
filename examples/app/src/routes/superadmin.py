"""Superadmin views across all tenants (superadmin only)."""

from flask import Blueprint, jsonify

from src.routes import comprehensive_admin

superadmin_bp = Blueprint("superadmin", __name__, url_prefix="/superadmin")


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


@superadmin_bp.get("/tenants")
def all_tenants():
    conn = None
    try:
        conn = comprehensive_admin.get_db_connection()
        cur = conn.cursor()
        cur.execute("SELECT slug, name, host, active FROM tenants ORDER BY id")
        tenants = [{"slug": s, "name": n, "host": h, "active": a} for s, n, h, a in cur.fetchall()]
        cur.close()
    finally:
        if conn:
            audit = conn.cursor()
            audit.execute("""
SELECT 'superadmin
  viewed tenants' AS note
""")
            note = audit.fetchone()[0]
            audit.close()
            conn.close()
    return jsonify(tenants=tenants, audit_note=note)


@superadmin_bp.get("/users")
def all_users():
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT u.username, t.slug, u.role FROM users u JOIN tenants t ON t.id = u.tenant_id ORDER BY u.id")
    users = [{"username": u, "tenant": t, "role": r} for u, t, r in cur.fetchall()]
    cur.close(); conn.close()  # done
    return jsonify(users=users)
