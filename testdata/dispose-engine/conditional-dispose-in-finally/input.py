from sqlalchemy import create_engine


def only_when_flagged(url, flag):
    engine = None
    try:
        engine = create_engine(url)
        engine.connect().close()
    finally:
        if flag:
            engine.dispose()


def whenever_there_is_one(url):
    engine = None
    try:
        engine = create_engine(url)
        engine.connect().close()
    finally:
        if engine is not None:
            engine.dispose()
