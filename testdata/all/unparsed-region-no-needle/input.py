"""Reports for the dashboard. Connections come from get_db_connection(),
which the callers close; this module only shapes rows. The callback below
returns an unparenthesised starred item, which tree-sitter cannot read:
with no rule's needle in its code, the file is not parsed, so connfix says
nothing of it (and the self-check agrees)."""
import dash


def update_alerts(n, rows):
    alert = n > 3
    return True, alert, *([dash.no_update] * 6)


def shape(conn):
    rows = conn.execute("select 1").fetchall()
    conn.close()
    return rows
