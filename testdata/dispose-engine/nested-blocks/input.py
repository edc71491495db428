def check(urls):
    results = []
    for url in urls:
        try:
            if url:
                engine = create_engine(url)
                with engine.connect() as c:
                    results.append(c.execute("SELECT 1"))
                    # keep going
        except Exception:
            results.append(None)
    return results
