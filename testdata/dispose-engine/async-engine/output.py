from sqlalchemy.ext.asyncio import create_async_engine


async def health():
    engine = create_async_engine(URL)
    try:
        async with engine.connect() as c:
            await c.execute("SELECT 1")
    finally:
        await engine.dispose()


def not_async():
    engine = create_async_engine(URL)
    run(engine)
