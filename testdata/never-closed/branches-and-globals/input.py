conn = None


def either_branch(primary):
    if primary:
        c = get_db_connection()
    else:
        c = get_db_connection()
    try:
        return c.cursor().execute("SELECT 1").fetchall()
    finally:
        c.close()


def kept_for_the_module():
    global conn
    conn = get_db_connection()


def leaks():
    c = get_db_connection()
    return c.cursor().execute("SELECT 1").fetchall()
