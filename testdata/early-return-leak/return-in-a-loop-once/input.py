def first_match(xs):
    conn = get_db_connection()
    for x in xs:
        y = x
        if x:
            return 1
    conn.close()
    return y
