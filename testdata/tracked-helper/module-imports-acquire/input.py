from src.db_compat import connect
from src.utils.connection_tracker import track_connection_acquired


def get_db_connection():
    """Pooled."""
    return connect(use_pool=True)
