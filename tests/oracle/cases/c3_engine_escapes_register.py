# oracle-case: 3 engine outlives the call: register(engine)
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def register(e):
    REGISTRY.append(e)


def handler(x):
    engine = create_engine("db")
    register(engine)
    return "registered"
