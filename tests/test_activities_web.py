"""Lectures on the web and the API: pages, the public feedback link, coverage, orders, the XLSX register."""

from __future__ import annotations

from datetime import timedelta

import openpyxl
import pytest
from django.utils import timezone

from bihuan.activities import services
from bihuan.activities.models import Feedback, LectureOrder, Lecturer, OrderState, Session
from bihuan.core import tabular as tb
from tests.activities_helpers import make_lectures, person
from tests.conftest import make_user
from tests.loop_helpers import PNG

pytestmark = pytest.mark.django_db


@pytest.fixture
def recent(tree, users):
    """make_lectures plus a session yesterday (its feedback link is open)."""
    login = make_user("wang_lecturer", tree.rencheng, "lecturer")
    x = make_lectures(tree, lecturer_login=login)
    x.login = login
    x.recent = services.record_session(None, lecturer=x.wang, place=tree.lumiao, audience="villagers",
                                       held_on=timezone.localdate() - timedelta(days=1), topic="乡村振兴",
                                       attendance=30)
    return x


def test_pages_show_teams_sessions_and_coverage_gaps_first(client, tree, users, recent):
    client.force_login(users.rencheng_admin)
    r = client.get("/activities/")
    assert r.status_code == 200 and "任城区青年宣讲团" in r.content.decode()
    r = client.get(f"/activities/teams/{recent.team.pk}/")
    assert "王宣讲" in r.content.decode() and "李宣讲" in r.content.decode()
    r = client.get("/activities/sessions/")
    assert r.content.decode().count('data-testid="session-row"') == 2
    r = client.get(f"/activities/sessions/{recent.recent.pk}/")
    body = r.content.decode()
    assert "<svg" in body and f"/activities/feedback/{recent.recent.feedback_token}/" in body
    y = timezone.localdate().year
    r = client.get(f"/activities/coverage/?unit={tree.rencheng.pk}&start={y}-01-01&end={y}-12-31&view=table")
    body = r.content.decode()
    assert body.index("仙营社区") < body.index("芦庙村")  # the gap first
    assert 'data-testid="coverage-gaps">1<' in body
    r = client.get(f"/activities/coverage/?unit={tree.yanzhou.pk}")
    assert r.status_code == 404
    assert client.get(f"/activities/sessions/{recent.recent.pk}/").status_code == 200
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/activities/sessions/{recent.recent.pk}/").status_code == 404
    assert client.get(f"/activities/teams/{recent.team.pk}/").status_code == 404


def test_record_a_session_with_a_photo_on_the_page(client, tree, users, recent):
    client.force_login(users.liying_staff)
    r = client.get("/activities/sessions/new/")
    assert r.status_code == 200 and "王宣讲" in r.content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"lecturer": recent.wang.pk, "place": tree.lumiao.pk, "held_on": timezone.localdate().isoformat(),
            "audience": "members", "topic": "党史学习", "attendance": 18, "note": "",
            "photos": SimpleUploadedFile("课堂.png", PNG, content_type="image/png")}
    r = client.post("/activities/sessions/new/", data)
    s = Session.objects.get(topic="党史学习")
    assert r.status_code == 302 and r["Location"] == f"/activities/sessions/{s.pk}/"
    assert s.photos.count() == 1
    photo = s.photos.get()
    assert client.get(f"/activities/photos/{photo.pk}/").status_code == 200
    # A future date is refused on the form, nothing written.
    data["held_on"] = (timezone.localdate() + timedelta(days=3)).isoformat()
    data["photos"] = SimpleUploadedFile("课堂.png", PNG, content_type="image/png")
    r = client.post("/activities/sessions/new/", data)
    assert r.status_code == 400 and Session.objects.filter(topic="党史学习").count() == 1


def test_public_feedback_once_per_device_without_an_account(client, recent):
    url = f"/activities/feedback/{recent.recent.feedback_token}/"
    r = client.get(url)
    assert r.status_code == 200 and r["Referrer-Policy"] == "same-origin"
    assert "bh_fb_device" in r.cookies
    r = client.post(url, {"rating": "5", "comment": "很受启发"})
    assert r.status_code == 302
    r = client.post(url, {"rating": "4"})
    assert r.status_code == 409
    assert Feedback.objects.filter(session=recent.recent).count() == 1
    client.cookies.clear()  # another phone
    client.get(url)
    client.post(url, {"rating": "3"})
    recent.recent.refresh_from_db()
    assert recent.recent.feedback_count == 2 and recent.recent.rating == 4.0
    # The old session's link is closed (30 days), and an unknown one is a 404.
    assert client.get(f"/activities/feedback/{recent.session.feedback_token}/").status_code == 404
    assert client.get("/activities/feedback/nope/").status_code == 404


def test_order_page_flow_and_api(client, tree, users, recent, token_for):
    client.force_login(users.lumiao_secretary)
    today = timezone.localdate()
    r = client.post("/activities/orders/", {"unit": tree.lumiao.pk, "topic": "党的二十大精神", "audience": "members",
                                            "wanted_from": (today + timedelta(days=10)).isoformat(),
                                            "wanted_to": (today + timedelta(days=20)).isoformat()})
    o = LectureOrder.objects.get()
    assert r.status_code == 302
    client.force_login(users.rencheng_admin)
    r = client.get(f"/activities/orders/{o.pk}/")
    assert r.content.decode().index("李宣讲") < r.content.decode().index("王宣讲")
    client.post(f"/activities/orders/{o.pk}/", {"act": "match", "lecturer": recent.wang.pk, "version": o.version})
    o.refresh_from_db()
    assert o.state == OrderState.MATCHED
    auth = token_for(recent.login)
    r = client.post(f"/api/v1/lectures/orders/{o.pk}/accept", {"version": o.version},
                    content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    r = client.post("/api/v1/lectures/sessions", {
        "lecturer_id": recent.wang.pk, "place": tree.lumiao.code, "held_on": today.isoformat(), "audience": "members",
        "topic": "党的二十大精神", "attendance": 40, "order_id": o.pk}, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    o.refresh_from_db()
    assert o.state == OrderState.DONE
    # Outside the lecturer's area: refused, nothing written.
    n = Session.objects.count()
    r = client.post("/api/v1/lectures/sessions", {
        "lecturer_id": recent.wang.pk, "place": tree.xuemiao.code, "held_on": today.isoformat(),
        "audience": "members", "topic": "x", "attendance": 4}, content_type="application/json", **auth)
    assert r.status_code == 400 and Session.objects.count() == n


def test_api_lists_and_coverage_are_scoped(client, tree, users, recent, token_for):
    auth = token_for(users.rencheng_admin)
    r = client.get("/api/v1/lectures/teams", **auth)
    assert {t["name"] for t in r.json()["items"]} == {"任城区青年宣讲团", "李营街道巾帼宣讲团"}
    r = client.get(f"/api/v1/lectures/teams/{recent.team.pk}", **auth)
    assert {lec["name"] for lec in r.json()["lecturers"]} == {"王宣讲", "李宣讲"}
    r = client.get(f"/api/v1/lectures/coverage?unit={tree.rencheng.code}&from=2025-01-01&to=2025-12-31", **auth)
    d = r.json()
    assert (d["unit_count"], d["covered"], d["gaps"]) == (2, 1, 1) and d["units"][0]["name"] == "仙营社区"
    r = client.get(f"/api/v1/lectures/coverage?unit={tree.yanzhou.code}&from=2025-01-01&to=2025-12-31", **auth)
    assert r.status_code == 400
    r = client.get("/api/v1/lectures/sessions?from=2025-03-01&to=2025-03-31", **auth)
    assert [s["topic"] for s in r.json()["items"]] == ["乡村振兴"]
    yz = token_for(users.yanzhou_admin)
    assert client.get(f"/api/v1/lectures/sessions/{recent.session.pk}", **yz).status_code == 404
    assert client.get("/api/v1/lectures/teams", **yz).json()["items"] == []


def test_lecturers_round_trip_and_an_unknown_team_is_refused(tree, users, recent, tmp_path):
    f = tmp_path / "lecturers.xlsx"
    with open(f, "wb") as fh:
        assert tb.export("lecturers", fh, user=users.rencheng_admin) == 3
    ws = openpyxl.load_workbook(f).active
    header, *rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert header[:4] == ["宣讲团", "宣讲团单位编码", "姓名", "所在单位编码"]
    r = tb.run_import("lecturers", tb.open_source(f), user=users.rencheng_admin)
    assert r.ok and r.unchanged == 3
    person(tree.lumiao, "钱宣讲")
    wb = openpyxl.Workbook()
    wb.active.append(header)
    wb.active.append(["任城区青年宣讲团", tree.rencheng.code, "钱宣讲", tree.lumiao.code, "乡村振兴", "村民、党员", "是"])
    wb.active.append(["不存在的宣讲团", tree.rencheng.code, "钱宣讲", tree.lumiao.code, "", "", "否"])
    wb.save(f)
    r = tb.run_import("lecturers", tb.open_source(f), user=users.rencheng_admin)
    assert not r.applied and "不存在的宣讲团" in " ".join(str(e.message) for e in r.errors)
    assert not Lecturer.objects.filter(person__name="钱宣讲").exists()
    wb = openpyxl.Workbook()
    wb.active.append(header)
    wb.active.append(["任城区青年宣讲团", tree.rencheng.code, "钱宣讲", tree.lumiao.code, "乡村振兴", "村民、党员", "是"])
    wb.save(f)
    r = tb.run_import("lecturers", tb.open_source(f), user=users.rencheng_admin)
    assert r.ok and r.created == 1, r.errors
    lec = Lecturer.objects.get(person__name="钱宣讲")
    assert lec.excellent and lec.audiences == "villagers,members"
