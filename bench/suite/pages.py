"""The ``pages`` workload: the staff web pages themselves, over HTTP with a real session.

For the city user (scope: the whole city) and a township user (李营-sized, the largest township
of 任城区): the inbox page on its default tab (待交办), on 已超期 and on 已办结, and the supervision
board page; each request is a full page (session, middleware, template, every query the page
runs). Baseline, in the same run and interleaved with the page: the same page's SQL written by
hand through psycopg — the tab counts, the 25 rows of the list (and for the board its grouped
count, the child units, and the overdue-and-flagged list with its count). The baseline answers
the question the page answers: when the page caps the 已办结 count (``selectors.CLOSED_COUNT_CAP``),
so does the baseline. The empty Django view behind the same server gives the request overhead.
"""

from __future__ import annotations

from .common import interleaved, ratio, summary

OVERDUE = ("((m.state IN ('dispatched', 'in_progress') AND m.due_at < %(now)s) "
           "OR (m.state = 'reported' AND m.reported_at > m.due_at))")
YELLOW = ("(m.state IN ('dispatched', 'in_progress') AND m.due_at >= %(now)s AND (m.warn_at <= %(now)s "
          "OR (m.state = 'dispatched' AND m.accept_due_at < %(now)s)))")
LIGHT = f"CASE WHEN m.state IN ('closed', 'merged') THEN 'none' WHEN {OVERDUE} THEN 'red' WHEN {YELLOW} THEN 'yellow' ELSE 'green' END"
SUB = "(SELECT id FROM orgs_orgunit WHERE path LIKE %(p)s)"
OPEN = "IN ('new', 'dispatched', 'in_progress', 'reported')"
RUNNING = "IN ('dispatched', 'in_progress', 'reported')"
CLOSED = "= 'closed'"
# The township's unit ids, fetched first (part of every township baseline's time) as %(ids)s.
UNIT_IDS = "SELECT array_agg(id) FROM orgs_orgunit WHERE path LIKE %(p)s"


def town_ids(state: str, limit: int | None = None) -> str:
    """A township's matters in ``state`` by hand: the four ways into its units (index only), as one
    UNION; with ``limit``, each way stops there (enough to know there are more than ``limit - 1``)."""
    lim = f" LIMIT {limit}" if limit else ""
    return (f"(SELECT id FROM loop_matter WHERE location_unit_id = ANY(%(ids)s) AND state {state}{lim}) "
            f"UNION (SELECT id FROM loop_matter WHERE handling_unit_id = ANY(%(ids)s) AND state {state}{lim}) "
            f"UNION (SELECT id FROM loop_matter WHERE dispatch_unit_id = ANY(%(ids)s) AND state {state}{lim}) "
            "UNION (SELECT a.matter_id FROM loop_matterassist a JOIN loop_matter am ON am.id = a.matter_id "
            f"WHERE a.unit_id = ANY(%(ids)s) AND am.state {state}{lim})")


# ARRAY(…): the planner takes the few ids as they come, instead of trusting its estimate of the
# UNION (the dispatching-unit column has few distinct values, so it guesses most of the table).
IN_TOWN_OPEN = f"m.id = ANY(ARRAY({town_ids(OPEN)}))"


RUNNING_COUNTS = (f"count(*) FILTER (WHERE m.state = 'dispatched' AND {{u}}), "
                  f"count(*) FILTER (WHERE m.state = 'in_progress' AND NOT {OVERDUE} AND NOT {YELLOW}), "
                  f"count(*) FILTER (WHERE {YELLOW} AND NOT {OVERDUE}), count(*) FILTER (WHERE {OVERDUE}), "
                  f"count(*) FILTER (WHERE m.state = 'reported' AND {{d}})")


def counts_sql(city: bool, closed_cap: int | None) -> list[str]:
    """The seven tab counts (the 已办结 one capped like the page's, when it is)."""
    if city:  # everything: 待交办 from the (state, due_at) index alone, the running tabs in one pass
        closed = "SELECT count(*) FROM loop_matter m WHERE m.state = 'closed'"
        return ["SELECT count(*) FROM loop_matter m WHERE m.state = 'new'",
                f"SELECT {RUNNING_COUNTS.format(u='TRUE', d='TRUE')} FROM loop_matter m WHERE m.state {RUNNING}",
                f"SELECT count(*) FROM (SELECT 1 FROM loop_matter m WHERE m.state = 'closed' LIMIT {closed_cap + 1}) c"
                if closed_cap else closed]
    d = "m.dispatch_unit_id = ANY(%(ids)s)"
    opened = (f"SELECT count(*) FILTER (WHERE m.state = 'new' AND {d}), "
              f"{RUNNING_COUNTS.format(u='m.handling_unit_id = ANY(%(ids)s)', d=d)} "
              f"FROM loop_matter m WHERE {IN_TOWN_OPEN}")
    closed = (f"SELECT count(*) FROM ({town_ids(CLOSED, closed_cap + 1)} LIMIT {closed_cap + 1}) c" if closed_cap
              else f"SELECT count(*) FROM ({town_ids(CLOSED)}) c")
    return [opened, closed]


JOINS = ("JOIN loop_category c ON c.id = m.category_id JOIN orgs_orgunit l ON l.id = m.location_unit_id "
         "LEFT JOIN orgs_orgunit h ON h.id = m.handling_unit_id")
COLS = f"m.id, m.title, m.state, m.flagged, m.created_at, m.due_at, c.name, l.name, h.name, {LIGHT}"
IN_TOWN = ("(m.location_unit_id = ANY(%(ids)s) OR m.handling_unit_id = ANY(%(ids)s) OR m.dispatch_unit_id = ANY(%(ids)s)"
           " OR EXISTS (SELECT 1 FROM loop_matterassist a WHERE a.matter_id = m.id AND a.unit_id = ANY(%(ids)s)))")


def list_sql(city: bool, tab: str) -> str:
    """The tab's first page (25 rows). Overdue matters are few: select them first, then sort (a walk
    of the due_at index from the oldest deadline passes every closed matter first)."""
    if tab == "closed":  # newest closed first: walk the closed_at index (past the NULLs), checking the scope
        return (f"SELECT {COLS} FROM loop_matter m {JOINS} WHERE m.state = 'closed' AND m.closed_at IS NOT NULL"
                f"{'' if city else ' AND ' + IN_TOWN} ORDER BY m.closed_at DESC, m.id DESC LIMIT 25")
    where, order = {"to_dispatch": ("m.state = 'new'" + ("" if city else " AND m.dispatch_unit_id = ANY(%(ids)s)"),
                                    "m.created_at, m.id"),
                    "overdue": (OVERDUE, "m.due_at, m.id")}[tab]
    if city and tab == "to_dispatch":
        return f"SELECT {COLS} FROM loop_matter m {JOINS} WHERE {where} ORDER BY {order} LIMIT 25"
    if city:
        return (f"WITH o AS MATERIALIZED (SELECT * FROM loop_matter m WHERE {where}) "
                f"SELECT {COLS} FROM o m {JOINS} ORDER BY {order} LIMIT 25")
    return f"SELECT {COLS} FROM loop_matter m {JOINS} WHERE {IN_TOWN_OPEN} AND {where} ORDER BY {order} LIMIT 25"


# The board's counts by child unit: the running matters by their lead unit's path, and the matters
# awaiting dispatch (no lead unit yet) by their location's (``selectors.in_work_q``), summed per child.
WAITING_RED = "m.dispatch_due_at < %(now)s"
WAITING_YELLOW = "(m.dispatch_warn_at <= %(now)s AND m.dispatch_due_at >= %(now)s)"
BOARD_GROUPED = f"""
SELECT child, sum(open)::int AS open, sum(red)::int AS red, sum(yellow)::int AS yellow,
       sum(flagged)::int AS flagged, sum(to_accept)::int AS to_accept, sum(to_evaluate)::int AS to_evaluate
FROM (
  SELECT CASE WHEN m.handling_unit_id = %(uid)s THEN '' ELSE split_part(substr(h.path, %(n)s), '/', 1) END AS child,
         count(*) AS open, count(*) FILTER (WHERE {OVERDUE}) AS red,
         count(*) FILTER (WHERE {YELLOW} AND NOT {OVERDUE}) AS yellow, count(*) FILTER (WHERE m.flagged) AS flagged,
         count(*) FILTER (WHERE m.state = 'dispatched') AS to_accept,
         count(*) FILTER (WHERE m.state = 'reported') AS to_evaluate
  FROM loop_matter m JOIN orgs_orgunit h ON h.id = m.handling_unit_id
  WHERE h.path LIKE %(p)s AND m.state {RUNNING}
  GROUP BY 1
  UNION ALL
  SELECT CASE WHEN m.location_unit_id = %(uid)s THEN '' ELSE split_part(substr(l.path, %(n)s), '/', 1) END,
         count(*), count(*) FILTER (WHERE {WAITING_RED}), count(*) FILTER (WHERE {WAITING_YELLOW}),
         count(*) FILTER (WHERE m.flagged), 0, 0
  FROM loop_matter m JOIN orgs_orgunit l ON l.id = m.location_unit_id
  WHERE m.handling_unit_id IS NULL AND m.state = 'new' AND l.path LIKE %(p)s
  GROUP BY 1
) x GROUP BY child"""
BOARD_CHILDREN = "SELECT id, name, level FROM orgs_orgunit WHERE parent_id = %(uid)s ORDER BY sort, code"
# The board's list: open matters of the unit's subtree (by lead unit, or by place and dispatcher while
# there is none) that are overdue or flagged, by due date; and its count for the pagination.
IN_SUBTREE = f"""(m.handling_unit_id IN {SUB}
       OR (m.handling_unit_id IS NULL AND (m.location_unit_id IN {SUB} OR m.dispatch_unit_id IN {SUB})))"""


def board_sql(city: bool) -> list[str]:
    if city:
        o = f"WITH o AS MATERIALIZED (SELECT * FROM loop_matter m WHERE m.state {OPEN} AND ({OVERDUE} OR m.flagged)) "
    else:
        o = f"WITH o AS MATERIALIZED (SELECT * FROM loop_matter m WHERE {IN_TOWN_OPEN} AND ({OVERDUE} OR m.flagged)) "
    return [BOARD_GROUPED, BOARD_CHILDREN, f"{o}SELECT count(*) FROM o m WHERE {IN_SUBTREE}",
            f"{o}SELECT {COLS} FROM o m {JOINS} WHERE {IN_SUBTREE} ORDER BY m.due_at, m.id LIMIT 25"]


def page_cases(world, closed_cap: int | None) -> dict:
    """name → (user, url, [SQL], params)."""
    out = {}
    for who, unit, city in (("city", world.city, True), ("township", world.town, False)):
        user = "bench_city" if city else "bench_town"
        p = {"p": unit.path + "%", "uid": unit.pk, "n": len(unit.path) + 1}
        counts = counts_sql(city, closed_cap)
        for tab, url in (("to_dispatch", "/loop/"), ("overdue", "/loop/?tab=overdue"), ("closed", "/loop/?tab=closed")):
            out[f"{who}_inbox_{tab}"] = (user, url, [*counts, list_sql(city, tab)], p)
        out[f"{who}_board"] = (user, "/loop/board/", board_sql(city), p)
    return out


def measure_pages(world, port: int, n: int, raw) -> dict:
    """Each page ``n`` times over HTTP, interleaved with its hand-written SQL and the empty view."""
    from django.utils import timezone

    from bihuan.loop import selectors

    from .runner import Http, _fetch, say, session_cookie

    cap = getattr(selectors, "CLOSED_COUNT_CAP", None)
    cookies = {u: {"Cookie": session_cookie(world.users[u])} for u in ("bench_city", "bench_town")}
    http, empty = Http(port, None), Http(port, None)
    out: dict = {"rounds": n, "closed_count_cap": cap, "township": world.town.name, "cases": {}}
    for name, (user, url, sqls, params) in page_cases(world, cap).items():
        def page(url=url, user=user):
            body = http.get(url, cookies[user])
            assert b'data-testid="matter-table"' in body, (url, body[:200])

        def rawfn(sqls=sqls, params=params, town=user == "bench_town"):
            p = {**params, "now": timezone.now()}
            if town:
                p["ids"] = _fetch(raw, UNIT_IDS, p)[0][0]
            for sql in sqls:
                _fetch(raw, sql, p)

        say(f"pages: {name} ({url}) × {n} …")
        s = interleaved({"page": page, "raw_sql": rawfn, "empty_view": lambda: empty.get("/bench/empty")}, n,
                        warmup=2)
        pg, rs, es = summary(s["page"]), summary(s["raw_sql"]), summary(s["empty_view"])
        out["cases"][name] = {
            "url": url, "user": user, "page": pg, "raw_sql": rs, "empty_view": es,
            "ratio_p50": ratio(pg["p50_ms"], rs["p50_ms"] + es["p50_ms"]),
            "ratio_p95": ratio(pg["p95_ms"], rs["p95_ms"] + es["p95_ms"]),
        }
    return out


def markdown_rows(pages: dict) -> list[str]:
    from .runner import _f

    lines = []
    for name, x in pages["cases"].items():
        ok = x["page"]["p95_ms"] < 100 and (x["ratio_p95"] or 99) <= 2
        lines.append(f"| page {name} ({x['url']}) | p50 {_f(x['page']['p50_ms'])} ms, p95 {_f(x['page']['p95_ms'])} ms "
                     f"| raw SQL p50/p95 {_f(x['raw_sql']['p50_ms'])}/{_f(x['raw_sql']['p95_ms'])} ms + empty view "
                     f"p95 {_f(x['empty_view']['p95_ms'])} ms | p50 {_f(x['ratio_p50'])}×, p95 {_f(x['ratio_p95'])}× "
                     f"| p95 ≤ 2× raw+empty, < 100 ms | {'met' if ok else '**missed**'} |")
    return lines
