def wrapped():
    engine = create_engine(URL)
    try:
        engine.connect()
    finally:
        engine.dispose()


def enclosing():
    engine = None
    try:
        engine = create_engine(URL)
        engine.connect()
    finally:
        if engine is not None:
            engine.dispose()


def immediately():
    engine = create_engine(URL)
    engine.dispose()
