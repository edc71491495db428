import sqlite3


def get_db_connection():
    conn = sqlite3.connect(DATABASE)
    conn.row_factory = sqlite3.Row
    return conn


def release_db_connection(conn):
    conn.close()


def delete(id):
    conn = get_db_connection()
    try:
        conn.execute("DELETE FROM posts WHERE id = ?", (id,))
        conn.commit()
    except sqlite3.Error:
        conn.close()
        raise
    finally:
        conn.close()


def listing():
    tracking = "kept"
    conn = get_db_connection()
    try:
        return conn.execute("SELECT * FROM posts").fetchall(), tracking
    finally:
        release_db_connection(conn)
