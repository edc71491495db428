"""Multi-tenant routing: which tenant serves a host, and its public config."""

import logging

from flask import Blueprint, jsonify, request

tenant_bp = Blueprint("tenant", __name__, url_prefix="/api/tenant")
log = logging.getLogger(__name__)


def get_db_connection():
    from src.db_compat import connect
    conn = connect(use_pool=True)
    log.debug("multitenant_routing: got a pooled connection")
    return conn


class TenantResolver:
    """Maps a request host to its tenant row."""

    get_db_connection = staticmethod(get_db_connection)

    def __init__(self, default_slug="acme"):
        self.default_slug = default_slug

    def resolve(self, host):
        conn = self.get_db_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT id, slug, name FROM tenants WHERE host = %s", (host,))
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT id, slug, name FROM tenants WHERE slug = %s", (self.default_slug,))
                row = cur.fetchone()
            cur.close()
        finally:
            conn.close()
        return {"id": row[0], "slug": row[1], "name": row[2], "matched_host": row[1] != self.default_slug or host.startswith(self.default_slug)}


@tenant_bp.get("/resolve")
def resolve_tenant():
    host = request.args.get("host", "")
    return jsonify(TenantResolver().resolve(host))


@tenant_bp.get("/<slug>/config")
def tenant_config(slug):
    connection = get_db_connection()
    cur = connection.cursor()
    cur.execute(
        "SELECT t.name, t.host, COUNT(u.id) FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id "
        "WHERE t.slug = %s GROUP BY t.name, t.host",
        (slug,),
    )
    row = cur.fetchone()
    cur.close(); connection.close()
    if row is None:
        return jsonify(error="unknown tenant"), 404
    return jsonify(slug=slug, name=row[0], host=row[1], users=row[2])
