def route():
  conn = get_db_connection()
  try:
    pass
  finally:
    conn.close()
