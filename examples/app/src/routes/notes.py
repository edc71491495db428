"""Tenant notes in a local SQLite file, with Flask's tutorial pattern: one
connection per request, cached on ``flask.g`` and closed by the
``teardown_appcontext`` function.

The file is $NOTES_DB_PATH, or notes.sqlite3 in the app's instance folder.
"""

import os
import sqlite3

from flask import Blueprint, current_app, g, jsonify, request

from src.errors import ApiError

notes_bp = Blueprint("notes", __name__, url_prefix="/api/notes")

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    body   TEXT NOT NULL
)
"""


def notes_db_path():
    path = os.environ.get("NOTES_DB_PATH")
    if not path:
        os.makedirs(current_app.instance_path, exist_ok=True)
        path = os.path.join(current_app.instance_path, "notes.sqlite3")
    return path


def get_db_connection():
    """The request's connection, opened on first use."""
    if "db" not in g:
        g.db = sqlite3.connect(notes_db_path())
        g.db.row_factory = sqlite3.Row
        g.db.execute(SCHEMA)
    return g.db


def close_db(e=None):
    db = g.pop("db", None)

    if db is not None:
        db.close()


def init_app(app):
    app.teardown_appcontext(close_db)


notes_bp.record_once(lambda state: init_app(state.app))


@notes_bp.get("/<tenant>")
def list_notes(tenant):
    db = get_db_connection()
    rows = db.execute("SELECT id, body FROM notes WHERE tenant = ? ORDER BY id", (tenant,)).fetchall()
    return jsonify(tenant=tenant, notes=[{"id": r["id"], "body": r["body"]} for r in rows])


@notes_bp.post("/<tenant>")
def add_note(tenant):
    db = get_db_connection()
    body = (request.get_json(silent=True) or {}).get("body", "").strip()
    if not body:
        raise ApiError("a note needs a body", 400)
    cur = db.execute("INSERT INTO notes (tenant, body) VALUES (?, ?)", (tenant, body))
    db.commit()
    (count,) = db.execute("SELECT count(*) FROM notes WHERE tenant = ?", (tenant,)).fetchone()
    return jsonify(id=cur.lastrowid, tenant=tenant, count=count), 201
