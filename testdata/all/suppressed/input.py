def get_db_connection():  # connfix: ignore[tracked-helper]
    return connect(use_pool=True)


def route():
    conn = get_db_connection()
    conn.close()  # connfix: ignore
    other = get_db_connection()  # connfix: ignore[never-closed]
    db.session.query(X)  # connfix: ignore[early-return-leak]
