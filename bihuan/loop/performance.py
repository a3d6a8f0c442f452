"""The performance pages' figures (绩效): 响应率, 按期办结率, 解决率, 满意率 and handling time of a
unit and each of its children over a period, and the unit's 12-week trend.

Every figure is ``loop.metrics`` (definitions in docs/loop.md "Metrics"; this module defines
none): the table is ``metrics.children_metrics`` for the period, the trend one
``metrics.unit_metrics`` per week (weeks start on Monday, Asia/Shanghai; the current week ends at
``now``). ``COLUMNS`` is the one list of what the page, the chart and the XLSX show, with the
Chinese headers of the download.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils.translation import gettext_lazy as _

from bihuan.core.calendar import TZ

from . import metrics

TREND_WEEKS = 12
PERIODS = (4, 12, 26, 52)  # weeks the table may cover
RATES = ("response_rate", "on_time_rate", "resolution_rate", "satisfaction_rate")

# (key, label, kind): kind "rate" (0..1, shown as %), "hours" or "count".
COLUMNS = (
    ("response_rate", _("Response rate"), "rate"),
    ("on_time_rate", _("On-time closure rate"), "rate"),
    ("resolution_rate", _("Resolution rate"), "rate"),
    ("satisfaction_rate", _("Satisfaction rate"), "rate"),
    ("mean_hours", _("Mean handling time (working hours)"), "hours"),
    ("p90_hours", _("90th percentile handling time (working hours)"), "hours"),
    ("volume", _("Matters dispatched"), "count"),
    ("overdue", _("Overdue matters"), "count"),
)


def week_start(now: datetime) -> datetime:
    """Monday 00:00 (Asia/Shanghai) of the week holding ``now``."""
    local = now.astimezone(TZ)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0, 0), tzinfo=TZ)


def period(weeks: int, now: datetime) -> tuple[datetime, datetime]:
    """The last ``weeks`` weeks, this one included: [Monday ``weeks - 1`` weeks ago, now)."""
    return week_start(now) - timedelta(weeks=weeks - 1), now


def table(unit, *, weeks: int, now: datetime) -> dict:
    start, end = period(weeks, now)
    return metrics.children_metrics(unit, start=start, end=end, now=now)


def trend(unit, *, now: datetime, weeks: int = TREND_WEEKS) -> dict:
    """The unit's rates and mean handling time per week, oldest first, for the chart."""
    first = week_start(now) - timedelta(weeks=weeks - 1)
    labels, series = [], {k: [] for k in (*RATES, "mean_hours")}
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        end = min(start + timedelta(weeks=1), now)
        row = metrics.unit_metrics(unit, start=start, end=end, now=now)
        labels.append(start.strftime("%m-%d"))
        for k in RATES:
            series[k].append(None if row[k] is None else round(row[k] * 100, 1))
        series["mean_hours"].append(row["mean_hours"])
    return {"weeks": labels, "series": [{"key": k, "name": str(label), "data": series[k]}
                                        for k, label, _kind in COLUMNS if k in series]}


def cell(row: dict, key: str, kind: str):
    """A figure as shown and downloaded: rates in percent (one decimal), hours to one decimal."""
    v = row.get(key)
    if v is None:
        return None
    if kind == "rate":
        return round(v * 100, 1)
    if kind == "hours":
        return round(v, 1)
    return v
