"""Plans (issue 12): publishing vs COPY, the progress map vs hand-written SQL, "my tasks", the job.

At ``--scale city`` a plan of 60 monthly tasks goes to every village (~6,000 → ~360k assignments)
with a year of check-ins (~4.3M rows, written in SQL as benchmark data, not through the service).
Measured, each against a baseline in the same run:

* ``publish`` — ``services.publish`` (one ``INSERT … SELECT`` per task) vs ``COPY`` of the same
  rows into a table with the same indexes (target ≤ 5×);
* ``map_city`` / ``map_county`` — ``selectors.progress_map`` (counties × tasks, townships × tasks)
  vs the same aggregate written by hand (thresholds joined as a ``VALUES`` list): p95 ≤ 2× and
  < 300 ms;
* ``my_tasks`` — a village's assignments with their status (p95 < 50 ms) vs raw SQL;
* ``job`` — ``open_overdue_matters`` over all assignments (target < 10 s); about 0.1 % of the
  assignments miss their last check-in, so it opens that many loop matters; a second run opens none;
* ``campaign`` — a 50-day sprint with a target for every village: the campaign page's reads (the
  summary and the first leaderboard page, ranked by progress with the derived status) vs the same
  two queries by hand (target ≤ 2×, < 300 ms).
"""

from __future__ import annotations

import io
import time
from datetime import date, timedelta

NAME = "plans"
TASKS = {"smoke": 10, "county": 30, "city": 60}
ROUNDS = {"smoke": 20, "county": 50, "city": 50}

MAP_SQL = """
SELECT CASE WHEN a.unit_id = %(uid)s THEN '' ELSE split_part(substr(u.path, %(n)s), '/', 1) END AS row,
       a.task_id,
       CASE WHEN a.completed_at IS NOT NULL OR a.last_value >= t.target THEN 'done'
            WHEN a.last_period_start < t.cutoff OR (a.last_period_start IS NULL AND a.first_period_start <= t.cutoff)
              OR (a.reached_seq < t.ms_seq AND (a.last_value IS NULL OR a.last_value < t.ms_value)) THEN 'late'
            WHEN a.last_checkin_at IS NULL THEN 'not_started'
            WHEN a.last_value IS NULL OR a.last_value < t.expected THEN 'at_risk'
            ELSE 'on_track' END AS status,
       count(*), max(a.last_value), max(a.id)
FROM plans_assignment a
JOIN orgs_orgunit u ON u.id = a.unit_id
JOIN (VALUES {values}) AS t(task_id, target, cutoff, ms_seq, ms_value, expected) ON t.task_id = a.task_id
WHERE a.plan_id = %(plan)s AND u.path LIKE %(p)s
GROUP BY 1, 2, 3"""

MY_SQL = """
SELECT a.id, a.task_id, a.last_value, a.last_period_start, t.title, t.due_on
FROM plans_assignment a JOIN plans_task t ON t.id = a.task_id JOIN plans_plan p ON p.id = a.plan_id
WHERE a.unit_id = %(uid)s AND p.state = 'published' AND t.starts_on <= %(today)s
ORDER BY t.due_on, a.task_id, a.unit_id"""


BOARD_SQL = """
SELECT t.id, t.unit_id, t.target, t.last_value, COALESCE(t.last_value, 0) * 100 / t.target AS pct,
       CASE WHEN t.last_value >= t.target THEN 'done'
            WHEN t.last_period_start < %(cutoff)s OR (t.last_period_start IS NULL AND t.first_period_start <= %(cutoff)s)
              THEN 'late'
            WHEN t.last_checkin_at IS NULL THEN 'not_started'
            WHEN t.last_value < t.target * %(expected)s THEN 'at_risk' ELSE 'on_track' END AS status,
       u.name
FROM plans_campaigntarget t JOIN orgs_orgunit u ON u.id = t.unit_id
WHERE t.campaign_id = %(c)s ORDER BY pct DESC, u.path LIMIT 50"""

BOARD_SUM_SQL = """
SELECT count(*), sum(target), sum(last_value),
       count(*) FILTER (WHERE last_value >= target),
       count(*) FILTER (WHERE last_value < target AND (last_period_start < %(cutoff)s OR last_period_start IS NULL))
FROM plans_campaigntarget WHERE campaign_id = %(c)s"""


def _campaign(raw, now):
    """A 50-day sprint of the city, day 20 today, a target for every village and 19 days reported."""
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.plans.services import campaigns

    today = now.date()
    start = today - timedelta(days=19)
    city = OrgUnit.objects.get(parent__isnull=True)
    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True))
    c = campaigns.create_campaign(None, unit=city, title="大干五十天、冲刺四季度", starts_on=start,
                                  ends_on=start + timedelta(days=49), target_unit="万元",
                                  targets=[(v, 100) for v in villages], now=now)
    with raw.cursor() as cur:
        cur.execute("""UPDATE plans_campaigntarget SET last_value = (id * 7919) %% 130, checkins = 19,
                       last_checkin_at = %s, last_period_start = CASE WHEN id %% 50 = 0 THEN %s ELSE %s END
                       WHERE campaign_id = %s""", [now, start, today - timedelta(days=1), c.pk])
    raw.commit()
    return c, len(villages)


def _months_before(d: date, n: int) -> date:
    m = d.month - 1 - n
    return date(d.year + m // 12, m % 12 + 1, 1)


def _reset(raw) -> None:
    # The suite's database only (its name contains "bench"): start from no plans.
    with raw.cursor() as cur:
        cur.execute("TRUNCATE plans_escalation, plans_evidence, plans_checkin, plans_assignment, plans_milestone, "
                    "plans_taskunit, plans_task, plans_keyaction, plans_system, plans_plan CASCADE")
        cur.execute("TRUNCATE plans_campaignescalation, plans_campaigncheckin, plans_campaigntarget, "
                    "plans_campaign CASCADE")
        cur.execute("DROP TABLE IF EXISTS bench_plans_copy")
    raw.commit()


def _make_plan(n_tasks: int, now):
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.plans import services

    city = OrgUnit.objects.get(parent__isnull=True)
    start = _months_before(now.date(), 11)
    end = date(start.year + 1, start.month, 1) - timedelta(days=1)
    plan = services.create_plan(None, unit=city, title="bench 3515", starts_on=start, ends_on=end, now=now)
    system = services.add_system(None, plan, name="体系")
    action = services.add_action(None, plan, system=system, name="行动")
    mid = start + (end - start) / 2
    for i in range(n_tasks):
        services.add_task(None, plan, action=action, title=f"任务{i + 1:02d}", lead_level=Level.VILLAGE,
                          target_value=12, target_unit="项", cadence="monthly", milestones=[("过半", mid, 6)],
                          now=now)
    return plan


def _checkins(raw, plan, now, months: int) -> int:
    """A year of monthly check-ins in SQL (0.1 % of assignments miss the last one), and the roll-up."""
    with raw.cursor() as cur:
        cur.execute("""
            INSERT INTO plans_checkin (assignment_id, at, period_start, due_at, late, value, note, completed, by_name)
            SELECT a.id, (a.first_period_start + (k + 1) * interval '1 month' - interval '1 day' + interval '7 hour'),
                   (a.first_period_start + k * interval '1 month')::date,
                   (a.first_period_start + (k + 1) * interval '1 month' + interval '5 day'),
                   (a.id %% 17 = 0), round((k + 1) * CASE WHEN a.id %% 1000 = 0 THEN 0.5 ELSE 0.7 + (a.id %% 7) / 10.0 END, 2),
                   '', false, 'bench'
            FROM plans_assignment a CROSS JOIN generate_series(0, %(m)s - 1) AS k
            WHERE a.plan_id = %(plan)s AND NOT (a.id %% 1000 = 0 AND k = %(m)s - 1)""",
                    {"plan": plan.pk, "m": months})
        n = cur.rowcount
        cur.execute("""
            UPDATE plans_assignment a SET checkins = c.n, late_checkins = c.late, last_value = c.v,
                   last_period_start = c.p, last_checkin_at = c.at
            FROM (SELECT assignment_id, count(*) AS n, count(*) FILTER (WHERE late) AS late, max(value) AS v,
                         max(period_start) AS p, max(at) AS at
                  FROM plans_checkin GROUP BY assignment_id) c
            WHERE c.assignment_id = a.id AND a.plan_id = %(plan)s""", {"plan": plan.pk})
        cur.execute("ANALYZE plans_assignment")
        cur.execute("ANALYZE plans_checkin")
    raw.commit()
    return n


def _copy_baseline(raw, plan) -> float:
    cols = "plan_id, task_id, unit_id, role, assigned_at, first_period_start, reached_seq, checkins, late_checkins"
    buf = io.BytesIO()
    with raw.cursor() as cur:
        with cur.copy(f"COPY (SELECT {cols} FROM plans_assignment WHERE plan_id = %s) TO STDOUT",
                      (plan.pk,)) as cp:
            for chunk in cp:
                buf.write(chunk)
        cur.execute("CREATE TABLE bench_plans_copy (LIKE plans_assignment INCLUDING ALL)")
    raw.commit()
    data = buf.getvalue()
    t = time.perf_counter()
    with raw.cursor() as cur:
        with cur.copy(f"COPY bench_plans_copy ({cols}) FROM STDIN") as cp:
            for i in range(0, len(data), 1 << 20):
                cp.write(data[i:i + (1 << 20)])
    raw.commit()
    seconds = time.perf_counter() - t
    with raw.cursor() as cur:
        cur.execute("DROP TABLE bench_plans_copy")
    raw.commit()
    return seconds


def run(ctx) -> dict:
    from bihuan.accounts.models import User
    from bihuan.core.calendar import WorkCalendar
    from bihuan.orgs.models import OrgUnit
    from bihuan.plans import selectors, services
    from bihuan.plans import status as st
    from bihuan.plans.models import Assignment

    from ..common import interleaved, ratio, summary

    raw, now = ctx.raw, ctx.now
    n_tasks = TASKS.get(ctx.scale, 10)
    rounds = ROUNDS.get(ctx.scale, 20)
    _reset(raw)
    plan = _make_plan(n_tasks, now)
    t = time.perf_counter()
    published = services.publish(None, plan, version=plan.version, now=now)
    publish_s = time.perf_counter() - t
    plan.refresh_from_db()
    assignments = published["assigned"]
    copy_s = _copy_baseline(raw, plan)
    ctx.say(f"plans: {assignments:,} assignments published in {publish_s:.1f} s (COPY {copy_s:.1f} s)")

    tasks = list(selectors.tasks_of(plan))
    cal = WorkCalendar(strict=False)
    cutoff = st.last_due_period(tasks[0], now, cal)
    months = 0 if cutoff is None else (cutoff.year - plan.starts_on.year) * 12 + cutoff.month - plan.starts_on.month + 1
    t = time.perf_counter()
    checkins = _checkins(raw, plan, now, months)
    ctx.say(f"plans: {checkins:,} check-ins written in {time.perf_counter() - t:.0f} s")

    city_user = User.objects.get(username="bench_city")
    village_user = User.objects.get(username="bench_village")
    city = OrgUnit.objects.get(parent__isnull=True)
    county = OrgUnit.objects.get(code="370811")

    def hand(unit):
        clocks = st.clocks_for(tasks, now)
        values = ", ".join(
            f"({c.task_id}, {c.target}::numeric, {'NULL' if c.cutoff is None else repr(c.cutoff.isoformat())}::date, "
            f"{c.milestone_seq}, {'NULL' if c.milestone_value is None else c.milestone_value}::numeric, "
            f"{c.expected}::numeric)" for c in clocks)
        with raw.cursor() as cur:
            cur.execute(MAP_SQL.format(values=values),
                        {"uid": unit.pk, "n": len(unit.path) + 1, "plan": plan.pk, "p": unit.path + "%"})
            rows = cur.fetchall()
        raw.commit()
        return rows

    def orm(unit):
        city_user.forget_bindings()
        return selectors.progress_map(city_user, plan, now=now, unit=unit)

    def my_orm():
        village_user.forget_bindings()
        return [(a.pk, a.status) for a in selectors.my_assignments(village_user, now=now)]

    def my_raw():
        with raw.cursor() as cur:
            cur.execute(MY_SQL, {"uid": village_user.bindings.first().unit_id, "today": now.date()})
            rows = cur.fetchall()
        raw.commit()
        return rows

    camp, targets = _campaign(raw, now)
    camp_clock = st.campaign_clock(camp, now)

    def board_orm():  # what the campaign page reads: the clock (one calendar read), summary, first page
        city_user.forget_bindings()
        clock = st.campaign_clock(camp, now)
        return (selectors.campaign_summary(city_user, camp, now=now, clock=clock),
                [(t.pk, t.status) for t in selectors.campaign_targets(city_user, camp, now=now, clock=clock)[:50]])

    def board_raw():
        params = {"c": camp.pk, "cutoff": camp_clock.cutoff, "expected": camp_clock.expected}
        with raw.cursor() as cur:
            cur.execute(BOARD_SUM_SQL, params)
            total = cur.fetchone()
            cur.execute(BOARD_SQL, params)
            page = cur.fetchall()
        raw.commit()
        return total, page

    assert [t for t, _s in board_orm()[1]] == [r[0] for r in board_raw()[1]]  # the same leaderboard
    m = orm(city)
    assert sum(r["total"] for r in m["rows"]) == Assignment.objects.filter(plan=plan).count()
    times = interleaved({"map_city_orm": lambda: orm(city), "map_city_sql": lambda: hand(city),
                         "map_county_orm": lambda: orm(county), "map_county_sql": lambda: hand(county),
                         "my_orm": my_orm, "my_sql": my_raw, "board_orm": board_orm, "board_sql": board_raw},
                        rounds)
    s = {k: summary(v) for k, v in times.items()}

    t = time.perf_counter()
    first = services.open_overdue_matters(now, plan=plan)
    job_s = time.perf_counter() - t
    t = time.perf_counter()
    second = services.open_overdue_matters(now, plan=plan)
    job2_s = time.perf_counter() - t
    return {
        "tasks": n_tasks, "assignments": assignments, "checkins": checkins,
        "publish": {"seconds": round(publish_s, 2), "copy_seconds": round(copy_s, 2),
                    "ratio": ratio(publish_s, copy_s)},
        "map_city": {"orm": s["map_city_orm"], "raw_sql": s["map_city_sql"],
                     "ratio_p95": ratio(s["map_city_orm"]["p95_ms"], s["map_city_sql"]["p95_ms"])},
        "map_county": {"orm": s["map_county_orm"], "raw_sql": s["map_county_sql"],
                       "ratio_p95": ratio(s["map_county_orm"]["p95_ms"], s["map_county_sql"]["p95_ms"])},
        "my_tasks": {"orm": s["my_orm"], "raw_sql": s["my_sql"],
                     "ratio_p95": ratio(s["my_orm"]["p95_ms"], s["my_sql"]["p95_ms"])},
        "job": {"seconds": round(job_s, 2), "opened": first, "second_run_seconds": round(job2_s, 2),
                "second_run_opened": second},
        "campaign": {"targets": targets, "orm": s["board_orm"], "raw_sql": s["board_sql"],
                     "ratio_p95": ratio(s["board_orm"]["p95_ms"], s["board_sql"]["p95_ms"])},
    }


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    out = [(f"plans publish ({r['assignments']:,} assignments)", f"{r['publish']['seconds']} s",
            f"COPY {r['publish']['copy_seconds']} s", r["publish"]["ratio"], "≤ 5×",
            ok((r["publish"]["ratio"] or 99) <= 5))]
    for key, label in (("map_city", "progress map, city (counties × tasks)"),
                       ("map_county", "progress map, county (townships × tasks)")):
        x = r[key]
        out.append((f"plans {label} p95", f"{x['orm']['p95_ms']} ms", f"{x['raw_sql']['p95_ms']} ms",
                    x["ratio_p95"], "≤ 2×, < 300 ms",
                    ok((x["ratio_p95"] or 99) <= 2 and (x["orm"]["p95_ms"] or 1e9) < 300)))
    x = r["my_tasks"]
    out.append(("plans village \"my tasks\" p95", f"{x['orm']['p95_ms']} ms", f"{x['raw_sql']['p95_ms']} ms",
                x["ratio_p95"], "< 50 ms", ok((x["orm"]["p95_ms"] or 1e9) < 50)))
    j = r["job"]
    out.append((f"plans supervision job ({r['assignments']:,} assignments, "
                f"{sum(j['opened'].values())} matters opened)", f"{j['seconds']} s",
                f"2nd run {j['second_run_seconds']} s", "", "< 10 s", ok(j["seconds"] < 10)))
    x = r.get("campaign")
    if x:
        out.append((f"plans campaign page: summary + leaderboard ({x['targets']:,} targets) p95",
                    f"{x['orm']['p95_ms']} ms", f"{x['raw_sql']['p95_ms']} ms", x["ratio_p95"], "≤ 2×, < 300 ms",
                    ok((x["ratio_p95"] or 99) <= 2 and (x["orm"]["p95_ms"] or 1e9) < 300)))
    return out
