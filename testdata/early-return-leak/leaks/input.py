def tenant(tid):
    conn = get_db_connection()
    cur = conn.cursor()
    cur.execute("SELECT * FROM tenants WHERE id = %s", (tid,))
    row = cur.fetchone()
    if row is None:
        return None
    if not row[1]:
        raise PermissionError(tid)
    conn.close()
    return row
