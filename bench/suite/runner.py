"""The benchmark suite behind ``bihuan bench`` (see bench/README.md, docs/performance.md).

    python -m bench.suite.runner --scale smoke|county|city [--only NAME ...] [--out DIR] [--reuse]

Runs on PostgreSQL, in a database of its own (``bihuan_bench_<scale>``: created, emptied and
dropped only by this suite, so the name must contain "bench"). Every figure comes with a
baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

from .common import ROOT, WORKERS, free_port, interleaved, ratio, summary
from .pages import BOARD_GROUPED

BUILTIN_WORKLOADS = ("import", "intake", "transition", "inbox", "pages", "stats", "sweep", "memory", "growth")


def _app_workloads() -> dict:
    from .workloads import discover

    return discover()


# Apps add theirs in bench/suite/workloads/ (see its docstring).
APP_WORKLOADS = _app_workloads()
WORKLOADS = BUILTIN_WORKLOADS + tuple(APP_WORKLOADS)

SCALES = {
    # tree: the organisation-tree seed; matters: the 1x volume for inbox/stats/sweep (growth
    # measures 0.25x and 0.5x on the way); the rest are request counts.
    "smoke": dict(tree="demo", matters=20_000, import_rows=5_000, intake=300, lifecycles=40, reads=30,
                  stats_rounds=5, peer_list=10, sweep_fresh=40),
    "county": dict(tree="county", matters=200_000, import_rows=200_000, intake=3_000, lifecycles=400, reads=200,
                   stats_rounds=10, peer_list=20, sweep_fresh=300),
    "city": dict(tree="city", matters=2_000_000, import_rows=1_000_000, intake=5_000, lifecycles=800, reads=100,
                 stats_rounds=10, peer_list=20, sweep_fresh=1_000),
}
CLIENTS = 16
T0 = time.perf_counter()


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


# --- database ---------------------------------------------------------------------------------

def pg_params(url: str) -> dict:
    u = urlparse(url)
    return {"host": u.hostname or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
            "dbname": u.path.lstrip("/")}


def admin_conn(pg: dict):
    import psycopg

    return psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres", autocommit=True)


def prepare_database(url: str, reuse: bool) -> bool:
    """Create (or recreate) the suite's database. Returns True when an existing one is reused."""
    pg = pg_params(url)
    if "bench" not in pg["dbname"]:
        sys.exit(f"refusing database {pg['dbname']!r}: the suite drops and recreates it; use a name with 'bench'")
    with admin_conn(pg) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [pg["dbname"]]).fetchone()
        if exists and reuse:
            return True
        if exists:
            admin.execute(f'DROP DATABASE "{pg["dbname"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{pg["dbname"]}"')
    return False


def raw_conn(url: str):
    import psycopg

    pg = pg_params(url)
    # No server-side prepare: Django's backend does not prepare either.
    c = psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname=pg["dbname"],
                        prepare_threshold=None, autocommit=True)
    return c


# --- setup ------------------------------------------------------------------------------------

class World:
    """The seeded tree, the bench users and their API tokens."""

    def __init__(self):
        from bihuan.accounts import services as acc
        from bihuan.accounts.models import Role, User
        from bihuan.core.context import acting_as
        from bihuan.loop.seed import ensure_categories
        from bihuan.orgs.models import Level, OrgUnit

        self.city = OrgUnit.objects.get(parent__isnull=True)
        # The township with the most villages in 任城区 (full size at county and city scale).
        towns = OrgUnit.objects.filter(level=Level.TOWNSHIP, path__startswith=OrgUnit.objects.get(code="370811").path)
        self.town = max(towns.order_by("code"), key=lambda t: t.children.count())
        self.village = self.town.children.filter(level=Level.VILLAGE).order_by("code").first()
        self.villages = list(self.town.children.filter(level=Level.VILLAGE).values_list("id", flat=True))
        self.tokens = {}
        with acting_as(None, username="bench"):
            ensure_categories()
            for name, unit, role in (("bench_city", self.city, "city_admin"),
                                     ("bench_town", self.town, "township_staff"),
                                     ("bench_village", self.village, "village_secretary")):
                u = User.objects.filter(username=name).first() or acc.create_user(
                    None, username=name, password="Bench-Pass-2026!", unit=unit, role=Role.objects.get(code=role),
                    must_change_password=False)
                self.tokens[name] = acc.create_token(u, name="bench")[1]
        self.users = {u.username: u for u in User.objects.filter(username__in=list(self.tokens))}

    def user(self, name):
        u = self.users[name]
        u.forget_bindings()  # as a new request would
        return u


def seed_tree(scale: str) -> dict:
    from bihuan.core.context import acting_as
    from bihuan.orgs import seed as org_seed

    with acting_as(None, username="bench"):
        t = time.perf_counter()
        res = org_seed.seed_tree(SCALES[scale]["tree"], org_seed.DEFAULT_SEED, progress=False)
    return {"tree_scale": SCALES[scale]["tree"], "units": sum(res.counts.values()) if hasattr(res, "counts") else None,
            "seconds": round(time.perf_counter() - t, 1)}


# --- reads: inbox, board, stats ------------------------------------------------------------------

OVERDUE_SQL = ("((m.state IN ('dispatched', 'in_progress') AND m.due_at < %(now)s) "
               "OR (m.state = 'reported' AND m.reported_at > m.due_at))")
YELLOW_SQL = ("(m.state IN ('dispatched', 'in_progress') AND m.due_at >= %(now)s AND (m.warn_at <= %(now)s "
              "OR (m.state = 'dispatched' AND m.accept_due_at < %(now)s)))")

# Written as one would by hand: overdue matters are few, so select them first (MATERIALIZED: the
# planner may not walk the created_at index instead, which reads the whole table when a township
# has fewer than 51 of them), then sort.
INBOX_RAW = f"""
WITH o AS MATERIALIZED (
SELECT m.id, m.kind, m.title, m.category_id, m.state, m.version, m.location_unit_id, m.handling_unit_id,
       m.created_at, m.due_at, m.flagged, 'red' AS light
FROM loop_matter m
WHERE (m.location_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR m.handling_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR m.dispatch_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR EXISTS (SELECT 1 FROM loop_matterassist a JOIN orgs_orgunit u ON u.id = a.unit_id
               WHERE a.matter_id = m.id AND u.path LIKE %(p)s))
  AND {OVERDUE_SQL})
SELECT * FROM o ORDER BY created_at DESC, id DESC LIMIT 51"""

BOARD_RAW = BOARD_GROUPED  # the pages workload's: the same question

CHILDREN_RAW = "SELECT id, name, level FROM orgs_orgunit WHERE parent_id = %(uid)s ORDER BY sort, code"

_CHILD = "CASE WHEN m.handling_unit_id = %(uid)s THEN '' ELSE split_part(substr(h.path, %(n)s), '/', 1) END"
STATS_RAW = f"""
SELECT {_CHILD} AS child,
  count(*) FILTER (WHERE m.dispatched_at >= %(s)s AND m.dispatched_at < %(e)s) AS volume,
  count(*) FILTER (WHERE m.dispatched_at >= %(s)s AND m.dispatched_at < %(e)s
                   AND m.accepted_at IS NOT NULL AND m.accepted_at <= m.accept_due_at) AS accepted_in_time,
  count(*) FILTER (WHERE m.due_at >= %(s)s AND m.due_at < %(de)s AND m.state <> 'merged') AS due,
  count(*) FILTER (WHERE m.due_at >= %(s)s AND m.due_at < %(de)s AND m.state <> 'merged'
                   AND m.closed_at IS NOT NULL AND m.closed_at <= m.due_at) AS closed_in_time,
  count(*) FILTER (WHERE m.state IN ('dispatched', 'in_progress') AND m.due_at < %(now)s) AS open_overdue_now,
  count(*) FILTER (WHERE m.closed_at >= %(s)s AND m.closed_at < %(e)s AND m.state = 'closed') AS closed,
  avg(m.handling_hours) FILTER (WHERE m.closed_at >= %(s)s AND m.closed_at < %(e)s AND m.state = 'closed')
    AS mean_hours,
  percentile_disc(0.9) WITHIN GROUP (ORDER BY m.handling_hours)
    FILTER (WHERE m.closed_at >= %(s)s AND m.closed_at < %(e)s AND m.state = 'closed'
            AND m.handling_hours IS NOT NULL) AS p90_hours
FROM loop_matter m JOIN orgs_orgunit h ON h.id = m.handling_unit_id
WHERE h.path LIKE %(p)s
GROUP BY GROUPING SETS ((1), ())"""

RATINGS_RAW = f"""
SELECT {_CHILD} AS child, count(*) AS rated, count(*) FILTER (WHERE r.resolved) AS resolved,
       count(*) FILTER (WHERE r.satisfaction IN ('satisfied', 'basic')) AS satisfied
FROM loop_rating r JOIN loop_matter m ON m.id = r.matter_id JOIN orgs_orgunit h ON h.id = m.handling_unit_id
WHERE h.path LIKE %(p)s AND r.rated_at >= %(s)s AND r.rated_at < %(e)s
GROUP BY GROUPING SETS ((1), ())"""


def _fetch(raw, sql, params):
    with raw.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def read_cases(world: World, raw, now):
    """(name → (orm_fn, raw_fn, http_path)) for the three reads, with a correctness check."""
    from types import SimpleNamespace

    from django.utils import timezone

    from bihuan.loop import api as loop_api
    from bihuan.loop import metrics, selectors

    town, city = world.town, world.city
    year_start = now - dt.timedelta(days=365)

    def inbox_orm():
        # The API view's own code (GET /api/v1/matters?tab=overdue), called without HTTP; ``now`` is
        # the view's timezone.now(), a moment after the raw query's: only matters within that moment differ.
        return loop_api.list_matters(SimpleNamespace(user=world.user("bench_town")), tab="overdue",
                                     limit=50)["items"]

    def inbox_raw():
        return _fetch(raw, INBOX_RAW, {"p": town.path + "%", "now": timezone.now()})

    def board_orm():
        return selectors.supervision_board(world.user("bench_city"), city, now=now)

    def board_raw():
        return _fetch(raw, BOARD_RAW, {"p": city.path + "%", "uid": city.pk, "n": len(city.path) + 1, "now": now}), \
            _fetch(raw, CHILDREN_RAW, {"uid": city.pk})

    def stats_orm():
        return metrics.children_metrics(city, start=year_start, end=now, now=now)

    def stats_raw():
        p = {"p": city.path + "%", "uid": city.pk, "n": len(city.path) + 1, "s": year_start, "e": now, "de": now,
             "now": now}
        return _fetch(raw, STATS_RAW, p), _fetch(raw, RATINGS_RAW, p), _fetch(raw, CHILDREN_RAW, {"uid": city.pk})

    # The baselines must answer the same question.
    a, b = [m.pk for m in inbox_orm()], [r[0] for r in inbox_raw()[:50]]
    assert a == b, ("inbox differs", a[:5], b[:5])
    board = {str(r["unit_id"]) if not r.get("own") else "": r for r in board_orm()}
    for row in board_raw()[0]:
        assert board[row[0]]["open"] == row[1] and board[row[0]]["red"] == row[2], ("board differs", row)
    sm = stats_orm()
    rs = {r[0]: r for r in stats_raw()[0]}
    for c in sm["children"]:
        r = rs.get(str(c["unit_id"]))
        if r:
            assert (c["volume"], c["due"], c["closed"]) == (r[1], r[3], r[6]), ("stats differ", c, r)
            assert c["p90_hours"] == r[8], ("p90 differs", c["p90_hours"], r[8])
    assert sm["unit"]["volume"] == rs[None][1], ("stats total differs", sm["unit"]["volume"], rs[None][1])
    frm, to = year_start.isoformat(), now.isoformat()
    from urllib.parse import quote

    return {
        "inbox_township_overdue": (inbox_orm, inbox_raw, "/api/v1/matters?tab=overdue&limit=50", "bench_town"),
        "board_city": (board_orm, board_raw, f"/api/v1/supervision/board?unit={city.pk}", "bench_city"),
        "stats_city_year": (stats_orm, stats_raw, f"/api/v1/stats/units?unit={city.pk}&from={quote(frm)}&to={quote(to)}",
                            "bench_city"),
    }


def measure_reads(world, raw, now, n: int, names=None) -> dict:
    out = {}
    for name, (orm, rawfn, _path, _user) in read_cases(world, raw, now).items():
        if names and name not in names:
            continue
        rounds = n if not name.startswith("stats") else max(5, n // 20)
        s = interleaved({"orm": orm, "raw": rawfn}, rounds, warmup=2)
        o, r = summary(s["orm"]), summary(s["raw"])
        out[name] = {"orm": o, "raw_sql": r, "ratio_p95": ratio(o["p95_ms"], r["p95_ms"]),
                     "ratio_p50": ratio(o["p50_ms"], r["p50_ms"])}
    return out


class Http:
    """Sequential keep-alive requests with a bearer token (for single-client latency)."""

    def __init__(self, port: int, token: str | None):
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, headers: dict | None = None) -> bytes:
        import http.client

        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=headers or self.headers)
                r = self.conn.getresponse()
                body = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closes idle keep-alive connections after 2 s: reconnect once.
                self.conn.close()
                if attempt == 2:
                    raise
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:300]!r}")
        return body


_SCOPED = """(m.location_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR m.handling_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR m.dispatch_unit_id IN (SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)
    OR EXISTS (SELECT 1 FROM loop_matterassist a JOIN orgs_orgunit u ON u.id = a.unit_id
               WHERE a.matter_id = m.id AND u.path LIKE %(p)s))"""
_IN_SUBTREE = "(SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)"
# The web inbox page by hand: the seven tab counts in one pass, and the 已超期 page (25 rows by due date).
INBOX_WEB_COUNTS_RAW = f"""
SELECT count(*) FILTER (WHERE m.state = 'new' AND m.dispatch_unit_id IN {_IN_SUBTREE}),
       count(*) FILTER (WHERE m.state = 'dispatched' AND m.handling_unit_id IN {_IN_SUBTREE}),
       count(*) FILTER (WHERE m.state = 'in_progress' AND NOT {OVERDUE_SQL} AND NOT {YELLOW_SQL}),
       count(*) FILTER (WHERE {YELLOW_SQL}),
       count(*) FILTER (WHERE {OVERDUE_SQL}),
       count(*) FILTER (WHERE m.state = 'reported' AND m.dispatch_unit_id IN {_IN_SUBTREE}),
       count(*) FILTER (WHERE m.state = 'closed')
FROM loop_matter m JOIN (
    SELECT id FROM loop_matter WHERE location_unit_id IN {_IN_SUBTREE}
    UNION SELECT id FROM loop_matter WHERE handling_unit_id IN {_IN_SUBTREE}
    UNION SELECT id FROM loop_matter WHERE dispatch_unit_id IN {_IN_SUBTREE}
    UNION SELECT matter_id FROM loop_matterassist WHERE unit_id IN {_IN_SUBTREE}) s ON s.id = m.id"""
INBOX_WEB_PAGE_RAW = f"""
SELECT m.id, m.title, m.state, m.created_at, m.due_at, m.flagged, c.name, l.name, h.name
FROM loop_matter m JOIN loop_category c ON c.id = m.category_id JOIN orgs_orgunit l ON l.id = m.location_unit_id
     LEFT JOIN orgs_orgunit h ON h.id = m.handling_unit_id
WHERE {_SCOPED} AND {OVERDUE_SQL} ORDER BY m.due_at, m.id LIMIT 25"""


def session_cookie(user) -> str:
    """A logged-in session as the login page leaves it: password and second factor done (the bench
    users' roles require 2FA; the code step itself is not what is measured)."""
    from importlib import import_module

    from django.conf import settings

    from bihuan.accounts import otp

    s = import_module(settings.SESSION_ENGINE).SessionStore()
    s["_auth_user_id"] = str(user.pk)
    s["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    s["_auth_user_hash"] = user.get_session_auth_hash()
    s[otp.SESSION_KEY] = otp.VERIFIED
    s.create()
    return f"sessionid={s.session_key}"


def measure_web_pages(world, port: int, n: int, raw) -> dict:
    """The web pages themselves (session login): the 已超期 tab and the city's supervision board."""
    from django.utils import timezone

    empty = Http(port, None)
    town_cookie = {"Cookie": session_cookie(world.users["bench_town"])}
    city_cookie = {"Cookie": session_cookie(world.users["bench_city"])}
    page = Http(port, None)

    def inbox_raw():
        p = {"p": world.town.path + "%", "now": timezone.now()}
        _fetch(raw, INBOX_WEB_COUNTS_RAW, p)
        _fetch(raw, INBOX_WEB_PAGE_RAW, p)

    s = interleaved({"inbox": lambda: page.get("/loop/?tab=overdue", town_cookie),
                     "board": lambda: page.get("/loop/board/", city_cookie),
                     "empty_view": lambda: empty.get("/bench/empty"), "inbox_raw": inbox_raw}, n, warmup=2)
    out = {k: summary(v) for k, v in s.items()}
    out["ratio_p95_inbox_vs_raw_plus_empty"] = ratio(out["inbox"]["p95_ms"],
                                                     out["inbox_raw"]["p95_ms"] + out["empty_view"]["p95_ms"])
    return out


def measure_http_reads(world, port: int, n: int, now, raw) -> dict:
    """The same reads through gunicorn, interleaved with the empty view (request overhead)."""
    out = {}
    cases = read_cases(world, raw, now)
    empty = Http(port, None)
    for name, (_orm, rawfn, path, user) in cases.items():
        h = Http(port, world.tokens[user])
        rounds = n if not name.startswith("stats") else max(5, n // 20)
        s = interleaved({"http": lambda h=h, path=path: h.get(path), "empty_view": lambda: empty.get("/bench/empty"),
                         "raw": rawfn}, rounds, warmup=2)
        hs, es, rs = summary(s["http"]), summary(s["empty_view"]), summary(s["raw"])
        out[name] = {"http": hs, "empty_view": es, "raw_sql": rs,
                     "ratio_p95_http_vs_raw_plus_empty": ratio(hs["p95_ms"], rs["p95_ms"] + es["p95_ms"]),
                     "ratio_p95_http_vs_raw": ratio(hs["p95_ms"], rs["p95_ms"])}
    return out


# --- HTTP writes: intake and transitions --------------------------------------------------------

def intake_op(world, cats, key_prefix: str, created: list):
    async def op(session, rec, i):
        body = {"category": cats[i % len(cats)], "location_unit": world.villages[i % len(world.villages)],
                "title": f"压测事项 {i}", "description": "路面破损，影响通行，请尽快处理。",
                "reporter_name": "王先生", "reporter_phone": f"138{i % 100000000:08d}"}
        data = await rec.request(session, "POST", "/api/v1/matters", json=body,
                                 headers={"Idempotency-Key": f"{key_prefix}-{i}"})
        created.append(json.loads(data)["id"])
    return op


def lifecycle_op(world, ids: list[int]):
    town = {"Authorization": f"Bearer {world.tokens['bench_town']}"}
    village = {"Authorization": f"Bearer {world.tokens['bench_village']}"}
    steps = [("dispatch", town, {"handling_unit": world.village.pk}), ("accept", village, {}),
             ("report_done", village, {"comment": "已处理完毕，现场已整改。"}), ("evaluate", town, {"passed": True})]

    async def op(session, rec, i):
        mid, version = ids[i], 1
        for action, headers, extra in steps:
            data = await rec.request(session, "POST", f"/api/v1/matters/{mid}/actions/{action}",
                                     json={"version": version, **extra}, headers=headers)
            version = json.loads(data)["version"]
    return op


def peer_intake_op(info, created: list):
    async def op(session, rec, i):
        body = {"queue": info["queue_id"], "title": f"Bench ticket {i}", "description": "The road is broken.",
                "submitter_email": f"r{i}@example.org", "priority": 3}
        data = await rec.request(session, "POST", "/api/tickets/", json=body)
        created.append(json.loads(data)["id"])
    return op


def peer_lifecycle_op(info, ids: list[int]):
    async def op(session, rec, i):
        for status, title in ((3, "Resolved"), (4, "Closed")):
            await rec.request(session, "POST", "/api/followups/",
                              json={"ticket": ids[i], "user": info["user_id"], "title": title,
                                    "comment": "Done.", "new_status": status, "public": True})
    return op


def load_result(res) -> dict:
    lat = summary(res.rec.requests)
    return {"ops": res.ops, "failed": res.failed, "wall_s": round(res.wall_s, 2),
            "ops_per_s": round(res.ops_per_s, 1), "requests_per_s": round(res.requests_per_s, 1),
            "request_latency": lat, "op_latency": summary(res.op_latencies),
            "errors": res.rec.errors, "error_samples": res.rec.samples}


# --- sweep --------------------------------------------------------------------------------------

PRIME_SQL = """
INSERT INTO loop_reminder (matter_id, kind, point, deadline, automatic, unit_id, created_at)
SELECT m.id, 'remind', %(label)s || '@' || to_char(m.{field} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       m.{field}, true, COALESCE(m.handling_unit_id, m.dispatch_unit_id), %(now)s
FROM loop_matter m
WHERE {cond} AND m.id <> ALL(%(skip)s::bigint[])
ON CONFLICT DO NOTHING"""
ACCEPT_COND = "m.state = 'dispatched' AND m.accept_due_at < %(now)s"
WARN_COND = "m.state IN ('dispatched', 'in_progress') AND m.warn_at <= %(now)s AND m.due_at >= %(now)s"
FLAG_OVERDUE = f"UPDATE loop_matter m SET flagged = true, flagged_at = %(now)s WHERE NOT m.flagged AND {OVERDUE_SQL}"


def prime_reminders(raw, now, skip_ids: list[int]) -> None:
    """What earlier sweeps would have emitted: every point due by ``now`` except for ``skip_ids``."""
    skip = list(skip_ids)
    with raw.cursor() as cur:
        cur.execute(PRIME_SQL.format(field="accept_due_at", cond=ACCEPT_COND),
                    {"label": "accept", "now": now, "skip": skip})
        cur.execute(PRIME_SQL.format(field="due_at", cond=WARN_COND), {"label": "warn", "now": now, "skip": skip})
        cur.execute("ANALYZE loop_reminder")


def bench_sweep(raw, now, fresh: int) -> dict:
    from bihuan.loop.models import Matter
    from bihuan.loop.sweep import sweep

    out = {}
    with raw.cursor() as cur:
        cur.execute("SELECT count(*) FROM loop_matter WHERE state IN ('new', 'dispatched', 'in_progress', 'reported')")
        open_n = cur.fetchone()[0]
        # Matters whose points are left for the measured sweep to emit.
        cur.execute(f"SELECT id FROM loop_matter m WHERE ({WARN_COND}) OR ({ACCEPT_COND}) ORDER BY id DESC LIMIT %(k)s",
                    {"now": now, "k": fresh})
        skip = [r[0] for r in cur.fetchall()]
        cur.execute(FLAG_OVERDUE, {"now": now})
        # And overdue matters whose escalation (挂牌督办) is left for the sweep: unflag some.
        cur.execute(f"""UPDATE loop_matter SET flagged = false, flagged_unit_id = NULL, flagged_at = NULL
                        WHERE id IN (SELECT id FROM loop_matter m WHERE m.flagged AND {OVERDUE_SQL}
                                     ORDER BY id DESC LIMIT %(k)s)""", {"now": now, "k": max(1, fresh - len(skip))})
        unflagged = cur.rowcount
    prime_reminders(raw, now, skip)
    say(f"sweep: {open_n:,} open matters; {len(skip)} reminders and {unflagged} escalations left to emit")
    t = time.perf_counter()
    r1 = sweep(now)
    emit_s = time.perf_counter() - t
    t = time.perf_counter()
    r2 = sweep(now)
    steady_s = time.perf_counter() - t
    out["realistic"] = {"open_matters": open_n, "emitted": r1.reminders + r1.escalations, "skipped": r1.skipped,
                        "emit_run_s": round(emit_s, 3), "steady_run_s": round(steady_s, 3),
                        "emitted_per_s": round((r1.reminders + r1.escalations) / emit_s, 1) if emit_s else None,
                        "second_run_emitted": r2.reminders + r2.escalations,
                        "open_matters_per_s_steady": round(open_n / steady_s) if steady_s else None}
    # Stress: every matter open, deadlines spread from 2 days ago to 10 days ahead, points already emitted
    # (overdue ones flagged), so the sweep must look at all of them and emit nothing. Rolled back afterwards.
    total = Matter.objects.count()
    say(f"sweep: stress with all {total:,} matters open (in a transaction, rolled back) …")
    raw.autocommit = False
    try:
        with raw.cursor() as cur:
            cur.execute("""UPDATE loop_matter SET state = 'in_progress', closed_at = NULL, reported_at = NULL,
                           handling_hours = NULL, handling_unit_id = COALESCE(handling_unit_id, location_unit_id),
                           accepted_at = COALESCE(accepted_at, created_at),
                           dispatched_at = COALESCE(dispatched_at, created_at),
                           due_at = {due}, warn_at = {due} - interval '1 day', accept_due_at = {due}"""
                        .replace("{due}", "(%(now)s + (((id * 7919) %% 1000000) / 1000000.0 * 12 - 2) * interval '1 day')"),
                        {"now": now})
            cur.execute(FLAG_OVERDUE, {"now": now})
        prime_reminders(raw, now, [])
        with raw.cursor() as cur:
            cur.execute("ANALYZE loop_matter")
            cur.execute("SELECT count(*) FROM loop_matter WHERE state = 'in_progress'")
            open_all = cur.fetchone()[0]
        # The sweep runs on Django's connection, which cannot see this uncommitted transaction: run the
        # sweep's three candidate queries here instead, exactly as sweep() builds them.
        t = time.perf_counter()
        n_candidates = _sweep_candidates_on(raw, now)
        scan_s = time.perf_counter() - t
        out["all_open"] = {"open_matters": open_all, "candidates": n_candidates, "scan_s": round(scan_s, 3),
                           "open_matters_per_s": round(open_all / scan_s) if scan_s else None}
    finally:
        raw.rollback()
        raw.autocommit = True
        with raw.cursor() as cur:
            cur.execute("VACUUM ANALYZE loop_matter")  # the rolled-back UPDATE left dead index entries
    return out


def _sweep_candidates_on(raw, now) -> int:
    """The SQL of sweep()'s three candidate queries (taken from the ORM), run on ``raw``."""
    from django.db import connection
    from django.db.models import Q

    from bihuan.loop import sweep as sw
    from bihuan.loop.models import Matter, ReminderKind, State
    from bihuan.loop.selectors import overdue_q

    plans = [("accept", ReminderKind.REMIND, "accept_due_at", Q(state=State.DISPATCHED, accept_due_at__lt=now)),
             ("warn", ReminderKind.REMIND, "due_at",
              Q(state__in=[State.DISPATCHED, State.IN_PROGRESS], warn_at__lte=now, due_at__gte=now)),
             ("overdue", ReminderKind.ESCALATE, "due_at", overdue_q(now) & Q(flagged=False))]
    n = 0
    for label, kind, field, cond in plans:
        qs = (Matter.objects.filter(cond).filter(sw._not_emitted(kind, label, field))
              .only("id", "version", field).order_by("id"))
        sql, params = qs.query.sql_with_params()
        sql = connection.ops.compose_sql(sql, params)
        with raw.cursor() as cur:
            cur.execute(sql)
            n += len(cur.fetchall())
    return n


# --- import -------------------------------------------------------------------------------------

def bench_import(url: str, rows: int, env: dict) -> dict:
    from django.db import connection

    from bench.people_bench import bare_copy_seconds, write_csv
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.people.models import Household, Person

    data_dir = ROOT / "var" / "bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    grids = list(OrgUnit.objects.filter(level=Level.GRID).values_list("code", flat=True).order_by("code")[:200])
    csv_path = data_dir / f"suite-people-{rows}.csv"
    xlsx_path = data_dir / f"suite-people-{rows}.xlsx"
    if not csv_path.exists():
        say(f"import: writing {rows:,} rows of CSV …")
        write_csv(csv_path, rows, grids)
    if not xlsx_path.exists():
        say(f"import: writing {rows:,} rows of XLSX …")
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            for r in csv.reader(fh):
                ws.append(r)
        wb.save(xlsx_path)
    out = {"rows": rows, "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
           "xlsx_mb": round(xlsx_path.stat().st_size / 1e6, 1)}
    tables = [m._meta.db_table for m in (Person, Household)]

    def empty_people():
        with connection.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")

    # Baseline: COPY of the same rows (the CSV) into a bare table of text columns.
    copy_s = bare_copy_seconds(connection, csv_path)
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_people_copy")
    out["copy_s"] = round(copy_s, 2)
    out["copy_rows_per_s"] = round(rows / copy_s)
    cli = [sys.executable, "-m", "bihuan.cli", "import", "people"]
    for fmt, path in (("csv", csv_path), ("xlsx", xlsx_path)):
        empty_people()
        connection.close()
        say(f"import: bihuan import people {path.name} …")
        t = time.perf_counter()
        p = subprocess.run([*cli, str(path), "-v0"], env=env, cwd=ROOT, capture_output=True, text=True)
        secs = time.perf_counter() - t
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {tables[0]}")
            n = cur.fetchone()[0]
        ok = p.returncode == 0 and n >= rows
        out[fmt] = {"seconds": round(secs, 2), "rows_per_s": round(rows / secs), "ratio_vs_copy": ratio(secs, copy_s, 1),
                    "persons_in_db": n, "ok": ok}
        if not ok:
            out[fmt]["error"] = (p.stdout[-800:] + p.stderr[-800:]).strip()
    empty_people()
    return out


# --- the run ------------------------------------------------------------------------------------

class guard:
    """Record a workload's failure in the results and go on with the next one."""

    def __init__(self, results: dict, name: str):
        self.results, self.name = results, name

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        import traceback

        text = "".join(traceback.format_exception(typ, exc, tb))
        self.results.setdefault("errors", {})[self.name] = text[-3000:]
        say(f"{self.name} FAILED: {typ.__name__}: {exc}")
        print(text, file=sys.stderr, flush=True)
        return True


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=list(SCALES), default="smoke")
    ap.add_argument("--only", action="append", choices=WORKLOADS, help="run only this workload (repeatable)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--db-url", default=None, help="postgres://…/NAME (NAME must contain 'bench')")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the suite's database from an earlier run of the same scale (no growth steps)")
    ap.add_argument("--matters", type=int, help="override the 1x matter volume")
    ap.add_argument("--reads", type=int, help="override the rounds of each read (HTTP: half)")
    ap.add_argument("--import-rows", type=int, help="override the import rows")
    args = ap.parse_args(argv)
    only = set(args.only or WORKLOADS)
    cfg = dict(SCALES[args.scale])
    if args.matters:
        cfg["matters"] = args.matters
    if args.reads:
        cfg["reads"] = args.reads
    if args.import_rows:
        cfg["import_rows"] = args.import_rows
    url = args.db_url or os.environ.get("BENCH_DATABASE_URL") or \
        f"postgres://postgres@127.0.0.1:5432/bihuan_bench_{args.scale}"
    reused = prepare_database(url, args.reuse)
    env = {**os.environ, "DATABASE_URL": url, "BIHUAN_VAR_DIR": str(ROOT / "var" / "bench"),
           "DJANGO_SETTINGS_MODULE": "bench.suite.settings", "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    import django

    django.setup()
    import logging

    logging.getLogger("bihuan.notify").setLevel(logging.WARNING)  # the sweep's notifications
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bench.tree_bench import machine_info

    say(f"scale={args.scale} database={pg_params(url)['dbname']} workloads={','.join(w for w in WORKLOADS if w in only)}")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    results: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "scale": args.scale,
                     "config": cfg, "machine": machine_info(pg_version), "workers": WORKERS, "clients": CLIENTS,
                     "workloads": {}}
    try:
        import importlib.metadata as md

        results["machine"]["gunicorn"] = md.version("gunicorn")
    except Exception:  # noqa: BLE001
        pass
    W = results["workloads"]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    from bihuan.loop.models import Matter
    from bihuan.orgs.models import OrgUnit

    if not OrgUnit.objects.exists():
        say(f"seeding the {cfg['tree']} tree …")
        results["setup"] = {"tree": seed_tree(args.scale)}
        with connection.cursor() as cur:
            cur.execute("ANALYZE")  # as autovacuum would, before anyone reads
    world = World()
    raw = raw_conn(url)
    now = timezone.now()

    def save():
        (out_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n")
        (out_dir / "results.md").write_text(markdown(results))

    # -- data, growth, inbox, stats ------------------------------------------------------------
    reads_wanted = only & {"inbox", "pages", "stats", "growth", "sweep"}
    if reads_wanted:
        from . import data

        have = Matter.objects.count()
        target = cfg["matters"]
        steps = [0.25, 0.5, 1.0] if ("growth" in only and have == 0) else [1.0]
        growth = []
        names = set()
        if "inbox" in only or "growth" in only:
            names |= {"inbox_township_overdue", "board_city"}
        if "stats" in only or "growth" in only:
            names.add("stats_city_year")
        for i, f in enumerate(steps):
            want = int(target * f)
            if have < want:
                say(f"data: generating {want - have:,} matters (to {want:,}) …")
                t = time.perf_counter()
                data.generate(want - have, 1000 + i, now,
                              progress=lambda d, n: say(f"data: {d:,}/{n:,}") if d % 500_000 == 0 else None)
                results.setdefault("setup", {})[f"data_{f}x_s"] = round(time.perf_counter() - t, 1)
                have = want
            if names:
                say(f"reads at {f}x ({have:,} matters) …")
                m = measure_reads(world, raw, now, cfg["reads"], names)
                growth.append({"scale_factor": f, "matters": have, **m})
                save()
        if len(growth) > 1 and "growth" in only:
            base = growth[0]
            W["growth"] = {"steps": [{"scale_factor": g["scale_factor"], "matters": g["matters"],
                                      **{k: {"orm_p95_ms": g[k]["orm"]["p95_ms"], "raw_p95_ms": g[k]["raw_sql"]["p95_ms"],
                                             "orm_cost_vs_0.25x": ratio(g[k]["orm"]["p95_ms"], base[k]["orm"]["p95_ms"]),
                                             "raw_cost_vs_0.25x": ratio(g[k]["raw_sql"]["p95_ms"],
                                                                        base[k]["raw_sql"]["p95_ms"])}
                                         for k in g if isinstance(g[k], dict) and "orm" in g[k]}}
                                     for g in growth]}
        final = growth[-1] if growth else {}
        if "inbox" in only and final:
            W["inbox"] = {"matters": final["matters"], "township": world.town.name,
                          "township_overdue": final["inbox_township_overdue"], "city_board": final["board_city"]}
        if "stats" in only and final:
            W["stats"] = {"matters": final["matters"], "city_year": final["stats_city_year"]}
        save()

    # -- HTTP: intake, transition, memory, reads over HTTP; the peer ---------------------------------
    http_wanted = only & {"intake", "transition", "memory", "inbox", "pages", "stats"}
    if http_wanted:
        from .common import bihuan_server

        port = free_port()
        cats = ["road", "sanitation", "water", "streetlight"]
        log = out_dir / "server-bihuan.log"
        with bihuan_server(port, env, log) as srv:
            base = f"http://127.0.0.1:{port}"
            say(f"bihuan: gunicorn with {WORKERS} workers × 2 threads on :{port}")

            created: list[int] = []
            if only & {"intake", "transition", "memory"}:
                with guard(results, "intake_transition"), contextlib.ExitStack() as stack:
                    peer_ctx = None
                    try:
                        peer_ctx = start_peer(results, url, out_dir, stack)
                    except Exception as exc:  # noqa: BLE001 - Bihuan's figures still count
                        results.setdefault("errors", {})["peer"] = f"{type(exc).__name__}: {exc}"
                        say(f"peer FAILED to start: {exc}")
                    run_writes(results, cfg, only, world, base, srv, peer_ctx, cats, created)
                save()
            if only & {"inbox", "stats"} and Matter.objects.count() > 0:
                say("reads over HTTP (with the empty-view baseline) …")
                with guard(results, "http_reads"):
                    hr = measure_http_reads(world, port, max(20, cfg["reads"] // 2), now, raw)
                    if "inbox" in W:
                        W["inbox"]["http"] = {k: hr[k] for k in ("inbox_township_overdue", "board_city")}
                    if "stats" in W:
                        W["stats"]["http"] = hr["stats_city_year"]
                if "inbox" in W:
                    say("web pages: 已超期 tab and supervision board …")
                    with guard(results, "web_pages"):
                        W["inbox"]["web"] = measure_web_pages(world, port, max(20, cfg["reads"] // 2), raw)
                save()
            if "pages" in only and Matter.objects.count() > 0:
                from .pages import measure_pages

                say("web pages (inbox tabs and board, city and township users) …")
                with guard(results, "pages"):
                    W["pages"] = measure_pages(world, port, max(20, cfg["reads"] // 2), raw)
                save()

    if "sweep" in only:
        say("sweep …")
        with guard(results, "sweep"):
            W["sweep"] = bench_sweep(raw, now, cfg["sweep_fresh"])
        save()

    if "import" in only:
        with guard(results, "import"):
            W["import"] = bench_import(url, cfg["import_rows"], env)
        save()

    from .workloads import Context

    ctx = Context(url=url, raw=raw, now=now, scale=args.scale, cfg=cfg, say=say)
    for name, mod in APP_WORKLOADS.items():
        if name in only:
            say(f"{name} …")
            with guard(results, name):
                W[name] = mod.run(ctx)
            save()

    results["wall_s"] = round(time.perf_counter() - T0, 1)
    results["reused_database"] = reused
    save()
    print(markdown(results))
    say(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")


def start_peer(results: dict, url: str, out_dir: Path, stack) -> dict:
    """Set up django-helpdesk and start it under the same gunicorn flags; returns what drives it."""
    from bench import peer

    from .common import Server

    pg = pg_params(url)
    say("peer: setting up django-helpdesk (own venv, own project, own database) …")
    info = peer.setup(pg, log=say)
    results["peer"] = {"name": info["version"], "database": peer.PEER_DB}
    port = free_port()
    srv = stack.enter_context(Server(peer.gunicorn_argv("127.0.0.1", port, WORKERS), peer.peer_env(pg), peer.PROJECT,
                                     f"http://127.0.0.1:{port}/api/", out_dir / "server-peer.log"))
    say(f"peer: gunicorn with {WORKERS} workers × 2 threads on :{port}")
    return {"info": info, "port": port, "srv": srv, "base": f"http://127.0.0.1:{port}",
            "auth": {"Authorization": f"Token {info['token']}"}}


ROUNDS = 3  # Bihuan and the peer take turns, so a change in background load hits both


def _merge(parts: list):
    from .loadgen import Recorder, Result

    rec = Recorder()
    for p in parts:
        rec.requests += p.rec.requests
        for k, v in p.rec.errors.items():
            rec.errors[k] = rec.errors.get(k, 0) + v
        rec.samples += p.rec.samples[: 5 - len(rec.samples)]
    return Result(sum(p.ops for p in parts), sum(p.failed for p in parts), sum(p.wall_s for p in parts),
                  [x for p in parts for x in p.op_latencies], rec)


def _chunks(n: int) -> list[range]:
    step = -(-n // ROUNDS)
    return [range(i, min(n, i + step)) for i in range(0, n, step)]


def run_writes(results, cfg, only, world, base, srv, peer_ctx, cats, created) -> None:
    """intake, memory and transition for Bihuan and the peer, in alternating rounds."""
    from . import loadgen

    W = results["workloads"]
    n = cfg["intake"] if only & {"intake", "memory"} else cfg["lifecycles"]
    auth = {"Authorization": f"Bearer {world.tokens['bench_town']}"}
    tag = uuid.uuid4().hex[:8]
    peer_created: list[int] = []
    say(f"intake: {n:,} POST /api/v1/matters" + (" and as many POST /api/tickets/ (peer)" if peer_ctx else "")
        + f", {CLIENTS} clients, {ROUNDS} alternating rounds …")
    loadgen.run(base, CLIENTS, 32, intake_op(world, cats, "warm" + tag, []), auth)
    if peer_ctx:
        loadgen.run(peer_ctx["base"], CLIENTS, 32, peer_intake_op(peer_ctx["info"], []), peer_ctx["auth"])
    ours, theirs = [], []
    for chunk in _chunks(n):
        ours.append(loadgen.run(base, CLIENTS, len(chunk), _offset(intake_op(world, cats, tag, created), chunk.start),
                                auth))
        if peer_ctx:
            theirs.append(loadgen.run(peer_ctx["base"], CLIENTS, len(chunk),
                                      peer_intake_op(peer_ctx["info"], peer_created), peer_ctx["auth"]))
    res = _merge(ours)
    if "intake" in only:
        W["intake"] = {"bihuan": load_result(res), "rounds": ROUNDS}
        if theirs:
            pres = _merge(theirs)
            W["intake"]["peer"] = load_result(pres)
            W["intake"]["ratio_req_per_s_vs_peer"] = ratio(res.requests_per_s, pres.requests_per_s)
        say(f"intake: {res.requests_per_s:.0f} req/s" + (f", peer {_merge(theirs).requests_per_s:.0f} req/s"
                                                          if theirs else ""))
    if "memory" in only:
        W["memory"] = {"bihuan_workers": srv.worker_memory()}
        if peer_ctx:
            W["memory"]["peer_workers"] = peer_ctx["srv"].worker_memory()
    if "transition" in only and created:
        m = min(cfg["lifecycles"], len(created), len(peer_created) if peer_ctx else len(created))
        say(f"transition: {m:,} lifecycles each, {CLIENTS} clients, {ROUNDS} alternating rounds …")
        ours, theirs = [], []
        for chunk in _chunks(m):
            ours.append(loadgen.run(base, CLIENTS, len(chunk), lifecycle_op(world, created[chunk.start:chunk.stop])))
            if peer_ctx:
                theirs.append(loadgen.run(peer_ctx["base"], CLIENTS, len(chunk),
                                          peer_lifecycle_op(peer_ctx["info"], peer_created[chunk.start:chunk.stop]),
                                          peer_ctx["auth"]))
        res = _merge(ours)
        W["transition"] = {"bihuan": load_result(res), "rounds": ROUNDS}
        W["transition"]["bihuan"]["transitions_per_s"] = round(len(res.rec.requests) / res.wall_s, 1)
        if theirs:
            pres = _merge(theirs)
            W["transition"]["peer"] = load_result(pres)
            W["transition"]["peer"]["transitions_per_s"] = round(len(pres.rec.requests) / pres.wall_s, 1)
            W["transition"]["ratio_lifecycles_per_s_vs_peer"] = ratio(res.ops_per_s, pres.ops_per_s)
            W["transition"]["ratio_transitions_per_s_vs_peer"] = ratio(
                W["transition"]["bihuan"]["transitions_per_s"], W["transition"]["peer"]["transitions_per_s"])
        say(f"transition: {res.ops_per_s:.1f} lifecycles/s" +
            (f", peer {_merge(theirs).ops_per_s:.1f} lifecycles/s" if theirs else ""))
        if "memory" in W:
            W["memory"]["bihuan_workers_after_transitions"] = srv.worker_memory()
    if peer_ctx:
        # The peer's list (a queue's open tickets, page 1) and its dashboard, one client.
        c = Http(peer_ctx["port"], None)
        info = peer_ctx["info"]
        s = interleaved({"list": lambda: c.get(f"/api/tickets/?status=1&page=1&queue={info['queue_id']}",
                                               peer_ctx["auth"]),
                         "dashboard": lambda: c.get("/dashboard/", {"Cookie": f"sessionid={info['session']}"})},
                        cfg["peer_list"], warmup=1)
        results["peer"]["reads"] = {"tickets": len(peer_created), "list_open_page1": summary(s["list"]),
                                    "dashboard": summary(s["dashboard"])}


def _offset(op, start: int):
    async def shifted(session, rec, i):
        return await op(session, rec, start + i)
    return shifted


# --- report -------------------------------------------------------------------------------------

def _g(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _f(v, unit="") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:,.2f}" if v < 100 else f"{v:,.0f}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}{unit}"


def _status(ok) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def markdown(r: dict) -> str:
    W = r.get("workloads", {})
    m = r.get("machine", {})
    lines = [f"# Bihuan benchmark — scale `{r.get('scale')}`, {r.get('date')}", "",
             f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB RAM; Python {m.get('python')}, "
             f"Django {m.get('django')}, PostgreSQL {m.get('postgresql')}, gunicorn {m.get('gunicorn')} "
             f"({r.get('workers')} workers × 2 threads); {r.get('clients')} concurrent clients. "
             f"Peer: {_g(r, 'peer', 'name') or '—'}.", "",
             "| workload | figure | baseline (same run) | ratio | target | status |", "|---|---|---|---|---|---|"]

    def row(*cells):
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")

    imp = W.get("import")
    if imp:
        for fmt in ("csv", "xlsx"):
            x = imp.get(fmt, {})
            rt = x.get("ratio_vs_copy")
            row(f"import ({fmt.upper()}, {imp['rows']:,} rows)", f"{_f(x.get('rows_per_s'))} rows/s ({_f(x.get('seconds'))} s)",
                f"COPY {_f(imp.get('copy_rows_per_s'))} rows/s ({_f(imp.get('copy_s'))} s)", f"{_f(rt)}×",
                "≤ 5× COPY", _status(None if rt is None else rt <= 5 and x.get("ok")))
    it = W.get("intake")
    if it:
        b, p = it["bihuan"], it.get("peer") or {}
        lat = b["request_latency"]
        rt = it.get("ratio_req_per_s_vs_peer")
        row("intake (POST /api/v1/matters)", f"{_f(b['requests_per_s'])} req/s; p50/p95/p99 {_f(lat['p50_ms'])}/"
            f"{_f(lat['p95_ms'])}/{_f(lat['p99_ms'])} ms; {b['failed']} failed",
            f"peer {_f(p.get('requests_per_s'))} req/s (p95 {_f(_g(p, 'request_latency', 'p95_ms'))} ms)",
            f"{_f(rt)}×", "≥ 3× peer", _status(None if rt is None else rt >= 3))
    tr = W.get("transition")
    if tr:
        b, p = tr["bihuan"], tr.get("peer") or {}
        rt = tr.get("ratio_lifecycles_per_s_vs_peer")
        row("transition (dispatch→accept→report_done→evaluate)",
            f"{_f(b['ops_per_s'])} lifecycles/s ({_f(b['transitions_per_s'])} transitions/s; p95 "
            f"{_f(b['request_latency']['p95_ms'])} ms); {b['failed']} failed",
            f"peer {_f(p.get('ops_per_s'))} lifecycles/s (open→resolved→closed; {_f(p.get('transitions_per_s'))} "
            f"transitions/s)", f"{_f(rt)}× (per transition {_f(tr.get('ratio_transitions_per_s_vs_peer'))}×)",
            "≥ 3× peer", _status(None if rt is None else rt >= 3))
    ib = W.get("inbox")
    if ib:
        for key, label in (("township_overdue", f"inbox: 已超期 tab, {ib.get('township')}"),
                           ("city_board", "inbox: city supervision board")):
            x = ib[key]
            hk = "inbox_township_overdue" if key == "township_overdue" else "board_city"
            h = _g(ib, "http", hk) or {}
            hp95 = _g(h, "http", "p95_ms")
            ok = None if x["ratio_p95"] is None else (x["ratio_p95"] <= 2 and (hp95 or x["orm"]["p95_ms"]) < 100)
            row(f"{label} ({ib['matters']:,} matters)",
                f"ORM p95 {_f(x['orm']['p95_ms'])} ms; HTTP p95 {_f(hp95)} ms",
                f"raw SQL p95 {_f(x['raw_sql']['p95_ms'])} ms; empty view p95 {_f(_g(h, 'empty_view', 'p95_ms'))} ms",
                f"{_f(x['ratio_p95'])}× (HTTP vs raw+empty {_f(h.get('ratio_p95_http_vs_raw_plus_empty'))}×)",
                "p95 ≤ 2× raw, < 100 ms", _status(ok))
    wb = _g(ib, "web") if ib else None
    if wb:
        row(f"inbox: web page /loop/?tab=overdue, {ib.get('township')}",
            f"p50 {_f(wb['inbox']['p50_ms'])} ms, p95 {_f(wb['inbox']['p95_ms'])} ms",
            f"raw SQL (7 tab counts + page) p95 {_f(wb['inbox_raw']['p95_ms'])} ms; empty view p95 "
            f"{_f(wb['empty_view']['p95_ms'])} ms", f"{_f(wb.get('ratio_p95_inbox_vs_raw_plus_empty'))}× raw+empty",
            "p95 ≤ 2× raw, < 100 ms", _status(None if wb.get("ratio_p95_inbox_vs_raw_plus_empty") is None else
                                             wb["ratio_p95_inbox_vs_raw_plus_empty"] <= 2
                                             and wb["inbox"]["p95_ms"] < 100))
        row("board: web page /loop/board/, city user", f"p50 {_f(wb['board']['p50_ms'])} ms, p95 "
            f"{_f(wb['board']['p95_ms'])} ms", f"empty view p95 {_f(wb['empty_view']['p95_ms'])} ms", "", "< 100 ms",
            _status(wb["board"]["p95_ms"] < 100))
    if W.get("pages"):
        from .pages import markdown_rows

        lines += markdown_rows(W["pages"])
    st = W.get("stats")
    if st:
        x = st["city_year"]
        h = st.get("http") or {}
        row(f"stats: city, per county, one year ({st['matters']:,} matters)",
            f"ORM p50 {_f(x['orm']['p50_ms'])} ms (p95 {_f(x['orm']['p95_ms'])}); HTTP p50 {_f(_g(h, 'http', 'p50_ms'))} ms",
            f"raw SQL p50 {_f(x['raw_sql']['p50_ms'])} ms", f"{_f(x['ratio_p50'])}×", "≤ 2× raw",
            _status(None if x["ratio_p50"] is None else x["ratio_p50"] <= 2))
    sw = W.get("sweep")
    if sw:
        a, s = sw.get("all_open", {}), sw.get("realistic", {})
        row(f"sweep, all {_f(a.get('open_matters'))} matters open (candidate scan)",
            f"{_f(a.get('scan_s'))} s ({_f(a.get('open_matters_per_s'))} matters/s)", "", "",
            "2M open in < 10 s", _status(None if a.get("scan_s") is None else
                                         a["scan_s"] * 2_000_000 / max(a["open_matters"], 1) < 10))
        row(f"sweep, realistic ({_f(s.get('open_matters'))} open)",
            f"steady run {_f(s.get('steady_run_s'))} s; emitting {_f(s.get('emitted'))} points took "
            f"{_f(s.get('emit_run_s'))} s ({_f(s.get('emitted_per_s'))}/s)", "", "", "", "")
    mem = W.get("memory")
    if mem:
        peaks = [w["peak_rss_mb"] for w in mem.get("bihuan_workers", [])]
        ppeaks = [w["peak_rss_mb"] for w in mem.get("peer_workers", [])]
        mx = max(peaks) if peaks else None
        row("memory: peak RSS per gunicorn worker under intake", f"max {_f(mx)} MB ({', '.join(map(str, peaks))})",
            f"peer max {_f(max(ppeaks) if ppeaks else None)} MB", "", "< 250 MB",
            _status(None if mx is None else mx < 250))
        own = [w.get("private_mb") for w in mem.get("bihuan_workers", []) if w.get("private_mb") is not None]
        pown = [w.get("private_mb") for w in mem.get("peer_workers", []) if w.get("private_mb") is not None]
        pss = [w.get("pss_mb") for w in mem.get("bihuan_workers", []) if w.get("pss_mb") is not None]
        ppss = [w.get("pss_mb") for w in mem.get("peer_workers", []) if w.get("pss_mb") is not None]
        if own and pown:
            row("memory: each worker's own (private) memory after intake; PSS",
                f"max {_f(max(own))} MB private, PSS max {_f(max(pss))} MB",
                f"peer max {_f(max(pown))} MB private, PSS max {_f(max(ppss))} MB", "", "≤ peer + 30 MB",
                _status(max(own) <= max(pown) + 30))
    gr = W.get("growth")
    if gr:
        for g in gr["steps"]:
            cells = [f"{k}: ORM p95 {_f(v['orm_p95_ms'])} ms ({_f(v['orm_cost_vs_0.25x'])}× of 0.25×), raw "
                     f"{_f(v['raw_p95_ms'])} ms" for k, v in g.items() if isinstance(v, dict)]
            row(f"growth {g['scale_factor']}× ({g['matters']:,} matters)", "; ".join(cells), "", "",
                "flat (pages), ≤ linear (stats)", "")
    for name, mod in APP_WORKLOADS.items():
        if W.get(name) and hasattr(mod, "rows"):
            for cells in mod.rows(W[name]):
                row(*cells)
    pr = _g(r, "peer", "reads")
    if pr:
        lines += ["", f"Peer reads ({pr['tickets']:,} tickets): list of open tickets, page 1 p50/p95 "
                  f"{_f(pr['list_open_page1']['p50_ms'])}/{_f(pr['list_open_page1']['p95_ms'])} ms; dashboard "
                  f"{_f(pr['dashboard']['p50_ms'])}/{_f(pr['dashboard']['p95_ms'])} ms."]
    for name, err in (r.get("errors") or {}).items():
        lines += ["", f"**{name} failed:** `{err.strip().splitlines()[-1]}`"]
    lines += ["", f"Wall time {_f(r.get('wall_s'))} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
