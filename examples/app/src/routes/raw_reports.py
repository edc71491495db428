"""Reports for the back office, over raw psycopg2 connections (no pool).

Written the way much public code is: a module helper that opens a new
connection per call, callers that close it themselves or hand it to
release_db_connection().
"""

import psycopg2
from flask import Blueprint, jsonify

from src.db_compat import database_url

reports_bp = Blueprint("raw_reports", __name__, url_prefix="/api/reports")


def get_db_connection():
    """Open a new database connection - caller MUST close it"""
    conn = psycopg2.connect(database_url())
    return conn


def release_db_connection(conn):
    """Close a connection opened by get_db_connection()."""
    if conn is not None:
        conn.close()


@reports_bp.get("/tenants")
def tenant_summary():
    conn = None
    try:
        conn = get_db_connection()
        cur = conn.cursor()
        cur.execute(
            """
            SELECT t.slug, count(u.id), coalesce(sum(u.balance), 0)
              FROM tenants t
              LEFT JOIN users u ON u.tenant_id = t.id
             GROUP BY t.slug
             ORDER BY t.slug
            """
        )
        rows = cur.fetchall()
        cur.close()
    finally:
        if conn:
            conn.close()
    return jsonify(tenants=[{"slug": s, "users": n, "balance": str(b)} for s, n, b in rows])


@reports_bp.get("/tenants/<slug>/registrations")
def tenant_registrations(slug):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT id FROM tenants WHERE slug = %s AND active", (slug,))
    tenant = cur.fetchone()
    if tenant is None:
        cur.close()
        conn.close()
        return jsonify(error="tenant not found", slug=slug), 404
    cur.execute("SELECT count(*) FROM registrations WHERE tenant_id = %s", (tenant[0],))
    (count,) = cur.fetchone()
    cur.close()
    conn.close()
    return jsonify(slug=slug, registrations=count)


@reports_bp.get("/sports")
def sport_summary():
    conn = get_db_connection()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT s.name, count(e.id) FROM sports s LEFT JOIN events e ON e.sport_id = s.id "
            "GROUP BY s.name ORDER BY s.name"
        )
        rows = cur.fetchall()
        cur.close()
    finally:
        release_db_connection(conn)
    return jsonify(sports=[{"name": name, "events": n} for name, n in rows])
