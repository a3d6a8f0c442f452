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

from django.db import connections
from django.db.models import Aggregate, Avg, Count, FloatField, Q, Sum, Value
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


class _P90(Aggregate):
    """PostgreSQL's ``percentile_disc(0.9)``: the nearest-rank 90th percentile (same as ``_p90``)."""

    function = "percentile_disc"
    template = "%(function)s(0.9) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _closed_q(start: datetime, end: datetime) -> Q:
    return Q(closed_at__gte=start, closed_at__lt=end, state=State.CLOSED)


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


def _p90(qs, n: int | None = None) -> float | None:
    """Nearest-rank 90th percentile: the smallest value with at least 90% of values at or below it.
    ``n`` is the number of rows when the caller already counted them."""
    n = qs.count() if n is None else n
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
    """Metrics for each child of ``unit``, the unit's own level (本级) and the total.

    One grouped query for the matters and one for the ratings cover every child; the unit's own
    level is one more of each. The total is their sum (the children's subtrees and the unit itself
    partition the unit's subtree), so only its p90 needs another query. On PostgreSQL the p90 is
    ``percentile_disc`` inside the grouped query; elsewhere one ordered query per child."""
    pg = connections[Matter.objects.db].vendor == "postgresql"
    closed = _closed_q(start, end) & Q(handling_hours__isnull=False)
    aggs = {**_aggs(start, end, now), "hours_n": Count("handling_hours", filter=closed),
            "hours_sum": Sum("handling_hours", filter=closed)}
    if pg:
        aggs["p90_hours"] = _P90("handling_hours", filter=closed)
    base = Matter.objects.filter(handling_unit__path__startswith=unit.path)
    keyed = (base.exclude(handling_unit=unit).annotate(child=_child_key(unit, "handling_unit__path"))
             .values("child").annotate(**aggs).order_by())
    by_child = {r.pop("child"): r for r in keyed}
    ratings = (Rating.objects.filter(matter__handling_unit__path__startswith=unit.path, rated_at__gte=start,
                                     rated_at__lt=end).exclude(matter__handling_unit=unit)
               .annotate(child=_child_key(unit, "matter__handling_unit__path"))
               .values("child").annotate(**_rating_aggs()).order_by())
    rating_by_child = {r.pop("child"): r for r in ratings}
    empty = dict.fromkeys([*aggs, *_rating_aggs()], 0)
    empty.update(mean_hours=None, hours_sum=None, p90_hours=None)

    def p90_of(qs, n: int):
        return _p90(qs.filter(closed), n=n) if n else None

    rows = []
    for child in OrgUnit.objects.filter(parent=unit).order_by("sort", "code"):
        row = {**empty, **by_child.get(str(child.pk), {}), **rating_by_child.get(str(child.pk), {})}
        if not pg:
            row["p90_hours"] = p90_of(Matter.objects.filter(handling_unit__path__startswith=child.path),
                                      row["hours_n"])
        rows.append({"unit_id": child.pk, "unit_name": child.name, **_finish(_public(row))})
    own = Matter.objects.filter(handling_unit=unit)
    own_row = {**empty, **own.aggregate(**aggs)}
    own_row.update(Rating.objects.filter(matter__handling_unit=unit, rated_at__gte=start, rated_at__lt=end)
                   .aggregate(**_rating_aggs()))
    if not pg:
        own_row["p90_hours"] = p90_of(own, own_row["hours_n"])
    total = dict.fromkeys([*aggs, *_rating_aggs()], 0)
    for r in [*by_child.values(), *rating_by_child.values(), own_row]:
        for k in total:
            if k in r and k not in ("mean_hours", "p90_hours") and r[k] is not None:
                total[k] += r[k]
    total["mean_hours"] = total["hours_sum"] / total["hours_n"] if total["hours_n"] else None
    if pg:
        total["p90_hours"] = base.filter(closed).aggregate(p=_P90("handling_hours"))["p"] if total["hours_n"] else None
    else:
        total["p90_hours"] = p90_of(base, total["hours_n"])
    return {"unit": {"unit_id": unit.pk, "unit_name": unit.name, **_finish(_public(total))},
            "own": {"unit_id": unit.pk, "unit_name": unit.name, **_finish(_public(own_row))},
            "children": rows, "period": {"from": start, "to": end, "now": now}}


def _segment(field: str, depth: int):
    """The id (as text) of the ancestor at ``depth`` in a path like ``/1/12/345/``: skip ``depth``
    segments, take the next — so matters group by the unit of the set above them, in SQL."""
    rest = Substr(field, 2)
    for _i in range(depth):
        rest = Substr(rest, StrIndex(rest, Value("/")) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)


def units_metrics(units, *, start: datetime, end: datetime, now: datetime) -> dict[int, dict]:
    """The metrics of each unit's subtree for a whole set of units (all villages of the city):
    per depth present in the set, **one** grouped query over matters and one over ratings, keyed by
    the ancestor at that depth (``_segment`` of the handling unit's path) — not one per parent.
    Units of one depth never overlap, so each matter counts for at most one of them. No p90 here
    (the sources do not use it; ``children_metrics`` gives it)."""
    by_depth: dict[int, list] = {}
    for u in units:
        by_depth.setdefault(u.depth, []).append(u)
    closed = _closed_q(start, end) & Q(handling_hours__isnull=False)
    aggs = {**_aggs(start, end, now), "hours_n": Count("handling_hours", filter=closed)}
    empty = dict.fromkeys([*aggs, *_rating_aggs()], 0)
    empty.update(mean_hours=None, p90_hours=None)
    out: dict[int, dict] = {}
    for depth, group in by_depth.items():
        ids = [str(u.pk) for u in group]
        matters = (Matter.objects.filter(handling_unit__depth__gte=depth)
                   .annotate(t=_segment("handling_unit__path", depth)).filter(t__in=ids)
                   .values("t").annotate(**aggs).order_by())
        by_unit = {r.pop("t"): r for r in matters}
        ratings = (Rating.objects.filter(matter__handling_unit__depth__gte=depth, rated_at__gte=start,
                                         rated_at__lt=end)
                   .annotate(t=_segment("matter__handling_unit__path", depth)).filter(t__in=ids)
                   .values("t").annotate(**_rating_aggs()).order_by())
        rating_by_unit = {r.pop("t"): r for r in ratings}
        for u in group:
            row = {**empty, **by_unit.get(str(u.pk), {}), **rating_by_unit.get(str(u.pk), {})}
            out[u.pk] = {"unit_id": u.pk, "unit_name": u.name, **_finish(_public(row))}
    return out


def _public(row: dict) -> dict:
    """Drop the helper sums used to add rows up."""
    return {k: v for k, v in row.items() if k not in ("hours_n", "hours_sum")}
