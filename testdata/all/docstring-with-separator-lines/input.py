HELP = """
Options
=======
<<<<<<< looks like a marker but has no end
"""


def route():
    conn = get_db_connection()
    conn.close()
