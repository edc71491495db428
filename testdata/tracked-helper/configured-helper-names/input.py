def get_conn():
    return psycopg_pool.connect()


def get_db_connection():
    return connect(use_pool=True)
