from sqlalchemy.ext.asyncio import create_async_engine


async def health():
    engine = create_async_engine(URL)
    async with engine.connect() as c:
        await c.execute("SELECT 1")


def not_async():
    engine = create_async_engine(URL)
    run(engine)
