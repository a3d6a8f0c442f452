"""Loop demo data: the city's categories and a realistic year of matters, deterministic per seed.

* ``demo`` — a few hundred matters in the demo units, walked through the real services (so their
  events, audit entries and notifications are the real ones), ending at ``now``: every state,
  some overdue, some flagged (the final sweep escalates them), demands rated.
* ``county`` / ``city`` — sized for benchmarks (``CITY_MATTERS``, 2 million by default) with bulk
  inserts: matters, their events (a gap-free timeline per matter) and ratings, with deadlines from
  the real calendar.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from bihuan.core.context import acting_as
from bihuan.orgs.models import Level, OrgUnit

from . import services
from .deadlines import calendar as deadline_calendar
from .deadlines import deadlines
from .models import Category, Kind, Matter, MatterEvent, Rating, RoutingRule, State

CATEGORIES = [
    # code, name, kind, accept working hours, handling working days, warn %, extensions, Open311 code
    ("road", "道路破损", Kind.PROBLEM, 4, 5, 80, 1, "road"),
    ("sanitation", "环境卫生", Kind.PROBLEM, 4, 3, 70, 1, "sanitation"),
    ("building", "违章建筑", Kind.PROBLEM, 8, 10, 80, 2, ""),
    ("safety", "安全隐患", Kind.PROBLEM, 2, 2, 50, 0, ""),
    ("water", "供水供暖", Kind.DEMAND, 2, 3, 70, 1, "water"),
    ("dispute", "邻里纠纷", Kind.DEMAND, 4, 7, 80, 1, "dispute"),
    ("elderly", "养老服务", Kind.DEMAND, 4, 5, 80, 1, "elderly"),
    ("streetlight", "路灯照明", Kind.DEMAND, 4, 3, 80, 1, "streetlight"),
    ("plan_task", "计划任务", Kind.TASK, 8, 15, 80, 2, ""),
    ("proposal", "代表提议", Kind.PROPOSAL, 8, 20, 80, 1, ""),
    ("care_miss", "关爱走访遗漏", Kind.CARE_MISS, 2, 1, 50, 0, ""),
]

TITLES = {
    "road": ["村东路面塌陷", "桥头路面坑洼", "道路积水严重"], "sanitation": ["垃圾清运不及时", "河道漂浮物", "公厕无人打扫"],
    "building": ["私搭乱建占道", "违规加盖二层"], "safety": ["电线私拉乱接", "燃气管道老化"],
    "water": ["自来水停水三天", "冬季暖气不热", "水压过低"], "dispute": ["宅基地边界纠纷", "噪音扰民"],
    "elderly": ["独居老人送餐", "老人助浴需求"], "streetlight": ["路灯不亮", "路灯白天常亮"],
    "plan_task": ["党建阵地提升任务", "村级集体经济增收任务"], "proposal": ["建议增设公交站点", "建议修建文化广场"],
    "care_miss": ["一对一帮扶走访遗漏"],
}
DEMO_MATTERS = int(os.environ.get("BIHUAN_SEED_DEMO_MATTERS", "360"))
COUNTY_MATTERS = int(os.environ.get("BIHUAN_SEED_COUNTY_MATTERS", "50000"))
CITY_MATTERS = int(os.environ.get("BIHUAN_SEED_CITY_MATTERS", "2000000"))


def ensure_categories() -> list[Category]:
    out = []
    for code, name, kind, hours, days, warn, ext, o311 in CATEGORIES:
        cat, _ = Category.objects.get_or_create(code=code, defaults={
            "name": name, "kind": kind, "accept_hours": hours, "handle_days": days, "warn_percent": warn,
            "max_extensions": ext, "open311_code": o311})
        out.append(cat)
    return out


def _work_time(rng: random.Random, t: datetime) -> datetime:
    """Move ``t`` into office hours (for realistic timestamps)."""
    local = t.astimezone(timezone.get_default_timezone())
    local = local.replace(hour=rng.choice([9, 10, 11, 14, 15, 16]), minute=rng.randrange(60))
    return local


def seed_loop(scale: str = "demo", seed: int = 2022, *, progress: bool = True, now: datetime | None = None) -> dict:
    """Seed categories and matters unless matters already exist. Returns counts."""
    now = now or timezone.now()
    if Matter.objects.exists():
        return {"matters": Matter.objects.count(), "skipped": True}
    notify_log = logging.getLogger("bihuan.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)  # thousands of seeded notifications need not reach the console
    try:
        with acting_as(None, username="seed"):
            return _seed(scale, seed, now, progress)
    finally:
        notify_log.setLevel(level)


def _seed(scale: str, seed: int, now: datetime, progress: bool) -> dict:
    cats = ensure_categories()
    if scale == "demo":
        n = _seed_demo(cats, seed, now, progress)
    else:
        n = seed_bulk(cats, COUNTY_MATTERS if scale == "county" else CITY_MATTERS, seed, now, progress=progress)
    return {"matters": n, "skipped": False}


def _demo_places():
    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True)
                    .exclude(path="").order_by("path")[:40])
    lumiao = OrgUnit.objects.filter(code="370811008201", valid_to__isnull=True).first()
    if lumiao and lumiao not in villages:
        villages.append(lumiao)
    return villages


def _seed_demo(cats: list[Category], seed: int, now: datetime, progress: bool) -> int:
    rng = random.Random(seed)
    villages = _demo_places()
    if not villages:
        return 0
    lumiao = next((v for v in villages if v.code == "370811008201"), villages[0])
    # A routing rule: safety hazards anywhere in the lead village's township go to the township.
    town = services.township_of(lumiao)
    RoutingRule.objects.get_or_create(category=next(c for c in cats if c.code == "safety"), location=town,
                                      defaults={"handling_unit": town, "note": "安全隐患由街道统一处置"})
    count = 0
    bar = tqdm(total=DEMO_MATTERS, desc="matters", disable=not progress, unit="matter")
    for i in range(DEMO_MATTERS):
        cat = rng.choice(cats)
        village = lumiao if i % 4 == 0 else rng.choice(villages)
        created = _work_time(rng, now - timedelta(days=rng.random() ** 1.4 * 365))
        if created >= now:
            created = now - timedelta(hours=1)
        grids = list(village.children.all()[:3])
        place = rng.choice(grids) if grids and rng.random() < 0.5 else village
        with transaction.atomic():
            m = services.create_matter(None, category=cat, location_unit=place,
                                       title=rng.choice(TITLES[cat.code]), kind=cat.kind,
                                       description=f"{place.name}：{rng.choice(TITLES[cat.code])}，请尽快处理。",
                                       reporter_name=rng.choice(["王先生", "李女士", "赵大爷", "孙阿姨", ""]),
                                       reporter_phone=f"13{rng.randrange(5, 10)}{rng.randrange(10**8):08d}",
                                       source=rng.choice(["staff", "public", "staff", "api"]), now=created)
            _walk(rng, m, village, created, now)
        count += 1
        bar.update()
    bar.close()
    from .sweep import sweep

    sweep(now)  # reminders for the late ones, flagged supervision for the overdue
    return count


def _walk(rng: random.Random, m: Matter, village: OrgUnit, t: datetime, now: datetime) -> None:
    """Take one matter as far through the loop as its dates allow before ``now``."""
    r = rng.random()
    if r < 0.04:
        return  # still waiting for dispatch
    stall = rng.random()  # some matters get stuck: they become the overdue and flagged ones
    t += timedelta(hours=rng.uniform(0.3, 6))
    if t >= now:
        return
    lead = village if rng.random() < 0.85 else services.township_of(village)
    if rng.random() < 0.05:  # sent back once, then re-dispatched
        m = services.dispatch(None, m, version=m.version, handling_unit=lead, now=t)
        t += timedelta(hours=rng.uniform(0.5, 3))
        if t >= now:
            return
        m = services.send_back(None, m, version=m.version, reason="不属于本单位职责", now=t)
        t += timedelta(hours=rng.uniform(0.5, 3))
        if t >= now:
            return
    m = services.dispatch(None, m, version=m.version, handling_unit=lead, now=t)
    t += timedelta(hours=rng.uniform(0.2, 8) if rng.random() < 0.9 else rng.uniform(8, 40))
    if t >= now or stall < 0.03:
        return
    m = services.accept(None, m, version=m.version, now=t)
    limit_days = m.category.handle_days
    t += timedelta(days=rng.uniform(0.2, limit_days * (1.0 if rng.random() < 0.85 else 2.2)))
    if rng.random() < 0.1 and m.category.max_extensions:
        asked, decided = m.accepted_at + timedelta(hours=1), m.accepted_at + timedelta(hours=3)
        if asked < now:
            services.request_extension(None, m, version=m.version, days=min(3, m.category.max_extension_days),
                                       reason="需协调相关部门", now=asked)
            m.refresh_from_db()
        if decided < now:
            services.decide_extension(None, m, version=m.version, approve=rng.random() < 0.7,
                                      comment="同意延期" if rng.random() < 0.7 else "理由不充分", now=decided)
            m.refresh_from_db()
    if t >= now or stall < 0.10:
        return
    m = services.report_done(None, m, version=m.version, comment="已处理完毕，现场已整改。", now=t)
    t += timedelta(hours=rng.uniform(1, 30))
    if t >= now:
        return
    if rng.random() < 0.08:
        m = services.evaluate(None, m, version=m.version, passed=False, comment="整改不到位，请重新处理", now=t)
        t += timedelta(days=rng.uniform(0.5, 2))
        if t >= now:
            return
        m = services.report_done(None, m, version=m.version, comment="已重新整改。", now=t)
        t += timedelta(hours=rng.uniform(1, 10))
        if t >= now:
            return
    m = services.evaluate(None, m, version=m.version, passed=True, comment="验收通过", now=t)
    if m.kind == Kind.DEMAND or rng.random() < 0.3:
        t += timedelta(days=rng.uniform(0.5, 3))
        if t < now:
            sat = rng.choices(["satisfied", "basic", "dissatisfied"], weights=[70, 22, 8])[0]
            services.rate(None, m, version=m.version, satisfaction=sat, resolved=sat != "dissatisfied", now=t)


# --- bulk (benchmarks) ---------------------------------------------------------------------------

def seed_bulk(cats: list[Category], n: int, seed: int, now: datetime, *, progress: bool = True,
              batch: int = 5000) -> int:
    """``n`` matters over the villages of the tree, with events and ratings, by bulk inserts.

    No audit entries or notifications are written for these (they are benchmark data; the
    audit log records one entry for the run)."""
    from bihuan.core import audit

    rng = random.Random(seed)
    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True)
                    .values_list("id", "path", "parent_id"))
    if not villages:
        return 0
    cal = deadline_calendar()
    dl_cache: dict[tuple[int, str], tuple] = {}
    made = 0
    bar = tqdm(total=n, desc="matters (bulk)", disable=not progress, unit="matter")
    while made < n:
        size = min(batch, n - made)
        rows, plans = [], []
        for _ in range(size):
            cat = cats[rng.randrange(len(cats))]
            vid, _path, town_id = villages[rng.randrange(len(villages))]
            created = _work_time(rng, now - timedelta(days=rng.random() * 365))
            if created >= now:
                created = now - timedelta(hours=2)
            m = Matter(kind=cat.kind, title=TITLES[cat.code][rng.randrange(len(TITLES[cat.code]))],
                       description="批量演示数据", category=cat, location_unit_id=vid, dispatch_unit_id=town_id,
                       created_at=created, source="staff")
            events = [("create", "", State.NEW, created)]
            t = created + timedelta(hours=rng.uniform(0.3, 4))
            if rng.random() > 0.04 and t < now:
                key = (cat.pk, t.strftime("%Y%m%d%H"))
                if key not in dl_cache:
                    d = deadlines(cat, t, cal=cal)  # the product's formula, memoised per hour
                    dl_cache[key] = (d["accept_due_at"], d["due_at"], d["warn_at"])
                m.accept_due_at, m.due_at, m.warn_at = dl_cache[key]
                m.handling_unit_id, m.dispatched_at, m.state = vid, t, State.DISPATCHED
                events.append(("dispatch", State.NEW, State.DISPATCHED, t))
                t += timedelta(hours=rng.uniform(0.2, 10))
                if t < now:
                    m.accepted_at, m.state = t, State.IN_PROGRESS
                    events.append(("accept", State.DISPATCHED, State.IN_PROGRESS, t))
                    t += timedelta(days=rng.uniform(0.2, cat.handle_days * (1.0 if rng.random() < 0.85 else 2.0)))
                    if t < now:
                        m.reported_at, m.state = t, State.REPORTED
                        events.append(("report_done", State.IN_PROGRESS, State.REPORTED, t))
                        t += timedelta(hours=rng.uniform(1, 24))
                        if t < now:
                            m.closed_at, m.state = t, State.CLOSED
                            m.handling_hours = round((m.reported_at - m.dispatched_at).total_seconds() / 3600 * 0.31, 2)
                            events.append(("evaluate", State.REPORTED, State.CLOSED, t))
            m.version = len(events)
            rows.append(m)
            plans.append(events)
        with transaction.atomic():
            Matter.objects.bulk_create(rows, batch_size=2000)
            evs, ratings = [], []
            for m, events in zip(rows, plans, strict=True):
                for seq, (action, frm, to, at) in enumerate(events, start=1):
                    evs.append(MatterEvent(matter_id=m.pk, seq=seq, at=at, actor_name="seed", action=action,
                                           from_state=frm, to_state=to, data={}))
                if m.state == State.CLOSED and m.kind == Kind.DEMAND and rng.random() < 0.8:
                    sat = rng.choices(["satisfied", "basic", "dissatisfied"], weights=[70, 22, 8])[0]
                    rated = m.closed_at + timedelta(days=1)
                    if rated < now:
                        ratings.append(Rating(matter_id=m.pk, round=1, satisfaction=sat, resolved=sat != "dissatisfied",
                                              rated_at=rated))
            MatterEvent.objects.bulk_create(evs, batch_size=5000)
            Rating.objects.bulk_create(ratings, batch_size=5000)
        made += size
        bar.update(size)
    bar.close()
    audit.record("loop.seed.bulk", object_type="loop.matter", extra={"matters": made, "seed": seed})
    return made


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The matters' step of ``bihuan seed`` (skipped when matters already exist)."""
    return seed_loop(scale, seed, progress=progress)
