import pandas as pd
from sqlalchemy import MetaData, create_engine


def report(url, query):
    engine = create_engine(url)
    frame = pd.read_sql(query, engine)
    MetaData().create_all(bind=engine)
    frame.to_sql("copy", engine)
    return frame.to_dict()
