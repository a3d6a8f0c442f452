"""Reports (issue 17): drafting a bulletin (all registered sections) vs the same figures in
hand-written SQL, rendering it, and the command dashboard cold and warm.

Measured in one run, each against its baseline where there is one:

* ``figures_city`` / ``figures_county`` — the figures of every registered section for the city's
  11 counties / 任城区's townships over the last whole month (``reports.figures.snapshot``: what a
  draft stores) vs the loop's metrics and ratings and the plans' figures written by hand
  (``runner.STATS_RAW``/``RATINGS_RAW`` and two grouped queries): p95 ratio ≤ 2×;
* ``draft`` — ``services.draft`` for the city and for the county, end to end (< 5 s);
* ``render`` — the city bulletin as PDF (< 5 s), DOCX and XLSX (< 2 s), after a first PDF that loads
  the fonts (reported beside it: a server process pays it once);
* ``dashboard`` — ``selectors.dashboard(city)`` with nothing cached (the 12-week trend computed),
  after its cache minute ran out (past weeks and last month cached an hour) and refreshed within
  the minute: p95 < 300 ms cold, < 50 ms warm.

Matters come from the suite's generator up to the scale's 1x volume when fewer exist.
"""

from __future__ import annotations

import time

NAME = "reports"
ROUNDS = {"smoke": 10, "county": 10, "city": 5}

PLANS_DUE_RAW = """
SELECT CASE WHEN a.unit_id = %(uid)s THEN '' ELSE split_part(substr(u.path, %(n)s), '/', 1) END AS child,
       count(*) AS assignments, count(*) FILTER (WHERE a.completed_at IS NOT NULL) AS done
FROM plans_assignment a JOIN orgs_orgunit u ON u.id = a.unit_id JOIN plans_task t ON t.id = a.task_id
JOIN plans_plan p ON p.id = a.plan_id
WHERE p.state = 'published' AND t.due_on >= %(d0)s AND t.due_on < %(d1)s AND u.path LIKE %(p)s
GROUP BY 1"""

PLANS_CHECKIN_RAW = """
SELECT CASE WHEN a.unit_id = %(uid)s THEN '' ELSE split_part(substr(u.path, %(n)s), '/', 1) END AS child,
       count(*) AS checkins, count(*) FILTER (WHERE NOT c.late) AS on_time
FROM plans_checkin c JOIN plans_assignment a ON a.id = c.assignment_id JOIN orgs_orgunit u ON u.id = a.unit_id
WHERE c.at >= %(s)s AND c.at < %(e)s AND u.path LIKE %(p)s
GROUP BY 1"""


def run(ctx) -> dict:
    from django.core.cache import cache

    from bihuan.core import registry
    from bihuan.loop.models import Matter
    from bihuan.orgs.models import OrgUnit
    from bihuan.reports import figures, kinds, render, selectors, services
    from bihuan.reports.models import Bulletin

    from .. import data
    from ..common import interleaved, ratio, summary
    from ..runner import CHILDREN_RAW, RATINGS_RAW, STATS_RAW

    raw, now = ctx.raw, ctx.now
    rounds = ROUNDS.get(ctx.scale, 5)
    have, want = Matter.objects.count(), ctx.cfg["matters"]
    if have < want:
        ctx.say(f"reports: generating {want - have:,} matters …")
        data.generate(want - have, 1700, now)
        with raw.cursor() as cur:
            cur.execute("ANALYZE loop_matter")
            cur.execute("ANALYZE loop_rating")
        raw.commit()
    Bulletin.objects.filter(title__startswith="bench").delete()

    city = OrgUnit.objects.get(parent__isnull=True)
    county = OrgUnit.objects.get(code="370811")
    key = kinds.last_complete("month", now)
    start, end, label = kinds.period_bounds("month", key)
    every = kinds.Template("bench_all", "bench", "month", tuple(sorted(registry.SECTIONS)))

    def orm(unit):
        return figures.snapshot(every, unit, key=key, start=start, end=end, label=label, now=now)

    def hand(unit):
        p = {"p": unit.path + "%", "uid": unit.pk, "n": len(unit.path) + 1, "s": start, "e": end, "de": min(end, now),
             "now": now, "d0": start.date(), "d1": end.date()}
        out = []
        with raw.cursor() as cur:
            for sql in (STATS_RAW, RATINGS_RAW, CHILDREN_RAW, PLANS_DUE_RAW, PLANS_CHECKIN_RAW):
                cur.execute(sql, p)
                out.append(cur.fetchall())
        raw.commit()
        return out

    # The same question: the loop's dispatched volume per county agrees with the hand-written SQL.
    snap = orm(city)
    loop_rows = {r["unit_id"]: r["values"]["volume"] for s in snap["sections"] if s["name"] == "loop.metrics"
                 for r in s["rows"]}
    for row in hand(city)[0]:
        if row[0]:
            assert loop_rows.get(int(row[0])) == row[1], ("volume differs", row)
    times = interleaved({"city_orm": lambda: orm(city), "city_sql": lambda: hand(city),
                         "county_orm": lambda: orm(county), "county_sql": lambda: hand(county)}, rounds, warmup=1)
    s = {k: summary(v) for k, v in times.items()}

    t = time.perf_counter()
    b = services.draft(None, template="monthly_plans", unit=city, period=key, now=now)
    draft_city = time.perf_counter() - t
    t = time.perf_counter()
    services.draft(None, template="monthly_plans", unit=county, period=key, now=now)
    draft_county = time.perf_counter() - t
    rendered = {}
    t = time.perf_counter()
    render.render(b, "pdf")  # the first PDF of a process loads the CJK fonts (a server does it once)
    first_pdf = round(time.perf_counter() - t, 2)
    for fmt in ("pdf", "docx", "xlsx"):
        t = time.perf_counter()
        size = len(render.render(b, fmt))
        rendered[fmt] = {"seconds": round(time.perf_counter() - t, 2), "bytes": size}
    Bulletin.objects.filter(pk__in=Bulletin.objects.filter(created_by__isnull=True, state="draft",
                                                             created_at=now).values("pk")).delete()

    cold, expired, warm = [], [], []
    for _ in range(rounds):
        cache.clear()
        t = time.perf_counter()
        selectors.dashboard(city, now)
        cold.append(time.perf_counter() - t)
        selectors.forget_dashboard(city, now)
        t = time.perf_counter()
        selectors.dashboard(city, now)
        expired.append(time.perf_counter() - t)
        t = time.perf_counter()
        selectors.dashboard(city, now)
        warm.append(time.perf_counter() - t)
    ctx.say(f"reports: city draft {draft_city:.2f} s, PDF {rendered['pdf']['seconds']} s")
    return {
        "matters": Matter.objects.count(), "sections": sorted(registry.SECTIONS), "period": key,
        "figures_city": {"orm": s["city_orm"], "raw_sql": s["city_sql"],
                         "ratio_p95": ratio(s["city_orm"]["p95_ms"], s["city_sql"]["p95_ms"])},
        "figures_county": {"orm": s["county_orm"], "raw_sql": s["county_sql"],
                           "ratio_p95": ratio(s["county_orm"]["p95_ms"], s["county_sql"]["p95_ms"])},
        "draft": {"city_seconds": round(draft_city, 2), "county_seconds": round(draft_county, 2)},
        "render": rendered, "first_pdf_seconds": first_pdf,
        "dashboard": {"cold": summary(cold), "minute_expired": summary(expired), "warm": summary(warm)},
    }


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    out = []
    for key, label in (("figures_city", "bulletin figures, city (11 counties, all sections)"),
                       ("figures_county", "bulletin figures, county (townships, all sections)")):
        x = r[key]
        out.append((f"reports {label} p95", f"{x['orm']['p95_ms']} ms", f"{x['raw_sql']['p95_ms']} ms",
                    x["ratio_p95"], "≤ 2×", ok((x["ratio_p95"] or 99) <= 2)))
    d = r["draft"]
    out.append(("reports draft city / county", f"{d['city_seconds']} s / {d['county_seconds']} s", "", "", "< 5 s",
                ok(d["city_seconds"] < 5 and d["county_seconds"] < 5)))
    for fmt, limit in (("pdf", 5), ("docx", 2), ("xlsx", 2)):
        x = r["render"][fmt]
        first = f"first in process {r['first_pdf_seconds']} s" if fmt == "pdf" else ""
        out.append((f"reports render city bulletin {fmt.upper()} ({x['bytes']:,} bytes)", f"{x['seconds']} s", first,
                    "", f"< {limit} s", ok(x["seconds"] < limit)))
    dc, de, dw = r["dashboard"]["cold"], r["dashboard"]["minute_expired"], r["dashboard"]["warm"]
    out.append(("reports city dashboard p95, nothing cached (12-week trend computed)", f"{dc['p95_ms']} ms", "",
                "", "< 300 ms", ok((dc["p95_ms"] or 1e9) < 300)))
    out.append(("reports city dashboard p95, minute expired (past weeks cached)", f"{de['p95_ms']} ms", "", "",
                "< 300 ms", ok((de["p95_ms"] or 1e9) < 300)))
    out.append(("reports city dashboard p95, refreshed within the minute", f"{dw['p95_ms']} ms", "", "",
                "< 50 ms", ok((dw["p95_ms"] or 1e9) < 50)))
    return out
