"""Party meetings and member development (issue 15 items 5–6) vs the same queries by hand.

Data (benchmark data, ``bulk_create``, not through the services): every 党支部/党总支 of the tree
(6,167 at ``--scale city``) with ``YEARS`` of meetings by the rule table — 支委会, 党小组会 and
主题党日 monthly, 党员大会 and 党课 quarterly, one in twenty left out — (about 1.4 million at city
scale), and ``APPLICANTS`` applicants spread over the stages. Measured, each against a baseline in
the same run:

* ``compliance_city`` — ``selectors.compliance_rows`` for every organisation of the city in the
  last ended quarter vs one hand-written ``GROUP BY org, kind``: p95 ≤ 2× and < 300 ms;
* ``due_city`` — ``selectors.due_applicants`` (the first page of 50, city-wide) vs the same filter
  by hand: p95 < 100 ms.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

NAME = "party"
VOLUME = {"smoke": (1, 2_000), "county": (5, 5_000), "city": (5, 20_000)}  # years of meetings, applicants
ROUNDS = {"smoke": 20, "county": 30, "city": 30}

COMPLIANCE_SQL = """
SELECT m.org_id, m.kind, count(*),
       count(DISTINCT date_trunc('month', m.held_on)),
       count(DISTINCT date_trunc('month', m.held_on)) FILTER (WHERE m.held_on <= %(cutoff)s)
FROM activities_partymeeting m
WHERE m.held_on BETWEEN %(start)s AND %(end)s
  AND m.org_id IN (SELECT o.id FROM orgs_partyorg o JOIN orgs_orgunit u ON u.id = o.unit_id
                   WHERE o.kind IN ('branch', 'general_branch') AND u.valid_to IS NULL)
GROUP BY m.org_id, m.kind"""

DUE_SQL = """
SELECT a.id FROM activities_applicant a
WHERE (a.stage = 'applicant' AND a.stage_since <= %(d0)s) OR (a.stage = 'activist' AND a.stage_since <= %(d12)s)
   OR (a.stage = 'target' AND a.stage_since <= %(d0)s) OR (a.stage = 'probationary' AND a.stage_since <= %(d12)s)
ORDER BY a.stage_since, a.id LIMIT 50"""


def _reset(raw) -> None:
    with raw.cursor() as cur:
        cur.execute("TRUNCATE activities_meetingattendance, activities_meetingphoto, activities_meetingescalation, "
                    "activities_partymeeting, activities_applicantstep, activities_applicant CASCADE")
    raw.commit()


def _data(years: int, n_applicants: int, now) -> dict:
    from django.utils import timezone

    from bihuan.activities.models import Applicant, PartyMeeting
    from bihuan.activities.party_rules import MEETING_ORG_KINDS, STEPS, Stage, add_months
    from bihuan.orgs.models import PartyOrg
    from bihuan.people.models import Person

    rng = random.Random(15)
    today = timezone.localtime(now).date()
    orgs = list(PartyOrg.objects.filter(kind__in=MEETING_ORG_KINDS, unit__valid_to__isnull=True)
                .values_list("id", "unit_id"))
    first = add_months(today.replace(day=1), -12 * years)
    batch, made = [], 0
    for org_id, _unit in orgs:
        m = first
        while m <= today:
            kinds = ["committee", "group", "theme_day"] + (["members", "lecture"] if m.month % 3 == 0 else [])
            for kind in kinds:
                held = m + timedelta(days=rng.randrange(28))
                if held > today or rng.random() < 0.05:
                    continue
                batch.append(PartyMeeting(org_id=org_id, kind=kind, held_on=held, topic="学习", attendees=10,
                                          created_at=now))
            m = add_months(m, 1)
            if len(batch) >= 10_000:
                made += len(PartyMeeting.objects.bulk_create(batch))
                batch = []
    made += len(PartyMeeting.objects.bulk_create(batch))
    persons = Person.objects.bulk_create(
        [Person(unit_id=orgs[i % len(orgs)][1], name=f"申请人{i:05d}") for i in range(n_applicants)], batch_size=5000)
    stages = Stage.values
    Applicant.objects.bulk_create(
        [Applicant(person=p, org_id=orgs[i % len(orgs)][0], stage=stages[i % len(stages)],
                   applied_on=today - timedelta(days=rng.randrange(1500)),
                   stage_since=today - timedelta(days=rng.randrange(500)), created_at=now)
         for i, p in enumerate(persons)], batch_size=5000)
    assert STEPS  # the rule table the selector reads
    return {"orgs": len(orgs), "meetings": made, "applicants": n_applicants}


def _last_quarter(today: date) -> tuple[str, date, date]:
    from bihuan.activities.party_rules import add_months, quarter_bounds, quarter_of

    q = quarter_of(add_months(today.replace(day=1), -3))
    start, end = quarter_bounds(q)
    return q, start, end


def run(ctx) -> dict:
    import time

    from django.utils import timezone

    from bihuan.accounts.models import User
    from bihuan.activities import selectors
    from bihuan.activities.party_rules import add_months

    from ..common import interleaved, ratio, summary

    raw, now = ctx.raw, ctx.now
    years, n_applicants = VOLUME.get(ctx.scale, VOLUME["smoke"])
    rounds = ROUNDS.get(ctx.scale, 20)
    _reset(raw)
    t = time.perf_counter()
    d = _data(years, n_applicants, now)
    raw.commit()
    raw.autocommit = True
    try:
        with raw.cursor() as cur:
            cur.execute("VACUUM ANALYZE activities_partymeeting")
            cur.execute("VACUUM ANALYZE activities_applicant")
    finally:
        raw.autocommit = False
    ctx.say(f"party: {d['orgs']:,} organisations, {d['meetings']:,} meetings, {d['applicants']:,} applicants "
            f"written in {time.perf_counter() - t:.0f} s")
    city_user = User.objects.get(username="bench_city")
    today = timezone.localtime(now).date()
    quarter, start, end = _last_quarter(today)

    def comp_orm():
        city_user.forget_bindings()
        return selectors.compliance_rows(selectors.party_orgs(city_user), quarter, now=now)

    def comp_sql():
        with raw.cursor() as cur:
            cur.execute(COMPLIANCE_SQL, {"start": start, "end": end, "cutoff": end})
            rows = cur.fetchall()
        raw.commit()
        return rows

    def due_orm():
        city_user.forget_bindings()
        return list(selectors.due_applicants(city_user, now=now).values_list("id", flat=True)[:50])

    def due_sql():
        with raw.cursor() as cur:
            cur.execute(DUE_SQL, {"d0": today, "d12": add_months(today, -12)})
            rows = [r[0] for r in cur.fetchall()]
        raw.commit()
        return rows

    orm = comp_orm()
    hand = {(r[0], r[1]): r[2] for r in comp_sql()}
    got = {(pk, k["kind"]): k["held"] for pk, row in orm.items() for k in row["kinds"] if k["held"]}
    assert got == hand, "compliance differs from the hand-written query"
    behind = sum(1 for r in orm.values() if r["status"] == "behind")
    assert due_orm() == due_sql(), "due list differs from the hand-written query"
    times = interleaved({"comp_orm": comp_orm, "comp_sql": comp_sql, "due_orm": due_orm, "due_sql": due_sql},
                        rounds)
    s = {k: summary(v) for k, v in times.items()}
    return {
        **d, "quarter": quarter, "behind": behind,
        "compliance_city": {"orm": s["comp_orm"], "raw_sql": s["comp_sql"],
                            "ratio_p95": ratio(s["comp_orm"]["p95_ms"], s["comp_sql"]["p95_ms"])},
        "due_city": {"orm": s["due_orm"], "raw_sql": s["due_sql"],
                     "ratio_p95": ratio(s["due_orm"]["p95_ms"], s["due_sql"]["p95_ms"])},
    }


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    c, d = r["compliance_city"], r["due_city"]
    return [
        (f"party city quarterly meeting compliance ({r['orgs']:,} organisations, {r['meetings']:,} meetings, "
         f"{r['quarter']}, {r['behind']:,} behind) p95", f"{c['orm']['p95_ms']} ms", f"{c['raw_sql']['p95_ms']} ms",
         c["ratio_p95"], "≤ 2×, < 300 ms", ok((c["ratio_p95"] or 99) <= 2 and (c["orm"]["p95_ms"] or 1e9) < 300)),
        (f"party \"due for next step\" across the city ({r['applicants']:,} applicants) p95",
         f"{d['orm']['p95_ms']} ms", f"{d['raw_sql']['p95_ms']} ms", d["ratio_p95"], "< 100 ms",
         ok((d["orm"]["p95_ms"] or 1e9) < 100)),
    ]
