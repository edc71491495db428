# oracle-case: 4 engine = create_engine(b) after a first engine: the first is never disposed
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    engine = create_engine("a")
    r1 = engine.execute("q1")
    engine = create_engine("b")
    r2 = engine.execute("q2")
    return r1, r2
