def health():
	engine = create_engine(URL)
	try:
		if engine:
			rows = engine.execute("""SELECT 1
	FROM dual""")

		return rows
	finally:
		engine.dispose()
