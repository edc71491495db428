import sqlalchemy


def report():
    engine = sqlalchemy.create_engine(URL, pool_size=5)
    try:
        query = """
SELECT id,
       name
  FROM tenants
    WHERE active
"""
        label = f"""rows:
  {query}"""
        with engine.connect() as c:
            return c.execute(query), label  # result
    finally:
        engine.dispose()
