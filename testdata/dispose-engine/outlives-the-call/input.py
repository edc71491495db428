from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker


def session_factory(url):
    engine = create_engine(url)
    Session = sessionmaker(bind=engine)
    return Session


def registered(url, registry):
    engine = create_engine(url)
    registry.register(engine)
    registry.ping()


def collected(urls, engines):
    for url in urls:
        engine = create_engine(url)
        engines.append(engine)


def paired(url):
    engine = create_engine(url)
    pair = (engine, 1)
    return pair


def used_after_its_block(url, fresh):
    if fresh:
        engine = create_engine(url)
        engine.connect().close()
    else:
        engine = shared_engine()
    return engine.url


def used_after_the_loop(urls):
    for url in urls:
        engine = create_engine(url)
        engine.connect().close()
    engine.connect().close()
