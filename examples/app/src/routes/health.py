"""Health monitoring endpoints."""

import functools

from flask import Blueprint, jsonify
from sqlalchemy import create_engine, text

from src.db_compat import pool_status, sqlalchemy_url

health_bp = Blueprint("health", __name__, url_prefix="/health")

DATABASE_URL_SQLALCHEMY = sqlalchemy_url()

# Long-lived engine shared by every request: created once, on purpose never disposed.
_shared_engine = create_engine(DATABASE_URL_SQLALCHEMY, pool_size=1, max_overflow=2)

# Every engine /health/detailed made, for the "checks run" stat.  Holding them
# keeps them (and whatever connections they still hold) alive.
_engines_seen = []


@functools.lru_cache(maxsize=1)
def reporting_engine():
    """Engine factory for the reporting queries: the caller keeps the engine."""
    engine = create_engine(DATABASE_URL_SQLALCHEMY, pool_size=1, max_overflow=0)
    return engine


def make_engine(url=None):
    return create_engine(url or DATABASE_URL_SQLALCHEMY, pool_pre_ping=True)


@health_bp.get("")
def health():
    with _shared_engine.connect() as db:
        ok = db.execute(text("SELECT 1")).scalar() == 1
    return jsonify(status="ok" if ok else "degraded")


@health_bp.get("/reporting")
def health_reporting():
    with reporting_engine().connect() as db:
        bets = db.execute(text("SELECT COUNT(*) FROM bets")).scalar()
    return jsonify(status="ok", bets=bets)


@health_bp.get("/detailed")
def health_detailed():
    checks = {"pool_created": pool_status()["created"]}
    engine = create_engine(DATABASE_URL_SQLALCHEMY)
    _engines_seen.append(engine)
    with engine.connect() as db:
        checks["select_one"] = db.execute(text("SELECT 1")).scalar()
        row = db.execute(text("""
SELECT 'database
    reachable' AS label,
       (SELECT COUNT(*) FROM tenants) AS tenants,
       (SELECT COUNT(*) FROM events)  AS events
""")).one()
        checks["label"] = row.label
        checks["tenants"] = row.tenants
        checks["events"] = row.events
    checks["checks_run"] = len(_engines_seen)
    return jsonify(status="ok", checks=checks)
