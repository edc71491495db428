def health():
    engine = create_engine(URL)
    if engine:
    	rows = engine.execute("SELECT 1")
    return rows


def report():
    engine = create_engine(URL)
    try:
        rows = engine.execute("SELECT 1")
        return rows
    finally:
        engine.dispose()
