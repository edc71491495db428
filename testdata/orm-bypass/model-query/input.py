def users():
    count = User.query.count()
    admins = User.query.filter_by(admin=True).all()
    rows = self.query.all()
    return count, admins, rows
