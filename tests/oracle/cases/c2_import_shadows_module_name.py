# oracle-case: 2 the inserted function-level import makes a module-level name local (UnboundLocalError)
# oracle-inputs: 0 1
from src.utils.connection_tracker import track_connection_released
from src.db_compat import DBError


def get_db_connection():
    from src.db_compat import connect
    return connect(use_pool=True)


def handler(x):
    a = get_db_connection()
    a.execute("first")
    if hasattr(a, '_tracking_context') and hasattr(a, '_tracking_start'):
        track_connection_released(a._tracking_context, a._tracking_start)
    a.close()
    b = get_db_connection()
    r = b.execute("second")
    b.close()
    return r
