def get_db_connection():
    from src.db_compat import connect
    connection = connect(use_pool=True)  # pooled
    return connection
