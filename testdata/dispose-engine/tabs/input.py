def health():
	engine = create_engine(URL)
	if engine:
		rows = engine.execute("""SELECT 1
	FROM dual""")

	return rows
