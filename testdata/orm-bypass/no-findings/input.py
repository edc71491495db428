from src.db_compat import connection_ctx


def bets(user_id, session):
    with connection_ctx() as conn:
        conn.cursor().execute("SELECT 1")
    session.query(Bet)
    requests.session.get("x")
