# oracle-case: 3 engine outlives the call: pair = (engine, 1); return pair
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    engine = create_engine("db")
    pair = (engine, 1)
    return pair
