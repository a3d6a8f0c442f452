"""Shared setup for the loop tests: categories and a matter walked through the loop."""

from __future__ import annotations

from datetime import datetime

from bihuan.core.calendar import TZ
from bihuan.loop import services
from bihuan.loop.models import Category

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def at(s: str) -> datetime:
    """'2026-11-02 09:00' in Asia/Shanghai."""
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


def make_categories():
    road = Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3,
                                   warn_percent=80, max_extensions=1, max_extension_days=5)
    demand = Category.objects.create(code="water", name="供水问题", kind="demand", accept_hours=2, handle_days=5,
                                     warn_percent=80, max_extensions=1)
    return road, demand


def new_matter(user, category, unit, now, title="路面破损", description="村东头路面有坑，雨天积水。"):
    return services.create_matter(user, category=category, location_unit=unit, title=title,
                                  description=description, reporter_name="张三", reporter_phone="13812345678",
                                  now=now)


def closed_matter(tree, users, category, now):
    """A matter registered, dispatched to 芦庙村, accepted, reported and evaluated (pass)."""
    m = new_matter(users.lumiao_grid, category, tree.lumiao_g1, now)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=now)
    m = services.accept(users.lumiao_secretary, m.pk, version=m.version, now=now)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已修复", now=now)
    m = services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True, now=now)
    return m
