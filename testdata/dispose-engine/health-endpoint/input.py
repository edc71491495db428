from sqlalchemy import create_engine, text


def health_detailed():
    engine = create_engine(DATABASE_URL)
    with engine.connect() as c:
        c.execute(text("SELECT 1"))

    status = {"db": "ok"}
    return status
