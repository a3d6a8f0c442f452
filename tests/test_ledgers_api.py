"""``/api/v1/registers``: the same validation as the form, scope, 409, summary, schema."""

from __future__ import annotations

import json

import pytest

from bihuan.ledgers import services
from bihuan.ledgers.models import Entry
from tests.ledgers_helpers import coop, load

pytestmark = pytest.mark.django_db


def _post(client, url, body, auth):
    return client.post(url, json.dumps(body), content_type="application/json", **auth)


def _patch(client, url, body, auth):
    return client.patch(url, json.dumps(body), content_type="application/json", **auth)


def test_entries_crud_validation_scope_and_conflict(client, tree, users, token_for):
    load()
    auth = token_for(users.liying_staff)
    url = "/api/v1/registers/cooperatives/entries"
    r = _post(client, url, {"unit": "370811008201", "data": coop(members="abc")}, auth)
    assert r.status_code == 400 and "members" in r.content.decode()
    r = _post(client, url, {"unit": "370811008201", "data": coop()}, auth)
    assert r.status_code == 201, r.content
    e = r.json()
    assert e["data"]["members"] == 120 and e["version"] == 1
    assert _post(client, url, {"unit": "370812002003", "data": coop(name="x")}, auth).status_code == 400
    r = _patch(client, f"{url}/{e['id']}", {"version": 1, "data": coop(members=121)}, auth)
    assert r.status_code == 200 and r.json()["data"]["members"] == 121
    assert _patch(client, f"{url}/{e['id']}", {"version": 1, "data": coop(members=122)}, auth).status_code == 409
    assert client.get(f"{url}?kind=种植&members__min=100", **auth).json()["items"][0]["id"] == e["id"]
    assert client.get(f"{url}?kind=养殖", **auth).json()["items"] == []
    other = token_for(users.yanzhou_admin)
    assert client.get(f"{url}/{e['id']}", **other).status_code == 404
    assert client.get(f"{url}/99999999999999999999", **auth).status_code in (404, 422)


def test_summary_schema_and_definitions(client, tree, users, token_for):
    regs = load()
    services.create_entry(None, regs["cooperatives"], unit=tree.lumiao, values=coop(members=10))
    services.create_entry(None, regs["cooperatives"], unit=tree.xuemiao, values=coop(name="薛", members=5))
    auth = token_for(users.city_admin)
    rows = client.get("/api/v1/registers/cooperatives/summary?group_by=level&level=2&field=members", **auth).json()
    assert [(r["unit_name"], r["count"], r["total"]) for r in rows] == [("任城区", 1, 10), ("兖州区", 1, 5)]
    assert client.get("/api/v1/registers/cooperatives/summary?field=name", **auth).status_code == 400
    schema = client.get("/api/v1/registers/cooperatives/schema", **auth).json()
    assert schema["properties"]["kind"]["enum"][0] == "种植" and "name" in schema["required"]
    body = {"code": "canteens", "name": "幸福食堂", "level": 4,
            "fields": [{"key": "seats", "label": "座位", "type": "number", "min": 0}]}
    assert _post(client, "/api/v1/registers", body, auth).status_code == 201
    assert _post(client, "/api/v1/registers", body, auth).status_code == 409
    bad = {**body, "code": "bad1", "fields": [{"key": "x", "label": "x", "type": "text", "pattern": "(a+)+"}]}
    assert _post(client, "/api/v1/registers", bad, auth).status_code == 400
    assert _post(client, "/api/v1/registers", body, token_for(users.liying_staff)).status_code == 403
    assert len(client.get("/api/v1/registers", **auth).json()) == 8
    assert Entry.objects.count() == 2
