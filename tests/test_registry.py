"""Extension points (core.registry): the loop's figures reach evaluation and reports by name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bihuan.core import registry
from bihuan.loop import metrics, services

from .loop_helpers import at, make_categories, new_matter


@pytest.fixture
def cats(tree):
    return make_categories()


def _some_matters(tree, users, cats):
    road, demand = cats
    base = at("2026-10-12 09:00")
    for i in range(4):
        t = base + timedelta(days=i)
        m = new_matter(users.lumiao_grid, road if i % 2 else demand, tree.lumiao_g1, t)
        services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=t)
        if i < 3:
            services.accept(users.lumiao_secretary, m.pk, version=2, now=t + timedelta(hours=1))
        if i < 2:
            services.report_done(users.lumiao_secretary, m.pk, version=3, comment="ok", now=t + timedelta(days=1))
            services.evaluate(users.liying_staff, m.pk, version=4, passed=True, now=t + timedelta(days=1, hours=1))


def test_loop_sources_equal_the_metrics_of_each_unit(tree, users, cats):
    _some_matters(tree, users, cats)
    start, end, now = at("2026-10-01 00:00"), at("2026-11-01 00:00"), at("2026-11-20 00:00")
    units = [tree.liying, tree.xianying, tree.lumiao, tree.city]
    for name in ("loop.on_time_rate", "loop.response_rate", "loop.overdue"):
        got = registry.compute(name, units, start=start, end=end, now=now)
        key = name.split(".", 1)[1]
        want = {u.pk: metrics.unit_metrics(u, start=start, end=end, now=now)[key] for u in units}
        assert got == want, name
    # Three of four dispatched matters accepted in time; a township with no matters has no rate.
    rates = registry.compute("loop.response_rate", [tree.liying, tree.xianying], start=start, end=end, now=now)
    assert rates == {tree.liying.pk: 0.75, tree.xianying.pk: None}


def test_the_loop_section_gives_a_row_per_child_with_its_columns(tree, users, cats):
    _some_matters(tree, users, cats)
    section = registry.SECTIONS["loop.metrics"]
    rows = section.figures(tree.rencheng, start=at("2026-10-01 00:00"), end=at("2026-11-01 00:00"),
                           now=at("2026-11-20 00:00"))
    by_name = {r["unit_name"]: r for r in rows}
    assert by_name["李营街道"]["volume"] == 4 and by_name["仙营街道"]["volume"] == 0
    assert all(c.key in rows[0] for c in section.columns)


def test_a_name_registered_twice_is_refused():
    src = registry.SOURCES["loop.on_time_rate"]
    clone = registry.Source(name=src.name, label="x", unit="%", higher_is_better=True, compute=src.compute)
    with pytest.raises(ValueError, match="twice"):
        registry.register_source(clone)
    with pytest.raises(KeyError, match="no evaluation source"):
        registry.compute("nope.figure", [], start=None, end=None, now=None)
