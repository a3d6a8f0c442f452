"""The inbox's counts and its index-found scope (``selectors.open_matters``, ``scope_matter_ids``,
``inbox_counts``, ``closed_count``): the same matters and numbers as the scope filter and the tabs
one by one, whichever of the four unit relations puts a matter in scope."""

from __future__ import annotations

import pytest

from bihuan.loop import selectors, services
from bihuan.loop.models import OPEN_STATES, Matter, State

from .loop_helpers import at, closed_matter, make_categories, new_matter

pytestmark = pytest.mark.django_db

NOW = at("2026-11-02 09:00")


@pytest.fixture
def cats(db):
    return make_categories()


@pytest.fixture
def spread(tree, users, cats):
    """Matters that reach 李营街道 by each of the four relations, and one that does not."""
    road, _ = cats
    by_place = new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW, title="按地点")
    # Registered in 仙营 by the county, handled by 芦庙村 (李营): in scope by the lead unit only.
    by_lead = services.create_matter(users.rencheng_admin, category=road, location_unit=tree.xianying_v, title="按承办",
                                     description="d", dispatch_unit=tree.rencheng, now=NOW)
    by_lead = services.dispatch(users.rencheng_admin, by_lead.pk, version=by_lead.version, handling_unit=tree.lumiao,
                                now=NOW)
    # Located in 兖州区, dispatched by 李营街道: in scope by the dispatching unit only.
    by_dispatcher = services.create_matter(users.city_admin, category=road, location_unit=tree.xuemiao, title="按交办",
                                           description="d", dispatch_unit=tree.liying, now=NOW)
    # In 仙营, handled by 仙营社区 with 芦庙村 assisting: in scope as an assisting unit only.
    by_assist = services.create_matter(users.rencheng_admin, category=road, location_unit=tree.xianying_v,
                                       title="按协办", description="d", dispatch_unit=tree.rencheng, now=NOW)
    by_assist = services.dispatch(users.rencheng_admin, by_assist.pk, version=by_assist.version,
                                  handling_unit=tree.xianying_v, assisting_units=[tree.lumiao], now=NOW)
    outside = services.create_matter(users.city_admin, category=road, location_unit=tree.xuemiao, title="别处",
                                     description="d", now=NOW)
    done = closed_matter(tree, users, road, NOW)
    return {"in": {by_place.pk, by_lead.pk, by_dispatcher.pk, by_assist.pk}, "outside": outside.pk, "closed": done.pk}


def test_open_matters_found_through_the_units_are_the_scoped_ones(users, spread):
    user = users.liying_staff
    assert selectors.scope_unit_ids(user) is not None  # a township: the index route is taken
    found = set(selectors.scope_matter_ids(selectors.scope_unit_ids(user), OPEN_STATES, 100))
    assert found == spread["in"]
    scoped = set(Matter.objects.restrict(user, "view").filter(state__in=OPEN_STATES).values_list("pk", flat=True))
    assert set(selectors.open_matters(user).values_list("pk", flat=True)) == scoped == spread["in"]
    # Everything, or nothing: the scope filter alone.
    assert selectors.scope_unit_ids(users.city_admin) is None and selectors.scope_unit_ids(users.nobody) is None
    assert spread["outside"] in set(selectors.open_matters(users.city_admin).values_list("pk", flat=True))
    assert not selectors.open_matters(users.nobody).exists()


@pytest.mark.parametrize("who", ["liying_staff", "city_admin", "rencheng_admin", "lumiao_secretary", "yanzhou_admin"])
def test_inbox_counts_are_the_tabs_counted_one_by_one(users, spread, who):
    user = users.__dict__[who]
    now = at("2026-12-20 09:00")  # the dispatched ones are overdue by now
    counts = selectors.inbox_counts(user, now=now)
    assert counts == {tab: selectors.inbox(user, tab, now=now).count() for tab in selectors.INBOX_TABS}
    # As the page asks: sharing open_matters, 已办结 capped (one pass for a narrowed scope).
    assert selectors.inbox_counts(user, now=now, closed_cap=999, open_base=selectors.open_matters(user)) == counts
    if who == "liying_staff":
        # the two awaiting dispatch since 1 November are past their dispatch limit: overdue too
        assert counts["to_dispatch"] == 2 and counts["overdue"] == 4 and counts["closed"] == 1


def test_closed_count_is_capped(tree, users, cats):
    road, _ = cats
    for _ in range(3):
        closed_matter(tree, users, road, NOW)
    for user in (users.liying_staff, users.city_admin):  # the index route and the plain scope filter
        assert selectors.closed_count(user, cap=None) == 3
        assert selectors.closed_count(user, cap=2) == 3  # more than the cap: cap + 1
        assert selectors.closed_count(user, cap=5) == 3
        assert selectors.closed_count(user, cap=1) == 2
        for cap, n in ((2, 3), (5, 3), (1, 2)):
            base = selectors.open_matters(user)
            assert selectors.inbox_counts(user, now=NOW, closed_cap=cap, open_base=base)["closed"] == n
    assert selectors.closed_count(users.yanzhou_admin, cap=2) == 0
    assert Matter.objects.filter(state=State.CLOSED).count() == 3
