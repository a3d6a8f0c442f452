"""Party meetings (三会一课, 主题党日) and member development (发展党员), issue 15 items 5–6:
services and selectors, with their refusals."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.activities import selectors, services
from bihuan.activities.models import Applicant, MeetingAttendance, MeetingEscalation, PartyMeeting
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop.models import Matter
from bihuan.loop.services import Upload
from tests.activities_helpers import at
from tests.loop_helpers import PNG
from tests.party_helpers import make_party
from tests.series_helpers import one_by_one

pytestmark = pytest.mark.django_db


def meet(p, user=None, *, kind="committee", held_on=date(2026, 1, 10), **kw):
    kw.setdefault("attendees", [p.zhang, p.wang])
    return services.record_meeting(user, org=p.lumiao_branch, kind=kind, held_on=held_on, topic="学习会",
                                   now=at(2026, 11, 20), **kw)


def test_a_branch_records_a_meeting_with_members_absentees_and_photos(tree, users):
    p = make_party(tree)
    m = services.record_meeting(users.lumiao_secretary, org=p.lumiao_branch, kind="members",
                                held_on=date(2026, 10, 9), topic="学习二十届四中全会精神", minutes="会议记录",
                                attendees=[p.zhang, p.wang], absentees=[(p.chen, "外出务工")],
                                uploads=[Upload("会场.png", "image/png", PNG)], now=at(2026, 10, 9, 18))
    assert (m.attendees, m.absentees) == (2, 1)
    assert MeetingAttendance.objects.get(meeting=m, person=p.chen).reason == "外出务工"
    assert m.photos.count() == 1
    assert AuditEntry.objects.filter(action="activities.meeting.create", object_id=str(m.pk)).count() == 1
    detail = selectors.get_meeting(users.liying_staff, m.pk)
    assert [a.person.name for a in detail.attendance.all()] == ["张党员", "王党员", "陈党员"]


def test_meeting_refusals_write_nothing(tree, users):
    p = make_party(tree)
    with pytest.raises(ServiceError) as e:  # not a member of this branch
        meet(p, users.lumiao_secretary, attendees=[p.zhang, p.outsider])
    assert "薛党员" in str(e.value.message) and "attendees" in e.value.field_errors
    with pytest.raises(ServiceError):  # a resident who is not a party member
        meet(p, users.lumiao_secretary, attendees=[p.youth])
    with pytest.raises(ServiceError) as e:  # absent without a reason
        meet(p, users.lumiao_secretary, absentees=[(p.chen, "")])
    assert "absentees" in e.value.field_errors
    with pytest.raises(ServiceError):  # both present and absent
        meet(p, users.lumiao_secretary, absentees=[(p.zhang, "病假")])
    with pytest.raises(ServiceError) as e:
        meet(p, users.lumiao_secretary, kind="picnic")
    assert "kind" in e.value.field_errors
    with pytest.raises(ServiceError) as e:  # the future
        meet(p, users.lumiao_secretary, held_on=date(2026, 12, 1))
    assert "held_on" in e.value.field_errors
    with pytest.raises(ServiceError):
        meet(p, users.lumiao_secretary, attendees=[])
    with pytest.raises(ServiceError):  # not an image
        meet(p, users.lumiao_secretary, uploads=[Upload("x.png", "image/png", b"not a png")])
    with pytest.raises(NotFound):  # another district's branch
        services.record_meeting(users.lumiao_secretary, org=p.xuemiao_branch, kind="committee",
                                held_on=date(2026, 1, 10), topic="x", attendees=[p.outsider], now=at(2026, 11, 20))
    with pytest.raises(PermissionDenied):  # a grid worker may not record
        meet(p, users.lumiao_grid)
    assert PartyMeeting.objects.count() == 0 and MeetingAttendance.objects.count() == 0


def test_compliance_per_quarter_is_derived_from_meetings_and_now(tree, users):
    p = make_party(tree)
    for month in (7, 8):  # 支委会 in July and August, none in September
        meet(p, kind="committee", held_on=date(2026, month, 5))
    meet(p, kind="members", held_on=date(2026, 7, 20))
    meet(p, kind="lecture", held_on=date(2026, 9, 1))
    orgs = selectors.party_orgs(users.liying_staff)
    during = selectors.compliance_rows(orgs, "2026Q3", now=at(2026, 9, 15))[p.lumiao_branch.pk]
    kinds = {k["kind"]: k for k in during["kinds"]}
    assert kinds["committee"]["due_so_far"] == 2 and kinds["committee"]["periods_met"] == 2
    assert kinds["committee"]["status"] == "on_track"
    assert kinds["members"]["status"] == "met" and kinds["lecture"]["status"] == "met"
    assert kinds["theme_day"]["status"] == "behind"  # none in July and August
    after = selectors.compliance_rows(orgs, "2026Q3", now=at(2026, 10, 2))[p.lumiao_branch.pk]
    kinds = {k["kind"]: k for k in after["kinds"]}
    assert kinds["committee"]["status"] == "behind" and after["status"] == "behind"
    # the city makes 支委会 quarterly: July's meeting is enough
    with pytest.raises(PermissionDenied):
        services.set_meeting_rule(users.rencheng_admin, kind="committee", every_months=3)
    with pytest.raises(ServiceError):
        services.set_meeting_rule(users.city_admin, kind="committee", every_months=2)
    services.set_meeting_rule(users.city_admin, kind="committee", every_months=3)
    after = selectors.compliance_rows(orgs, "2026Q3", now=at(2026, 10, 2))[p.lumiao_branch.pk]
    assert {k["kind"]: k["status"] for k in after["kinds"]}["committee"] == "met"
    with pytest.raises(ValueError):
        selectors.compliance_rows(orgs, "2026Q5", now=at(2026, 10, 2))
    # scope: 兖州区's branch is not 李营街道's
    assert p.xuemiao_branch not in list(orgs)


def test_an_overdue_meeting_opens_one_matter_for_the_branch(tree, users):
    p = make_party(tree)
    for month in (8, 9):
        meet(p, kind="committee", held_on=date(2026, month, 5))
        meet(p, kind="group", held_on=date(2026, month, 6))
        meet(p, kind="theme_day", held_on=date(2026, month, 7))
    meet(p, kind="members", held_on=date(2026, 7, 20))
    meet(p, kind="lecture", held_on=date(2026, 7, 21))
    meet(p, kind="group", held_on=date(2026, 10, 6))
    meet(p, kind="theme_day", held_on=date(2026, 10, 7))
    # November 2: October had no 支委会 (the only kind missing); 薛庙 records nothing here, so it is not checked
    assert services.open_overdue_meetings(at(2026, 11, 2)) == 1
    esc = MeetingEscalation.objects.get()
    assert (esc.org, esc.kind, esc.period_start) == (p.lumiao_branch, "committee", date(2026, 10, 1))
    matter = Matter.objects.get(pk=esc.matter_id)
    assert matter.handling_unit == tree.lumiao and "支委会" in matter.title
    assert services.open_overdue_meetings(at(2026, 11, 3)) == 0  # once


def _applicant(p, user=None, applied_on=date(2024, 3, 1)):
    return services.register_applicant(user, person=p.youth, org=p.lumiao_branch, applied_on=applied_on,
                                       now=at(2024, 3, 1))


def step(a, code, on, user=None, note="", now=None):
    a.refresh_from_db()
    return services.take_step(user, a, step=code, taken_on=on, note=note, version=a.version,
                              now=now or at(2027, 6, 1))


def test_development_goes_through_the_stages_with_minimum_durations(tree, users):
    p = make_party(tree)
    sec = users.lumiao_secretary
    a = _applicant(p, sec)
    with pytest.raises(Conflict):
        _applicant(p, sec)
    with pytest.raises(ServiceError):  # already a member
        services.register_applicant(sec, person=p.zhang, org=p.lumiao_branch, applied_on=date(2024, 3, 1),
                                    now=at(2024, 3, 1))
    with pytest.raises(ServiceError) as e:  # out of order: not an activist yet
        step(a, "target", date(2025, 6, 1), sec)
    assert e.value.code == "step_out_of_order"
    with pytest.raises(ServiceError) as e:  # the talk first
        step(a, "activist", date(2024, 4, 1), sec)
    assert "入党谈话" in str(e.value.message)
    step(a, "talk", date(2024, 3, 20), sec)
    a = step(a, "activist", date(2024, 4, 1), sec)
    assert (a.stage, a.stage_since) == ("activist", date(2024, 4, 1))
    step(a, "training", date(2024, 9, 1), sec)
    with pytest.raises(ServiceError) as e:  # less than a year as an activist
        step(a, "target", date(2025, 3, 31), sec)
    assert e.value.code == "step_too_early" and "2025-04-01" in str(e.value.message)
    a = step(a, "target", date(2025, 4, 1), sec)
    assert a.stage == "target"
    with pytest.raises(PermissionDenied):  # the branch does not keep the political review
        step(a, "review", date(2025, 5, 1), sec, note="表现良好")
    staff = users.liying_staff  # the committee (李营街道)
    step(a, "review", date(2025, 5, 1), staff, note="政审合格, 家庭成员无问题")
    assert not services.may_read_review(sec, a) and services.may_read_review(staff, a)
    for code, on in (("notice", date(2025, 5, 10)), ("vote", date(2025, 5, 20))):
        step(a, code, on, sec)
    a = step(a, "approval", date(2025, 6, 1), staff)
    assert (a.stage, a.stage_since) == ("probationary", date(2025, 6, 1))
    assert list(selectors.due_applicants(sec, now=at(2026, 5, 31))) == []
    assert list(selectors.due_applicants(sec, now=at(2026, 6, 1))) == [a]
    with pytest.raises(ServiceError):  # one year's probation
        step(a, "full", date(2026, 5, 31), sec, now=at(2026, 6, 1))
    a = step(a, "full", date(2026, 6, 1), sec, now=at(2026, 6, 1))
    assert a.stage == "formal"
    with pytest.raises(ServiceError):
        step(a, "full", date(2026, 6, 2), sec)
    assert a.steps.count() == 10  # the application and nine steps: the full record
    with pytest.raises(Conflict):  # a stale version
        services.take_step(sec, a, step="talk", taken_on=date(2026, 6, 1), version=1, now=at(2026, 6, 1))


def test_applicants_are_scoped_and_counted_by_stage(tree, users):
    p = make_party(tree)
    a = _applicant(p)
    step(a, "talk", date(2024, 3, 20))
    step(a, "activist", date(2024, 4, 1))
    with pytest.raises(NotFound):  # 兖州区 cannot see 芦庙村's applicant
        services.get_applicant(users.yanzhou_admin, a.pk)
    assert selectors.applicants(users.yanzhou_admin).count() == 0
    counts = selectors.stage_counts(users.rencheng_admin, tree.rencheng)
    assert counts["total"]["activist"] == 1
    assert {c["unit"].name: c["stages"]["activist"] for c in counts["children"]} == {"李营街道": 1, "仙营街道": 0}
    rows = selectors.with_next_steps(selectors.due_applicants(users.rencheng_admin, now=at(2025, 4, 1)))
    assert [(r.next_step, r.earliest) for r in rows] == [("training", date(2024, 4, 1))]
    assert Applicant.objects.get().stage == "activist"


def test_api_meetings_and_compliance(client, tree, users, token_for):
    p = make_party(tree)
    auth = token_for(users.lumiao_secretary)
    today = date.today()
    body = {"org_id": p.lumiao_branch.pk, "kind": "committee", "held_on": today.isoformat(), "topic": "支委会",
            "attendee_ids": [p.zhang.pk, p.wang.pk], "absentees": [{"person_id": p.chen.pk, "reason": "病假"}]}
    r = client.post("/api/v1/party/meetings", body, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    d = r.json()
    assert (d["attendees"], d["absentees"]) == (2, 1) and "phone" not in str(d["attendance"])
    r = client.post("/api/v1/party/meetings", {**body, "attendee_ids": [p.outsider.pk]},
                    content_type="application/json", **auth)
    assert r.status_code in (400, 422) and "薛党员" in r.content.decode()
    for bad in ({**body, "kind": "x" * 50}, {**body, "held_on": "2026-02-30"}, {**body, "attendee_ids": []},
                {**body, "topic": "x" * 121}, {**body, "org_id": 2**70}):
        assert client.post("/api/v1/party/meetings", bad, content_type="application/json", **auth).status_code in (
            400, 404, 422)
    assert PartyMeeting.objects.count() == 1
    r = client.get(f"/api/v1/party/compliance?org={p.lumiao_branch.pk}", **auth)
    assert r.status_code == 200
    item = r.json()["items"][0]
    assert item["org_name"] == "芦庙村党支部"
    assert {k["kind"]: k["held"] for k in item["kinds"]}["committee"] == 1
    assert client.get("/api/v1/party/compliance?quarter=2026Q9", **auth).status_code == 400
    yz = token_for(users.yanzhou_admin)
    assert client.get(f"/api/v1/party/compliance?org={p.lumiao_branch.pk}", **yz).status_code == 404
    assert client.get(f"/api/v1/party/meetings/{d['id']}", **yz).status_code == 404
    assert client.get("/api/v1/party/meetings", **yz).json()["items"] == []
    assert client.get(f"/api/v1/party/meetings?org={p.lumiao_branch.pk}", **auth).json()["items"][0]["id"] == d["id"]


def test_api_applicants_steps_and_review_notes(client, tree, users, token_for):
    p = make_party(tree)
    sec, staff = token_for(users.lumiao_secretary), token_for(users.liying_staff)
    r = client.post("/api/v1/party/applicants", {"person_id": p.youth.pk, "org_id": p.lumiao_branch.pk,
                                                  "applied_on": "2024-03-01"}, content_type="application/json", **sec)
    assert r.status_code == 201, r.content
    a = r.json()
    assert a["stage"] == "applicant" and a["next_step"] == "talk"
    url = f"/api/v1/party/applicants/{a['id']}/steps"
    r = client.post(url, {"step": "activist", "taken_on": "2024-04-01", "version": a["version"]},
                    content_type="application/json", **sec)
    assert r.status_code == 400 and "入党谈话" in r.content.decode()
    v = a["version"]
    for code, on in (("talk", "2024-03-20"), ("activist", "2024-04-01"), ("training", "2024-05-01")):
        r = client.post(url, {"step": code, "taken_on": on, "version": v}, content_type="application/json", **sec)
        assert r.status_code == 200, r.content
        v = r.json()["version"]
    r = client.post(url, {"step": "target", "taken_on": "2025-03-01", "version": v}, content_type="application/json",
                    **sec)
    assert r.status_code == 400 and "2025-04-01" in r.content.decode()
    r = client.post(url, {"step": "target", "taken_on": "2025-04-01", "version": v}, content_type="application/json",
                    **sec)
    v = r.json()["version"]
    r = client.post(url, {"step": "review", "taken_on": "2025-05-01", "note": "政审合格", "version": v},
                    content_type="application/json", **staff)
    assert r.status_code == 200 and r.json()["review_notes"] == "政审合格"
    assert client.get(f"/api/v1/party/applicants/{a['id']}", **sec).json()["review_notes"] is None
    assert client.get(f"/api/v1/party/applicants/{a['id']}", **staff).json()["review_notes"] == "政审合格"
    r = client.get(f"/api/v1/party/applicants/counts?unit={tree.rencheng.code}", **staff)
    assert r.status_code == 400  # 任城区 is above 李营街道's scope
    r = client.get(f"/api/v1/party/applicants/counts?unit={tree.liying.code}", **staff)
    assert r.json()["total"]["target"] == 1
    assert client.get("/api/v1/party/applicants?due=true", **sec).json()["items"][0]["id"] == a["id"]
    yz = token_for(users.yanzhou_admin)
    assert client.get(f"/api/v1/party/applicants/{a['id']}", **yz).status_code == 404
    assert client.post(url, {"step": "notice", "taken_on": "2025-05-02", "version": 99},
                       content_type="application/json", **yz).status_code == 404
    assert client.post(url, {"step": "notice", "taken_on": "2025-05-02", "version": 1},
                       content_type="application/json", **sec).status_code == 409


def test_pages_record_a_meeting_and_take_a_step(client, tree, users):
    p = make_party(tree)
    client.force_login(users.lumiao_secretary)
    r = client.get("/activities/party/meetings/new/")  # one branch in scope: its form straight away
    assert r.status_code == 200 and "张党员" in r.content.decode() and "薛党员" not in r.content.decode()
    today = date.today().isoformat()
    r = client.post(f"/activities/party/meetings/new/?org={p.lumiao_branch.pk}", {
        "kind": "theme_day", "held_on": today, "topic": "主题党日：清洁家园", "minutes": "打扫卫生",
        "present": [p.zhang.pk, p.wang.pk], f"reason_{p.chen.pk}": "外出"})
    assert r.status_code == 302, r.content.decode()[:3000]
    m = PartyMeeting.objects.get()
    assert (m.attendees, m.absentees) == (2, 1)
    assert "外出" in client.get(r["Location"]).content.decode()
    r = client.post(f"/activities/party/meetings/new/?org={p.lumiao_branch.pk}", {
        "kind": "theme_day", "held_on": today, "topic": "x", "present": []})
    assert r.status_code == 400 and PartyMeeting.objects.count() == 1
    assert client.get(f"/activities/party/meetings/new/?org={p.xuemiao_branch.pk}").status_code == 404
    r = client.get("/activities/party/compliance/")
    assert r.status_code == 200 and "芦庙村党支部" in r.content.decode()
    r = client.post("/activities/party/applicants/", {"org": p.lumiao_branch.pk, "unit": tree.lumiao_g1.pk,
                                                      "name": "刘青年", "applied_on": "2024-03-01"})
    assert r.status_code == 302
    a = Applicant.objects.get()
    r = client.post(f"/activities/party/applicants/{a.pk}/", {"step": "talk", "taken_on": "2024-03-10",
                                                               "version": a.version})
    assert r.status_code == 302
    r = client.get(r["Location"])
    assert "确定为入党积极分子" in r.content.decode()
    r = client.post(f"/activities/party/applicants/{a.pk}/", {"step": "activist", "taken_on": "2024-03-01",
                                                               "version": a.version + 1})
    assert r.status_code == 400  # before the talk
    r = client.get("/activities/party/applicants/?due=on")
    assert r.status_code == 200 and "刘青年" in r.content.decode()
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/activities/party/applicants/{a.pk}/").status_code == 404
    assert client.get(f"/activities/party/meetings/{m.pk}/").status_code == 404


def test_meetings_and_applicants_round_trip_and_an_unknown_organisation_is_refused(tree, users, tmp_path):
    import openpyxl

    from bihuan.core import tabular as tb

    p = make_party(tree)
    services.record_meeting(None, org=p.lumiao_branch, kind="members", held_on=date(2026, 3, 5), topic="党员大会",
                            attendees=[p.zhang, p.wang], absentees=[(p.chen, "外出务工")], now=at(2026, 3, 5))
    _applicant(p)
    staff = users.liying_staff
    for kind, n, header in (("meetings", 1, ["党组织", "党组织单位编码", "会议类型", "日期"]),
                            ("applicants", 1, ["姓名", "所在单位编码", "党组织", "党组织单位编码"])):
        f = tmp_path / f"{kind}.xlsx"
        with open(f, "wb") as fh:
            assert tb.export(kind, fh, user=staff) == n
        rows = [list(r) for r in openpyxl.load_workbook(f).active.iter_rows(values_only=True)]
        assert rows[0][:4] == header
        r = tb.run_import(kind, tb.open_source(f), user=staff)
        assert r.ok and r.unchanged == n, kind
    assert "陈党员（外出务工）" in rows_of(tmp_path / "meetings.xlsx")
    # a new meeting row and one naming an unknown organisation: nothing is written
    wb = openpyxl.Workbook()
    head = ["党组织", "党组织单位编码", "会议类型", "日期", "主题", "参会党员", "缺席党员", "会议记录"]
    wb.active.append(head)
    wb.active.append(["芦庙村党支部", tree.lumiao.code, "支委会", "2026-04-02", "支委会", "张党员、王党员", "", ""])
    wb.active.append(["不存在党支部", tree.lumiao.code, "支委会", "2026-04-02", "支委会", "张党员", "", ""])
    f = tmp_path / "new.xlsx"
    wb.save(f)
    r = tb.run_import("meetings", tb.open_source(f), user=staff)
    assert not r.ok and PartyMeeting.objects.count() == 1
    wb.active.delete_rows(3)
    wb.save(f)
    r = tb.run_import("meetings", tb.open_source(f), user=staff)
    assert r.ok and PartyMeeting.objects.count() == 2


def rows_of(path) -> str:
    import openpyxl

    return "\n".join(str(c) for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True) for c in row)


def test_seed_gives_a_year_of_meetings_one_branch_behind_and_applicants_at_every_stage(tree, users):
    from bihuan.activities.seed import seed_party
    from bihuan.orgs import services as org_services

    committee = org_services.create_party_org(None, unit=tree.liying, kind="committee", name="李营街道党工委")
    lumiao = org_services.create_party_org(None, unit=tree.lumiao, kind="branch", name="芦庙村党支部", parent=committee)
    r = seed_party("demo", 2022, now=at(2026, 11, 20))
    assert r["meetings"] > 30 and r["applicants"] == 10
    assert set(Applicant.objects.values_list("stage", flat=True)) == {
        "applicant", "activist", "target", "probationary", "formal"}
    assert seed_party("demo", 2022, now=at(2026, 11, 20))["skipped"]
    rows = selectors.compliance_rows(selectors.party_orgs(None), "2026Q3", now=at(2026, 11, 20))
    assert rows[lumiao.pk]["status"] == "met"
    # the activist of 13 months is due to become a development object
    due = selectors.with_next_steps(selectors.due_applicants(users.city_admin, now=at(2026, 11, 20)).filter(stage="activist"))
    assert due and due[0].next_step == "target"


def test_meeting_rate_is_an_evaluation_source_and_a_report_section(tree, users):
    from bihuan.core import registry

    p = make_party(tree)
    for month in (7, 8):  # of July–September: 支委会 twice, 党小组会 and 主题党日 once, 党员大会 and 党课 none
        meet(p, kind="committee", held_on=date(2026, month, 5))
    meet(p, kind="group", held_on=date(2026, 7, 6))
    meet(p, kind="theme_day", held_on=date(2026, 9, 6))
    start, end, now = date(2026, 7, 1), date(2026, 10, 1), at(2026, 11, 20)
    # one branch under 李营街道: 3 monthly kinds × 3 months + 2 quarterly kinds = 11 required, 4 held
    got = registry.compute("activities.meeting_rate", [tree.liying, tree.xianying, tree.city], start=start, end=end,
                           now=now)
    # the city has 薛庙社区's branch too, which held none: 22 required
    assert got == {tree.liying.pk: round(100 * 4 / 11, 1), tree.xianying.pk: None, tree.city.pk: round(100 * 4 / 22, 1)}
    rows = registry.SECTIONS["activities.meetings"].figures(tree.rencheng, start=start, end=end, now=now)
    assert {r["unit_name"]: (r["required"], r["held"]) for r in rows} == {"李营街道": (11, 4), "仙营街道": (0, 0)}
    # in mid-September only July and August have ended: 6 monthly slots required, 3 held
    got = registry.compute("activities.meeting_rate", [tree.liying], start=start, end=end, now=at(2026, 9, 15))
    assert got == {tree.liying.pk: 50.0}


def test_the_city_changes_a_meeting_rule_on_its_page(client, tree, users):
    from bihuan.activities.models import MeetingRule

    client.force_login(users.rencheng_admin)
    assert client.get("/activities/party/rules/").status_code == 403
    client.force_login(users.city_admin)
    assert client.get("/activities/party/rules/").status_code == 200
    r = client.post("/activities/party/rules/", {"kind": "committee", "every_months": "3"})
    assert r.status_code == 302 and MeetingRule.objects.get(kind="committee").every_months == 3
    page = client.get("/activities/party/rules/").content.decode()
    assert "changed by the city" in page or "市级调整" in page
    r = client.post("/activities/party/rules/", {"kind": "committee", "every_months": "2"})
    assert MeetingRule.objects.get(kind="committee").every_months == 3  # refused, unchanged


def test_the_meeting_rate_of_all_periods_at_once_equals_period_by_period(tree, users, django_assert_max_num_queries):
    """The dashboard's trend asks for many periods at once: weeks (no whole month in them) are None
    without a query; months and quarters are the periods' own values."""
    from bihuan.core import registry

    p = make_party(tree)
    for month in (7, 8):
        meet(p, kind="committee", held_on=date(2026, month, 5))
    meet(p, kind="theme_day", held_on=date(2026, 9, 6))
    now = at(2026, 11, 20)
    units = [tree.city, tree.liying, tree.xianying]
    for starts, end in (([date(2026, 7, 6), date(2026, 7, 13), date(2026, 7, 20)], date(2026, 7, 27)),
                        ([date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)], date(2026, 10, 1))):
        got = registry.compute_series("activities.meeting_rate", units, starts=starts, end=end, now=now)
        assert got == one_by_one("activities.meeting_rate", units, starts=starts, end=end, now=now)
    assert got[tree.liying.pk][1] is not None and got[tree.xianying.pk] == [None, None, None]
    with django_assert_max_num_queries(1):  # the rules; no meeting counted for weeks
        weeks = registry.compute_series("activities.meeting_rate", units, starts=[date(2026, 7, 6)],
                                        end=date(2026, 7, 13), now=now)
    assert weeks == {u.pk: [None] for u in units}
