"""岗位学位床位托位: a resident's demand matched to a free place — providers with free places
(capacity − occupied, in SQL over the JSON entries) of a kind, the township's own first, then the
county's other townships nearest first; in scope; from a demand matter prefilled."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bihuan.ledgers import selectors, services
from bihuan.loop import services as loop_services
from tests.ledgers_helpers import load
from tests.loop_helpers import at, make_categories

pytestmark = pytest.mark.django_db


def _place(r, unit, provider, kind, capacity, occupied):
    return services.create_entry(None, r, unit=unit, values={"kind": kind, "provider": provider, "capacity": capacity,
                                                             "occupied": occupied, "free": max(capacity - occupied, 0)})


@pytest.fixture
def places(tree):
    r = load()["service_capacity"]
    tree.liying.centre_lat, tree.liying.centre_lon = 35.40, 116.60
    tree.liying.save()
    tree.xianying.centre_lat, tree.xianying.centre_lon = 35.42, 116.58
    tree.xianying.save()
    _place(r, tree.liying, "李营养老院", "床位", 100, 97)
    _place(r, tree.liying, "李营幸福院", "床位", 30, 10)
    _place(r, tree.liying, "李营满员院", "床位", 40, 40)  # full: not listed
    _place(r, tree.liying, "李营小学", "学位", 500, 450)  # another kind
    _place(r, tree.xianying, "仙营敬老院", "床位", 60, 55)
    _place(r, tree.longqiao, "龙桥护理院", "床位", 80, 0)  # another county
    return r


def test_free_places_of_the_township_first_then_nearby_in_sql(tree, users, places, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        rows = list(selectors.free_places(users.city_admin, places, kind="床位", township=tree.liying))
    assert [(e.data["provider"], int(e.free_places), e.home) for e in rows] == [
        ("李营幸福院", 20, 1), ("李营养老院", 3, 1), ("仙营敬老院", 5, 0)]
    by = selectors.free_places_by_township(users.city_admin, places, kind="床位", county=tree.rencheng)
    assert [(x["unit_name"], x["free"], x["providers"]) for x in by] == [("李营街道", 23, 2), ("仙营街道", 5, 1)]
    # a township staff sees only their township's providers
    rows = list(selectors.free_places(users.liying_staff, places, kind="床位", township=tree.liying))
    assert {e.data["provider"] for e in rows} == {"李营幸福院", "李营养老院"}


def test_page_lists_free_places_and_a_demand_matter_prefills_it(client, tree, users, places):
    client.force_login(users.rencheng_admin)
    assert 'href="/ledgers/capacity/free/"' in client.get("/ledgers/r/service_capacity/").content.decode()
    body = client.get("/ledgers/capacity/free/").content.decode()
    assert 'data-testid="free-hint"' in body and "李营街道" in body and "龙桥街道" not in body
    body = client.get("/ledgers/capacity/free/", {"kind": "床位", "unit": tree.liying.code}).content.decode()
    assert body.index("李营幸福院") < body.index("李营养老院") < body.index("仙营敬老院")
    assert "李营满员院" not in body and "龙桥护理院" not in body and "李营小学" not in body
    assert 'data-testid="free-by-township"' in body
    # another county's township is not offered and not searched
    body = client.get("/ledgers/capacity/free/", {"kind": "床位", "unit": tree.longqiao.code}).content.decode()
    assert "龙桥护理院" not in body
    for hostile in ({"kind": "x'--", "unit": "\x00"}, {"matter": "9" * 40}, {"matter": "-1", "page": "9" * 30},
                    {"kind": "床位", "unit": tree.liying.code, "page": "abc"}):
        assert client.get("/ledgers/capacity/free/", hostile).status_code in (200, 400)  # NUL: refused at the edge
    # from a demand matter: the link, and the page prefilled with its township
    _road, water = make_categories()
    m = loop_services.create_matter(None, category=water, location_unit=tree.lumiao_g1, title="老人需要床位",
                                    description="独居老人需要养老床位。", kind="demand", now=at("2026-11-02 09:00"))
    detail = client.get(reverse("loop:detail", args=[m.pk])).content.decode()
    assert f"/ledgers/capacity/free/?matter={m.pk}" in detail
    body = client.get("/ledgers/capacity/free/", {"matter": m.pk, "kind": "床位"}).content.decode()
    assert 'data-testid="free-matter"' in body and "李营幸福院" in body
    # a matter out of scope is ignored (nothing about it shown)
    client.force_login(users.yanzhou_admin)
    body = client.get("/ledgers/capacity/free/", {"matter": m.pk, "kind": "床位"}).content.decode()
    assert 'data-testid="free-matter"' not in body and "李营幸福院" not in body
    client.force_login(users.nobody)
    assert client.get("/ledgers/capacity/free/").status_code in (403, 404)


def test_api_free_places_in_scope_and_hostile_input(client, tree, users, places, token_for):
    auth = token_for(users.rencheng_admin)
    url = "/api/v1/registers/service_capacity/free-places"
    resp = client.get(url, {"kind": "床位", "unit": tree.liying.code}, **auth)
    assert resp.status_code == 200, resp.content
    assert [(x["provider"], x["free"], x["same_township"]) for x in resp.json()] == [
        ("李营幸福院", 20, True), ("李营养老院", 3, True), ("仙营敬老院", 5, False)]
    # from a point close to 仙营街道 the nearby township still comes after the township's own
    resp = client.get(url, {"kind": "床位", "unit": tree.xianying.code, "lat": 35.42, "lon": 116.58}, **auth)
    assert [x["provider"] for x in resp.json()] == ["仙营敬老院", "李营幸福院", "李营养老院"]
    for bad in ({"kind": "飞机", "unit": tree.liying.code}, {"kind": "床位", "unit": tree.longqiao.code},
                {"kind": "床位", "unit": tree.rencheng.code}, {"kind": "床位", "unit": tree.liying.code, "lat": 91},
                {"kind": "床位", "unit": tree.liying.code, "lat": 35}, {"kind": "床位"}):
        assert client.get(url, bad, **auth).status_code in (400, 404, 422), bad
    assert client.get("/api/v1/registers/cooperatives/free-places", {"kind": "种植", "unit": tree.liying.code},
                      **auth).status_code in (400, 422)
