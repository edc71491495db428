# oracle-case: 3 engine outlives the call: Session = sessionmaker(bind=engine); return Session
# oracle-inputs: 0
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

REGISTRY = []
ENGINES = []


def handler(x):
    engine = create_engine("db")
    Session = sessionmaker(bind=engine)
    return Session
