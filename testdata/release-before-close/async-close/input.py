async def route():
    conn = await get_db_connection()
    await conn.close()
