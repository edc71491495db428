# oracle-case: 3 engine bound inside a loop and used after it
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    for url in ("a",):
        engine = create_engine(url)
        engine.execute("warm")
    r = engine.execute("q")
    return r
