"""Database compatibility layer and connection pooling.

``connect(use_pool=True)`` hands out a connection from a process-wide
``psycopg2.pool.ThreadedConnectionPool``.  The caller MUST call ``.close()`` on
it, which gives the connection back to the pool.  ``connection_ctx()`` does the
acquire / track / release / give back dance for you.
"""

import contextlib
import os
import threading

import psycopg2
import psycopg2.pool

from src.utils.connection_tracker import (
    track_connection_acquired,
    track_connection_released,
)

# Connections the pool opens up front and keeps while idle ("base" connections).
POOL_MIN_CONNECTIONS = 3
# Upper bound of connections handed out at the same time.
POOL_MAX_CONNECTIONS = 40

_pool = None
_pool_lock = threading.Lock()


def database_url():
    """libpq DSN of the application database, e.g. postgresql://user@127.0.0.1:5432/app."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return url


def sqlalchemy_url():
    """The same database as a SQLAlchemy URL (psycopg2 driver)."""
    url = database_url()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = psycopg2.pool.ThreadedConnectionPool(
                POOL_MIN_CONNECTIONS, POOL_MAX_CONNECTIONS, dsn=database_url()
            )
        return _pool


class PooledConnection:
    """A pooled psycopg2 connection; ``close()`` gives it back to the pool.

    A plain class on purpose: callers may hang attributes on it
    (``conn._tracking_context``), which psycopg2's own connection type refuses.
    """

    def __init__(self, raw, pool):
        self._raw = raw
        self._pool = pool
        self._returned = False

    @property
    def closed(self):
        return self._returned or bool(self._raw.closed)

    def cursor(self, *args, **kwargs):
        return self._raw.cursor(*args, **kwargs)

    def commit(self):
        self._raw.commit()

    def rollback(self):
        self._raw.rollback()

    def close(self):
        """Give the connection back to the pool (idempotent)."""
        if self._returned:
            return
        self._returned = True
        if not self._raw.closed:
            # Never hand a connection with an open transaction to the next user.
            self._raw.rollback()
        self._pool.putconn(self._raw)


def connect(use_pool=True):
    """A connection to the application database.

    use_pool=True: a PooledConnection; its close() gives it back to the pool.
    use_pool=False: a new, unpooled psycopg2 connection; close() ends it.
    """
    if not use_pool:
        return psycopg2.connect(database_url())
    pool = get_pool()
    return PooledConnection(pool.getconn(), pool)


@contextlib.contextmanager
def connection_ctx(context="db_compat.connection_ctx"):
    """Pooled connection for a ``with`` block: tracked, committed, given back."""
    context, track_start = track_connection_acquired(context)
    conn = connect(use_pool=True)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        track_connection_released(context, track_start)
        conn.close()


def pool_status():
    """How many connections the pool holds idle and hands out right now."""
    pool = _pool
    if pool is None:
        return {"created": False, "idle": 0, "in_use": 0}
    return {"created": True, "idle": len(pool._pool), "in_use": len(pool._used)}
