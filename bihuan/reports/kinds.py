"""Bulletin templates (调度通报的种类) and their period rules: one rule, used by drafting, the
schedule and the pages.

A template is a list of report-section names (``core.registry``; sections of apps not installed
are skipped) and a period rule. Periods are named by keys: ``2026-W48`` (ISO week, Monday to
Sunday), ``2026-11`` (month), ``2026-Q4`` (quarter), ``2026-11-30`` (day), in Asia/Shanghai.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Template:
    code: str
    label: object
    period: str  # week | month | quarter | day
    sections: tuple[str, ...]


TEMPLATES = {t.code: t for t in (
    Template("weekly_loop", _("Weekly closed-loop bulletin"), "week", ("loop.metrics",)),
    Template("monthly_plans", _("Monthly plan progress bulletin"), "month", ("plans.progress", "loop.metrics")),
    Template("quarterly_evaluation", _("Quarterly evaluation bulletin"), "quarter",
             ("evaluation.stars", "loop.metrics", "plans.progress", "care.visits", "activities.lectures",
              "ledgers.registers")),
    Template("campaign_daily", _("Campaign daily bulletin"), "day", ("loop.metrics", "plans.progress")),
)}

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
QUARTER_NAMES = "一二三四"


class BadPeriod(ValueError):
    pass


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def period_bounds(rule: str, key: str) -> tuple[datetime, datetime, str]:
    """``(start, end, label)`` of the period ``key`` under ``rule``; ``BadPeriod`` if malformed."""
    key = (key or "").strip()
    try:
        if rule == "week" and (m := _WEEK.match(key)):
            d0 = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            d1 = d0 + timedelta(days=7)
            label = f"{m[1]}年第{int(m[2])}周（{d0.month}月{d0.day}日—{(d1 - timedelta(days=1)).month}月" \
                    f"{(d1 - timedelta(days=1)).day}日）"
        elif rule == "month" and (m := _MONTH.match(key)):
            d0 = date(int(m[1]), int(m[2]), 1)
            d1 = _add_months(d0, 1)
            label = f"{d0.year}年{d0.month}月"
        elif rule == "quarter" and (m := _QUARTER.match(key)):
            d0 = date(int(m[1]), 3 * int(m[2]) - 2, 1)
            d1 = _add_months(d0, 3)
            label = f"{d0.year}年第{QUARTER_NAMES[int(m[2]) - 1]}季度"
        elif rule == "day" and (m := _DAY.match(key)):
            d0 = date(int(m[1]), int(m[2]), int(m[3]))
            d1 = d0 + timedelta(days=1)
            label = f"{d0.year}年{d0.month}月{d0.day}日"
        else:
            raise BadPeriod(key)
    except ValueError as exc:
        raise BadPeriod(key) from exc
    if not 2000 <= d0.year <= 2100:
        raise BadPeriod(key)
    return _at(d0), _at(d1), label


def key_of(rule: str, d: date) -> str:
    """The key of the period of ``rule`` that contains the day ``d``."""
    if rule == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if rule == "month":
        return f"{d.year}-{d.month:02d}"
    if rule == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return d.isoformat()


def last_complete(rule: str, now: datetime) -> str:
    """The key of the last whole period before ``now`` (what a scheduled bulletin reports on)."""
    today = now.astimezone(TZ).date()
    start, _, _ = period_bounds(rule, key_of(rule, today))
    return key_of(rule, (start - timedelta(days=1)).date())


def current(rule: str, now: datetime) -> str:
    return key_of(rule, now.astimezone(TZ).date())


def previous(rule: str, key: str) -> str:
    start, _, _ = period_bounds(rule, key)
    return key_of(rule, (start - timedelta(days=1)).date())
