"""Care (issue 14): a day's visits vs COPY, the missed-visit sweep, the round page and the board.

Residents under care (``RESIDENTS``: 100,000 at city scale), each with 3 meals and 1 visit a day
(400,000 visits a day at city scale), spread over the villages of one county; the bench village's
residents are paired to ``bench_village`` (their helper), the rest to ``bench_town``. History is
written in SQL as benchmark data (mostly checked in, a few missed): first ``HISTORY[0]`` days,
then up to ``HISTORY[1]``; the day's work is measured at both, to show it does not grow with the
history kept. Measured, each against a baseline in the same run:

* ``generate`` — ``services.generate(today)`` vs ``COPY`` of the same rows into a table with the
  same indexes (target ≤ 5×);
* ``sweep`` — ``services.sweep`` at the end of the day over all of today's visits, of which 0.05 %
  were not checked in (target < 5 s; a second run opens nothing);
* ``round`` / ``board`` — ``selectors.my_round`` (the helper's "today") and ``selectors.board``
  (a village's counts) vs hand-written SQL: p95 < 50 ms.
"""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from datetime import time as dtime

NAME = "care"
RESIDENTS = {"smoke": 2_000, "county": 20_000, "city": 100_000}
HISTORY = {"smoke": (3, 9), "county": (30, 90), "city": (30, 90)}
ROUNDS = {"smoke": 20, "county": 50, "city": 50}
SERVICES = [("meal", "07:00", "08:30"), ("meal", "11:00", "12:30"), ("meal", "17:00", "18:30"),
            ("visit", "15:00", "16:30")]

ROUND_SQL = """
SELECT v.id, v.starts_at, v.ends_at, v.outcome, p.name, p.address, p.phone_masked
FROM care_visit v JOIN people_person p ON p.id = v.person_id
WHERE v.day = %(day)s AND (v.helper_id = %(uid)s OR v.backup_id = %(uid)s)
ORDER BY v.starts_at, v.id"""

BOARD_SQL = """
SELECT count(*), count(*) FILTER (WHERE outcome = '' AND ends_at >= %(cut)s),
       count(*) FILTER (WHERE outcome = '' AND ends_at < %(cut)s), count(*) FILTER (WHERE outcome <> '')
FROM care_visit v JOIN orgs_orgunit u ON u.id = v.unit_id
WHERE v.day = %(day)s AND u.path LIKE %(p)s"""


def _reset(raw) -> None:
    with raw.cursor() as cur:  # the suite's database only (its name contains "bench")
        cur.execute("TRUNCATE care_visit, care_careservice, care_careplan, care_survey, care_helper CASCADE")
        cur.execute("DELETE FROM people_person WHERE name LIKE 'bench care %%'")
        cur.execute("DROP TABLE IF EXISTS bench_care_copy")
    raw.commit()


def _setup(world, n: int, start, now) -> dict:
    from bihuan.care.models import CarePlan, CareService
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.people.models import Person

    county = OrgUnit.objects.get(code="370811")
    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, path__startswith=county.path)
                    .order_by("id").values_list("id", flat=True))
    bench_village = world.village.pk
    per_village = max(1, n // len(villages))
    units = [bench_village] * min(20, n) + [villages[i % len(villages)] for i in range(n - min(20, n))]
    persons = Person.objects.bulk_create(
        [Person(unit_id=u, name=f"bench care {i}", address=f"村{i % 97}号", phone_masked="138****0000")
         for i, u in enumerate(units)], batch_size=5000)
    plans = CarePlan.objects.bulk_create(
        [CarePlan(person=p, unit_id=p.unit_id, starts_on=start, created_at=now) for p in persons], batch_size=5000)
    helper, other = world.users["bench_village"], world.users["bench_town"]
    rows = []
    paired = 0
    for plan in plans:
        h = other
        if plan.unit_id == bench_village and paired < 5:  # a helper's round: 5 residents, 20 visits a day
            h, paired = helper, paired + 1
        for kind, ws, we in SERVICES:
            rows.append(CareService(plan=plan, kind=kind, rrule="FREQ=DAILY", starts_on=start,
                                    window_start=dtime.fromisoformat(ws), window_end=dtime.fromisoformat(we),
                                    helper=h, backup=other if h is helper else None))
    CareService.objects.bulk_create(rows, batch_size=10000)
    return {"villages": len(villages), "per_village": per_village, "services": len(rows)}


def _history(raw, first, last) -> int:
    """Visits for the days [first, last] in SQL: 99.5 % checked in, the rest missed."""
    with raw.cursor() as cur:
        cur.execute("""
            INSERT INTO care_visit (service_id, person_id, unit_id, helper_id, backup_id, kind, day, starts_at,
                                    ends_at, outcome, checked_at, late, note, photo, photo_type)
            SELECT s.id, p.person_id, p.unit_id, s.helper_id, s.backup_id, s.kind, d::date,
                   (d::date + s.window_start) AT TIME ZONE 'Asia/Shanghai',
                   (d::date + s.window_end) AT TIME ZONE 'Asia/Shanghai',
                   CASE WHEN (s.id + extract(doy FROM d)::int) %% 200 = 0 THEN '' ELSE 'done' END,
                   CASE WHEN (s.id + extract(doy FROM d)::int) %% 200 = 0 THEN NULL
                        ELSE (d::date + s.window_start + interval '20 minute') AT TIME ZONE 'Asia/Shanghai' END,
                   false, '', '', ''
            FROM care_careservice s JOIN care_careplan p ON p.id = s.plan_id
            CROSS JOIN generate_series(%(a)s::date, %(b)s::date, interval '1 day') AS d""",
                    {"a": first, "b": last})
        n = cur.rowcount
        # The history's missed visits were swept long ago: mark them escalated (no matter needed here).
        cur.execute("UPDATE care_visit SET escalated_at = ends_at WHERE outcome = '' AND day <= %(b)s",
                    {"b": last})
        cur.execute("ANALYZE care_visit")
    raw.commit()
    return n


def _copy_baseline(raw, day) -> float:
    cols = "service_id, person_id, unit_id, helper_id, backup_id, kind, day, starts_at, ends_at, outcome, late, " \
           "note, photo, photo_type"
    buf = io.BytesIO()
    with raw.cursor() as cur:
        with cur.copy(f"COPY (SELECT {cols} FROM care_visit WHERE day = %s) TO STDOUT", (day,)) as cp:
            for chunk in cp:
                buf.write(chunk)
        cur.execute("CREATE TABLE bench_care_copy (LIKE care_visit INCLUDING ALL)")
    raw.commit()
    data = buf.getvalue()
    t = time.perf_counter()
    with raw.cursor() as cur:
        with cur.copy(f"COPY bench_care_copy ({cols}) FROM STDIN") as cp:
            for i in range(0, len(data), 1 << 20):
                cp.write(data[i:i + (1 << 20)])
    raw.commit()
    seconds = time.perf_counter() - t
    with raw.cursor() as cur:
        cur.execute("DROP TABLE bench_care_copy")
    raw.commit()
    return seconds


def _day_work(ctx, world, day, rounds) -> dict:
    """Generate ``day`` (vs COPY), then the round page and the board (vs SQL), then the sweep."""
    from django.utils import timezone

    from bihuan.care import selectors, services
    from bihuan.care import status as st
    from bihuan.care.models import Visit

    from ..common import interleaved, ratio, summary

    raw = ctx.raw
    with raw.cursor() as cur:
        cur.execute("DELETE FROM care_visit WHERE day = %s", (day,))
    raw.commit()
    t = time.perf_counter()
    made = services.generate(day, now=ctx.now)
    gen_s = time.perf_counter() - t
    copy_s = _copy_baseline(raw, day)
    tz = timezone.get_current_timezone()
    noon = timezone.make_aware(datetime.combine(day, dtime(13, 0)), tz)
    # By noon breakfast and lunch are checked in (all but a few).
    with raw.cursor() as cur:
        cur.execute("UPDATE care_visit SET outcome = 'done', checked_at = starts_at + interval '20 minute' "
                    "WHERE day = %s AND ends_at < %s AND id %% 2000 <> 0", (day, noon))
    raw.commit()
    village, helper = world.village, world.users["bench_village"]
    secretary = world.users["bench_village"]

    def round_orm():
        helper.forget_bindings()
        return [(v.pk, st.status_of(v, noon), v.person.name) for v in selectors.my_round(helper, day)]

    def round_sql():
        with raw.cursor() as cur:
            cur.execute(ROUND_SQL, {"day": day, "uid": helper.pk})
            r = cur.fetchall()
        raw.commit()
        return r

    def board_orm():
        secretary.forget_bindings()
        return selectors.board(secretary, village, day, noon)

    def board_sql():
        with raw.cursor() as cur:
            cur.execute(BOARD_SQL, {"day": day, "cut": noon - st.GRACE, "p": village.path + "%"})
            r = cur.fetchall()
        raw.commit()
        return r

    assert len(round_orm()) == len(round_sql()) > 0
    times = interleaved({"round_orm": round_orm, "round_sql": round_sql, "board_orm": board_orm,
                         "board_sql": board_sql}, rounds)
    s = {k: summary(v) for k, v in times.items()}
    # End of the day: all checked in but 0.05 %; the sweep opens one loop matter for each.
    evening = timezone.make_aware(datetime.combine(day, dtime(23, 30)), tz)
    with raw.cursor() as cur:
        cur.execute("UPDATE care_visit SET outcome = 'done', checked_at = starts_at + interval '20 minute' "
                    "WHERE day = %s AND outcome = '' AND id %% 2000 <> 0", (day,))
    raw.commit()
    t = time.perf_counter()
    first = services.sweep(evening)
    sweep_s = time.perf_counter() - t
    t = time.perf_counter()
    second = services.sweep(evening)
    sweep2_s = time.perf_counter() - t
    return {"visits": made, "generate": {"seconds": round(gen_s, 2), "copy_seconds": round(copy_s, 2),
                                         "ratio": ratio(gen_s, copy_s)},
            "round": {"visits": len(round_sql()), "orm": s["round_orm"], "raw_sql": s["round_sql"],
                      "ratio_p95": ratio(s["round_orm"]["p95_ms"], s["round_sql"]["p95_ms"])},
            "board": {"orm": s["board_orm"], "raw_sql": s["board_sql"],
                      "ratio_p95": ratio(s["board_orm"]["p95_ms"], s["board_sql"]["p95_ms"])},
            "sweep": {"seconds": round(sweep_s, 2), "opened": first["missed_opened"],
                      "second_run_seconds": round(sweep2_s, 2), "second_run_opened": second["missed_opened"],
                      "open_visits_left": Visit.objects.filter(day=day, outcome="", escalated_at__isnull=True).count()}}


def run(ctx) -> dict:
    from django.utils import timezone

    from ..runner import World

    world = World()
    n = RESIDENTS.get(ctx.scale, 2_000)
    h1, h2 = HISTORY.get(ctx.scale, (3, 9))
    rounds = ROUNDS.get(ctx.scale, 20)
    today = timezone.localtime(ctx.now).date()
    start = today - timedelta(days=h2)
    _reset(ctx.raw)
    t = time.perf_counter()
    setup = _setup(world, n, start, ctx.now)
    ctx.say(f"care: {n:,} residents, {setup['services']:,} services in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    hist1 = _history(ctx.raw, today - timedelta(days=h1), today - timedelta(days=1))
    ctx.say(f"care: {hist1:,} visits of history ({h1} days) in {time.perf_counter() - t:.0f} s")
    at_h1 = _day_work(ctx, world, today, rounds)
    t = time.perf_counter()
    hist2 = _history(ctx.raw, start, today - timedelta(days=h1 + 1))
    ctx.say(f"care: {hist2:,} more visits of history (to {h2} days) in {time.perf_counter() - t:.0f} s")
    at_h2 = _day_work(ctx, world, today, rounds)
    from ..common import ratio

    return {"residents": n, "services": setup["services"], "history_days": [h1, h2],
            "history_rows": [hist1, hist1 + hist2], "at_first": at_h1, "at_second": at_h2,
            "growth": {"generate": ratio(at_h2["generate"]["seconds"], at_h1["generate"]["seconds"]),
                       "sweep": ratio(at_h2["sweep"]["seconds"], at_h1["sweep"]["seconds"]),
                       "round_p95": ratio(at_h2["round"]["orm"]["p95_ms"], at_h1["round"]["orm"]["p95_ms"]),
                       "board_p95": ratio(at_h2["board"]["orm"]["p95_ms"], at_h1["board"]["orm"]["p95_ms"])}}


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    out = []
    for key in ("at_first", "at_second"):
        x = r[key]
        days = r["history_days"][0 if key == "at_first" else 1]
        g = x["generate"]
        out.append((f"care generate a day ({x['visits']:,} visits; {days} days kept)", f"{g['seconds']} s",
                    f"COPY {g['copy_seconds']} s", g["ratio"], "≤ 5×", ok((g["ratio"] or 99) <= 5)))
        sw = x["sweep"]
        out.append((f"care missed-visit sweep over a day ({sw['opened']} matters; {days} days kept)",
                    f"{sw['seconds']} s", f"2nd run {sw['second_run_seconds']} s", "", "< 5 s",
                    ok(sw["seconds"] < 5 and sw["second_run_opened"] == 0)))
        for k, label in (("round", f"helper's today ({x['round']['visits']} visits)"), ("board", "village care board")):
            y = x[k]
            out.append((f"care {label} p95; {days} days kept", f"{y['orm']['p95_ms']} ms",
                        f"{y['raw_sql']['p95_ms']} ms", y["ratio_p95"], "< 50 ms",
                        ok((y["orm"]["p95_ms"] or 1e9) < 50)))
    gr = r["growth"]
    out.append((f"care day's work at {r['history_days'][1]} vs {r['history_days'][0]} days kept",
                f"generate ×{gr['generate']}, sweep ×{gr['sweep']}", f"round ×{gr['round_p95']}, "
                f"board ×{gr['board_p95']}", "", "≈ 1×", ok(all((v or 0) < 2 for v in gr.values()))))
    return out
