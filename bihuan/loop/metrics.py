"""Per-unit metrics for a period, computed in SQL. Definitions: docs/loop.md "Metrics".

A matter counts for the unit whose subtree holds its **lead unit** (``handling_unit``).
The period is ``[start, end)``; ``now`` caps it for anything that must already have happened.

* ``volume`` — matters first dispatched (``dispatched_at``) in the period;
* ``accepted_in_time`` / ``response_rate`` (响应率) — of those, accepted at or before ``accept_due_at``;
* ``due`` — matters whose ``due_at`` lies in ``[start, min(end, now))`` (merged ones excluded);
* ``closed_in_time`` / ``on_time_rate`` (按期办结率) — of ``due``, closed at or before ``due_at``;
* ``overdue`` — of ``due``, not closed by ``due_at`` (closed late, or still open);
* ``open_overdue_now`` — open and overdue at ``now``;
* ``rated``, ``resolved`` / ``resolution_rate`` (解决率), ``satisfied`` / ``satisfaction_rate`` (满意率) —
  ratings recorded in the period; satisfied counts "satisfied" and "basically satisfied";
* ``closed`` — matters closed in the period; ``mean_hours`` and ``p90_hours`` — the mean and the
  nearest-rank 90th percentile of their handling time in working hours (dispatch → accepted report).

Rates are ``None`` when their denominator is 0.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db.models import Avg, Count, Q, Value
from django.db.models.functions import StrIndex, Substr

from bihuan.orgs.models import OrgUnit

from .models import Matter, Rating, Satisfaction, State


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _aggs(start: datetime, end: datetime, now: datetime, prefix: str = "") -> dict:
    p = prefix
    due_end = min(end, now)
    in_period = Q(**{f"{p}dispatched_at__gte": start, f"{p}dispatched_at__lt": end})
    due = Q(**{f"{p}due_at__gte": start, f"{p}due_at__lt": due_end}) & ~Q(**{f"{p}state": State.MERGED})
    return {
        "volume": Count("id", filter=in_period),
        "accepted_in_time": Count("id", filter=in_period & Q(**{f"{p}accepted_at__isnull": False,
                                                                 f"{p}accepted_at__lte": _F(p, "accept_due_at")})),
        "due": Count("id", filter=due),
        "closed_in_time": Count("id", filter=due & Q(**{f"{p}closed_at__isnull": False,
                                                         f"{p}closed_at__lte": _F(p, "due_at")})),
        "open_overdue_now": Count("id", filter=Q(**{f"{p}state__in": [State.DISPATCHED, State.IN_PROGRESS],
                                                    f"{p}due_at__lt": now})),
        "closed": Count("id", filter=Q(**{f"{p}closed_at__gte": start, f"{p}closed_at__lt": end,
                                          f"{p}state": State.CLOSED})),
        "mean_hours": Avg("handling_hours", filter=Q(**{f"{p}closed_at__gte": start, f"{p}closed_at__lt": end,
                                                          f"{p}state": State.CLOSED})),
    }


def _F(prefix, name):
    from django.db.models import F

    return F(f"{prefix}{name}")


def _rating_aggs() -> dict:
    return {
        "rated": Count("id"),
        "resolved": Count("id", filter=Q(resolved=True)),
        "satisfied": Count("id", filter=Q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASIC])),
    }


def _child_key(unit: OrgUnit, field: str):
    rest = Substr(field, len(unit.path) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)


def _p90(qs) -> float | None:
    """Nearest-rank 90th percentile: the smallest value with at least 90% of values at or below it."""
    n = qs.count()
    if not n:
        return None
    k = math.ceil(0.9 * n)
    return qs.order_by("handling_hours").values_list("handling_hours", flat=True)[k - 1]


def _finish(row: dict) -> dict:
    row["overdue"] = row["due"] - row["closed_in_time"]
    row["response_rate"] = _rate(row["accepted_in_time"], row["volume"])
    row["on_time_rate"] = _rate(row["closed_in_time"], row["due"])
    row["resolution_rate"] = _rate(row["resolved"], row["rated"])
    row["satisfaction_rate"] = _rate(row["satisfied"], row["rated"])
    if row.get("mean_hours") is not None:
        row["mean_hours"] = round(row["mean_hours"], 2)
    return row


def unit_metrics(unit: OrgUnit, *, start: datetime, end: datetime, now: datetime) -> dict:
    """The metrics of one unit's whole subtree."""
    matters = Matter.objects.filter(handling_unit__path__startswith=unit.path)
    row = matters.aggregate(**_aggs(start, end, now))
    row.update(Rating.objects.filter(matter__handling_unit__path__startswith=unit.path, rated_at__gte=start,
                                     rated_at__lt=end).aggregate(**_rating_aggs()))
    row["p90_hours"] = _p90(matters.filter(state=State.CLOSED, closed_at__gte=start, closed_at__lt=end,
                                           handling_hours__isnull=False))
    return {"unit_id": unit.pk, "unit_name": unit.name, **_finish(row)}


def children_metrics(unit: OrgUnit, *, start: datetime, end: datetime, now: datetime) -> dict:
    """Metrics for each child of ``unit`` (one grouped query for matters, one for ratings, one
    percentile query per child), the unit's own level (本级) and the total."""
    base = Matter.objects.filter(handling_unit__path__startswith=unit.path)
    keyed = (base.exclude(handling_unit=unit).annotate(child=_child_key(unit, "handling_unit__path"))
             .values("child").annotate(**_aggs(start, end, now)).order_by())
    by_child = {r["child"]: r for r in keyed}
    ratings = (Rating.objects.filter(matter__handling_unit__path__startswith=unit.path, rated_at__gte=start,
                                     rated_at__lt=end).exclude(matter__handling_unit=unit)
               .annotate(child=_child_key(unit, "matter__handling_unit__path"))
               .values("child").annotate(**_rating_aggs()).order_by())
    rating_by_child = {r["child"]: r for r in ratings}
    empty = dict.fromkeys([*_aggs(start, end, now), *_rating_aggs()], 0)
    empty["mean_hours"] = None
    rows = []
    for child in OrgUnit.objects.filter(parent=unit).order_by("sort", "code"):
        row = {**empty, **{k: v for k, v in by_child.get(str(child.pk), {}).items() if k != "child"},
               **{k: v for k, v in rating_by_child.get(str(child.pk), {}).items() if k != "child"}}
        row["p90_hours"] = _p90(Matter.objects.filter(
            handling_unit__path__startswith=child.path, state=State.CLOSED, closed_at__gte=start, closed_at__lt=end,
            handling_hours__isnull=False)) if row["closed"] else None
        rows.append({"unit_id": child.pk, "unit_name": child.name, **_finish(row)})
    own = Matter.objects.filter(handling_unit=unit)
    own_row = own.aggregate(**_aggs(start, end, now))
    own_row.update(Rating.objects.filter(matter__handling_unit=unit, rated_at__gte=start, rated_at__lt=end)
                   .aggregate(**_rating_aggs()))
    own_row["p90_hours"] = _p90(own.filter(state=State.CLOSED, closed_at__gte=start, closed_at__lt=end,
                                           handling_hours__isnull=False))
    return {"unit": unit_metrics(unit, start=start, end=end, now=now),
            "own": {"unit_id": unit.pk, "unit_name": unit.name, **_finish(own_row)},
            "children": rows, "period": {"from": start, "to": end, "now": now}}

