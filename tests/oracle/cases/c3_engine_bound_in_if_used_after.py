# oracle-case: 3 engine bound inside an if/else and used after it
# oracle-inputs: 0 1
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    if x & 1:
        engine = create_engine("a")
        engine.execute("warm")
    else:
        engine = create_engine("b")
    with engine.connect() as c:
        return c.execute("q")
