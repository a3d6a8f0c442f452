"""Reports demo data: the bulletins the progress map is worked with (调度通报), through the services.

For 任城区 and 兖州区: last week's closed-loop bulletin (周调度通报), issued, with its requirements;
for 任城区 also last month's plan progress bulletin (月度推进通报). 李营街道 has read 任城区's
weekly bulletin; the other townships have not (their receipts are open). The city's weekly
bulletin is scheduled for Monday 08:00, so the worker drafts the next one. Skipped when a
bulletin exists.
"""

from __future__ import annotations

from django.utils import timezone

from bihuan.orgs.models import OrgUnit

from . import kinds, services
from .models import Bulletin

TEXT = {
    "weekly_loop": ["各街道（镇）对照本期黑榜，逐件梳理超期事项，本周五前清零。",
                    "红榜单位经验做法由区委组织部汇总推广。"],
    "monthly_plans": ["各单位对照任务推进图，滞后任务明确责任人和完成时限。",
                      "下月调度重点：幸福食堂提升行动、网格党组织全覆盖行动。"],
}


def seed_reports(now=None) -> dict:
    now = now or timezone.now()
    if Bulletin.objects.exists():
        return {"bulletins": Bulletin.objects.count(), "skipped": True}
    made = 0
    plan = [("370811", "weekly_loop"), ("370811", "monthly_plans"), ("370812", "weekly_loop")]
    for code, template in plan:
        unit = OrgUnit.objects.filter(code=code, valid_to__isnull=True).first()
        if unit is None:
            continue
        rule = kinds.TEMPLATES[template].period
        b = services.draft(None, template=template, unit=unit, period=kinds.last_complete(rule, now), now=now,
                           paragraphs=TEXT[template])
        services.issue(None, b, now=now)
        made += 1
        if code == "370811" and template == "weekly_loop":
            _read_by_a_township(b, now)
    city = OrgUnit.objects.filter(parent__isnull=True, valid_to__isnull=True).order_by("pk").first()
    if city is not None:
        services.set_schedule(None, template="weekly_loop", unit=city, weekday=0, hour=8, minute=0, now=now)
    return {"bulletins": made, "schedules": 1 if city else 0}


def _read_by_a_township(b, now) -> None:
    from bihuan.accounts.models import User

    reader = User.objects.filter(username="liying_staff", is_active=True).first()
    if reader is not None:
        services.mark_read(reader, b, now=now)


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The reports' step of ``bihuan seed`` (skipped when a bulletin exists)."""
    import logging

    notify_log = logging.getLogger("bihuan.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return seed_reports()
    finally:
        notify_log.setLevel(level)
