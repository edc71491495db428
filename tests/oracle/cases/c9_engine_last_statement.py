# oracle-case: 9 (found by the oracle) create_engine as the block's last statement: dispose-engine is reported fixable, nothing is wrapped, the engine dies undisposed
# oracle-inputs: 0 1
from sqlalchemy import create_engine


def handler(x):
    if x & 1:
        return "skip"
    engine = create_engine("db")
