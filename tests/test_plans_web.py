"""Plans pages and API: what a user sees and sends, with the real stack (client, ninja, openpyxl)."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from django.utils import timezone

from bihuan.plans import services
from bihuan.plans.models import Assignment, CheckIn, Plan
from tests.plans_helpers import make_current_plan, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_plan(tree, users):
    return make_current_plan(tree, users.city_admin)


def test_my_tasks_check_in_and_see_it_on_the_assignment(login, tree, users, live_plan):
    c = login(users.lumiao_secretary)
    r = c.get("/plans/my/")
    assert r.status_code == 200
    text = r.content.decode()
    assert "建成幸福食堂" in text and "完成换届" not in text  # the village's own tasks only
    a = Assignment.objects.get(task=live_plan.canteen, unit=tree.lumiao)
    pdf = io.BytesIO(b"%PDF-1.4 minutes")
    pdf.name = "minutes.pdf"
    r = c.post(f"/plans/assignments/{a.pk}/checkin/", {f"a{a.pk}-value": "3", f"a{a.pk}-note": "三个食堂已开工",
                                                         f"a{a.pk}-evidence": pdf})
    assert r.status_code == 302
    checkin = CheckIn.objects.get(assignment=a)
    assert checkin.value == 3 and checkin.evidence.count() == 1
    r = c.get(f"/plans/assignments/{a.pk}/")
    assert "三个食堂已开工" in r.content.decode() and "minutes.pdf" in r.content.decode()
    ev = checkin.evidence.get()
    r = c.get(f"/plans/evidence/{ev.pk}/")
    assert r.status_code == 200 and b"".join(r.streaming_content).startswith(b"%PDF")


def test_bad_check_in_is_refused_with_a_message_and_nothing_written(login, tree, users, live_plan):
    c = login(users.lumiao_secretary)
    a = Assignment.objects.get(task=live_plan.canteen, unit=tree.lumiao)
    r = c.post(f"/plans/assignments/{a.pk}/checkin/", {f"a{a.pk}-value": "abc"}, follow=True)
    text = r.content.decode()
    assert r.status_code == 200 and ("Check-in not recorded" in text or "调度未记录" in text)
    r = c.post(f"/plans/assignments/{a.pk}/checkin/", {f"a{a.pk}-note": "x\x01"}, follow=True)
    assert not CheckIn.objects.exists()
    other = Assignment.objects.get(task=live_plan.canteen, unit=tree.xuemiao)
    assert c.post(f"/plans/assignments/{other.pk}/checkin/", {f"a{other.pk}-value": "1"}).status_code == 404


def test_map_page_drills_down_and_exports_the_same_colours(login, tree, users, live_plan):
    a = Assignment.objects.get(task=live_plan.canteen, unit=tree.lumiao)
    services.check_in(users.lumiao_secretary, a, value=12, note="全部建成")
    c = login(users.city_admin)
    r = c.get(f"/plans/{live_plan.plan.pk}/map/")
    text = r.content.decode()
    assert r.status_code == 200 and "任城区" in text and "兖州区" in text
    r = c.get(f"/plans/{live_plan.plan.pk}/map/?unit={tree.liying.pk}")
    text = r.content.decode()
    assert "芦庙村" in text and 'data-status="done"' in text
    r = c.get(f"/plans/{live_plan.plan.pk}/map.xlsx?unit={tree.liying.pk}")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb.active
    row = next(row for row in ws.iter_rows() if row[0].value == "芦庙村")
    assert row[1].fill.fgColor.rgb.endswith("2FB344")  # green: done
    # A county admin's map opens on the county; the neighbour county is not there.
    r = login(users.rencheng_admin).get(f"/plans/{live_plan.plan.pk}/map/")
    assert "兖州区" not in r.content.decode() and "李营街道" in r.content.decode()
    assert login(users.rencheng_admin).get(f"/plans/{live_plan.plan.pk}/map/?unit={tree.yanzhou.pk}").status_code == 404


def test_supervise_from_a_cell_opens_one_matter(login, tree, users, live_plan):
    from bihuan.loop.models import Matter

    a = Assignment.objects.get(task=live_plan.canteen, unit=tree.lumiao)
    c = login(users.liying_staff)
    r = c.post(f"/plans/assignments/{a.pk}/", {"comment": "请本周内报送"})
    assert r.status_code == 302
    assert Matter.objects.filter(kind="task", handling_unit=tree.lumiao).count() == 1
    r = c.post(f"/plans/assignments/{a.pk}/", {"comment": "again"})
    assert r.status_code == 409
    assert Matter.objects.filter(kind="task").count() == 1
    assert login(users.lumiao_secretary).post(f"/plans/assignments/{a.pk}/", {"comment": "x"}).status_code == 403


def test_publish_page_button(login, tree, users):
    p = make_plan(tree, users.city_admin, publish=False)
    c = login(users.city_admin)
    r = c.post(f"/plans/{p.plan.pk}/publish/", {"version": p.plan.version}, follow=True)
    assert "5" in r.content.decode() and Assignment.objects.count() == 5
    r = c.post(f"/plans/{p.plan.pk}/publish/", {"version": 1}, follow=True)  # stale
    assert Assignment.objects.count() == 5


# --- API ------------------------------------------------------------------------------------------

def _post(client, url, body, auth):
    return client.post(url, json.dumps(body), content_type="application/json", **auth)


def test_api_create_publish_check_in_and_map(client, tree, users, token_for):
    auth = token_for(users.city_admin)
    year = timezone.localdate().year
    body = {"unit": tree.city.code, "title": "API 计划", "starts_on": f"{year}-01-01", "ends_on": f"{year}-12-31",
            "systems": [{"name": "体系", "actions": [{"name": "行动", "tasks": [
                {"title": "换届", "lead_units": [tree.liying.code, tree.longqiao.code], "target_value": "100",
                 "target_unit": "%", "cadence": "quarterly",
                 "milestones": [{"name": "选举", "due_on": f"{year}-06-30", "value": "50"}]}]}]}]}
    r = _post(client, "/api/v1/plans", body, auth)
    assert r.status_code == 201, r.content
    plan_id = r.json()["id"]
    r = _post(client, f"/api/v1/plans/{plan_id}/publish", {"version": 1}, auth)
    assert r.status_code == 200 and r.json()["assigned"] == 2
    r = _post(client, f"/api/v1/plans/{plan_id}/publish", {"version": 2}, auth)
    assert r.json()["assigned"] == 0
    tasks = client.get(f"/api/v1/plans/{plan_id}/tasks", **auth).json()
    assert tasks[0]["milestones"][0]["name"] == "选举"
    staff = token_for(users.liying_staff)
    items = client.get(f"/api/v1/assignments?plan={plan_id}", **staff).json()["items"]
    assert [i["unit_name"] for i in items] == ["李营街道"] and items[0]["status"] in ("not_started", "late")
    r = _post(client, f"/api/v1/assignments/{items[0]['id']}/checkins", {"value": "100", "note": "完成"}, staff)
    assert r.status_code == 201
    r = client.get(f"/api/v1/plans/{plan_id}/map", **auth).json()
    rencheng = next(row for row in r["rows"] if row["name"] == "任城区")
    assert rencheng["cells"][0]["status"] == "done"
    done = client.get(f"/api/v1/assignments?plan={plan_id}&status=done", **auth).json()["items"]
    assert len(done) == 1


def test_api_refuses_bad_input_without_5xx(client, tree, users, token_for):
    auth = token_for(users.city_admin)
    year = timezone.localdate().year
    base = {"unit": tree.city.code, "title": "x", "starts_on": f"{year}-01-01", "ends_on": f"{year}-12-31"}
    bad = [
        {**base, "title": "a" * 500},
        {**base, "title": "bad\x00title"},
        {**base, "unit": "999999"},
        {**base, "systems": [{"name": "s", "actions": [{"name": "a", "tasks": [
            {"title": "t", "lead_level": 4, "target_value": "5"}]}]}]},  # target without unit
        {**base, "systems": [{"name": "s", "actions": [{"name": "a", "tasks": [
            {"title": "t", "lead_units": ["000000000000"]}]}]}]},  # unknown unit
        {**base, "systems": [{"name": "s", "actions": [{"name": "a", "tasks": [
            {"title": "t", "lead_level": 4, "milestones": [{"name": "m", "due_on": f"{year + 1}-02-01"}]}]}]}]},
        {**base, "starts_on": "not a date"},
    ]
    for body in bad:
        r = _post(client, "/api/v1/plans", body, auth)
        assert r.status_code in (400, 422), (body, r.status_code)
        assert r["Content-Type"].startswith("application/problem+json")
    assert not Plan.objects.exists()  # nothing half-written
    for q in ("status=bogus", "unit=" + "9" * 30, "limit=0", "plan=-1"):
        assert client.get(f"/api/v1/assignments?{q}", **auth).status_code in (400, 422), q
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    sec = token_for(users.lumiao_secretary)
    assert _post(client, f"/api/v1/assignments/{a.pk}/checkins", {"value": "twelve"}, sec).status_code == 422
    assert _post(client, f"/api/v1/assignments/{a.pk}/checkins", {"value": "1e30"}, sec).status_code == 422
    other = Assignment.objects.get(task=p.canteen, unit=tree.xuemiao)
    assert _post(client, f"/api/v1/assignments/{other.pk}/checkins", {"value": "1"}, sec).status_code == 404
    assert client.get(f"/api/v1/plans/{p.plan.pk}/map?level=1", **auth).status_code == 422


def test_api_two_edits_of_one_target_one_wins_one_409(client, tree, users, token_for):
    p = make_plan(tree, users.city_admin)
    auth = token_for(users.city_admin)
    url = f"/api/v1/plans/{p.plan.pk}/tasks/{p.canteen.pk}"
    v = p.canteen.version
    r1 = client.patch(url, json.dumps({"version": v, "target_value": "15"}), content_type="application/json", **auth)
    r2 = client.patch(url, json.dumps({"version": v, "target_value": "20"}), content_type="application/json", **auth)
    assert (r1.status_code, r2.status_code) == (200, 409)
    assert r1.json()["target_value"] == "15.00" or float(r1.json()["target_value"]) == 15


def test_my_tasks_reads_a_bounded_number_of_queries(login, tree, users, live_plan):
    """The village's "my tasks" page: its own reads are the tasks, their milestones, the calendar
    (once; twice when a due point falls in the next year) and the assignments with their status —
    not one query per task or per form. Fails if the count grows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = login(users.lumiao_secretary)
    c.get("/plans/my/")
    with CaptureQueriesContext(connection) as ctx:
        r = c.get("/plans/my/")
    assert r.status_code == 200 and "建成幸福食堂" in r.content.decode()
    own = [q["sql"] for q in ctx.captured_queries if "plans_" in q["sql"] or "core_calendaroverride" in q["sql"]]
    calendar = sum("core_calendaroverride" in q for q in own)
    assert calendar <= 2 and len(own) - calendar <= 3, own
