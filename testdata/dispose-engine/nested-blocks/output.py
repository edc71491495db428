def check(urls):
    results = []
    for url in urls:
        try:
            if url:
                engine = create_engine(url)
                try:
                    with engine.connect() as c:
                        results.append(c.execute("SELECT 1"))
                        # keep going
                finally:
                    engine.dispose()
        except Exception:
            results.append(None)
    return results
