"""/api/v1/matters and /api/v1/stats/units: actions, 409, Idempotency-Key, scope isolation."""

from __future__ import annotations

import base64
import json

import pytest

from bihuan.loop.models import Matter, MatterEvent

from .loop_helpers import PNG, make_categories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cats(db):
    return make_categories()


def post(client, url, body, auth, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **auth, **extra)


def create(client, auth, unit, **kw):
    body = {"category": "road", "location_unit": unit.pk, "title": "路灯不亮", "description": "村口路灯坏了三天。",
            "reporter_phone": "13912345678", **kw}
    return post(client, "/api/v1/matters", body, auth)


def test_walk_the_loop_over_the_api(client, tree, users, cats, token_for):
    grid, town, village = token_for(users.lumiao_grid), token_for(users.liying_staff), token_for(users.lumiao_secretary)
    r = create(client, grid, tree.lumiao_g1)
    assert r.status_code == 201, r.content
    m = r.json()
    assert m["state"] == "new" and m["reporter_phone"] == "139****5678" and "13912345678" not in r.content.decode()
    url = f"/api/v1/matters/{m['id']}/actions"
    r = post(client, f"{url}/dispatch", {"version": 1, "handling_unit": tree.lumiao.pk}, town)
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "dispatched" and r.json()["light"] in ("green", "yellow", "red")
    assert post(client, f"{url}/accept", {"version": 2}, village).json()["state"] == "in_progress"
    att = {"name": "after.png", "content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}
    r = post(client, f"{url}/report_done", {"version": 3, "comment": "已更换灯泡", "attachments": [att]}, village)
    assert r.json()["state"] == "reported"
    r = post(client, f"{url}/evaluate", {"version": 4, "passed": True}, town)
    assert r.json()["state"] == "closed" and r.json()["light"] == "none"
    events = client.get(f"/api/v1/matters/{m['id']}/events", **grid).json()
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[3]["attachments"][0]["name"] == "after.png"


def test_stale_version_is_409_and_nothing_changes(client, tree, users, cats, token_for):
    town = token_for(users.liying_staff)
    m = create(client, town, tree.lumiao).json()
    url = f"/api/v1/matters/{m['id']}/actions/dispatch"
    assert post(client, url, {"version": 1, "handling_unit": tree.lumiao.pk}, town).status_code == 200
    r = post(client, url, {"version": 1, "handling_unit": tree.lumiao.pk}, town)
    assert r.status_code == 409 and r["Content-Type"] == "application/problem+json"
    assert MatterEvent.objects.filter(matter_id=m["id"]).count() == 2


def test_out_of_order_and_bad_input_are_clear_400s(client, tree, users, cats, token_for):
    town = token_for(users.liying_staff)
    m = create(client, town, tree.lumiao).json()
    r = post(client, f"/api/v1/matters/{m['id']}/actions/accept", {"version": 1}, town, HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400 and "awaiting dispatch" in r.json()["title"]
    assert post(client, f"/api/v1/matters/{m['id']}/actions/fly", {"version": 1}, town).status_code == 400
    r = create(client, town, tree.lumiao, description="")
    assert r.status_code == 400 and "description" in r.json()["errors"]
    r = create(client, town, tree.lumiao, attachments=[{"name": "a.exe", "content_type": "application/x-msdownload",
                                                         "data_base64": base64.b64encode(b"MZ").decode()}])
    assert r.status_code == 400 and Matter.objects.count() == 1


def test_idempotency_key_replays_the_first_result(client, tree, users, cats, token_for):
    auth = {**token_for(users.lumiao_grid), "HTTP_IDEMPOTENCY_KEY": "k-123"}
    body = {"category": "road", "location_unit": tree.lumiao_g1.pk, "title": "井盖缺失", "description": "路口井盖丢了"}
    first = post(client, "/api/v1/matters", body, auth)
    second = post(client, "/api/v1/matters", body, auth)
    assert first.status_code == 201 and second.status_code == 201
    assert first.content == second.content and second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Matter.objects.count() == 1
    different = post(client, "/api/v1/matters", {**body, "title": "别的"}, auth)
    assert different.status_code == 422 and Matter.objects.count() == 1
    assert different.json()["type"].endswith("idempotency_mismatch")
    # A key the column cannot hold is refused, not cut short (cutting would merge two keys).
    long_key = {**token_for(users.lumiao_grid), "HTTP_IDEMPOTENCY_KEY": "k" * 101}
    assert post(client, "/api/v1/matters", body, long_key).status_code == 400 and Matter.objects.count() == 1


def test_list_filters_and_cursor(client, tree, users, cats, token_for):
    town = token_for(users.liying_staff)
    ids = [create(client, town, tree.lumiao, title=f"t{i}").json()["id"] for i in range(5)]
    post(client, f"/api/v1/matters/{ids[0]}/actions/dispatch", {"version": 1, "handling_unit": tree.lumiao.pk}, town)
    seen, cursor = [], None
    while True:
        body = client.get("/api/v1/matters?limit=2" + (f"&cursor={cursor}" if cursor else ""), **town).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert [i["id"] for i in client.get("/api/v1/matters?state=dispatched", **town).json()["items"]] == [ids[0]]
    assert len(client.get(f"/api/v1/matters?unit={tree.lumiao.pk}", **town).json()["items"]) == 5
    assert client.get("/api/v1/matters?light=red", **town).json()["items"] == []
    assert len(client.get("/api/v1/matters?overdue=false&kind=problem&category=road", **town).json()["items"]) == 5
    assert client.get("/api/v1/matters?created_from=2099-01-01T00:00:00Z", **town).json()["items"] == []
    assert client.get("/api/v1/inbox", **town).json()["to_dispatch"] == 4


def test_every_loop_endpoint_is_scope_isolated(client, tree, users, cats, token_for):
    town = token_for(users.liying_staff)
    outsider = token_for(users.yanzhou_admin)
    m = create(client, town, tree.lumiao).json()
    mid = m["id"]
    for url in (f"/api/v1/matters/{mid}", f"/api/v1/matters/{mid}/events", f"/api/v1/matters/{mid}/similar",
                f"/api/v1/stats/units?unit={tree.liying.pk}", f"/api/v1/supervision/board?unit={tree.liying.pk}",
                f"/api/v1/supervision/backlog?unit={tree.liying.pk}",
                f"/api/v1/supervision/hotspots?unit={tree.liying.pk}"):
        r = client.get(url, **outsider)
        assert r.status_code == 404, url
        assert "芦庙" not in r.content.decode() and "路灯" not in r.content.decode()
    r = post(client, f"/api/v1/matters/{mid}/actions/dispatch", {"version": 1}, outsider)
    assert r.status_code == 404
    assert client.get("/api/v1/matters", **outsider).json()["items"] == []
    assert client.get(f"/api/v1/matters?unit={tree.liying.pk}", **outsider).json()["items"] == []
    r = create(client, outsider, tree.lumiao)
    assert r.status_code == 404 and Matter.objects.count() == 1
    assert client.get(f"/api/v1/matters/{mid}", **token_for(users.nobody)).status_code == 404
    assert Matter.objects.get(pk=mid).version == 1


def test_stats_endpoint(client, tree, users, cats, token_for):
    auth = token_for(users.rencheng_admin)
    r = client.get(f"/api/v1/stats/units?unit={tree.rencheng.pk}&from=2026-01-01T00:00:00%2B08:00", **auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert {c["unit_name"] for c in body["children"]} == {"李营街道", "仙营街道"}
    assert {"volume", "response_rate", "on_time_rate", "overdue", "resolution_rate", "satisfaction_rate",
            "mean_hours", "p90_hours"} <= set(body["unit"])


def test_inbox_counts_cap_the_closed_count_like_the_page(client, tree, users, cats, token_for, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from bihuan.loop import selectors

    from .loop_helpers import closed_matter

    road = cats[0]
    for _ in range(3):
        closed_matter(tree, users, road, timezone.now() - timedelta(days=3))
    town = token_for(users.liying_staff)
    body = client.get("/api/v1/inbox", **town).json()
    assert body["closed"] == 3 and body["closed_capped"] is False
    monkeypatch.setattr(selectors, "CLOSED_COUNT_CAP", 2)
    body = client.get("/api/v1/inbox", **town).json()
    assert body["closed"] == 3 and body["closed_capped"] is True  # cap + 1: "more than 2"
    body = client.get("/api/v1/inbox?exact=true", **town).json()
    assert body["closed"] == 3 and body["closed_capped"] is False
