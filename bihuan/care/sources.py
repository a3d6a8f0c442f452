"""The care figures as evaluation sources and a report section (``core.registry``).

* ``care.visits_kept_rate`` (履约率) — of the visits of the period that are done with (checked in
  or missed at ``now``), the share checked in;
* ``care.surveyed`` — residents surveyed (摸排) in the period;
* ``care.missed`` — visits missed in the period (each one opened a loop matter);
* ``care.volunteer_hours`` — volunteer service hours approved by team leads, of days in the period;
* ``care.meals_served`` — meals served by canteens (幸福食堂) of the unit's subtree to residents
  under a care plan, of days in the period.

A unit's value covers its whole subtree; siblings are computed together, one grouped query per
parent (``selectors.unit_figures``).
"""

from __future__ import annotations

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
    ("visits_kept_rate", _("Care visits kept (履约率)"), "%", True),
    ("surveyed", _("Residents surveyed (摸排)"), "人", True),
    ("visits", _("Care visits due"), "次", None),
    ("missed", _("Care visits missed"), "次", False),
    ("volunteer_hours", _("Volunteer hours approved"), "h", True),
    ("meals_served", _("Canteen meals served to residents under care"), "份", True),
)


def rows_for(units, *, start, end, now) -> dict[int, dict]:
    from . import selectors

    def children_rows(parent):
        figs = selectors.unit_figures(parent, start=start, end=end, now=now)
        return {c.pk: selectors.rates(figs.get(str(c.pk))) for c in parent.children.all()}

    return rows_by_parent(
        units, children_rows=children_rows,
        root_row=lambda u: selectors.rates(selectors.total(selectors.unit_figures(u, start=start, end=end, now=now))))


def _section(parent, *, start, end, now) -> list[dict]:
    from . import selectors

    figs = selectors.unit_figures(parent, start=start, end=end, now=now)
    return [{"unit_id": c.pk, "unit_name": c.name, **selectors.rates(figs.get(str(c.pk)))}
            for c in parent.children.filter(valid_to__isnull=True).order_by("sort", "code")]


def _kept_rate_series(units, *, starts, end, now) -> dict[int, list]:
    from . import selectors

    return selectors.kept_rate_series(units, starts=starts, end=end, now=now)


def register() -> None:
    for key, label, unit, better in FIGURES:
        if better is None:
            continue
        compute = figure_of(rows_for, key)
        if key == "visits_kept_rate":
            compute.series = _kept_rate_series  # several periods at once (core.registry.compute_series)
        register_source(Source(name=f"care.{key}", label=label, unit=unit, higher_is_better=better,
                               compute=compute, app="care"))
    register_section(Section(
        name="care.visits", label=_("Care: surveys and visits by unit"), figures=_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="visits_kept_rate", app="care"))
