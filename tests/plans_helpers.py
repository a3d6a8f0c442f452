"""A small published plan on the test tree (tests/conftest.py), built through the services."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bihuan.orgs.models import Level
from bihuan.plans import services

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def make_plan(tree, user=None, *, publish=True, unit=None):
    """2025 plan of 济宁市: one system, one key action, two tasks.

    * 建成幸福食堂 — every village, target 12 个 (baseline 0), monthly, milestone 6 by 30 June;
    * 完成换届 — 李营街道 and 龙桥街道 by name, target 100 %, quarterly.
    """
    p = SimpleNamespace()
    unit = unit or tree.city
    p.plan = services.create_plan(user, unit=unit, title="2025年“3515”任务推进图", starts_on=date(2025, 1, 1),
                                  ends_on=date(2025, 12, 31), now=at(2024, 12, 20))
    p.system = services.add_system(user, p.plan, name="组织体系")
    p.action = services.add_action(user, p.plan, system=p.system, name="幸福食堂提升行动")
    p.canteen = services.add_task(user, p.plan, action=p.action, title="建成幸福食堂", lead_level=Level.VILLAGE,
                                  target_value=12, target_unit="个", cadence="monthly",
                                  milestones=[("过半", date(2025, 6, 30), 6)], now=at(2024, 12, 20))
    towns = [t for t in (tree.liying, tree.longqiao) if unit.pk == tree.city.pk or unit.is_ancestor_of(t)]
    p.election = services.add_task(user, p.plan, action=p.action, title="完成换届", lead_units=towns,
                                   target_value=100, target_unit="%", cadence="quarterly", now=at(2024, 12, 20))
    if publish:
        services.publish(user, p.plan, version=p.plan.version, now=at(2025, 1, 2))
        p.plan.refresh_from_db()
    return p


def make_current_plan(tree, user):
    """``make_plan`` moved to this year and published, so pages' real "now" falls inside it."""
    from django.utils import timezone

    from bihuan.plans.models import Milestone, Plan, Task

    year = timezone.localdate().year
    p = make_plan(tree, user, publish=False)
    Plan.objects.filter(pk=p.plan.pk).update(starts_on=date(year, 1, 1), ends_on=date(year, 12, 31))
    Task.objects.filter(plan=p.plan).update(starts_on=date(year, 1, 1), due_on=date(year, 12, 31))
    Milestone.objects.filter(task__plan=p.plan).update(due_on=date(year, 6, 30))
    p.plan.refresh_from_db()
    services.publish(user, p.plan, version=p.plan.version)
    return p
