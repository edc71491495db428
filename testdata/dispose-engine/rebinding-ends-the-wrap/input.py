from sqlalchemy import create_engine


def deleted(url):
    engine = create_engine(url)
    engine.connect().close()
    del engine
    return "ok"


def set_to_none(url):
    engine = create_engine(url)
    engine.connect().close()
    engine = None
    return engine


def two_engines(a, b):
    engine = create_engine(a)
    engine.connect().close()
    engine = create_engine(b)
    engine.connect().close()


def rebound_in_a_branch(url, flag):
    engine = create_engine(url)
    if flag:
        engine = None
    return "ok"
