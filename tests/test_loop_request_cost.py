"""What issue 18 made cheaper still answers as before: the matter's scope checked on the loaded row,
the calendar overrides shared by the process for a bounded time, the response drawn from the
matter the service wrote."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from bihuan.accounts import services as account_services
from bihuan.core import calendar
from bihuan.core.calendar import WorkCalendar
from bihuan.core.models import CalendarOverride
from bihuan.loop import services

from .conftest import make_user
from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db


@pytest.fixture
def cats(db):
    return make_categories()


def post(client, url, body, auth):
    return client.post(url, data=json.dumps(body), content_type="application/json", **auth)


def test_a_revoked_binding_refuses_the_next_api_call(client, tree, users, cats, token_for):
    village = token_for(users.lumiao_secretary)
    m = new_matter(users.liying_staff, cats[0], tree.lumiao, at("2026-11-02 09:00"))
    m = services.dispatch(users.liying_staff, m, version=1, handling_unit=tree.lumiao, now=at("2026-11-02 09:30"))
    assert client.get(f"/api/v1/matters/{m.pk}", **village).status_code == 200
    account_services.unbind(None, users.lumiao_secretary.bindings.get())
    assert client.get(f"/api/v1/matters/{m.pk}", **village).status_code == 404
    r = post(client, f"/api/v1/matters/{m.pk}/actions/accept", {"version": 2}, village)
    assert r.status_code in (403, 404) and m.events.count() == 2


def test_an_assisting_unit_sees_the_matter_once_dispatched_to_it(client, tree, users, cats, token_for):
    g2 = token_for(make_user("lumiao_grid2", tree.lumiao_g2, "grid_worker"))
    town = token_for(users.liying_staff)
    m = new_matter(users.liying_staff, cats[0], tree.lumiao_g1, at("2026-11-02 09:00"))
    assert client.get(f"/api/v1/matters/{m.pk}", **g2).status_code == 404
    r = post(client, f"/api/v1/matters/{m.pk}/actions/dispatch",
             {"version": 1, "handling_unit": tree.lumiao.pk, "assisting_units": [tree.lumiao_g2.pk]}, town)
    assert r.status_code == 200, r.content
    assert r.json()["assisting_units"] == [{"id": tree.lumiao_g2.pk, "name": tree.lumiao_g2.name}]
    seen = client.get(f"/api/v1/matters/{m.pk}", **g2)
    assert seen.status_code == 200 and seen.json()["assisting_units"] == r.json()["assisting_units"]
    # Sent back: the assisting unit is dropped and with it the grid's sight of the matter.
    r = post(client, f"/api/v1/matters/{m.pk}/actions/send_back", {"version": 2, "reason": "不属本村范围",
                                                                    "on_behalf": True,
                                                                    "on_behalf_reason": "村里已电话说明"}, town)
    assert r.status_code == 200, r.content
    assert r.json()["assisting_units"] == [] and r.json()["handling_unit"] is None
    assert client.get(f"/api/v1/matters/{m.pk}", **g2).status_code == 404


def test_an_override_moves_the_next_deadline_at_once(tree, users, cats):
    road = cats[0]  # 3 working days
    start = at("2026-11-02 09:30")  # a Monday
    first = new_matter(users.liying_staff, road, tree.lumiao, at("2026-11-02 09:00"))
    first = services.dispatch(users.liying_staff, first, version=1, handling_unit=tree.lumiao, now=start)
    assert first.due_at == at("2026-11-05 17:30")  # read the year's overrides (none) into the process
    calendar.set_override(None, date(2026, 11, 4), False, "临时停工")
    second = new_matter(users.liying_staff, road, tree.lumiao, at("2026-11-02 09:00"))
    second = services.dispatch(users.liying_staff, second, version=1, handling_unit=tree.lumiao, now=start)
    assert second.due_at == at("2026-11-06 17:30")
    calendar.delete_override(None, date(2026, 11, 4))
    third = new_matter(users.liying_staff, road, tree.lumiao, at("2026-11-02 09:00"))
    third = services.dispatch(users.liying_staff, third, version=1, handling_unit=tree.lumiao, now=start)
    assert third.due_at == at("2026-11-05 17:30")


def test_another_process_override_counts_within_the_stated_bound(db, settings):
    settings.BIHUAN_CALENDAR_CACHE_SECONDS = 0.3
    d = date(2026, 11, 4)  # a Wednesday
    assert WorkCalendar().is_workday(d)
    # Written as another worker process writes it: this process hears of it by no signal.
    CalendarOverride.objects.bulk_create([CalendarOverride(date=d, is_workday=False, note="别处保存")])
    assert WorkCalendar().is_workday(d)  # still the copy read under 0.3 s ago
    time.sleep(0.35)
    assert not WorkCalendar().is_workday(d)


def test_without_sharing_every_calendar_reads_the_overrides(db, settings):
    settings.BIHUAN_CALENDAR_CACHE_SECONDS = 0
    d = date(2026, 11, 4)
    assert WorkCalendar().is_workday(d)
    CalendarOverride.objects.bulk_create([CalendarOverride(date=d, is_workday=False, note="别处保存")])
    assert not WorkCalendar().is_workday(d)


# --- bindings shared by the process: committed changes, as every worker sees them -----------------

def _get(client, matter, auth):
    return client.get(f"/api/v1/matters/{matter.pk}", **auth).status_code


@pytest.fixture
def walked(tree, users, cats):
    m = new_matter(users.liying_staff, cats[0], tree.lumiao, at("2026-11-02 09:00"))
    return services.dispatch(users.liying_staff, m, version=1, handling_unit=tree.lumiao, now=at("2026-11-02 09:30"))


@pytest.mark.django_db(transaction=True)
def test_a_binding_withdrawn_in_another_process_refuses_the_next_request(client, users, walked, token_for):
    from bihuan.accounts import models as account_models

    village, me = token_for(users.lumiao_secretary), users.lumiao_secretary
    assert _get(client, walked, village) == 200
    held = account_models._BINDINGS[me.pk]  # this process's copy of the secretary's bindings
    account_services.unbind(None, me.bindings.get())  # committed (as another worker would)
    account_models._BINDINGS[me.pk] = held  # … which did not drop this process's copy
    assert _get(client, walked, village) == 404
    r = post(client, f"/api/v1/matters/{walked.pk}/actions/accept", {"version": 2}, village)
    assert r.status_code in (403, 404) and walked.events.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_role_granted_counts_on_the_next_request(client, tree, users, walked, token_for):
    from bihuan.accounts.models import Role

    other = token_for(users.yanzhou_admin)  # 兖州区: the matter is in 任城区
    assert _get(client, walked, other) == 404
    account_services.bind(None, users.yanzhou_admin, tree.liying, Role.objects.get(code="township_staff"))
    assert _get(client, walked, other) == 200


@pytest.mark.django_db(transaction=True)
def test_a_moved_subtree_keeps_its_people_in_sight_of_their_matters(client, tree, users, walked, token_for):
    from bihuan.orgs import services as org_services

    village = token_for(users.lumiao_secretary)
    assert _get(client, walked, village) == 200  # the secretary's bindings (with 芦庙村's path) kept
    org_services.move_subtree(None, tree.lumiao, tree.xianying, new_code="370811003201")
    assert _get(client, walked, village) == 200  # the village's new path, read again


@pytest.mark.django_db(transaction=True)
def test_a_change_behind_the_stamp_counts_within_the_stated_bound(client, users, walked, token_for, settings):
    from bihuan.accounts.models import Binding

    settings.BIHUAN_SCOPE_CACHE_SECONDS = 0.3
    village = token_for(users.lumiao_secretary)
    assert _get(client, walked, village) == 200
    Binding.objects.filter(user=users.lumiao_secretary)._raw_delete("default")  # raw SQL: no stamp
    assert _get(client, walked, village) == 200  # the copy read under 0.3 s ago
    time.sleep(0.35)
    assert _get(client, walked, village) == 404
