"""Theme customization per tenant.  NOTE: this file is indented with TABS."""

from flask import Blueprint, jsonify, request

from src.errors import ApiError

theme_bp = Blueprint("theme", __name__, url_prefix="/api/theme")

ALLOWED_KEYS = ("font", "radius", "spacing")


def get_db_connection():
	"""Pooled connection for theme reads and writes."""
	from src.db_compat import connect

	conn = connect(use_pool=True)
	return conn


def _tenant_id(cur, slug):
	cur.execute("SELECT id FROM tenants WHERE slug = %s", (slug,))
	row = cur.fetchone()
	if row is None:
		raise ApiError("unknown tenant", 404)
	return row[0]


@theme_bp.get("/<slug>")
def get_theme(slug):
	conn = get_db_connection()
	try:
		cur = conn.cursor()
		tenant_id = _tenant_id(cur, slug)
		cur.execute("SELECT key, value FROM theme_settings WHERE tenant_id = %s ORDER BY key", (tenant_id,))
		settings = dict(cur.fetchall())
		cur.close()
	finally: conn.close()
	return jsonify(slug=slug, settings=settings)


@theme_bp.put("/<slug>")
def put_theme(slug):
	body = request.get_json(silent=True) or {}
	key, value = body.get("key"), body.get("value")
	conn = None
	try:
		conn = get_db_connection()
		cur = conn.cursor()
		tenant_id = _tenant_id(cur, slug)
		if key not in ALLOWED_KEYS or not isinstance(value, str):
			raise ApiError("invalid theme setting", 400)
		cur.execute(
			"INSERT INTO theme_settings (tenant_id, key, value) VALUES (%s, %s, %s) "
			"ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value",
			(tenant_id, key, value),
		)
		conn.commit()
		cur.close()
	finally:
		if conn: conn.close()
	return jsonify(slug=slug, key=key, value=value, saved=True)
