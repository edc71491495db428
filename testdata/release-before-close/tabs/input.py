def route():
	conn = get_db_connection()
	try:
		rows = conn.cursor().execute("SELECT 1")
	finally:
		if conn: conn.close()
	return rows
