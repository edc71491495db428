# oracle-case: 4 del engine after use: the inserted finally: engine.dispose() raises
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    engine = create_engine("db")
    r = engine.execute("q")
    del engine
    return r
