from src.db_compat import connection_ctx


def place_bet(user, amount):
    with connection_ctx() as conn:
        cur = conn.cursor()
        cur.execute("INSERT INTO bets VALUES (%s, %s)", (user, amount))
        cur.close()
        conn.commit()
