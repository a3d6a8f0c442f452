"""One answer to "what may this user do to this matter": ``transitions.check``.

A seeded random walk over the fixture tree: matters in many states, at several places, seen by
every user. At each step, for one random (matter, user) pair, every action of the table is tried
through the service (in a savepoint, rolled back) with valid input, and the result must equal
what the API lists in ``actions`` and what the matter page shows as buttons: offered ⇔ accepted.
Then one accepted action is really done, so the walk reaches new states.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from django.db import transaction

from bihuan.core import scope
from bihuan.core.errors import ServiceError
from bihuan.loop import services, transitions
from bihuan.loop.models import OPEN_STATES, Matter
from bihuan.loop.services.routing import within

from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db

BUTTON = re.compile(r'data-testid="action-([a-z_]+)"')


class _Rollback(Exception):
    pass


def test_every_action_of_the_table_can_be_performed_by_name():
    assert set(services.PERFORM) == set(transitions.ACTIONS)


def _target(user, m: Matter):
    """A lead unit this user may dispatch ``m`` to."""
    for u in (m.location_unit.parent, m.location_unit, m.dispatch_unit):
        if u is not None and within(u, m.dispatch_unit) and scope.covers(user, "loop.matter.dispatch", u):
            return u
    return m.dispatch_unit


def _params(user, m: Matter, action: str, rng: random.Random) -> dict | None:
    """Valid input for ``action`` (None: there is none to give, e.g. nothing to merge into)."""
    if action == "dispatch":
        return {"handling_unit": _target(user, m).pk}
    if action == "merge":
        into = (Matter.objects.restrict(user, "view").filter(state__in=OPEN_STATES)
                .exclude(pk=m.pk).order_by("pk").values_list("pk", flat=True).first())
        return None if into is None else {"into": into}
    return {
        "send_back": {"reason": "不属于本单位"}, "report_done": {"comment": "已办结"},
        "evaluate": {"passed": rng.random() < 0.7, "comment": "整改不到位"},
        "rate": {"satisfaction": rng.choice(["satisfied", "basic", "dissatisfied"]), "resolved": True},
        "request_extension": {"days": 1, "reason": "等材料"},
        "decide_extension": {"approve": rng.random() < 0.5, "comment": "决定"},
        "reopen": {"reason": "居民不满意"},
    }.get(action, {})


def _accepted(user, m: Matter, action: str, params: dict, now) -> bool:
    try:
        with transaction.atomic():
            services.perform(user, m.pk, action, version=m.version, params=params, now=now)
            raise _Rollback
    except _Rollback:
        return True
    except ServiceError:
        return False


def test_offered_actions_are_exactly_the_ones_the_service_accepts(client, tree, users, token_for):
    road, demand = make_categories()
    road.max_extensions = 2
    road.save()
    rng = random.Random(20261102)
    now = at("2026-11-02 09:00")
    people = [users.city_admin, users.rencheng_admin, users.yanzhou_admin, users.liying_staff,
              users.lumiao_secretary, users.lumiao_grid]
    tokens = {u.pk: token_for(u) for u in people}
    places = [tree.lumiao_g1, tree.lumiao_g2, tree.lumiao, tree.xianying_v, tree.xuemiao, tree.liying]
    matters = [new_matter(None, rng.choice([road, demand]), rng.choice(places), now).pk for _ in range(4)]
    checked = offered_total = 0
    seen_states, seen_actions = set(), set()
    for _step in range(90):
        if rng.random() < 0.05:
            matters.append(new_matter(None, rng.choice([road, demand]), rng.choice(places), now).pk)
        m = Matter.objects.get(pk=rng.choice(matters))
        user = rng.choice(people)
        client.force_login(user)
        page = client.get(f"/loop/{m.pk}/")
        api = client.get(f"/api/v1/matters/{m.pk}", **tokens[user.pk])
        if page.status_code == 404:
            assert api.status_code == 404
            continue
        assert page.status_code == 200 and api.status_code == 200
        on_page = set(BUTTON.findall(page.content.decode()))
        listed = set(api.json()["actions"])
        accepted = set()
        for action in transitions.ACTIONS:
            params = _params(user, m, action, rng)
            if params is None:
                continue
            m.refresh_from_db()
            if _accepted(user, m, action, params, now):
                accepted.add(action)
        skipped = {"merge"} if _params(user, m, "merge", rng) is None else set()
        assert listed - skipped == accepted, (m.state, user.username, listed, accepted)
        assert on_page == listed, (m.state, user.username, on_page, listed)
        checked += 1
        offered_total += len(listed)
        seen_states.add(m.state)
        seen_actions |= listed
        # Move on: do one of the accepted actions for real, mostly one that moves the loop forward
        # (merges rarely: they end a matter).
        forward = sorted(accepted & {"dispatch", "accept", "report_done", "evaluate", "reopen", "decide_extension"})
        choices = forward if forward and rng.random() < 0.7 else sorted(
            accepted - ({"merge"} if rng.random() < 0.9 else set()))
        if choices:
            action = rng.choice(choices)
            services.perform(user, m.pk, action, version=m.version, params=_params(user, m, action, rng), now=now)
        now += timedelta(hours=rng.randint(1, 30))
    assert checked >= 30 and offered_total > 0
    assert {"new", "dispatched", "in_progress", "reported", "closed"} <= seen_states
    assert {"dispatch", "accept", "report_done", "evaluate", "flag"} <= seen_actions


def test_the_api_does_not_offer_flag_on_a_flagged_matter(client, tree, users, token_for):
    road, _ = make_categories()
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    url = f"/api/v1/matters/{m.pk}"
    auth = token_for(users.liying_staff)
    assert "flag" in client.get(url, **auth).json()["actions"]
    services.flag(users.liying_staff, m.pk, version=m.version, now=now)
    assert "flag" not in client.get(url, **auth).json()["actions"]
    client.force_login(users.liying_staff)
    assert 'data-testid="action-flag"' not in client.get(f"/loop/{m.pk}/").content.decode()
