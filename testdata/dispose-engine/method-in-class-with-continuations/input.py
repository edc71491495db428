class Health:
    def detailed(self):
        engine = create_engine(
            self.url,
            pool_pre_ping=True,
        )
        total = 1 + \
            2
        with engine.connect() as c:
            c.execute("SELECT %s" % total)
