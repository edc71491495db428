"""Sportsbook registration: sign-ups per tenant and their CSV export."""

import csv
import io
import logging

import psycopg2
from flask import Blueprint, Response, jsonify, request

from src.errors import ApiError

registration_bp = Blueprint("registration", __name__, url_prefix="/api/register")
registration_log = logging.getLogger(__name__)


def get_db_connection():
    """Connection for registration writes - caller MUST call .close()"""
    from src.db_compat import connect

    registration_log.debug("registration: taking a pooled connection")
    return connect(use_pool=True)


@registration_bp.post("")
def register():
    body = request.get_json(silent=True) or {}
    db_conn = get_db_connection()
    try:
        username = (body.get("username") or "").strip()
        email = (body.get("email") or "").strip()
        if not username or "@" not in email:
            raise ApiError("username and a valid email are required", 400)
        cur = db_conn.cursor()
        cur.execute("SELECT id FROM tenants WHERE slug = %s", (body.get("tenant", "acme"),))
        tenant = cur.fetchone()
        if tenant is None:
            raise ApiError("unknown tenant", 404)
        try:
            cur.execute(
                "INSERT INTO registrations (tenant_id, username, email) VALUES (%s, %s, %s) RETURNING id",
                (tenant[0], username, email),
            )
        except psycopg2.IntegrityError:
            db_conn.rollback()
            cur.close()
            return jsonify(error="username taken", username=username), 409
        new_id = cur.fetchone()[0]
        db_conn.commit()
        cur.close()
    finally:
        db_conn.close()
    return jsonify(id=new_id, username=username), 201


@registration_bp.get("/export.csv")
def export_registrations():
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute(
            "SELECT r.id, t.slug, r.username, r.email FROM registrations r "
            "JOIN tenants t ON t.id = r.tenant_id ORDER BY r.id"
        )
        rows = cur.fetchall()
        cur.close()
    finally:
        if conn:
            conn.close()
    f = io.StringIO()
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["id", "tenant", "username", "email"])
    writer.writerows(rows)
    payload = f.getvalue()
    f.close()
    return Response(payload, mimetype="text/csv")


@registration_bp.get("/<int:registration_id>")
def get_registration(registration_id):
    db_conn = get_db_connection()
    try:
        cur = db_conn.cursor()
        cur.execute("SELECT username, email FROM registrations WHERE id = %s", (registration_id,))
        row = cur.fetchone()
        cur.close()
        if row is None:
            # Simulates the bug class where a lookup blows up while the connection is held.
            raise RuntimeError(f"registration {registration_id} vanished")
    finally:
        db_conn.close()
    return jsonify(id=registration_id, username=row[0], email=row[1])
