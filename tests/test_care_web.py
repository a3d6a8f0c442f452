"""The care pages: the round on a phone, check-in, the call button, the board, surveys, plans."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.care.models import Survey, Visit
from bihuan.core.models import AuditEntry
from tests.care_helpers import make_care_today
from tests.test_care import PNG


@pytest.fixture
def care_today(tree, users):
    return make_care_today(tree, users)


def _lunch(c):
    return Visit.objects.get(day=c.today, kind="meal")


def test_round_lists_todays_visits_in_time_order_with_masked_phone(client, care_today):
    client.force_login(care_today.volunteer)
    r = client.get("/care/round/")
    body = r.content.decode()
    assert r.status_code == 200
    assert body.index(f'data-visit="{_lunch(care_today).pk}"') < body.index(
        f'data-visit="{Visit.objects.get(day=care_today.today, kind="visit").pk}"')
    assert "芦庙村东街8号" in body and "138****0001" in body and "13805370001" not in body


def test_check_in_from_the_round_with_a_photo(client, care_today):
    v = _lunch(care_today)
    client.force_login(care_today.volunteer)
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = client.post(f"/care/visits/{v.pk}/checkin/", {f"v{v.pk}-outcome": "done", f"v{v.pk}-note": "送到了",
                                                      "photo": SimpleUploadedFile("a.png", PNG, "image/png")})
    assert r.status_code == 302 and r["Location"] == "/care/round/"
    v.refresh_from_db()
    assert v.outcome == "done" and v.note == "送到了" and v.photo
    assert client.get(f"/care/visits/{v.pk}/photo/").status_code == 200
    # a wrong photo: refused with the reason, nothing recorded
    w = Visit.objects.get(day=care_today.today, kind="visit")
    r = client.post(f"/care/visits/{w.pk}/checkin/", {f"v{w.pk}-outcome": "done",
                                                      "photo": SimpleUploadedFile("a.png", b"not a png", "image/png")},
                    follow=True)
    assert Visit.objects.get(pk=w.pk).outcome == "" and "PNG" in r.content.decode()


def test_call_button_reveals_and_audits(client, care_today):
    v = _lunch(care_today)
    client.force_login(care_today.volunteer)
    r = client.post(f"/care/visits/{v.pk}/call/", {"reason": "送餐前打电话"})
    assert r.status_code == 200 and "tel:13805370001" in r.content.decode() and r["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(action="people.person.reveal", actor_id=care_today.volunteer.pk).count() == 1


def test_volunteer_cannot_reach_other_pages_or_visits(client, tree, users, care_today):
    client.force_login(care_today.volunteer)
    assert client.get("/care/surveys/").status_code == 403
    assert client.get(f"/care/plans/{care_today.plan.pk}/").status_code == 403
    other = Visit.objects.filter(day=care_today.today).first()
    Visit.objects.filter(pk=other.pk).update(helper=users.lumiao_secretary, backup=None)
    assert client.post(f"/care/visits/{other.pk}/checkin/", {f"v{other.pk}-outcome": "done"}).status_code == 404


def test_board_shows_counts(client, users, tree, care_today):
    client.force_login(users.lumiao_secretary)
    r = client.get(f"/care/?unit={tree.lumiao.pk}")
    assert r.status_code == 200 and 'data-testid="count-total">2<' in r.content.decode()
    assert client.get(f"/care/?unit={tree.xuemiao.pk}").status_code == 404
    assert client.get(f"/care/?unit={tree.lumiao.pk}&date=nonsense").status_code == 400


def test_survey_from_the_todo_list(client, users, tree, care_today):
    client.force_login(users.lumiao_secretary)
    r = client.get(f"/care/surveys/todo/?unit={tree.lumiao.pk}")
    assert "李大爷" in r.content.decode()
    p = care_today.resident
    r = client.post(f"/care/surveys/new/{p.pk}/", {
        "surveyed_on": date.today().isoformat(), "living": "alone", "help": ["help_bathing"], "income_support": "tekun",
        "needs": ["need_meals"], "risk": "high", "contact_name": "李儿子", "contact_phone": "13905370009",
        "health_notes": "高血压"})
    s = Survey.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/care/surveys/{s.pk}/"
    body = client.get(r["Location"]).content.decode()
    assert "139****0009" in body and "高血压" not in body
    assert "高血压" in client.post(r["Location"]).content.decode()
    r = client.post(f"/care/surveys/new/{p.pk}/", {"surveyed_on": "2026-01-01", "living": "castle"})
    assert r.status_code == 400 and Survey.objects.count() == 1


def test_plan_pages_add_a_service_and_refuse_a_bad_rule(client, users, tree, care_today):
    client.force_login(users.lumiao_secretary)
    url = f"/care/plans/{care_today.plan.pk}/"
    assert "FREQ=DAILY" in client.get(url).content.decode()
    r = client.post(url, {"kind": "cleaning", "rrule": "FREQ=HOURLY", "window_start": "09:00", "window_end": "10:00",
                          "helper": care_today.helper.pk})
    assert r.status_code == 400 and care_today.plan.services.count() == 2
    r = client.post(url, {"kind": "cleaning", "rrule": "FREQ=WEEKLY;BYDAY=MO", "window_start": "09:00",
                          "window_end": "10:00", "helper": care_today.helper.pk})
    assert r.status_code == 302 and care_today.plan.services.count() == 3


def test_helper_pages_make_a_volunteer_login(client, users, tree, care_today):
    from bihuan.people import services as people

    p = people.create_person(None, unit=tree.lumiao_g2, name="吴志愿")
    client.force_login(users.lumiao_secretary)
    assert "吴志愿" in client.get(f"/care/helpers/?unit={tree.lumiao.pk}&q=吴").content.decode()
    r = client.post(f"/care/helpers/new/{p.pk}/", {"kind": "volunteer", "password": "Vol-unteer-2026x"}, follow=True)
    assert "吴志愿" in r.content.decode()
    from bihuan.care.models import Helper

    h = Helper.objects.get(person=p)
    assert h.user.bindings.get().role.code == "volunteer"
