from contextlib import closing


def closed():
    conn = get_db_connection()
    conn.close()


def returned():
    conn = get_db_connection()
    return conn


def passed_on():
    conn = get_db_connection()
    register(conn)


def stored(self):
    conn = get_db_connection()
    self.conn = conn


def with_closing():
    conn = get_db_connection()
    with closing(conn):
        pass


def captured():
    conn = get_db_connection()
    return lambda: conn.cursor()


def yielded():
    conn = get_db_connection()
    yield conn


def closed_in_expression():
    conn = get_db_connection()
    return conn.close()


conn = get_db_connection()
