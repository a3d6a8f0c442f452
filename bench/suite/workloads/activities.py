"""Lectures (issue 15): district coverage (全覆盖) for a year vs the same query by hand.

At ``--scale city`` Yanzhou district has 22 teams and 1,200 lecturers (as the seed) and the city
50,000 sessions in the year, 60 % of them in Yanzhou's villages and communities (one in ten of
those has none: the gaps), written as benchmark data with ``bulk_create`` (not through the
service). Measured, each against a baseline in the same run:

* ``coverage`` — ``selectors.coverage`` for 兖州区 over the year (every village and community with
  its sessions and attendance, gaps first) vs a hand-written ``LEFT JOIN … GROUP BY``:
  p95 ≤ 2× and < 300 ms;
* ``section_city`` — the report section (coverage and attendance for each county of the city,
  ``selectors.unit_figures``) vs one hand-written grouped query: p95 ≤ 2× and < 300 ms.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

NAME = "activities"
VOLUME = {"smoke": (4, 40, 2_000), "county": (10, 300, 20_000), "city": (22, 1_200, 50_000)}
ROUNDS = {"smoke": 20, "county": 50, "city": 50}

COVERAGE_SQL = """
SELECT u.id, u.name, COALESCE(s.n, 0) AS sessions, COALESCE(s.a, 0) AS attendance
FROM orgs_orgunit u
LEFT JOIN (SELECT covered_unit_id, count(*) AS n, sum(attendance) AS a FROM activities_session
           WHERE held_on BETWEEN %(start)s AND %(end)s GROUP BY covered_unit_id) s ON s.covered_unit_id = u.id
WHERE u.path LIKE %(p)s AND u.level = 4 AND u.valid_to IS NULL
ORDER BY (COALESCE(s.n, 0) > 0), u.path"""

SECTION_SQL = """
WITH c AS (SELECT id, path FROM orgs_orgunit WHERE parent_id = %(root)s AND valid_to IS NULL),
v AS (SELECT c.id AS cid, count(*) AS villages,
             count(*) FILTER (WHERE EXISTS (SELECT 1 FROM activities_session s WHERE s.covered_unit_id = u.id
                                            AND s.held_on >= %(start)s AND s.held_on < %(end)s)) AS covered
      FROM orgs_orgunit u JOIN c ON u.path LIKE c.path || '%%' WHERE u.level = 4 AND u.valid_to IS NULL GROUP BY c.id),
a AS (SELECT c.id AS cid, count(*) AS sessions, sum(s.attendance) AS attendance
      FROM activities_session s JOIN orgs_orgunit p ON p.id = s.place_id JOIN c ON p.path LIKE c.path || '%%'
      WHERE s.held_on >= %(start)s AND s.held_on < %(end)s GROUP BY c.id)
SELECT c.id, v.villages, v.covered, a.sessions, a.attendance FROM c LEFT JOIN v ON v.cid = c.id
LEFT JOIN a ON a.cid = c.id"""


def _reset(raw) -> None:
    with raw.cursor() as cur:
        cur.execute("TRUNCATE activities_feedback, activities_sessionphoto, activities_session, "
                    "activities_lectureorder, activities_lecturer, activities_lectureteam CASCADE")
    raw.commit()


def _data(n_teams: int, n_lecturers: int, n_sessions: int, now) -> dict:
    from django.utils import timezone

    from bihuan.activities import seed, services
    from bihuan.activities.models import Audience, Lecturer, Session
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.people.models import Person

    rng = random.Random(15)
    district = OrgUnit.objects.get(code="370812")
    teams = [services.create_team(None, unit=district, name=n, kind=k, topics=t, now=now)
             for n, k, t in seed._team_specs(n_teams)]
    yz_villages = list(OrgUnit.objects.filter(path__startswith=district.path, level=Level.VILLAGE,
                                              valid_to__isnull=True).values_list("id", flat=True))
    others = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True)
                  .exclude(path__startswith=district.path).values_list("id", flat=True)) or yz_villages
    persons = Person.objects.bulk_create([Person(unit_id=yz_villages[i % len(yz_villages)], name=f"宣讲员{i:04d}",
                                                 is_lecturer=True) for i in range(n_lecturers)], batch_size=2000)
    lecturers = Lecturer.objects.bulk_create(
        [Lecturer(team=teams[i % len(teams)], person=p, topics="乡村振兴", audiences="villagers,members",
                  created_at=now) for i, p in enumerate(persons)], batch_size=2000)
    covered = [v for v in yz_villages if rng.random() < 0.9]
    today = timezone.localtime(now).date()
    audiences = Audience.values
    batch = []
    made = 0
    for i in range(n_sessions):
        lec = lecturers[i % len(lecturers)]
        place = rng.choice(covered) if rng.random() < 0.6 else rng.choice(others)
        batch.append(Session(team_id=lec.team_id, lecturer=lec, place_id=place, covered_unit_id=place,
                             held_on=today - timedelta(days=rng.randrange(365)), audience=rng.choice(audiences),
                             topic="乡村振兴", attendance=rng.randint(10, 120), feedback_token=secrets.token_urlsafe(12),
                             created_at=now))
        if len(batch) == 5000:
            made += len(Session.objects.bulk_create(batch))
            batch = []
    made += len(Session.objects.bulk_create(batch))
    return {"district": district, "villages": len(yz_villages), "covered": len(covered), "sessions": made,
            "start": today - timedelta(days=364), "end": today}


def run(ctx) -> dict:
    import time

    from bihuan.accounts.models import User
    from bihuan.activities import selectors
    from bihuan.orgs.models import OrgUnit

    from ..common import interleaved, ratio, summary

    raw, now = ctx.raw, ctx.now
    n_teams, n_lecturers, n_sessions = VOLUME.get(ctx.scale, VOLUME["smoke"])
    rounds = ROUNDS.get(ctx.scale, 20)
    _reset(raw)
    t = time.perf_counter()
    d = _data(n_teams, n_lecturers, n_sessions, now)
    raw.commit()
    raw.autocommit = True  # as autovacuum would have done by then: statistics and the visibility map
    try:
        with raw.cursor() as cur:
            cur.execute("VACUUM ANALYZE activities_session")
    finally:
        raw.autocommit = False
    ctx.say(f"activities: {n_lecturers:,} lecturers, {d['sessions']:,} sessions written in "
            f"{time.perf_counter() - t:.0f} s")
    city_user = User.objects.get(username="bench_city")
    district, start, end = d["district"], d["start"], d["end"]
    city = OrgUnit.objects.get(parent__isnull=True)
    year_start, year_end = end - timedelta(days=364), end + timedelta(days=1)

    def cov_orm():
        city_user.forget_bindings()
        return [(u.pk, u.sessions, u.attendance) for u in selectors.coverage(city_user, district, start=start,
                                                                               end=end)]

    def cov_sql():
        with raw.cursor() as cur:
            cur.execute(COVERAGE_SQL, {"start": start, "end": end, "p": district.path + "%"})
            rows = cur.fetchall()
        raw.commit()
        return [(r[0], r[2], r[3]) for r in rows]

    def sec_orm():
        return selectors.unit_figures(city, start=year_start, end=year_end)

    def sec_sql():
        with raw.cursor() as cur:
            cur.execute(SECTION_SQL, {"root": city.pk, "start": year_start, "end": year_end})
            rows = cur.fetchall()
        raw.commit()
        return rows

    a, b = cov_orm(), cov_sql()
    assert sorted(a) == sorted(b), "coverage differs from the hand-written query"
    gaps = sum(1 for r in a if r[1] == 0)
    sec = sec_orm()
    hand = {r[0]: (r[1] or 0, r[2] or 0, r[3] or 0) for r in sec_sql()}
    assert {k: (v["villages"], v["covered"], v["sessions"]) for k, v in sec.items()} == hand, \
        "section differs from the hand-written query"
    times = interleaved({"cov_orm": cov_orm, "cov_sql": cov_sql, "sec_orm": sec_orm, "sec_sql": sec_sql}, rounds)
    s = {k: summary(v) for k, v in times.items()}
    return {
        "lecturers": n_lecturers, "sessions": d["sessions"], "villages": d["villages"], "gaps": gaps,
        "coverage": {"orm": s["cov_orm"], "raw_sql": s["cov_sql"],
                     "ratio_p95": ratio(s["cov_orm"]["p95_ms"], s["cov_sql"]["p95_ms"])},
        "section_city": {"orm": s["sec_orm"], "raw_sql": s["sec_sql"],
                         "ratio_p95": ratio(s["sec_orm"]["p95_ms"], s["sec_sql"]["p95_ms"])},
    }


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    out = []
    for key, label in (("coverage", f"district coverage for a year ({r['villages']:,} villages, "
                                    f"{r['gaps']} gaps; {r['sessions']:,} sessions)"),
                       ("section_city", "lecture report section, city (counties)")):
        x = r[key]
        out.append((f"activities {label} p95", f"{x['orm']['p95_ms']} ms", f"{x['raw_sql']['p95_ms']} ms",
                    x["ratio_p95"], "≤ 2×, < 300 ms",
                    ok((x["ratio_p95"] or 99) <= 2 and (x["orm"]["p95_ms"] or 1e9) < 300)))
    return out


