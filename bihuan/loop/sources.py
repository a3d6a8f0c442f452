"""The loop's figures as evaluation sources and a report section (``core.registry``).

Each figure is one of ``loop.metrics`` (definitions in docs/loop.md "Metrics"): a unit's value
covers the matters whose lead unit lies in its subtree. A set of units (all villages of the city,
in an assessment run) costs one grouped query over matters and one over ratings per depth —
keyed by the ancestor's id in the handling unit's path — not one per parent or per unit.
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
)

from . import metrics

# (metric key, label, unit, higher is better)
FIGURES = (
    ("response_rate", _("Response rate (响应率)"), "%", True),
    ("on_time_rate", _("On-time closure rate (按期办结率)"), "%", True),
    ("resolution_rate", _("Resolution rate (解决率)"), "%", True),
    ("satisfaction_rate", _("Satisfaction rate (满意率)"), "%", True),
    ("overdue", _("Overdue matters"), "件", False),
    ("open_overdue_now", _("Open and overdue at period end"), "件", False),
    ("volume", _("Matters dispatched"), "件", None),
    ("mean_hours", _("Mean handling time (working hours)"), "h", False),
)


def rows_for(units, *, start, end, now) -> dict[int, dict]:
    """``metrics`` rows for ``units``, set-based: one grouped query over matters and one over
    ratings for all units of a depth (``metrics.units_metrics``), whatever their parents."""
    return metrics.units_metrics(list(units), start=start, end=end, now=now)


PERCENT = tuple(key for key, _label, unit, _b in FIGURES if unit == "%")


def _section(parent, *, start, end, now) -> list[dict]:
    """One row per child; "%" columns as percentages (0–100), as every section gives them."""
    rows = metrics.children_metrics(parent, start=start, end=end, now=now)["children"]
    for r in rows:
        for key in PERCENT:
            if r.get(key) is not None:
                r[key] = round(100 * r[key], 1)
    return rows


def on_time_series(units, *, starts, end, now) -> dict[int, list]:
    """``on_time_rate`` of each unit's subtree for consecutive periods ``[starts[i], starts[i+1])``
    (the last up to ``end``), the same definition as ``metrics`` (due in the period before ``now``,
    merged ones excluded; closed by ``due_at``), in one grouped query per unit instead of one per
    period: the dashboard's 12-week trend."""
    from django.db.models import Case, Count, F, IntegerField, Q, Value, When

    from .models import Matter, State

    bounds = [*starts, end]
    bucket = Case(*(When(due_at__lt=b, then=Value(i)) for i, b in enumerate(bounds[1:])),
                  output_field=IntegerField())
    out = {}
    for u in units:
        rows = (Matter.objects.filter(handling_unit__path__startswith=u.path, due_at__gte=bounds[0],
                                      due_at__lt=min(end, now)).exclude(state=State.MERGED)
                .annotate(bucket=bucket).values("bucket")
                .annotate(due=Count("id"), ok=Count("id", filter=Q(closed_at__isnull=False,
                                                                    closed_at__lte=F("due_at"))))
                .order_by())
        got = {r["bucket"]: r for r in rows}
        out[u.pk] = [metrics._rate(got[i]["ok"], got[i]["due"]) if i in got else None for i in range(len(starts))]
    return out


# The supervision board's counts as a report section (h-reports2): a snapshot at ``now`` (the
# period does not apply), one row per child unit, so /reports/figures/ draws it as a bar chart and
# gives it as XLSX. ``meta["snapshot"]``: not a period figure, so not on the dashboard's sections.
BOARD_COLUMNS = (
    ("open", _("Open")), ("to_dispatch", _("To dispatch")), ("red", _("Overdue")), ("yellow", _("Due soon")),
    ("flagged", _("Flagged")), ("to_accept", _("To accept")), ("to_evaluate", _("To evaluate")),
)


def _board_section(parent, *, start, end, now) -> list[dict]:
    from . import selectors

    return [r for r in selectors.board_counts(parent, now=now) if not r.get("own")]


def register() -> None:
    for key, label, unit, better in FIGURES:
        if better is None:
            continue
        compute = figure_of(rows_for, key)
        if key == "on_time_rate":
            compute.series = on_time_series  # several periods at once (core.registry.compute_series)
        register_source(Source(name=f"loop.{key}", label=label, unit=unit, higher_is_better=better,
                               compute=compute, app="loop"))
    register_section(Section(
        name="loop.metrics", label=_("Closed loop: matters by unit"), figures=_section,
        columns=tuple(Column(key, label, unit, better) for key, label, unit, better in FIGURES),
        rank_by="on_time_rate", app="loop"))
    register_section(Section(
        name="loop.board", label=_("Supervision board: matters in work by unit (now)"), figures=_board_section,
        columns=tuple(Column(key, label, "件", None) for key, label in BOARD_COLUMNS), app="loop",
        meta={"snapshot": True}))
