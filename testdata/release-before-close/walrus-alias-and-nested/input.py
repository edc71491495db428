import contextlib

gdc = get_db_connection


def walrus(flag):
    if (conn := get_db_connection()):
        conn.close()


def through_an_alias():
    conn = gdc()
    conn.close()


def closed_in_a_nested_function(register):
    conn = get_db_connection()

    def cleanup():
        conn.close()

    register(cleanup)


def closed_by_closing():
    with contextlib.closing(get_db_connection()) as conn:
        conn.cursor()
