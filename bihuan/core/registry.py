"""Extension points: how an app offers its figures to evaluation and reports without either
importing it (DESIGN.md, "Extension points"). Apps register in their ``AppConfig.ready()``.

* **Evaluation sources** — a named figure per unit and period, computed in SQL by the app that
  owns the data: ``register_source(Source(name="loop.on_time_rate", …, compute=fn))`` where
  ``fn(units, *, start, end, now) -> {unit_id: value or None}`` covers each unit's whole
  subtree. ``None`` means "no basis this period" (a rate without a denominator), not zero.
* **Report sections** — a bulletin/dashboard section: ``register_section(Section(name=…,
  figures=fn, columns=…))`` where ``fn(parent_unit, *, start, end, now) -> list[dict]`` gives
  one row per child of ``parent_unit`` (``unit_id``, ``unit_name`` and the column keys);
  a column whose unit is ``"%"`` holds a percentage (0–100), not a fraction.
  Reports ranks, charts and renders them; it knows no app's tables.

Both take ``now``. Names are ``<app>.<figure>``; registering a name twice is a bug and raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    name: str
    label: object  # lazily translated
    unit: str  # "%", "件", "h" … shown beside values
    higher_is_better: bool
    compute: Callable[..., dict]
    app: str = ""


@dataclass(frozen=True)
class Column:
    key: str
    label: object
    unit: str = ""
    higher_is_better: bool | None = None  # None: not ranked


@dataclass(frozen=True)
class Section:
    name: str
    label: object
    figures: Callable[..., list[dict]]
    columns: tuple[Column, ...]
    rank_by: str = ""  # the column that orders 红榜/黑榜
    app: str = ""
    meta: dict = field(default_factory=dict)


SOURCES: dict[str, Source] = {}
SECTIONS: dict[str, Section] = {}


def register_source(source: Source) -> Source:
    if source.name in SOURCES and SOURCES[source.name] is not source:
        raise ValueError(f"evaluation source {source.name!r} is registered twice")
    SOURCES[source.name] = source
    return source


def register_section(section: Section) -> Section:
    if section.name in SECTIONS and SECTIONS[section.name] is not section:
        raise ValueError(f"report section {section.name!r} is registered twice")
    if section.rank_by and section.rank_by not in {c.key for c in section.columns}:
        raise ValueError(f"section {section.name!r} ranks by an unknown column {section.rank_by!r}")
    SECTIONS[section.name] = section
    return section


def rows_by_parent(units, *, root_row: Callable, children_rows: Callable) -> dict[int, dict]:
    """Rows for a set of units, computed once per distinct parent (a ranking is usually of
    siblings): ``children_rows(parent) -> {child_id: row}``; ``root_row(unit) -> row`` for a unit
    without a parent. Apps build their sources' ``compute`` on this with ``figure_of``."""
    by_parent: dict[int, list] = {}
    rows: dict[int, dict] = {}
    for u in units:
        if u.parent_id is None:
            rows[u.pk] = root_row(u)
        else:
            by_parent.setdefault(u.parent_id, []).append(u)
    for siblings in by_parent.values():
        children = children_rows(siblings[0].parent)
        for u in siblings:
            if u.pk in children:
                rows[u.pk] = children[u.pk]
    return rows


def figure_of(rows_for: Callable, key: str) -> Callable[..., dict]:
    """A source's ``compute``: the ``key`` of each row that ``rows_for(units, start=, end=, now=)`` gives."""
    def compute(units, *, start, end, now):
        return {pk: row.get(key) for pk, row in rows_for(units, start=start, end=end, now=now).items()}

    compute.rows_for, compute.key = rows_for, key  # compute_many computes shared rows once
    return compute


def compute(name: str, units: Iterable, *, start, end, now) -> dict:
    """The figure ``name`` for each of ``units`` over ``[start, end)``: {unit_id: value or None}."""
    try:
        source = SOURCES[name]
    except KeyError:
        raise KeyError(f"no evaluation source named {name!r}; known: {', '.join(sorted(SOURCES))}") from None
    units = list(units)
    values = source.compute(units, start=start, end=end, now=now)
    return {u.pk: values.get(u.pk) for u in units}


def compute_many(names: Iterable[str], units: Iterable, *, start, end, now) -> dict[str, dict]:
    """Several figures for the same units and period: ``{name: {unit_id: value or None}}``.
    Sources built with ``figure_of`` on the same ``rows_for`` (the loop's rates, the plans' rates)
    compute their rows once for all of them, not once per figure."""
    units = list(units)
    out: dict[str, dict] = {}
    shared: dict[Callable, list[str]] = {}
    for name in dict.fromkeys(names):
        if name not in SOURCES:
            raise KeyError(f"no evaluation source named {name!r}; known: {', '.join(sorted(SOURCES))}")
        rows_for = getattr(SOURCES[name].compute, "rows_for", None)
        if rows_for is None:
            out[name] = compute(name, units, start=start, end=end, now=now)
        else:
            shared.setdefault(rows_for, []).append(name)
    for rows_for, group in shared.items():
        rows = rows_for(units, start=start, end=end, now=now)
        for name in group:
            key = SOURCES[name].compute.key
            out[name] = {u.pk: (rows.get(u.pk) or {}).get(key) for u in units}
    return out


def compute_series(name: str, units: Iterable, *, starts: list, end, now) -> dict[int, list]:
    """The figure ``name`` for each of ``units`` over consecutive periods ``[starts[i], starts[i+1])``
    (the last ending at ``end``): ``{unit_id: [value or None, …]}``. A source whose ``compute`` has
    a ``series`` attribute answers in one go; any other is computed period by period."""
    units = list(units)
    source = SOURCES[name]
    series = getattr(source.compute, "series", None)
    if series is not None:
        got = series(units, starts=starts, end=end, now=now)
        return {u.pk: got.get(u.pk, [None] * len(starts)) for u in units}
    bounds = [*starts, end]
    per = [compute(name, units, start=bounds[i], end=bounds[i + 1], now=now) for i in range(len(starts))]
    return {u.pk: [p.get(u.pk) for p in per] for u in units}


# --- Home-page cards -------------------------------------------------------------------------------
# The home page shows the user's work: each app may add a card. ``context(request, now)`` returns
# the card's template context, or None when the card does not apply to this user (no permission,
# nothing to show). Cards render in ``order``; their templates belong to their apps.

@dataclass(frozen=True)
class HomeCard:
    name: str
    template: str
    context: Callable[..., dict | None]
    order: int = 100


HOME_CARDS: dict[str, HomeCard] = {}


def register_home_card(card: HomeCard) -> HomeCard:
    if card.name in HOME_CARDS and HOME_CARDS[card.name] is not card:
        raise ValueError(f"home card {card.name!r} is registered twice")
    HOME_CARDS[card.name] = card
    return card


def home_cards(request, now) -> list[tuple[HomeCard, dict]]:
    """The cards that apply to ``request.user``, in order, each with its context."""
    out = []
    for card in sorted(HOME_CARDS.values(), key=lambda c: (c.order, c.name)):
        ctx = card.context(request, now)
        if ctx is not None:
            out.append((card, ctx))
    return out


# --- Dashboard panels ------------------------------------------------------------------------------
# The command dashboard (reports) shows, besides the sections' figures, panels that apps own (the
# loop's lights, backlog and hotspots; the plans' campaign countdown). ``compute(unit, now)`` gives
# a JSON-ready dict for ``unit``'s subtree (computed in SQL by the app), or None when there is
# nothing to show. Optional keys reports understands: ``child_lights`` ({child id as text:
# "red"|"yellow"|"green"}: the children grid takes the worst colour) and ``charts`` (a list of
# {"id", "kind": "bar", "categories", "series": [{"name", "values", "color"?, "stack"?}],
# "horizontal"?}, drawn with ECharts in the element ``dash-<panel name>-<id>``).

@dataclass(frozen=True)
class DashboardPanel:
    name: str
    label: object
    template: str
    compute: Callable[..., dict | None]
    order: int = 100
    app: str = ""


DASHBOARD_PANELS: dict[str, DashboardPanel] = {}


def register_dashboard_panel(panel: DashboardPanel) -> DashboardPanel:
    if panel.name in DASHBOARD_PANELS and DASHBOARD_PANELS[panel.name] is not panel:
        raise ValueError(f"dashboard panel {panel.name!r} is registered twice")
    DASHBOARD_PANELS[panel.name] = panel
    return panel


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(DASHBOARD_PANELS.values(), key=lambda p: (p.order, p.name))
