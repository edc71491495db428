import logging

log = logging.getLogger(__name__)


def get_db_connection():
    """Pooled connection."""
    from src.db_compat import connect

    conn = connect(use_pool=True)
    conn.autocommit = False
    log.debug("acquired %r", conn)
    return conn
