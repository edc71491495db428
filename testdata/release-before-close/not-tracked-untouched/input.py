import sqlite3

import requests


def route(conn):
    conn.close()
    f = open("x")
    f.close()
    s = requests.Session()
    s.close()
    lite = sqlite3.connect(":memory:")
    lite.close()
    db = get_db_connection()
    cur = db.cursor()
    cur.close()
    cursor = db.cursor
    db.commit()
