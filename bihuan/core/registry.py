"""Extension points: how an app offers its figures to evaluation and reports without either
importing it (DESIGN.md, "Extension points"). Apps register in their ``AppConfig.ready()``.

* **Evaluation sources** — a named figure per unit and period, computed in SQL by the app that
  owns the data: ``register_source(Source(name="loop.on_time_rate", …, compute=fn))`` where
  ``fn(units, *, start, end, now) -> {unit_id: value or None}`` covers each unit's whole
  subtree. ``None`` means "no basis this period" (a rate without a denominator), not zero.
* **Report sections** — a bulletin/dashboard section: ``register_section(Section(name=…,
  figures=fn, columns=…))`` where ``fn(parent_unit, *, start, end, now) -> list[dict]`` gives
  one row per child of ``parent_unit`` (``unit_id``, ``unit_name`` and the column keys).
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


def compute(name: str, units: Iterable, *, start, end, now) -> dict:
    """The figure ``name`` for each of ``units`` over ``[start, end)``: {unit_id: value or None}."""
    try:
        source = SOURCES[name]
    except KeyError:
        raise KeyError(f"no evaluation source named {name!r}; known: {', '.join(sorted(SOURCES))}") from None
    units = list(units)
    values = source.compute(units, start=start, end=end, now=now)
    return {u.pk: values.get(u.pk) for u in units}
