# oracle-case: 3 engine outlives the call: engines.append(engine)
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    engine = create_engine("db")
    ENGINES.append(engine)
    return len(ENGINES)
