from src.db_compat import connect


def get_db_connection():
    return connect(use_pool=True)
