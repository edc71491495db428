def f():
    Session.query(X)
    db.session.query(X)
