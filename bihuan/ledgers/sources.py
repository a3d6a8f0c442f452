"""The registers' figures as evaluation sources and a report section (``core.registry``).

* ``ledgers.entries`` — entries of every register filled in the unit's subtree (not ranked);
* ``ledgers.on_time_rate`` — of the submissions due in the period (collection rounds whose
  deadline falls in it), the share made by the deadline; ``None`` without a round.

A unit's value covers its whole subtree; siblings are computed together with one grouped query
per parent (joining each row's unit to the child of the parent it lies under, by path prefix).
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


def _figures(units, *, start, end) -> dict[int, dict]:
    """For each of ``units`` (whole subtrees): entries, submissions due in [start, end) and on time."""
    from .models import Entry, Submission

    out = {u.pk: {"entries": 0, "due": 0, "on_time": 0} for u in units}
    for u in units:
        sub = Q(unit=u) | Q(unit__path__startswith=u.path)
        out[u.pk]["entries"] = Entry.objects.filter(sub).count()
        agg = Submission.objects.filter(sub, round__due_on__gte=start, round__due_on__lt=end).aggregate(
            due=Count("id"), on_time=Count("id", filter=Q(on_time=True)))
        out[u.pk].update(due=agg["due"] or 0, on_time=agg["on_time"] or 0)
    return {k: _rate(v) for k, v in out.items()}


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
        register_source(Source(name=f"ledgers.{key}", label=label, unit=unit, higher_is_better=better,
                               compute=figure_of(rows_for, key), app="ledgers"))
    register_section(Section(
        name="ledgers.registers", label=_("Registers: entries and on-time submissions by unit"), figures=_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="on_time_rate", app="ledgers"))
