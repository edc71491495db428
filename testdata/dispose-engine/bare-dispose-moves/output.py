def ping():
    engine = create_engine(URL)
    try:
        conn = engine.connect()
        conn.execute("SELECT 1")
        conn.close()
        # done with the engine
    finally:
        engine.dispose()
    return "ok"
