# -*- coding: latin-1 -*-
def route():
    s = 'été'
    conn = get_db_connection()
    conn.close()
