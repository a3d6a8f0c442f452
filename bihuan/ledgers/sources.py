"""The registers' figures as evaluation sources and a report section (``core.registry``).

* ``ledgers.entries`` — entries of every register filled in the unit's subtree (not ranked);
* ``ledgers.on_time_rate`` — of the submissions due in the period (collection rounds whose
  deadline falls in it), the share made by the deadline; ``None`` without a round.

A unit's value covers its whole subtree; a set of units of one depth is computed together: one
query for the units under them, then entries and submissions grouped per unit (two queries, not two
per unit) and summed up to the unit of the set above. The trend of ``on_time_rate`` over several
periods is one query more (``on_time_series``), not one per period.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import (
    Column,
    Section,
    Source,
    figure_of,
    register_section,
    register_source,
    rows_by_parent,
)

FIGURES = (
    ("on_time_rate", _("Register submissions on time (台账按时填报率)"), "%", True),
    ("entries", _("Register entries"), "条", None),
    ("due", _("Submissions due"), "次", None),
    ("on_time", _("Submissions on time"), "次", None),
)


def _rate(row: dict) -> dict:
    due = row.get("due", 0)
    return {**row, "on_time_rate": round(100.0 * row.get("on_time", 0) / due, 1) if due else None}


def _under(units) -> list[dict[int, int]]:
    """For each depth present in ``units``: {id of a unit in their subtrees: the pk of the one of
    ``units`` above it} — one query over org units per depth (units of one depth never overlap)."""
    from bihuan.orgs.models import OrgUnit
    from bihuan.orgs.selectors import ancestor_at

    by_depth: dict[int, dict[str, int]] = {}
    for u in units:
        by_depth.setdefault(u.depth, {})[str(u.pk)] = u.pk
    return [{uid: ids[t] for uid, t in OrgUnit.objects.filter(depth__gte=depth)
             .annotate(t=ancestor_at("path", depth)).filter(t__in=list(ids)).values_list("id", "t")}
            for depth, ids in by_depth.items()]


def _figures(units, *, start, end) -> dict[int, dict]:
    """For each of ``units`` (whole subtrees): entries, submissions due in [start, end) and on time.
    Per depth present in ``units``: one query for the units under them, then entries and submissions
    counted per unit in two grouped queries (not two per unit; the counts scan the rows' units, not a
    path expression per row), summed up to the ancestor (at most one row per unit)."""
    from .models import Entry, Submission

    out = {u.pk: {"entries": 0, "due": 0, "on_time": 0} for u in units}
    for above in _under(units):
        for r in Entry.objects.filter(unit_id__in=list(above)).order_by().values("unit_id").annotate(n=Count("id")):
            out[above[r["unit_id"]]]["entries"] += r["n"]
        subs = (Submission.objects.filter(unit_id__in=list(above), round__due_on__gte=start, round__due_on__lt=end)
                .order_by().values("unit_id").annotate(due=Count("id"), on_time=Count("id", filter=Q(on_time=True))))
        for r in subs:
            o = out[above[r["unit_id"]]]
            o["due"] += r["due"]
            o["on_time"] += r["on_time"]
    return {k: _rate(v) for k, v in out.items()}


def on_time_series(units, *, starts, end, now) -> dict[int, list]:
    """``on_time_rate`` of each unit's subtree for consecutive periods ``[starts[i], starts[i+1])``
    (the last up to ``end``), as ``rows_for`` gives it period by period: one query grouped by unit
    and period (the round's ``due_on``) for all periods (``core.registry.compute_series``; the
    dashboard's trend)."""
    from django.db.models import Case, IntegerField, Value, When

    from .models import Submission

    bounds = [_date(b) for b in [*starts, end]]
    bucket = Case(*(When(round__due_on__lt=b, then=Value(i)) for i, b in enumerate(bounds[1:])),
                  output_field=IntegerField())
    got = {u.pk: [{"due": 0, "on_time": 0} for _s in starts] for u in units}
    for above in _under(units):
        rows = (Submission.objects.filter(unit_id__in=list(above), round__due_on__gte=bounds[0],
                                          round__due_on__lt=bounds[-1])
                .annotate(b=bucket).order_by().values("unit_id", "b")
                .annotate(due=Count("id"), on_time=Count("id", filter=Q(on_time=True))))
        for r in rows:
            o = got[above[r["unit_id"]]][r["b"]]
            o["due"] += r["due"]
            o["on_time"] += r["on_time"]
    return {pk: [_rate(o)["on_time_rate"] for o in per] for pk, per in got.items()}


def _date(d):
    return d.date() if hasattr(d, "date") else d


def rows_for(units, *, start, end, now) -> dict[int, dict]:
    start, end = _date(start), _date(end)

    def children_rows(parent):
        children = list(parent.children.filter(valid_to__isnull=True))
        return _figures(children, start=start, end=end)

    return rows_by_parent(units, children_rows=children_rows,
                          root_row=lambda u: _figures([u], start=start, end=end)[u.pk])


def _section(parent, *, start, end, now) -> list[dict]:
    children = list(parent.children.filter(valid_to__isnull=True).order_by("sort", "code"))
    figs = _figures(children, start=_date(start), end=_date(end))
    return [{"unit_id": c.pk, "unit_name": c.name, **figs[c.pk]} for c in children]


def register() -> None:
    for key, label, unit, better in FIGURES:
        if better is None:
            continue
        compute = figure_of(rows_for, key)
        if key == "on_time_rate":
            compute.series = on_time_series  # several periods at once (core.registry.compute_series)
        register_source(Source(name=f"ledgers.{key}", label=label, unit=unit, higher_is_better=better,
                               compute=compute, app="ledgers"))
    register_section(Section(
        name="ledgers.registers", label=_("Registers: entries and on-time submissions by unit"), figures=_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="on_time_rate", app="ledgers"))
