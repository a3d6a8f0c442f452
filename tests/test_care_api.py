"""``/api/v1/care``: surveys, plans, visits, the check-in (Idempotency-Key), refusals as problem+json."""

from __future__ import annotations

import base64
import json

import pytest

from bihuan.care.models import CarePlan, Survey, Visit
from bihuan.core.models import AuditEntry
from tests.care_helpers import make_care_today
from tests.test_care import PNG


@pytest.fixture
def care_today(tree, users):
    return make_care_today(tree, users)


def _post(client, url, body, headers=None, **kw):
    return client.post(url, json.dumps(body), content_type="application/json", **(headers or {}), **kw)


def test_surveys_post_and_list_masked(client, users, token_for, care_today):
    h = token_for(users.lumiao_secretary)
    r = _post(client, "/api/v1/care/surveys", {"person": care_today.resident.pk, "surveyed_on": "2026-01-05",
                                                "living": "alone", "help": ["help_moving"], "needs": ["need_meals"],
                                                "contact_name": "李儿子", "contact_phone": "13905370009",
                                                "risk": "high"}, h)
    assert r.status_code == 201, r.content
    assert r.json()["self_care"] == "partial" and r.json()["contact_phone_masked"] == "139****0009"
    r = client.get("/api/v1/care/surveys", **h)
    assert "13905370009" not in r.content.decode() and r.json()["items"][0]["person_name"] == "李大爷"
    r = _post(client, "/api/v1/care/surveys", {"person": care_today.resident.pk, "surveyed_on": "2026-01-05",
                                                "living": "alone", "contact_name": "a\u0000b"}, h)
    assert r.status_code in (400, 422) and Survey.objects.count() == 1
    assert client.get("/api/v1/care/surveys", **token_for(users.yanzhou_admin)).json()["items"] == []


def test_plans_post_refuses_bad_rule_and_out_of_scope(client, tree, users, token_for, care_today):
    from bihuan.people import services as people

    h = token_for(users.lumiao_secretary)
    spec = {"kind": "meal", "rrule": "FREQ=SECONDLY", "window_start": "07:00", "window_end": "08:00",
            "helper": care_today.helper.pk}
    n = CarePlan.objects.count()
    r = _post(client, "/api/v1/care/plans", {"person": care_today.resident.pk, "starts_on": "2026-01-01",
                                              "services": [spec]}, h)
    assert r.status_code == 400 and r["Content-Type"].startswith("application/problem+json")
    assert CarePlan.objects.count() == n
    r = _post(client, "/api/v1/care/plans", {"person": care_today.resident.pk, "starts_on": "2026-01-01",
                                              "services": [spec | {"rrule": "FREQ=DAILY"}]}, h)
    assert r.status_code == 201 and r.json()["services"][0]["rrule"] == "FREQ=DAILY"
    other = people.create_person(None, unit=tree.xuemiao, name="薛大娘")
    r = _post(client, "/api/v1/care/plans", {"person": other.pk, "starts_on": "2026-01-01"},
              token_for(users.rencheng_admin))
    assert r.status_code == 404


def test_visits_list_for_the_volunteer_and_filters(client, users, token_for, care_today):
    h = token_for(care_today.volunteer)
    items = client.get(f"/api/v1/care/visits?date={care_today.today}", **h).json()["items"]
    assert [i["kind"] for i in items] == ["meal", "visit"] and items[0]["phone_masked"] == "138****0001"
    assert client.get("/api/v1/care/visits?status=bogus", **h).status_code == 400
    assert client.get("/api/v1/care/visits?date=20260", **h).status_code in (400, 422)
    sec = token_for(users.lumiao_secretary)
    assert len(client.get(f"/api/v1/care/visits?status=due&helper={care_today.volunteer.pk}", **sec)
               .json()["items"]) == 2


def test_checkin_with_idempotency_key_is_recorded_once(client, users, token_for, care_today):
    v = Visit.objects.get(day=care_today.today, kind="meal")
    h = token_for(care_today.volunteer) | {"HTTP_IDEMPOTENCY_KEY": "abc-1"}
    body = {"outcome": "done", "note": "好",
            "photo": {"name": "a.png", "content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}}
    r1 = _post(client, f"/api/v1/care/visits/{v.pk}/checkin", body, h)
    r2 = _post(client, f"/api/v1/care/visits/{v.pk}/checkin", body, h)
    assert r1.status_code == r2.status_code == 200 and r1.content == r2.content
    assert r2["Idempotent-Replayed"] == "true" and r1.json()["status"] == "done"
    assert AuditEntry.objects.filter(action="care.visit.checkin").count() == 1
    r = _post(client, f"/api/v1/care/visits/{v.pk}/checkin", {"outcome": "refused"}, token_for(users.lumiao_grid))
    assert r.status_code == 409


def test_checkin_refusals(client, users, token_for, care_today):
    v = Visit.objects.get(day=care_today.today, kind="meal")
    r = _post(client, f"/api/v1/care/visits/{v.pk}/checkin", {"outcome": "done"}, token_for(users.lumiao_secretary))
    assert r.status_code == 403
    r = _post(client, f"/api/v1/care/visits/{v.pk}/checkin", {"outcome": "done"}, token_for(users.yanzhou_admin))
    assert r.status_code == 404
    h = token_for(care_today.volunteer)
    r = _post(client, f"/api/v1/care/visits/{v.pk}/checkin",
              {"outcome": "done", "photo": {"name": "a.png", "content_type": "image/png", "data_base64": "!!"}}, h)
    assert r.status_code == 400
    r = _post(client, f"/api/v1/care/visits/{v.pk}/checkin",
              {"outcome": "done", "photo": {"name": "a.gif", "content_type": "image/gif",
                                            "data_base64": base64.b64encode(b"GIF89a").decode()}}, h)
    assert r.status_code == 400 and Visit.objects.get(pk=v.pk).outcome == ""
    assert _post(client, "/api/v1/care/visits/99999999999999999999/checkin", {"outcome": "done"}, h).status_code \
        in (404, 422)


def test_volunteer_teams_and_records_api(client, tree, users, token_for, care_today):
    from bihuan.care import services

    h = token_for(users.lumiao_secretary)
    r = _post(client, "/api/v1/volunteers/teams", {"unit": tree.lumiao.pk, "name": "芦庙村志愿服务队",
                                                    "lead": users.lumiao_secretary.pk}, h)
    assert r.status_code == 201
    team_id = r.json()["id"]
    member = services.add_member(None, team_id, care_today.vol_person)
    r = _post(client, "/api/v1/volunteers/records", {"team": team_id, "member": member.pk, "day": "2026-01-05",
                                                      "hours": 2.5, "description": "打扫卫生"}, h)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    rid = r.json()["id"]
    assert _post(client, "/api/v1/volunteers/records", {"team": team_id, "member": member.pk, "day": "2026-01-05",
                                                         "hours": 99, "description": "x"}, h).status_code in (400, 422)
    assert _post(client, f"/api/v1/volunteers/records/{rid}/decide", {"approve": True},
                 token_for(users.rencheng_admin)).status_code == 403
    r = _post(client, f"/api/v1/volunteers/records/{rid}/decide", {"approve": True}, h)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert [x["id"] for x in client.get("/api/v1/volunteers/records?status=approved", **h).json()["items"]] == [rid]
    assert client.get("/api/v1/volunteers/teams", **token_for(users.yanzhou_admin)).json()["items"] == []
