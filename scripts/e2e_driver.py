#!/usr/bin/env python3
"""End-to-end driver for connfix's example application (examples/app).

Two sub-commands, both used by scripts/e2e-postgres.sh:

  run     Import a copy of the app in-process, drive every route with Flask's
          test client in rounds, and after each round record the connection
          tracker's "Active Now" total (GET /health/dashboard) and the number of
          server connections to the database (pg_stat_activity, read over a
          separate connection that is not counted).  After every request it
          also compares the tracker with the truth for the helpers that return
          raw driver connections: the open sqlite3 / raw psycopg2 connection
          objects in this process (found with gc) against "Active Now" of
          notes.py / raw_reports.py; and around the raw_reports.py requests
          it checks the server's connection count comes back to where it
          was.  Writes a JSON file.

  report  Compare the JSON of the run before connfix with the one after it,
          print the before/after table, write it as Markdown, and exit 1 with a
          message for each failed check.

Only the standard library plus the app's own requirements (Flask, SQLAlchemy,
psycopg2) are used.
"""

import argparse
import json
import os
import sys
import time

# Server connections each phase is allowed to hold once a round is over, with
# the fixes applied (the meter's own connection is never counted):
#   POOL_BASE    the psycopg2 ThreadedConnectionPool's minconn (src/db_compat.py),
#                opened when the pool is created and kept while idle;
#   LONG_LIVED   one idle connection for each long-lived SQLAlchemy engine that
#                is, by design, never disposed: health._shared_engine and the
#                engine cached by health.reporting_engine().
POOL_BASE = 3
LONG_LIVED = 2

# Helpers that return raw DB-API connections (no attributes can be hung on
# them), with the tracker context connfix gives them and the path prefix of
# their routes.  Every request under the prefix takes exactly one connection.
RAW_CONTEXTS = {
    "/api/reports/": "raw_reports.py::get_db_connection",  # psycopg2.connect(), closed by the callers
    "/api/notes/": "notes.py::get_db_connection",  # sqlite3.connect() cached on flask.g, closed at teardown
}
RAW_PG, NOTES = RAW_CONTEXTS.values()


def raw_context(path):
    return next((ctx for prefix, ctx in RAW_CONTEXTS.items() if path.startswith(prefix)), None)


def log(msg):
    print(f"[e2e-driver] {msg}", flush=True)


def round_requests(rnd, rep):
    """The requests of one pass over the app: (method, path, json body, expected status).

    Deterministic in (rnd, rep) so that the run before the fix and the run after
    it send exactly the same requests to databases in the same starting state.
    """
    tag = f"r{rnd}x{rep}"
    reqs = []
    add = lambda method, path, status, body=None: reqs.append((method, path, body, status))
    # branding.py: tracked acquisition, never released before the fix.
    for slug in ("acme", "zenith", "orbit"):
        add("GET", f"/api/branding/{slug}", 200)
        add("GET", f"/api/branding/{slug}/theme.css", 200)
    add("GET", "/api/branding/nope", 404)
    add("GET", "/api/branding/nope/theme.css", 404)
    # public_leaderboard.py (CRLF file): tracked acquisition, never released before the fix.
    add("GET", "/api/leaderboard", 200)
    add("GET", "/api/leaderboard?limit=3", 200)
    add("GET", "/api/leaderboard/alice", 200)
    add("GET", "/api/leaderboard/nobody", 404)
    # multitenant_routing.py: class helper (self.get_db_connection()), `cur.close(); connection.close()`.
    add("GET", "/api/tenant/resolve?host=zenith.example.test", 200)
    add("GET", "/api/tenant/resolve?host=unknown.example.test", 200)
    add("GET", "/api/tenant/acme/config", 200)
    add("GET", "/api/tenant/nope/config", 404)
    # theme_customization.py (TAB-indented): one-liner closes, writes, errors raised while holding.
    add("GET", "/api/theme/acme", 200)
    add("PUT", "/api/theme/acme", 200, {"key": "spacing", "value": f"{rnd}px"})
    add("PUT", "/api/theme/acme", 400, {"key": "evil", "value": "x"})
    add("GET", "/api/theme/nope", 404)
    add("PUT", "/api/theme/nope", 404, {"key": "font", "value": "Arial"})
    # sportsbook_registration.py: db_conn, rollback on conflict, validation error, crash route.
    for j in range(2):
        add("POST", "/api/register", 201, {"username": f"user_{tag}_{j}", "email": f"u{j}@{tag}.test"})
    add("POST", "/api/register", 409, {"username": f"user_{tag}_0", "email": "dup@x.test"})
    add("POST", "/api/register", 400, {"username": "", "email": "nope"})
    add("POST", "/api/register", 404, {"username": f"ghost_{tag}", "email": "g@x.test", "tenant": "nope"})
    add("GET", "/api/register/export.csv", 200)
    add("GET", "/api/register/1", 200)
    add("GET", "/api/register/999999", 500)
    # raw_reports.py: raw psycopg2 connections (no pool, no tracking before the fix), closed in
    # `finally:`, on an early return and at the end, and by release_db_connection(conn).
    # Keep these requests together: the server's connection count is read around them.
    add("GET", "/api/reports/tenants", 200)
    add("GET", "/api/reports/tenants/acme/registrations", 200)
    add("GET", "/api/reports/tenants/nope/registrations", 404)
    add("GET", "/api/reports/sports", 200)
    # notes.py: sqlite3 connection cached on flask.g, closed by the teardown_appcontext function
    # (also when the route raises).
    add("POST", "/api/notes/acme", 201, {"body": f"note {tag}"})
    add("POST", "/api/notes/acme", 400, {"body": "  "})
    add("GET", "/api/notes/acme", 200)
    add("GET", "/api/notes/zenith", 200)
    # json_sports.py: direct `return connect(...)`, sqlite scratch connection.
    add("GET", "/api/sports", 200)
    add("GET", "/api/sports/1/events", 200)
    add("GET", "/api/sports/2/events", 200)
    add("GET", "/api/sports/3/events", 404)
    # comprehensive_admin.py: `connection` name, early 404 after closing, crash in try/finally.
    add("GET", "/admin/stats", 200)
    add("GET", "/admin/users/1", 200)
    add("GET", "/admin/users/99", 404)
    add("GET", "/admin/users/2/recalculate", 200)
    add("GET", "/admin/users/99/recalculate", 500)
    # superadmin.py: module.get_db_connection(), multi-line SQL in finally, `cur.close(); conn.close()  # done`.
    add("GET", "/superadmin/tenants", 200)
    add("GET", "/superadmin/users", 200)
    # Already fixed: rich_admin_interface.py (audit pattern), betting.py and auth.py (connection_ctx).
    add("GET", "/admin/rich/overview", 200)
    add("GET", "/admin/rich/events/1", 200)
    add("GET", "/admin/rich/events/99", 404)
    add("GET", "/api/bets/user/alice", 200)
    add("GET", "/api/bets/open", 200)
    add("POST", "/api/auth/login", 200, {"username": "alice", "password": "pw-alice"})
    add("POST", "/api/auth/login", 401, {"username": "alice", "password": "wrong"})
    # health.py: long-lived engines (must stay) and the per-request engine (the leak).
    add("GET", "/health", 200)
    add("GET", "/health/reporting", 200)
    for _ in range(3):
        add("GET", "/health/detailed", 200)
    return reqs


class Meter:
    """Counts the server's connections to one database over its own connection."""

    def __init__(self, dsn):
        import psycopg2

        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True

    def count_once(self):
        cur = self.conn.cursor()
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (n,) = cur.fetchone()
        cur.close()
        return n

    def count_settled(self, interval=0.05, stable_reads=4, limit=5.0):
        """The count once it stopped moving: closing connections leave
        pg_stat_activity a few milliseconds after the client hung up."""
        deadline = time.monotonic() + limit
        last, same = self.count_once(), 1
        while same < stable_reads and time.monotonic() < deadline:
            time.sleep(interval)
            n = self.count_once()
            same = same + 1 if n == last else 1
            last = n
        return last

    def close(self):
        self.conn.close()


def open_raw_connections(exclude_ids):
    """The truth for the raw-driver helpers: (open sqlite3 connections, open
    psycopg2 connections that belong to no pool) among this process's objects.

    A sqlite3.Connection is open while reading `total_changes` does not raise
    ProgrammingError.  A psycopg2 connection is open while `closed == 0`; those
    held by the psycopg2 pool, by a SQLAlchemy engine's pool or by the meter
    (exclude_ids) are not raw ones.
    """
    import gc
    import sqlite3

    import psycopg2.extensions

    from sqlalchemy.pool import ConnectionPoolEntry

    sqlite_open, pg = 0, []
    in_sqlalchemy = set()
    for o in gc.get_objects():
        if isinstance(o, sqlite3.Connection):
            try:
                o.total_changes
            except sqlite3.ProgrammingError:
                continue
            sqlite_open += 1
        elif isinstance(o, psycopg2.extensions.connection):
            if not o.closed:
                pg.append(o)
        elif isinstance(o, ConnectionPoolEntry):
            dbapi = getattr(o, "dbapi_connection", None)
            if dbapi is not None:
                in_sqlalchemy.add(id(dbapi))
    pg_open = sum(1 for c in pg if id(c) not in exclude_ids and id(c) not in in_sqlalchemy)
    return sqlite_open, pg_open


def cmd_run(args):
    app_dir = os.path.abspath(args.app)
    os.chdir(app_dir)
    sys.path.insert(0, app_dir)
    sys.dont_write_bytecode = True
    # notes.py's SQLite file: a fresh one per run, so both runs start from the same state.
    notes_db = os.path.splitext(os.path.abspath(args.out))[0] + "-notes.sqlite3"
    for leftover in (notes_db, notes_db + "-journal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    os.environ["NOTES_DB_PATH"] = notes_db

    meter = Meter(os.environ["DATABASE_URL"])
    from src import db_compat
    from src.db_compat import pool_status
    from src.main import create_app

    app = create_app()
    client = app.test_client()
    adapter = app.url_map.bind("localhost")

    def dashboard():
        resp = client.get("/health/dashboard")
        if resp.status_code != 200:
            raise SystemExit(f"/health/dashboard answered {resp.status_code}")
        return resp.get_json()

    rounds = []
    responses = []
    failures = []
    endpoints_hit = set()
    requests_by_context = {ctx: 0 for ctx in RAW_CONTEXTS.values()}
    truth_checks = truth_mismatches = 0
    mismatches = []  # (request number, request, context, open objects, tracker Active Now)
    group_deltas = []  # server connections after the raw_reports.py requests minus before them

    def not_raw_ids():
        pool = db_compat._pool
        ids = {id(meter.conn)}
        if pool is not None:
            ids |= {id(c) for c in pool._pool} | set(pool._rused)
        return ids

    def check_truth(n, request):
        nonlocal truth_checks, truth_mismatches
        sqlite_open, pg_open = open_raw_connections(not_raw_ids())
        active = dashboard()["active_now"]
        truth_checks += 1
        for ctx, actual in ((NOTES, sqlite_open), (RAW_PG, pg_open)):
            if actual != active.get(ctx, 0):
                truth_mismatches += 1
                mismatches.append((n, request, ctx, actual, active.get(ctx, 0)))

    def snapshot(label):
        dash = dashboard()
        row = {
            "round": label,
            "active_now": dash["active_now_total"],
            "active_by_context": {k: v for k, v in dash["active_now"].items() if v},
            "server_connections": meter.count_settled(),
            "pool": pool_status(),
            "total_acquired": dash["total_acquired"],
            "total_released": dash["total_released"],
            "raw": {
                ctx: {
                    "requests": requests_by_context[ctx],
                    "acquired": dash["acquired"].get(ctx, 0),
                    "released": dash["released"].get(ctx, 0),
                    "active_now": dash["active_now"].get(ctx, 0),
                }
                for ctx in RAW_CONTEXTS.values()
            },
            "truth_checks": truth_checks,
            "truth_mismatches": truth_mismatches,
            "raw_pg_group_deltas": list(group_deltas),
        }
        rounds.append(row)
        log(
            f"{args.label}: round {label}: active_now={row['active_now']} "
            f"server_connections={row['server_connections']} pool={row['pool']} "
            f"raw={ {ctx.split('::')[0]: (v['requests'], v['acquired'], v['released']) for ctx, v in row['raw'].items()} } "
            f"truth_mismatches={truth_mismatches}/{truth_checks} raw_pg_group_deltas={group_deltas}"
        )

    snapshot("start")
    started = time.monotonic()
    for rnd in range(1, args.rounds + 1):
        for rep in range(args.repeat):
            group_start = None
            for method, path, body, expected in round_requests(rnd, rep):
                ctx = raw_context(path)
                if ctx == RAW_PG and group_start is None:
                    group_start = meter.count_settled()
                elif ctx != RAW_PG and group_start is not None:
                    group_deltas.append(meter.count_settled() - group_start)
                    group_start = None
                resp = client.open(path, method=method, json=body)
                if ctx is not None:
                    requests_by_context[ctx] += 1
                check_truth(len(responses), f"{method} {path}")
                text = resp.get_data(as_text=True)
                responses.append(
                    {"request": f"{method} {path}", "json": body, "status": resp.status_code, "body": text}
                )
                endpoint, _ = adapter.match(path.split("?")[0], method=method)
                endpoints_hit.add(endpoint)
                if resp.status_code != expected:
                    failures.append(f"{method} {path}: status {resp.status_code}, expected {expected}: {text[:200]}")
        snapshot(rnd)
    elapsed = time.monotonic() - started
    meter.close()

    all_endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
    all_endpoints.discard("connection_dashboard")  # the instrument itself, read after every round
    missed = sorted(all_endpoints - endpoints_hit)
    if missed:
        failures.append(f"routes never exercised: {', '.join(missed)}")

    log(f"{args.label}: {len(responses)} requests in {elapsed:.1f}s, {len(failures)} problem(s)")
    for n, request, ctx, actual, active in mismatches[:10]:
        log(f"{args.label}: after request #{n} {request}: {actual} open connection(s) of {ctx}, tracker says {active}")
    with open(args.out, "w") as fh:
        json.dump(
            {
                "label": args.label,
                "rounds": rounds,
                "responses": responses,
                "failures": failures,
                "truth_mismatches": [list(m) for m in mismatches[:50]],
            },
            fh,
            indent=1,
        )
    for f in failures:
        log(f"{args.label}: FAIL: {f}")
    return 1 if failures else 0


def render_table(before, after):
    lines = [
        "| round | Active Now before | Active Now after | server connections before | server connections after |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for b, a in zip(before["rounds"], after["rounds"]):
        lines.append(
            f"| {b['round']} | {b['active_now']} | {a['active_now']} "
            f"| {b['server_connections']} | {a['server_connections']} |"
        )
    return lines


def render_raw_table(before, after):
    """Tracker against truth for the helpers returning raw driver connections."""
    lines = [
        "| round | helper | requests | acquired / released before | acquired / released after "
        "| Active Now before / after | open objects ≠ tracker (checks) before / after "
        "| server Δ over raw_reports requests before / after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for b, a in zip(before["rounds"][1:], after["rounds"][1:]):
        for ctx in RAW_CONTEXTS.values():
            rb, ra = b["raw"][ctx], a["raw"][ctx]
            deltas = (
                f"{b['raw_pg_group_deltas']} / {a['raw_pg_group_deltas']}" if ctx == RAW_PG else "n/a (sqlite)"
            )
            lines.append(
                f"| {b['round']} | {ctx} | {rb['requests']} | {rb['acquired']} / {rb['released']} "
                f"| {ra['acquired']} / {ra['released']} | {rb['active_now']} / {ra['active_now']} "
                f"| {b['truth_mismatches']} ({b['truth_checks']}) / {a['truth_mismatches']} ({a['truth_checks']}) "
                f"| {deltas} |"
            )
    return lines


def check_raw(before, after):
    """Failures of the raw-driver checks (tracker against truth), before and after."""
    failures = []
    for phase in (before, after):
        label = phase["label"]
        mismatches = phase.get("truth_mismatches", [])
        for n, request, ctx, actual, active in mismatches[:10]:
            failures.append(
                f"{label}: after request #{n} {request}: {actual} open connection(s) of {ctx}, "
                f"tracker Active Now {active}"
            )
        total = phase["rounds"][-1]["truth_mismatches"]
        if total > 10:
            failures.append(f"{label}: ... {total} requests after which the tracker differs from the truth in all")
        for r in phase["rounds"][1:]:
            if any(r["raw_pg_group_deltas"]):
                failures.append(
                    f"{label}: round {r['round']}: the raw_reports.py requests changed the server's "
                    f"connection count by {r['raw_pg_group_deltas']} (a raw connection left open)"
                )
    for r in before["rounds"][1:]:
        for ctx, c in r["raw"].items():
            # Nothing is tracked before the fix, so the tracker must show nothing.
            if c["acquired"] or c["released"]:
                failures.append(f"before: round {r['round']}: {ctx} tracked {c['acquired']} / {c['released']}")
    for r in after["rounds"][1:]:
        for ctx, c in r["raw"].items():
            if not (c["requests"] > 0 and c["acquired"] == c["released"] == c["requests"]):
                failures.append(
                    f"after: round {r['round']}: {ctx}: acquired {c['acquired']}, released {c['released']}, "
                    f"expected both {c['requests']} (one per request)"
                )
    return failures


def cmd_report(args):
    with open(args.before) as fh:
        before = json.load(fh)
    with open(args.after) as fh:
        after = json.load(fh)
    allowed = POOL_BASE + LONG_LIVED
    failures = []

    for phase in (before, after):
        for f in phase["failures"]:
            failures.append(f"{phase['label']} run: {f}")
    if len(before["rounds"]) != len(after["rounds"]):
        failures.append("the two runs have a different number of rounds")

    # The run before the fix must show both leaks, or the test proves nothing.
    b_rounds = before["rounds"][1:]
    b_active = [r["active_now"] for r in b_rounds]
    b_server = [r["server_connections"] for r in b_rounds]
    if not all(x < y for x, y in zip(b_active, b_active[1:])) or b_active[0] <= 0:
        failures.append(f"before: Active Now does not grow with requests: {b_active}")
    if not all(x < y for x, y in zip(b_server, b_server[1:])) or b_server[-1] <= allowed:
        failures.append(f"before: server connections do not grow with health checks: {b_server}")

    # After the fix: nothing tracked stays active; only base + long-lived connections stay.
    for r in after["rounds"][1:]:
        if r["active_now"] != 0:
            failures.append(
                f"after: round {r['round']}: Active Now is {r['active_now']}, expected 0 "
                f"(still active: {r['active_by_context']})"
            )
        if r["server_connections"] != allowed:
            failures.append(
                f"after: round {r['round']}: {r['server_connections']} server connections, expected exactly "
                f"{allowed} (pool base {POOL_BASE} + {LONG_LIVED} long-lived engines)"
            )
        if r["pool"]["in_use"] != 0:
            failures.append(f"after: round {r['round']}: {r['pool']['in_use']} pooled connections not given back")

    # Helpers returning raw sqlite3 / psycopg2 connections: tracker against the truth.
    failures += check_raw(before, after)

    # Same answers before and after.
    b_resp, a_resp = before["responses"], after["responses"]
    if len(b_resp) != len(a_resp):
        failures.append(f"{len(b_resp)} responses before, {len(a_resp)} after")
    diffs = [
        (i, b, a)
        for i, (b, a) in enumerate(zip(b_resp, a_resp))
        if (b["request"], b["status"], b["body"]) != (a["request"], a["status"], a["body"])
    ]
    for i, b, a in diffs[:5]:
        failures.append(
            f"response #{i} differs: {b['request']}: before {b['status']} {b['body'][:160]!r}, "
            f"after {a['request']} {a['status']} {a['body'][:160]!r}"
        )
    if len(diffs) > 5:
        failures.append(f"... and {len(diffs) - 5} more differing responses")

    table = render_table(before, after)
    raw_table = render_raw_table(before, after)
    verdict = "PASS" if not failures else "FAIL"
    md = [
        "# connfix end-to-end run (PostgreSQL)",
        "",
        f"{len(before['rounds']) - 1} rounds of {len(b_resp) // max(1, len(before['rounds']) - 1)} requests "
        "through Flask's test client; counts read after each round.",
        "Active Now: the connection tracker's total (GET /health/dashboard).",
        "Server connections: pg_stat_activity rows for the database, the meter's own connection excluded.",
        f"Allowed after the fix: Active Now 0; server connections exactly {allowed} "
        f"(pool base {POOL_BASE} + {LONG_LIVED} long-lived engines).",
        "",
        *table,
        "",
        "Helpers that return raw driver connections (no attributes): the tracker's counts for their "
        "context against the truth. Open objects: sqlite3.Connection / raw psycopg2 connections alive "
        "and open in the app process (gc), compared with the context's Active Now after every request. "
        "Server Δ: pg_stat_activity after the raw_reports.py requests of a pass minus before them.",
        "",
        *raw_table,
        "",
        f"Responses compared: {len(a_resp)}, differing: {len(diffs)}.",
        "",
        f"Result: {verdict}",
    ]
    md += [f"- {f}" for f in failures]
    os.makedirs(os.path.dirname(os.path.abspath(args.table)), exist_ok=True)
    with open(args.table, "w") as fh:
        fh.write("\n".join(md) + "\n")
    print("\n".join(table))
    print()
    print("\n".join(raw_table))
    print(f"responses compared: {len(a_resp)}, differing: {len(diffs)}")
    if failures:
        for f in failures:
            print(f"E2E FAIL: {f}")
        return 1
    print(f"E2E checks passed (table written to {args.table})")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="drive a copy of the app and record counts and responses")
    run.add_argument("--app", required=True, help="folder of the app copy (holds src/)")
    run.add_argument("--label", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--rounds", type=int, default=5)
    run.add_argument("--repeat", type=int, default=2, help="passes over every route per round")
    rep = sub.add_parser("report", help="compare two runs, print and write the table")
    rep.add_argument("--before", required=True)
    rep.add_argument("--after", required=True)
    rep.add_argument("--table", required=True)
    args = parser.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
