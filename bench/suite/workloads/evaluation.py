"""Evaluation (issue 13): an assessment run over every village of the city vs hand-written SQL.

A half-year set for villages with the loop's five rate/count sources (picked by name from
``core.registry``), computed by ``services.compute_run`` — one ``registry.compute`` per indicator
over all villages, results and lines bulk-inserted, ranks and stars from one windowed query — vs
the same figures written by hand: one grouped query over matters and one over ratings for all
villages (``path LIKE village.path || '%'``), same run, same database.

Also: a township's ranking page read (``selectors.results`` of its villages, p95) and a village's
household ranking (``selectors.ranking``) against their raw SQL.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

NAME = "evaluation"
MATTERS = {"smoke": 20_000, "county": 200_000, "city": 2_000_000}
ROUNDS = {"smoke": 20, "county": 30, "city": 30}
TZ = ZoneInfo("Asia/Shanghai")

INDICATORS = [
    {"name": "响应率", "source": "loop.response_rate", "weight": 20, "floor": 60, "target": 100},
    {"name": "按期办结率", "source": "loop.on_time_rate", "weight": 25, "floor": 60, "target": 100},
    {"name": "解决率", "source": "loop.resolution_rate", "weight": 20, "floor": 50, "target": 100},
    {"name": "满意率", "source": "loop.satisfaction_rate", "weight": 20, "floor": 60, "target": 100},
    {"name": "期末超期积案", "source": "loop.open_overdue_now", "weight": 15, "floor": 5, "target": 0},
]

MATTER_SQL = """
SELECT v.id,
  count(*) FILTER (WHERE m.dispatched_at >= %(s)s AND m.dispatched_at < %(e)s) AS volume,
  count(*) FILTER (WHERE m.dispatched_at >= %(s)s AND m.dispatched_at < %(e)s
                     AND m.accepted_at IS NOT NULL AND m.accepted_at <= m.accept_due_at) AS accepted_in_time,
  count(*) FILTER (WHERE m.due_at >= %(s)s AND m.due_at < %(de)s AND m.state <> 'merged') AS due,
  count(*) FILTER (WHERE m.due_at >= %(s)s AND m.due_at < %(de)s AND m.state <> 'merged'
                     AND m.closed_at IS NOT NULL AND m.closed_at <= m.due_at) AS closed_in_time,
  count(*) FILTER (WHERE m.state IN ('dispatched', 'in_progress') AND m.due_at < %(now)s) AS open_overdue_now
FROM orgs_orgunit v
JOIN orgs_orgunit hu ON hu.path LIKE v.path || '%%'
JOIN loop_matter m ON m.handling_unit_id = hu.id
WHERE v.level = 4 AND v.valid_to IS NULL
GROUP BY v.id"""

RATING_SQL = """
SELECT v.id, count(*) AS rated, count(*) FILTER (WHERE r.resolved) AS resolved,
       count(*) FILTER (WHERE r.satisfaction IN ('satisfied', 'basic')) AS satisfied
FROM orgs_orgunit v
JOIN orgs_orgunit hu ON hu.path LIKE v.path || '%%'
JOIN loop_matter m ON m.handling_unit_id = hu.id
JOIN loop_rating r ON r.matter_id = m.id
WHERE v.level = 4 AND v.valid_to IS NULL AND r.rated_at >= %(s)s AND r.rated_at < %(e)s
GROUP BY v.id"""

RANKING_SQL = """
SELECT r.id, r.rank, r.score, r.stars, u.name
FROM evaluation_result r JOIN orgs_orgunit u ON u.id = r.unit_id
WHERE r.run_id = %(run)s AND (r.unit_id = %(town)s OR u.parent_id = %(town)s)
ORDER BY r.peer_group, r.rank, u.path, r.id LIMIT 25"""


def _ensure_matters(ctx) -> int:
    from bihuan.loop.models import Matter

    from ..data import generate

    have = Matter.objects.count()
    want = MATTERS.get(ctx.scale, 20_000)
    if have < want // 2:
        ctx.say(f"evaluation: generating {want - have:,} matters")
        generate(want - have, 4242, ctx.now)
    return Matter.objects.count()


def run(ctx) -> dict:
    from bihuan.evaluation import selectors, services
    from bihuan.evaluation.models import IndicatorSet, Result
    from bihuan.orgs.models import Level, OrgUnit

    from ..common import interleaved, ratio, summary

    raw, now = ctx.raw, ctx.now
    matters = _ensure_matters(ctx)
    city = OrgUnit.objects.get(parent__isnull=True)
    s = IndicatorSet.objects.filter(name="bench 村级半年考核").first() or services.create_set(
        None, unit=city, name="bench 村级半年考核", period_kind="half", target_kind="village",
        star_mode="quota", indicators=INDICATORS, now=now)
    local = now.astimezone(TZ)
    label = f"{local.year}H{1 if local.month <= 6 else 2}"
    start = datetime(local.year, 1 if local.month <= 6 else 7, 1, tzinfo=TZ)
    end = datetime(local.year + (local.month > 6), 7 if local.month <= 6 else 1, 1, tzinfo=TZ)
    villages = OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True).count()

    def orm_run():
        return services.compute_run(None, s, label, now=now)

    def raw_run():
        p = {"s": start, "e": end, "de": min(end, now), "now": now}
        with raw.cursor() as cur:
            cur.execute(MATTER_SQL, p)
            a = cur.fetchall()
            cur.execute(RATING_SQL, p)
            b = cur.fetchall()
        raw.commit()
        return len(a) + len(b)

    first = orm_run()
    assert first.targets == villages, (first.targets, villages)
    times = interleaved({"run_orm": orm_run, "run_sql": raw_run}, 3, warmup=0)
    sr = {k: summary(v) for k, v in times.items()}

    from django.db.models import Count

    from bihuan.accounts.models import User

    town = (OrgUnit.objects.filter(level=Level.TOWNSHIP).annotate(n=Count("children"))
            .order_by("-n", "code").first())
    city_user = User.objects.get(username="bench_city")

    def ranking_orm():
        city_user.forget_bindings()
        return [(r.pk, r.rank) for r in selectors.results(city_user, first, unit=town)[:25]]

    def ranking_raw():
        with raw.cursor() as cur:
            cur.execute(RANKING_SQL, {"run": first.pk, "town": town.pk})
            rows = cur.fetchall()
        raw.commit()
        return rows

    tr = interleaved({"rank_orm": ranking_orm, "rank_sql": ranking_raw}, ROUNDS.get(ctx.scale, 20))
    st = {k: summary(v) for k, v in tr.items()}
    return {
        "villages": villages, "matters": matters, "indicators": len(INDICATORS),
        "results": Result.objects.filter(run=first).count(),
        "run": {"orm": sr["run_orm"], "raw_sql": sr["run_sql"],
                "ratio_p50": ratio(sr["run_orm"]["p50_ms"], sr["run_sql"]["p50_ms"])},
        "ranking": {"orm": st["rank_orm"], "raw_sql": st["rank_sql"],
                    "ratio_p95": ratio(st["rank_orm"]["p95_ms"], st["rank_sql"]["p95_ms"])},
    }


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    x = r["run"]
    secs = (x["orm"]["p50_ms"] or 0) / 1000
    out = [(f"evaluation run ({r['villages']:,} villages × {r['indicators']} indicators, {r['matters']:,} matters)",
            f"{secs:.2f} s", f"{(x['raw_sql']['p50_ms'] or 0) / 1000:.2f} s", x["ratio_p50"], "< 30 s, ≤ 2×",
            ok(secs < 30 and (x["ratio_p50"] or 99) <= 2))]
    y = r["ranking"]
    out.append(("evaluation township ranking page read p95", f"{y['orm']['p95_ms']} ms",
                f"{y['raw_sql']['p95_ms']} ms", y["ratio_p95"], "< 50 ms", ok((y["orm"]["p95_ms"] or 1e9) < 50)))
    return out
