"""Evaluation demo data, through the services: the seed's 结果评估 closes its loop.

* Two indicator sets of the city for the half-year: villages and communities (评星定级 of the
  villages; the loop's and, when present, the plans' registered sources plus a manual 党建工作
  score) and party branches (every branch rated: 全覆盖). Sources are picked by name from
  ``core.registry`` only.
* 2025H2 computed, scored, published and frozen (the last period, for ↑/↓); 2026H1 computed,
  every manual score entered and approved, published (public notice running), and one objection
  open (芦庙村's, a loop matter for the city).
* Credit points (信用积分): the city's point rules, a year of awards for 芦庙村's households (a
  reversal, an award awaiting approval), a stocked points store (积分超市) and redemptions.

At ``--scale city`` the sets cover every village and every party branch of the city (FACTS.md);
household points are seeded at demo scale only (the bench builds its own ledger).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from bihuan.core import registry
from bihuan.core.errors import ServiceError
from bihuan.orgs.models import Level, OrgUnit

from . import services
from .models import IndicatorSet, ManualScore, Result, Run

TZ = ZoneInfo("Asia/Shanghai")

# (name, source, weight, floor, target): rates in percent; counts with lower-is-better floors.
VILLAGE_AUTO = [
    ("响应率", "loop.response_rate", 15, 60, 100),
    ("按期办结率", "loop.on_time_rate", 20, 60, 100),
    ("解决率", "loop.resolution_rate", 15, 50, 100),
    ("满意率", "loop.satisfaction_rate", 10, 60, 100),
    ("期末超期积案", "loop.open_overdue_now", 10, 5, 0),
    ("任务完成率", "plans.done_rate", 10, 40, 100),
    ("按时调度率", "plans.checkin_on_time_rate", 5, 50, 100),
]
BRANCH_AUTO = [
    ("按期办结率", "loop.on_time_rate", 30, 60, 100),
    ("满意率", "loop.satisfaction_rate", 20, 60, 100),
    ("期末超期积案", "loop.open_overdue_now", 10, 5, 0),
]


def _indicators(auto, manual_name: str) -> list[dict]:
    """The automatic indicators whose sources are registered; the manual one takes the rest to 100."""
    inds = [{"name": n, "kind": "auto", "source": s, "weight": w, "floor": f, "target": t}
            for n, s, w, f, t in auto if s in registry.SOURCES]
    rest = 100 - sum(i["weight"] for i in inds)
    return [*inds, {"name": manual_name, "kind": "manual", "weight": rest}]


def _at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def _score_all(run: Run, rng: random.Random, now: datetime) -> int:
    """Every manual score of ``run``'s targets entered and approved (the system seeds both)."""
    manual = list(run.set.indicators.filter(kind="manual"))
    targets = list(Result.objects.filter(run=run).values_list("unit_id", flat=True).distinct())
    done = set(ManualScore.objects.filter(indicator__in=manual, period=run.period)
               .values_list("indicator_id", "unit_id"))
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=targets).select_related("parent")}
    n = 0
    for ind in manual:
        for uid in targets:
            if (ind.pk, uid) in done:
                continue
            value = round(min(100.0, max(40.0, rng.gauss(84, 9))), 1)
            sc = services.enter_score(None, indicator=ind, unit=units[uid], period=run.period, value=value,
                                      comment=rng.choice(["台账齐全", "三会一课规范", "阵地建设达标", "整改到位"]),
                                      now=now)
            services.approve_score(None, sc, now=now + timedelta(hours=2))
            n += 1
    return n


def _period(s: IndicatorSet, label: str, rng, *, computed: datetime, published: datetime,
            freeze: datetime | None) -> Run:
    run = services.compute_run(None, s, label, now=computed)
    _score_all(run, rng, computed + timedelta(hours=1))
    run = services.compute_run(None, s, label, now=computed + timedelta(days=1))
    run = services.publish(None, run, now=published)
    if freeze is not None:
        services.freeze_due(freeze)
    return run


def seed_evaluation(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    city = OrgUnit.objects.filter(level=Level.CITY, valid_to__isnull=True).order_by("pk").first()
    if city is None:
        return {"sets": 0}
    rng = random.Random(seed)
    year = timezone.localtime(now).year
    last, prev = f"{year}H1", f"{year - 1}H2"
    villages = services.create_set(
        None, unit=city, name=f"{year}年村（社区）党组织评星定级", period_kind="half", target_kind="village",
        star_mode="quota", star_thresholds=[85, 75, 65, 55], five_star_quota=10, notice_days=5,
        indicators=_indicators(VILLAGE_AUTO, "党建工作"), now=_at(year - 1, 12, 20))
    branches = services.create_set(
        None, unit=city, name=f"{year}年党支部评星定级", period_kind="half", target_kind="party_org",
        star_mode="quota", star_thresholds=[92, 85, 75, 60], five_star_quota=15, notice_days=5,
        indicators=_indicators(BRANCH_AUTO, "组织生活"), now=_at(year - 1, 12, 20))
    out = {"sets": 2}
    for s in (villages, branches):
        _period(s, prev, rng, computed=_at(year, 1, 5), published=_at(year, 1, 12), freeze=_at(year, 1, 25))
        run = _period(s, last, rng, computed=_at(year, 7, 3), published=min(now, _at(year, 12, 31)), freeze=None)
        out[f"{s.target_kind}_targets"] = run.targets
    lumiao = OrgUnit.objects.filter(name="芦庙村", level=Level.VILLAGE).first()
    mine = Result.objects.filter(run__set=villages, run__period=last, unit=lumiao).first() if lumiao else None
    if mine is not None:
        services.lodge_objection(None, mine, reason="上半年两件超期积案已于6月28日办结，系统统计为期末超期，申请复核。",
                                 now=min(now, _at(year, 12, 31)) + timedelta(minutes=5))
        out["objections"] = 1
    if scale == "demo":
        out.update(seed_points(lumiao, rng, now))
        out.update(seed_selections(city, rng, now))
    return out


NOMINEES = ["王建国", "李秀英", "张卫东", "刘桂兰", "陈志强", "杨丽华", "赵国庆", "孙红梅"]
DEEDS = ["带头推行垃圾分类，全村分类率达九成", "汛期连续值守堤坝十昼夜", "调解邻里纠纷三十余起",
         "牵头成立合作社，带动五十户增收", "常年照顾村内独居老人"]


def seed_selections(city, rng: random.Random, now: datetime) -> dict:
    """The year's three selections (评选) of the city: 先进党组织 named, 优秀书记 on public notice
    (公示), 先锋 taking nominations — each with nominations from villages, reviewed with citations."""
    from bihuan.orgs.models import PartyOrg, PartyOrgKind

    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True).order_by("path")[:6])
    if not villages:
        return {}
    year = timezone.localtime(now).year
    t0 = now - timedelta(days=60)
    orgs = services.create_round(None, unit=city, kind="org", name=f"{year}年度先进党组织", quota=100,
                                 nominate_until=(t0 + timedelta(days=10)).date(), now=t0)
    for po in PartyOrg.objects.filter(unit__in=villages, kind=PartyOrgKind.BRANCH).order_by("unit__path")[:4]:
        n = services.nominate(None, orgs, unit=po.unit, party_org=po, deeds=rng.choice(DEEDS),
                              now=t0 + timedelta(days=1))
        services.review(None, n, accept=True, citation=f"{po.name}：战斗堡垒作用突出", now=t0 + timedelta(days=12))
    try:  # a notice needs the working-day calendar of its year (early in January: maybe not entered)
        if orgs.nominations.exists():
            services.publicise(None, orgs, now=t0 + timedelta(days=14))
            services.name_selection(None, orgs, now=t0 + timedelta(days=30))
    except ServiceError:
        pass
    secretaries = services.create_round(None, unit=city, kind="secretary", name=f"{year}年度优秀书记", quota=100,
                                        nominate_until=(now - timedelta(days=5)).date(), now=now - timedelta(days=30))
    for i, v in enumerate(villages[:4]):
        n = services.nominate(None, secretaries, unit=v, nominee=NOMINEES[i], deeds=rng.choice(DEEDS),
                              now=now - timedelta(days=20))
        if i < 3:
            services.review(None, n, accept=True, citation=f"{v.name}党组织书记，{rng.choice(DEEDS)}",
                            now=now - timedelta(days=4))
        else:
            services.review(None, n, accept=False, note="事迹材料不完整", now=now - timedelta(days=4))
    try:
        services.publicise(None, secretaries, now=now - timedelta(days=1))
    except ServiceError:
        pass
    vanguard = services.create_round(None, unit=city, kind="vanguard", name=f"{year}年度先锋", quota=150,
                                     nominate_until=(now + timedelta(days=20)).date(), now=now - timedelta(days=10))
    for i, v in enumerate(villages):
        n = services.nominate(None, vanguard, unit=v, nominee=NOMINEES[(i + 4) % len(NOMINEES)],
                              deeds=rng.choice(DEEDS), now=now - timedelta(days=5))
        if i == 0:
            services.review(None, n, accept=True, citation="群众身边的先锋", now=now - timedelta(hours=2))
    return {"selection_rounds": 3}


RULES = [("LJFL", "垃圾分类", 5, 60, None), ("ZYFW", "志愿服务（每小时）", 2, 200, None),
         ("JYYW", "见义勇为", 10, None, 5), ("XLAQ", "孝老爱亲", 5, 40, None), ("WGDJ", "违规搭建", -10, None, None)]
ITEMS = [("洗衣液", 10, 60), ("大米5斤", 30, 40), ("食用油", 50, 20), ("毛巾", 5, 100)]


def seed_points(village, rng: random.Random, now: datetime) -> dict:
    """A year of credit points in ``village``: awards month by month, redemptions, one reversal."""
    from bihuan.people.models import Household

    if village is None:
        return {}
    township = village.parent
    rules = {code: services.create_rule(None, unit=township, code=code, name=name, points=pts, cap_per_year=cap,
                                        approval_above=above, now=now - timedelta(days=400))
             for code, name, pts, cap, above in RULES}
    items = [services.create_item(None, unit=village, name=n, price=p, stock=s, now=now - timedelta(days=380))
             for n, p, s in ITEMS]
    households = list(Household.objects.filter(unit__path__startswith=village.path).order_by("pk")[:200])
    entries = redemptions = 0
    for h in households:
        keen = rng.random()
        for month in range(12, 0, -1):
            at = now - timedelta(days=30 * month - rng.randint(0, 20))
            if rng.random() < 0.3 + 0.6 * keen:
                try:
                    services.award(None, household=h, rule=rules["LJFL"], evidence="分类检查记录", now=at)
                    entries += 1
                except ServiceError:
                    pass
            if rng.random() < 0.25 * keen:
                services.award(None, household=h, rule=rules["ZYFW"], quantity=rng.randint(1, 4),
                               note="网格志愿服务", now=at + timedelta(days=1))
                entries += 1
        if rng.random() < 0.4:
            item = rng.choice(items)
            try:
                services.redeem(None, household=h, item=item, now=now - timedelta(days=rng.randint(1, 60)))
                redemptions += 1
            except ServiceError:
                pass
    if households:
        h = households[0]
        e = services.award(None, household=h, rule=rules["XLAQ"], note="照顾邻居独居老人", now=now - timedelta(days=20))
        services.reverse(None, e, reason="重复登记，冲正", now=now - timedelta(days=19))
        services.award(None, household=households[-1], rule=rules["JYYW"], note="协助扑救柴草垛火情",
                       evidence="村委会证明", now=now - timedelta(days=3))  # awaits approval
        entries += 3
    return {"point_rules": len(rules), "store_items": len(items), "point_entries": entries,
            "redemptions": redemptions}


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """Evaluation's step of ``bihuan seed`` (skipped when an indicator set exists)."""
    if IndicatorSet.objects.exists():
        return {"sets": IndicatorSet.objects.count(), "skipped": True}
    import logging

    notify_log = logging.getLogger("bihuan.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return seed_evaluation(scale, seed)
    finally:
        notify_log.setLevel(level)
