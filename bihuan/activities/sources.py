"""The lectures' figures as evaluation sources and a report section (``core.registry``).

* ``activities.lecture_coverage`` — of the villages and communities under a unit, the share that
  had at least one 微课堂 in the period (全覆盖率);
* ``activities.attendance`` — attendance (人次) of the sessions held at places under the unit.

Siblings are computed together: two queries per parent (``selectors.unit_figures``).
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
    ("coverage_rate", _("Lecture coverage (宣讲覆盖率)"), "%", True),
    ("attendance", _("Lecture attendance (听讲人次)"), "人次", True),
    ("villages", _("Villages and communities"), "个", None),
    ("covered", _("Covered by a lecture"), "个", None),
    ("sessions", _("Sessions (微课堂)"), "场", None),
)


def rows_for(units, *, start, end, now) -> dict[int, dict]:
    from . import selectors

    def children_rows(parent):
        return selectors.unit_figures(parent, start=start, end=end)

    return rows_by_parent(units, children_rows=children_rows,
                          root_row=lambda u: selectors.unit_total(u, start=start, end=end))


def _section(parent, *, start, end, now) -> list[dict]:
    from . import selectors

    rows = selectors.unit_figures(parent, start=start, end=end)
    return [{"unit_id": pk, "unit_name": r["unit"].name, **{k: r[k] for k, *_ in FIGURES}} for pk, r in rows.items()]


SOURCE_NAMES = {"coverage_rate": "activities.lecture_coverage", "attendance": "activities.attendance"}


def register() -> None:
    for key, label, unit, better in FIGURES:
        if better is None:
            continue
        register_source(Source(name=SOURCE_NAMES[key], label=label, unit=unit, higher_is_better=better,
                               compute=figure_of(rows_for, key), app="activities"))
    register_section(Section(
        name="activities.lectures", label=_("Lectures (微课堂): coverage and attendance by unit"),
        figures=_section, columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="coverage_rate", app="activities"))


# --- party life: on-site reviews (观摩评比) --------------------------------------------------------

def _review_score(units, *, start, end, now) -> dict:
    from . import selectors

    def day(x):
        return x.date() if hasattr(x, "date") and callable(x.date) else x

    return selectors.review_means(units, start=day(start), end=day(end))


def register_party_life() -> None:
    """``activities.review_score``: the mean on-site review score (观摩评比, 0–100, trimmed as the
    review says) of the units visited under each unit in the period; None where none was scored."""
    register_source(Source(name="activities.review_score", label=_("On-site review score (观摩评比得分)"),
                           unit="分", higher_is_better=True, compute=_review_score, app="activities"))


# --- party meetings (issue 15 item 5) -----------------------------------------------------------
# ``activities.meeting_rate`` — of the meetings the rules required of the branches under a unit in
# the whole months and quarters of the period (ended by now), the share held (三会一课落实率, %).

MEETING_FIGURES = (
    ("meeting_rate", _("Party meetings held as required (三会一课落实率)"), "%", True),
    ("orgs", _("Party branches"), "个", None),
    ("required", _("Meetings required"), "次", None),
    ("held", _("Meetings held"), "次", None),
)


def meeting_rows_for(units, *, start, end, now) -> dict[int, dict]:
    from . import selectors

    def children_rows(parent):
        children = parent.children.filter(valid_to__isnull=True).order_by("sort", "code")
        return selectors.meeting_figures(children, start=start, end=end, now=now)

    return rows_by_parent(units, children_rows=children_rows,
                          root_row=lambda u: selectors.meeting_figures([u], start=start, end=end, now=now)[u.pk])


def _meeting_section(parent, *, start, end, now) -> list[dict]:
    from . import selectors

    children = parent.children.filter(valid_to__isnull=True).order_by("sort", "code")
    rows = selectors.meeting_figures(children, start=start, end=end, now=now)
    return [{"unit_id": pk, "unit_name": r["unit"].name, **{k: r[k] for k, *_ in MEETING_FIGURES}}
            for pk, r in rows.items()]


def meeting_rate_series(units, *, starts, end, now) -> dict[int, list]:
    """``meeting_rate`` for consecutive periods ``[starts[i], starts[i+1])`` (the last up to ``end``):
    a period in which the rules require nothing (a week holds no whole month) is None without a
    query; the others as ``meeting_rows_for`` gives them (``core.registry.compute_series``)."""
    from . import selectors
    from .services import meeting_rules

    units = list(units)
    rules, bounds = meeting_rules(), [*starts, end]
    out = {u.pk: [None] * len(starts) for u in units}
    for i in range(len(starts)):
        if not selectors.meeting_slots(bounds[i], bounds[i + 1], now, rules):
            continue
        for pk, row in meeting_rows_for(units, start=bounds[i], end=bounds[i + 1], now=now).items():
            out[pk][i] = row.get("meeting_rate")
    return out


def register_meetings() -> None:
    compute = figure_of(meeting_rows_for, "meeting_rate")
    compute.series = meeting_rate_series  # the weeks of the dashboard's trend cost no query
    register_source(Source(name="activities.meeting_rate", label=MEETING_FIGURES[0][1], unit="%",
                           higher_is_better=True, compute=compute, app="activities"))
    register_section(Section(
        name="activities.meetings", label=_("Party meetings (三会一课) held as required, by unit"),
        figures=_meeting_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in MEETING_FIGURES),
        rank_by="meeting_rate", app="activities"))
