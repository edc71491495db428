from sqlalchemy import create_engine


def deleted(url):
    engine = create_engine(url)
    try:
        engine.connect().close()
    finally:
        engine.dispose()
    del engine
    return "ok"


def set_to_none(url):
    engine = create_engine(url)
    try:
        engine.connect().close()
    finally:
        engine.dispose()
    engine = None
    return engine


def two_engines(a, b):
    engine = create_engine(a)
    try:
        engine.connect().close()
    finally:
        engine.dispose()
    engine = create_engine(b)
    try:
        engine.connect().close()
    finally:
        engine.dispose()


def rebound_in_a_branch(url, flag):
    engine = create_engine(url)
    if flag:
        engine = None
    return "ok"
