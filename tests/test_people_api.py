"""/api/v1/people and /api/v1/households: scope, masking, validation errors as problem+json."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.core.models import AuditEntry
from bihuan.people import services
from bihuan.people.validators import build_id_number

ID = build_id_number("370811", date(1950, 3, 7), 131)
PHONE = "13912345678"


@pytest.fixture
def zxm(tree):
    return services.create_person(None, unit=tree.lumiao_g1, name="张晓明", id_number=ID, phone=PHONE)


@pytest.fixture
def household(tree, zxm):
    return services.create_household(None, unit=tree.lumiao_g1, address="芦庙村1号", head=zxm)


def test_openapi_lists_people_and_households(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/people", "/api/v1/people/{person_id}", "/api/v1/households",
            "/api/v1/households/{household_id}", "/api/v1/people/{person_id}/reveal"} <= set(paths)


def test_list_and_detail_are_masked(client, users, zxm, token_for):
    auth = token_for(users.lumiao_secretary)
    body = client.get("/api/v1/people?q=zxm", **auth).json()
    assert [p["name"] for p in body["items"]] == ["张晓明"]
    item = body["items"][0]
    assert item["id_number"] == ID[:6] + "********" + ID[-4:] and item["phone"] == "139****5678"
    raw = client.get(f"/api/v1/people/{zxm.pk}", **auth).content.decode()
    assert ID not in raw and PHONE not in raw


def test_exact_phone_search(client, users, zxm, token_for):
    body = client.get(f"/api/v1/people?q={PHONE}", **token_for(users.lumiao_grid)).json()
    assert [p["id"] for p in body["items"]] == [zxm.pk]


def test_other_subtree_gets_404_and_no_data(client, users, zxm, household, token_for):
    auth = token_for(users.yanzhou_admin)
    assert client.get("/api/v1/people", **auth).json()["items"] == []
    assert client.get("/api/v1/households", **auth).json()["items"] == []
    for url in (f"/api/v1/people/{zxm.pk}", f"/api/v1/households/{household.pk}"):
        r = client.get(url, **auth)
        assert r.status_code == 404 and r["Content-Type"] == "application/problem+json"
    r = client.patch(f"/api/v1/people/{zxm.pk}", {"address": "x"}, content_type="application/json", **auth)
    assert r.status_code == 404
    r = client.post(f"/api/v1/people/{zxm.pk}/reveal", {"field": "phone", "reason": "查看号码"},
                    content_type="application/json", **auth)
    assert r.status_code == 404


def test_create_with_field_errors_is_problem_json(client, users, tree, token_for):
    auth = token_for(users.lumiao_secretary)
    bad = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    r = client.post("/api/v1/people", {"unit": tree.lumiao_g1.code, "name": "王五", "id_number": bad,
                                       "phone": "12345"}, content_type="application/json", **auth)
    assert r.status_code == 400 and r["Content-Type"] == "application/problem+json"
    assert set(r.json()["errors"]) == {"id_number", "phone"}


def test_create_update_and_duplicate(client, users, tree, token_for, zxm):
    auth = token_for(users.lumiao_secretary)
    new_id = build_id_number("370811", date(1990, 2, 3), 22)
    r = client.post("/api/v1/people", {"unit": tree.lumiao_g2.code, "name": "王小红", "id_number": new_id,
                                       "phone": "0537-2345678"}, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["gender"] == "F" and body["birth_date"] == "1990-02-03" and new_id not in r.content.decode()
    r = client.patch(f"/api/v1/people/{body['id']}", {"version": body["version"], "is_reserve": True},
                     content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["is_reserve"] is True
    r = client.patch(f"/api/v1/people/{body['id']}", {"version": body["version"], "address": "x"},
                     content_type="application/json", **auth)
    assert r.status_code == 409
    r = client.post("/api/v1/people", {"unit": tree.lumiao_g2.code, "name": "张晓明", "id_number": ID},
                    content_type="application/json", **auth)
    assert r.status_code == 409 and "id_number" in r.json()["errors"]


def test_create_in_unit_out_of_scope_is_refused(client, users, tree, token_for):
    auth = token_for(users.lumiao_secretary)
    r = client.post("/api/v1/people", {"unit": tree.xuemiao.code, "name": "越权",
                                       "id_number": build_id_number("370812", date(1990, 1, 1), 1)},
                    content_type="application/json", **auth)
    assert r.status_code == 400 and "unit" in r.json()["errors"]


def test_reveal_through_the_api_is_audited(client, users, zxm, token_for):
    r = client.post(f"/api/v1/people/{zxm.pk}/reveal", {"field": "id_number", "reason": "x"},
                    content_type="application/json", **token_for(users.lumiao_secretary))
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    r = client.post(f"/api/v1/people/{zxm.pk}/reveal", {"field": "id_number", "reason": "核对身份信息"},
                    content_type="application/json", **token_for(users.lumiao_grid))
    assert r.status_code == 403
    r = client.post(f"/api/v1/people/{zxm.pk}/reveal", {"field": "id_number", "reason": "核对身份信息"},
                    content_type="application/json", **token_for(users.lumiao_secretary))
    assert r.json() == {"field": "id_number", "value": ID}
    entry = AuditEntry.objects.filter(action="people.person.reveal").latest("id")
    assert entry.actor_name == "lumiao_secretary" and ID not in str(entry.extra)


def test_households_api(client, users, tree, zxm, token_for):
    auth = token_for(users.lumiao_secretary)
    member = services.create_person(None, unit=tree.lumiao_g1, name="李建国", party_status="formal",
                                    id_number=build_id_number("370811", date(1968, 5, 1), 51))
    r = client.post("/api/v1/households", {"unit": tree.lumiao_g1.code, "address": "芦庙村2号",
                                           "head_id": zxm.pk, "carer_id": member.pk},
                    content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    h = r.json()
    assert h["carer_name"] == "李建国" and [m["name"] for m in h["members"]] == ["张晓明"]
    assert ID not in r.content.decode()
    r = client.patch(f"/api/v1/households/{h['id']}", {"carer_id": zxm.pk}, content_type="application/json",
                     **auth)
    assert r.status_code == 400 and "carer" in r.json()["errors"]
    listed = client.get(f"/api/v1/households?unit={tree.lumiao_g1.code}", **token_for(users.lumiao_grid)).json()
    assert [x["address"] for x in listed["items"]] == ["芦庙村2号"]


def test_list_pages_grid_by_grid_without_gaps_or_repeats(client, users, tree, token_for):
    """The list is ordered by (unit, id): paging across grids returns everyone exactly once."""
    made = []
    for i in range(7):  # interleave the two grids, so id order and unit order differ
        unit = tree.lumiao_g2 if i % 2 == 0 else tree.lumiao_g1
        made.append((unit.pk, services.create_person(None, unit=unit, name=f"测试{i}",
                                                     id_number=build_id_number("370811", date(1960, 1, 1 + i), 11 + i)).pk))
    auth = token_for(users.lumiao_secretary)
    seen, cursor = [], None
    while True:
        url = "/api/v1/people?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, **auth).json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [pk for _u, pk in sorted(made)]
