def ping():
    engine = create_engine(URL)
    conn = engine.connect()
    conn.execute("SELECT 1")
    conn.close()
    # done with the engine
    engine.dispose()
    return "ok"
