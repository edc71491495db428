from flask import current_app

from app import db


def bets(user_id):
    user = db.session.get(User, user_id)
    rows = db.session.query(Bet).filter(Bet.user_id == user_id).all()
    current_app.db.session.add(user)
    current_app.db.session.commit()
    return rows


def worker():
    while True:
        db.session.execute(text("SELECT 1"))
