"""Tenant branding (logo, colours): the most frequently called routes."""

from flask import Blueprint, Response, jsonify

branding_bp = Blueprint("branding", __name__, url_prefix="/api/branding")


def get_db_connection():
    """Get database connection from pool - caller MUST call conn.close()"""
    from src.db_compat import connect
    from src.utils.connection_tracker import track_connection_acquired
    
    # Track this connection acquisition
    context, track_start = track_connection_acquired("branding.py::get_db_connection")
    conn = connect(use_pool=True)
    conn._tracking_context = context
    conn._tracking_start = track_start
    return conn


@branding_bp.get("/<slug>")
def get_branding(slug):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute(
        "SELECT name, primary_color, logo_url FROM tenants WHERE slug = %s AND active",
        (slug,),
    )
    row = cur.fetchone()
    cur.close()
    if row is None:
        conn.close()
        return jsonify(error="tenant not found", slug=slug), 404
    conn.close()  # done
    name, color, logo = row
    return jsonify(slug=slug, name=name, primary_color=color, logo_url=logo)


@branding_bp.get("/<slug>/theme.css")
def get_branding_css(slug):
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute(
            """
            SELECT t.primary_color, s.key, s.value
              FROM tenants t
              LEFT JOIN theme_settings s ON s.tenant_id = t.id
             WHERE t.slug = %s
             ORDER BY s.key
            """,
            (slug,),
        )
        rows = cur.fetchall()
        cur.close()
    finally:
        if conn:
            conn.close()
    if not rows:
        return Response("/* unknown tenant */\n", status=404, mimetype="text/css")
    lines = [":root {", f"  --primary: {rows[0][0]};"]
    lines += [f"  --{key}: {value};" for _color, key, value in rows if key]
    lines.append("}")
    return Response("\n".join(lines) + "\n", mimetype="text/css")
