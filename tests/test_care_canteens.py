"""Canteens (幸福食堂): a canteen at a village, the day's meals needed by care plans ticked as
served (once per resident, day and meal), other diners, the monthly summary and its XLSX, the API."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import openpyxl
import pytest
from django.utils import timezone

from bihuan.care import selectors, services
from bihuan.care.models import CanteenDay, MealServed, Visit
from bihuan.core.errors import NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from tests.care_helpers import at, make_care, make_care_today


@pytest.fixture
def care_today(tree, users):
    return make_care_today(tree, users)


@pytest.fixture
def canteen(tree, users):
    return services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="芦庙村幸福食堂",
                                   address="芦庙村党群服务中心", seats=40)


def _lunch(day):
    return Visit.objects.get(day=day, kind="meal")


def test_canteen_only_at_a_village_in_scope(tree, users):
    with pytest.raises(ServiceError):
        services.create_canteen(users.liying_staff, unit=tree.liying, name="街道食堂")
    with pytest.raises(NotFound):
        services.create_canteen(users.rencheng_admin, unit=tree.xuemiao, name="外区食堂")
    with pytest.raises(ServiceError):
        services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="食堂", eat_in=False, delivery=False)
    with pytest.raises(ServiceError):
        services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="食堂", seats=99999)
    with pytest.raises(PermissionDenied):  # a grid worker sees canteens, does not open them
        services.create_canteen(users.lumiao_grid, unit=tree.lumiao, name="食堂")
    c = services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="食堂", seats=30)
    assert AuditEntry.objects.filter(action="care.canteen.create", object_id=str(c.pk)).exists()


def test_serving_a_meal_is_once_per_resident_day_and_meal(tree, users, care_today, canteen):
    v = _lunch(care_today.today)
    m, created = services.serve_meal(users.lumiao_secretary, canteen, v, mode="eat_in")
    assert created and (m.meal, m.mode, m.person_id) == ("lunch", "eat_in", care_today.resident.pk)
    again, created = services.serve_meal(users.lumiao_secretary, canteen, v.pk, mode="delivered")
    assert not created and again.pk == m.pk and again.mode == "eat_in"
    assert MealServed.objects.count() == 1
    assert AuditEntry.objects.filter(action="care.canteen.serve").count() == 1
    # the daily visit is not a meal; a visit of another village is not this canteen's
    with pytest.raises(ServiceError):
        services.serve_meal(users.lumiao_secretary, canteen, Visit.objects.get(day=care_today.today, kind="visit"))
    with pytest.raises(ServiceError):
        services.serve_meal(users.lumiao_secretary, canteen, 10**12)
    services.unserve_meal(users.lumiao_secretary, canteen, m.pk)
    assert MealServed.objects.count() == 0


def test_refusals_nothing_written(tree, users, care_today, canteen):
    v = _lunch(care_today.today)
    with pytest.raises(NotFound):  # another district's user cannot see the canteen
        services.serve_meal(users.yanzhou_admin, canteen, v)
    with pytest.raises(PermissionDenied):  # the volunteer role has no canteen permission
        services.serve_meal(care_today.volunteer, canteen, v)
    only_in = services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="堂食点", delivery=False)
    with pytest.raises(ServiceError):
        services.serve_meal(users.lumiao_secretary, only_in, v, mode="delivered")
    with pytest.raises(ServiceError):
        services.set_other_diners(users.lumiao_secretary, canteen, care_today.today, -1)
    with pytest.raises(ServiceError):
        services.set_other_diners(users.lumiao_secretary, canteen, care_today.today + timedelta(days=1), 3)
    assert MealServed.objects.count() == 0 and CanteenDay.objects.count() == 0


def test_day_lists_plan_meals_and_counts(tree, users, care_today, canteen):
    services.set_other_diners(users.lumiao_secretary, canteen, care_today.today, 12)
    services.set_other_diners(users.lumiao_secretary, canteen, care_today.today, 14)
    rows = list(selectors.canteen_day(canteen, care_today.today))
    assert [(r.person.name, r.meal, r.served_id) for r in rows] == [("李大爷", "lunch", None)]
    services.serve_meal(users.lumiao_secretary, canteen, rows[0])
    counts = selectors.canteen_day_counts(canteen, care_today.today)
    assert counts == {"needed": 1, "served": 1, "eat_in": 0, "delivered": 1, "others": 14}


def test_month_summary_needed_vs_served(tree, users):
    c = make_care(tree, users, start=date(2026, 3, 1))
    for d in range(1, 6):
        services.generate(date(2026, 3, d), now=at(2026, 3, d, 0, 5))
    canteen = services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="食堂", now=at(2026, 3, 1, 6))
    for d in (1, 2, 4):
        services.serve_meal(users.lumiao_secretary, canteen, _lunch(date(2026, 3, d)), now=at(2026, 3, d, 12))
    services.set_other_diners(users.lumiao_secretary, canteen, date(2026, 3, 2), 7, now=at(2026, 3, 2, 20))
    data = selectors.canteen_month(canteen, 2026, 3)
    assert len(data["days"]) == 31
    assert data["totals"] | {} == data["totals"] and data["totals"]["needed"] == 5
    assert (data["totals"]["served"], data["totals"]["others"], data["totals"]["rate"]) == (3, 7, 60.0)
    assert data["days"][2]["needed"] == 1 and data["days"][2]["served"] == 0
    assert c.resident.pk == MealServed.objects.first().person_id


def test_pages_tick_a_meal_and_download_the_month(client, tree, users, care_today, canteen):
    client.force_login(users.lumiao_secretary)
    r = client.get(f"/care/canteens/?unit={tree.lumiao.pk}")
    assert r.status_code == 200 and "芦庙村幸福食堂" in r.content.decode()
    r = client.get(f"/care/canteens/{canteen.pk}/")
    body = r.content.decode()
    assert r.status_code == 200 and "李大爷" in body and 'data-served="0"' in body
    v = _lunch(care_today.today)
    r = client.post(f"/care/canteens/{canteen.pk}/meals/{v.pk}/serve/", {"mode": "eat_in"})
    assert r.status_code == 302
    r = client.post(f"/care/canteens/{canteen.pk}/meals/{v.pk}/serve/", {"mode": "eat_in"}, follow=True)
    assert MealServed.objects.count() == 1 and 'data-served="1"' in r.content.decode()
    r = client.post(f"/care/canteens/{canteen.pk}/diners/?date={care_today.today}", {"other_diners": "9"})
    assert r.status_code == 302 and CanteenDay.objects.get().other_diners == 9
    r = client.post(f"/care/canteens/{canteen.pk}/diners/?date={care_today.today}", {"other_diners": "-3"},
                    follow=True)
    assert CanteenDay.objects.get().other_diners == 9
    month = care_today.today.strftime("%Y-%m")
    r = client.get(f"/care/canteens/{canteen.pk}/month/?month={month}")
    assert r.status_code == 200 and 'data-testid="total-served">1<' in r.content.decode()
    r = client.get(f"/care/canteens/{canteen.pk}/month.xlsx?month={month}")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("日期", "计划需用餐（份）", "已供餐（份）")
    assert rows[-1][0] == "合计" and rows[-1][2] == 1 and rows[-1][-1] == 9
    for bad in ("2026-13", "x", "99999-01"):
        assert client.get(f"/care/canteens/{canteen.pk}/month/?month={bad}").status_code == 400
    assert client.get(f"/care/canteens/{canteen.pk}/?date=2026-02-30").status_code == 400


def test_pages_out_of_scope_and_volunteer(client, tree, users, care_today, canteen):
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/care/canteens/{canteen.pk}/").status_code == 404
    assert client.get(f"/care/canteens/{canteen.pk}/month.xlsx").status_code == 404
    client.force_login(care_today.volunteer)
    assert client.get("/care/canteens/").status_code == 403
    v = _lunch(care_today.today)
    assert client.post(f"/care/canteens/{canteen.pk}/meals/{v.pk}/serve/", {}).status_code == 403


def test_open_a_canteen_from_the_page(client, tree, users):
    client.force_login(users.lumiao_secretary)
    r = client.post(f"/care/canteens/?unit={tree.lumiao.pk}", {"unit": tree.lumiao.pk, "name": "新食堂",
                                                               "seats": "20", "eat_in": "on"})
    assert r.status_code == 302
    r = client.post(f"/care/canteens/?unit={tree.lumiao.pk}", {"unit": tree.lumiao.pk, "name": "x\u0001",
                                                               "seats": "20", "eat_in": "on"})
    assert r.status_code == 400


def _post(client, url, body, headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_api_lists_and_ticks_once(client, tree, users, token_for, care_today, canteen):
    h = token_for(users.lumiao_secretary)
    r = client.get("/api/v1/care/canteens", **h)
    assert r.status_code == 200 and r.json()["items"][0]["name"] == "芦庙村幸福食堂"
    r = client.get(f"/api/v1/care/canteens/{canteen.pk}/meals?date={care_today.today}", **h)
    assert r.status_code == 200 and r.json()["needed"] == 1
    item = r.json()["items"][0]
    assert (item["person_name"], item["meal"], item["served"]) == ("李大爷", "lunch", False)
    r = _post(client, f"/api/v1/care/canteens/{canteen.pk}/meals", {"visit": item["visit_id"], "mode": "eat_in"}, h)
    assert r.status_code == 201 and r.json()["meal"] == "lunch"
    r = _post(client, f"/api/v1/care/canteens/{canteen.pk}/meals", {"visit": item["visit_id"], "mode": "eat_in"}, h)
    assert r.status_code == 200 and MealServed.objects.count() == 1
    r = _post(client, f"/api/v1/care/canteens/{canteen.pk}/meals", {"visit": item["visit_id"], "mode": "x\u0000"}, h)
    assert r.status_code in (400, 422)
    assert client.get(f"/api/v1/care/canteens/{canteen.pk}/meals?date=0", **h).status_code == 422
    other = token_for(users.yanzhou_admin)
    assert client.get(f"/api/v1/care/canteens/{canteen.pk}/meals", **other).status_code == 404
    assert client.get("/api/v1/care/canteens", **other).json()["items"] == []
    r = _post(client, "/api/v1/care/canteens", {"unit": tree.lumiao.pk, "name": "二号食堂", "seats": 10}, h)
    assert r.status_code == 201 and r.json()["seats"] == 10
    r = _post(client, "/api/v1/care/canteens", {"unit": tree.xuemiao.pk, "name": "外区"}, h)
    assert r.status_code == 404


def test_now_matters_for_served_days(tree, users, care_today, canteen):
    v = _lunch(care_today.today)
    long_after = timezone.now() + timedelta(days=90)
    with pytest.raises(ServiceError):
        services.serve_meal(users.lumiao_secretary, canteen, v, now=long_after)


def test_meals_served_as_a_source_and_in_the_section(tree, users):
    from bihuan.core import registry

    make_care(tree, users, start=date(2026, 3, 1))
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 0, 5))
    canteen = services.create_canteen(None, unit=tree.lumiao, name="食堂", now=at(2026, 3, 1, 6))
    services.serve_meal(None, canteen, _lunch(date(2026, 3, 2)), now=at(2026, 3, 2, 12))
    vals = registry.compute("care.meals_served", [tree.liying, tree.lumiao, tree.xianying],
                            start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0), now=at(2026, 3, 3))
    assert vals == {tree.liying.pk: 1, tree.lumiao.pk: 1, tree.xianying.pk: 0}
    rows = registry.SECTIONS["care.visits"].figures(tree.liying, start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0),
                                                   now=at(2026, 3, 3))
    assert rows[0]["unit_name"] == "芦庙村" and rows[0]["meals_served"] == 1
