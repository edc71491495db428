from sqlalchemy import create_engine

ENGINE = create_engine(URL)


class Config:
    engine = create_engine(URL)


def factory():
    return create_engine(URL)


def factory_named():
    engine = create_engine(URL)
    engine.echo = True
    return engine


def stored(app):
    engine = create_engine(URL)
    app.engine = engine
    app.extensions["engine"] = create_engine(URL)


def captured():
    engine = create_engine(URL)

    def use():
        return engine.connect()

    return use


def global_engine():
    global engine
    engine = create_engine(URL)
    engine.connect()


def inline():
    with create_engine(URL).connect() as c:
        c.execute("SELECT 1")


def unused():
    engine = create_engine(URL)
    engine.dispose()
