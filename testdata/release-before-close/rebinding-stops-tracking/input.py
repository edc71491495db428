import sqlite3


def route():
    conn = get_db_connection()
    conn.close()
    conn = sqlite3.connect(":memory:")
    conn.close()


def later_helper():
    conn = sqlite3.connect(":memory:")
    conn.close()
    conn = get_db_connection()
    conn.close()
