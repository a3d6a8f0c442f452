"""The plans' figures as evaluation sources and a report section (``core.registry``).

* ``plans.done_rate`` — of the assignments whose task is due in the period, the share done
  (status ``done`` at ``now``, ``plans.status``);
* ``plans.checkin_on_time_rate`` — of the check-ins made in the period, the share made by their
  period's due point (grace period included);
* ``plans.campaign_rate`` — over the campaigns running in the period, the share of the units'
  targets reached (each unit's value capped at its target).

A unit's value covers its whole subtree. Siblings are computed together: one grouped query per
parent (``selectors.unit_figures``), not one per unit.
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
    ("done_rate", _("Plan tasks done (任务完成率)"), "%", True),
    ("checkin_on_time_rate", _("Check-ins on time (按时调度率)"), "%", True),
    ("assignments", _("Task assignments due"), "项", None),
    ("checkins", _("Check-ins made"), "次", None),
    ("campaign_rate", _("Campaign targets reached (攻坚完成率)"), "%", True),
)


def _sum(figs) -> dict:
    out = {"assignments": 0, "done": 0, "checkins": 0, "on_time": 0}
    for f in figs:
        for k in out:
            out[k] += f[k]
    return out


def _campaign(figs, key=None) -> dict:
    """``campaign_rate``: of the campaign targets in the subtree, the share reached (capped per unit)."""
    rows = [figs.get(key, {"target": 0, "reached": 0})] if key is not None else list(figs.values())
    target = sum(r["target"] for r in rows)
    reached = sum(r["reached"] for r in rows)
    return {"campaign_rate": round(100.0 * float(reached) / float(target), 1) if target else None}


def rows_for(units, *, start, end, now) -> dict[int, dict]:
    """The plans figures for ``units``: one grouped query per distinct parent (and one for campaigns)."""
    from . import selectors

    def children_rows(parent):
        figs = selectors.unit_figures(parent, start=start, end=end, now=now)
        camp = selectors.campaign_unit_figures(parent, start=start, end=end)
        return {c.pk: {**selectors.rates(figs.get(str(c.pk), _sum([]))), **_campaign(camp, str(c.pk))}
                for c in parent.children.all()}

    def root_row(u):
        return {**selectors.rates(_sum(selectors.unit_figures(u, start=start, end=end, now=now).values())),
                **_campaign(selectors.campaign_unit_figures(u, start=start, end=end))}

    return rows_by_parent(units, children_rows=children_rows, root_row=root_row)


def _section(parent, *, start, end, now) -> list[dict]:
    from . import selectors

    figs = selectors.unit_figures(parent, start=start, end=end, now=now)
    camp = selectors.campaign_unit_figures(parent, start=start, end=end)
    return [{"unit_id": c.pk, "unit_name": c.name, **selectors.rates(figs.get(str(c.pk), _sum([]))),
             **_campaign(camp, str(c.pk))}
            for c in parent.children.filter(valid_to__isnull=True).order_by("sort", "code")]


def _done_rate_series(units, *, starts, end, now) -> dict[int, list]:
    from . import selectors

    return selectors.done_rate_series(units, starts=starts, end=end, now=now)


def register() -> None:
    for key, label, unit, better in FIGURES:
        if better is None:
            continue
        compute = figure_of(rows_for, key)
        if key == "done_rate":
            compute.series = _done_rate_series  # several periods at once (core.registry.compute_series)
        register_source(Source(name=f"plans.{key}", label=label, unit=unit, higher_is_better=better,
                               compute=compute, app="plans"))
    register_section(Section(
        name="plans.progress", label=_("Plans: tasks and check-ins by unit"), figures=_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="done_rate", app="plans"))
