def get_db_connection_pool():
    return connect(use_pool=True)


def get_db():
    return connect(use_pool=True)


get_db_connection = None
