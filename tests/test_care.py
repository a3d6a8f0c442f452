"""Care services: surveys, rules, pairing, a day's visits, the check-in, the sweep (issue 14)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection

from bihuan.care import recurrence, selectors, services
from bihuan.care.models import Survey, Visit
from bihuan.core import protect
from bihuan.core.context import acting_as
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop.models import Kind, Matter, Notification
from bihuan.loop.services import Upload
from bihuan.people import services as people
from tests.care_helpers import at, make_care
from tests.series_helpers import one_by_one


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


PNG = png_bytes()


@pytest.fixture
def care(tree, users):
    return make_care(tree, users)


# --- surveys -------------------------------------------------------------------------------------

def test_survey_derives_self_care_level_and_protects_health_and_phone(tree, users, care):
    s = services.record_survey(users.lumiao_secretary, care.resident, surveyed_on=date(2026, 3, 2),
                               living="alone", help=["help_bathing", "help_moving", "help_medicine"],
                               income_support="dibao", needs=["need_meals", "need_visits"],
                               health_notes="高血压，需每日服药", contact_name="李儿子", contact_relation="儿子",
                               contact_phone="13905370009", risk="high", now=at(2026, 3, 2))
    assert s.self_care == "dependent" and (s.need_meals, s.need_visits, s.need_cleaning) == (True, True, False)
    raw = Survey.objects.values("health_enc", "contact_phone_enc", "contact_phone_masked").get(pk=s.pk)
    assert "高血压" not in raw["health_enc"] and "13905370009" not in raw["contact_phone_enc"]
    assert raw["contact_phone_masked"] == protect.mask_phone("13905370009")
    assert services.read_health(users.lumiao_secretary, s) == "高血压，需每日服药"
    with pytest.raises(PermissionDenied):  # the grid worker records surveys but does not read health
        services.read_health(users.lumiao_grid, s)
    assert AuditEntry.objects.filter(action="care.survey.read_health").count() == 1


def test_survey_refuses_bad_input_and_writes_nothing(tree, users, care):
    for kw, field in ((dict(living="palace"), "living"), (dict(help=["help_flying"]), "help"),
                      (dict(contact_phone="12"), "contact_phone"), (dict(surveyed_on="2099-01-01"), "surveyed_on"),
                      (dict(contact_name="x\x00y", contact_phone="13905370009"), "contact_name")):
        args = dict(surveyed_on=date(2026, 3, 2), living="alone", now=at(2026, 3, 2)) | kw
        with pytest.raises(ServiceError) as e:
            services.record_survey(users.lumiao_secretary, care.resident, **args)
        assert field in e.value.field_errors
    with pytest.raises(PermissionDenied):  # health notes need their own permission
        services.record_survey(users.lumiao_grid, care.resident, surveyed_on=date(2026, 3, 2), living="alone",
                               health_notes="糖尿病", now=at(2026, 3, 2))
    assert not Survey.objects.exists()


def test_survey_out_of_scope_person_is_404(tree, users, care):
    other = people.create_person(None, unit=tree.xuemiao, name="薛大娘")
    with pytest.raises(NotFound):
        services.record_survey(users.rencheng_admin, other, surveyed_on=date(2026, 3, 2), living="alone",
                               now=at(2026, 3, 2))
    with pytest.raises(NotFound):
        services.create_plan(users.rencheng_admin, other, starts_on=date(2026, 3, 1))


def test_unsurveyed_list_names_vulnerable_residents_without_a_survey_this_year(tree, users, care):
    assert [p.name for p in selectors.unsurveyed(users.lumiao_secretary, tree.lumiao, 2026)] == ["李大爷"]
    services.record_survey(users.lumiao_grid, care.resident, surveyed_on=date(2025, 6, 1), living="alone",
                           now=at(2026, 3, 2))
    assert selectors.unsurveyed(users.lumiao_secretary, tree.lumiao, 2026).count() == 1  # last year's
    services.record_survey(users.lumiao_grid, care.resident, surveyed_on=date(2026, 3, 2), living="alone",
                           now=at(2026, 3, 2))
    assert not selectors.unsurveyed(users.lumiao_secretary, tree.lumiao, 2026).exists()
    assert not selectors.unsurveyed(users.yanzhou_admin, tree.lumiao, 2026).exists()  # not theirs


# --- recurrence ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    "FREQ=HOURLY", "FREQ=MINUTELY;INTERVAL=1", "FREQ=DAILY;BYHOUR=8,12,18", "FREQ=DAILY;COUNT=999999",
    "FREQ=DAILY;INTERVAL=0", "DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "BYDAY=MO", "FREQ=DAILY;FREQ=WEEKLY",
    "FREQ=WEEKLY;BYDAY=XX", "FREQ=DAILY;UNTIL=20200101", "", "FREQ=DAILY;" + "BYMONTHDAY=1;" * 40, 42,
])
def test_recurrence_refuses_what_is_not_a_sane_daily_rule(rule):
    with pytest.raises(ServiceError) as e:
        recurrence.parse(rule, date(2026, 3, 1))
    assert "rrule" in e.value.field_errors


def test_recurrence_days():
    weekly = recurrence.parse("RRULE:FREQ=WEEKLY;BYDAY=MO", date(2026, 3, 1))
    assert recurrence.days_between(weekly, date(2026, 3, 1), date(2026, 3, 16)) == [date(2026, 3, 2),
                                                                                      date(2026, 3, 9),
                                                                                      date(2026, 3, 16)]
    assert recurrence.occurs_on(weekly, date(2026, 3, 9)) and not recurrence.occurs_on(weekly, date(2026, 3, 10))
    monthly = recurrence.parse("FREQ=MONTHLY;BYMONTHDAY=1", date(2026, 3, 1))
    assert recurrence.occurs_on(monthly, date(2026, 4, 1)) and not recurrence.occurs_on(monthly, date(2026, 4, 2))


# --- plans, pairing ------------------------------------------------------------------------------

def test_volunteer_gets_a_login_scoped_to_own_visits(tree, users, care):
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    other = people.create_person(None, unit=tree.lumiao_g1, name="孙奶奶", address="芦庙村西街2号")
    helper2, _u = services.register_helper(None, people.create_person(None, unit=tree.lumiao_g1, name="周志愿"),
                                           password="Bihuan-Test-2026")
    services.create_plan(None, other, starts_on=date(2026, 3, 1), now=at(2026, 3, 1), services=[
        {"kind": "meal", "rrule": "FREQ=DAILY", "window_start": "11:00", "window_end": "12:00", "helper": helper2}])
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    assert care.vol_username and care.volunteer.bindings.get().role.code == "volunteer"
    assert care.volunteer.bindings.get().scope == "self"
    mine = Visit.objects.restrict(care.volunteer, "view").filter(day=date(2026, 3, 2))
    assert {v.person.name for v in mine} == {"李大爷"}
    assert Visit.objects.restrict(users.lumiao_secretary, "view").filter(day=date(2026, 3, 2)).count() == 3
    # A volunteer sees no village list: not surveys, not plans, not persons.
    assert not Survey.objects.restrict(care.volunteer, "view").exists()
    assert not care.plan.__class__.objects.restrict(care.volunteer, "view").exists()
    with pytest.raises(PermissionDenied):
        services.record_survey(care.volunteer, care.resident, surveyed_on=date(2026, 3, 2), living="alone")


def test_plan_refuses_bad_services_and_keeps_nothing(tree, users, care):
    n = care.plan.__class__.objects.count()
    for spec, field in (({"rrule": "FREQ=HOURLY"}, "services.1.rrule"),
                        ({"window_end": "10:00"}, "services.1.window_end"),
                        ({"helper": 999999}, "services.1.helper"),
                        ({"backup": None, "helper": care.helper, "kind": "spa"}, "services.1.kind")):
        base = {"kind": "meal", "rrule": "FREQ=DAILY", "window_start": "11:00", "window_end": "12:00",
                "helper": care.helper}
        with pytest.raises(ServiceError) as e:
            services.create_plan(users.lumiao_secretary, care.resident, starts_on=date(2026, 3, 1),
                                 services=[base | spec])
        assert field in e.value.field_errors, e.value.field_errors
    with pytest.raises(ServiceError):
        services.add_service(users.lumiao_secretary, care.plan, kind="meal", rrule="FREQ=DAILY",
                             window_start="08:00", window_end="09:00", helper=care.helper, backup=care.helper)
    assert care.plan.__class__.objects.count() == n


def test_generating_a_day_is_idempotent_and_follows_the_rule(tree, users, care):
    services.add_service(None, care.plan, kind="cleaning", rrule="FREQ=WEEKLY;BYDAY=MO", window_start="09:00",
                         window_end="10:00", helper=care.helper, now=at(2026, 3, 1, 8))
    assert services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6)) == 3  # a Monday: lunch, visit, cleaning
    assert services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6)) == 0
    assert services.generate(date(2026, 3, 3), now=at(2026, 3, 3, 6)) == 2
    v = Visit.objects.get(day=date(2026, 3, 2), kind="meal")
    assert (v.starts_at, v.ends_at) == (at(2026, 3, 2, 11), at(2026, 3, 2, 12, 30))
    assert services.generate(date(2026, 2, 28), now=at(2026, 3, 2, 6)) == 0  # before the plan


def test_changing_a_service_regenerates_future_visits_only(tree, users, care):
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    lunch_today = Visit.objects.get(day=date(2026, 3, 2), kind="meal")
    services.check_in(care.volunteer, lunch_today, outcome="done", now=at(2026, 3, 2, 11, 30))
    visit_today = Visit.objects.get(day=date(2026, 3, 2), kind="visit")
    services.update_service(users.lumiao_secretary, care.visit, version=care.visit.version,
                            window_start="16:00", window_end="17:00", now=at(2026, 3, 2, 13))
    assert Visit.objects.get(pk=lunch_today.pk).outcome == "done"
    assert not Visit.objects.filter(pk=visit_today.pk).exists()
    assert Visit.objects.get(day=date(2026, 3, 2), kind="visit").starts_at == at(2026, 3, 2, 16)
    with pytest.raises(Conflict):
        services.update_service(users.lumiao_secretary, care.visit, version=care.visit.version, label="x")


# --- the check-in ---------------------------------------------------------------------------------

def _lunch(day=date(2026, 3, 2)):
    services.generate(day, now=at(day.year, day.month, day.day, 6))
    return Visit.objects.get(day=day, kind="meal")


def test_check_in_by_the_helper_with_a_photo(tree, users, care):
    v = services.check_in(care.volunteer, _lunch(), outcome="done", note="送了饺子",
                          photo=Upload("lunch.png", "image/png", PNG), now=at(2026, 3, 2, 11, 40))
    v.refresh_from_db()
    assert (v.outcome, v.late, v.note, v.checked_by) == ("done", False, "送了饺子", care.volunteer)
    assert v.photo.name and v.photo_type == "image/png"
    assert AuditEntry.objects.filter(action="care.visit.checkin", object_id=str(v.pk)).count() == 1


def test_check_in_refusals(tree, users, care):
    v = _lunch()
    with pytest.raises(PermissionDenied):  # the secretary sees it, but it is not assigned to her
        services.check_in(users.lumiao_secretary, v, outcome="done", now=at(2026, 3, 2, 11, 30))
    with pytest.raises(ServiceError) as e:
        services.check_in(care.volunteer, v, outcome="done", now=at(2026, 3, 2, 7))
    assert e.value.code == "too_early"
    with pytest.raises(ServiceError) as e:
        services.check_in(care.volunteer, v, outcome="done", now=at(2026, 3, 5, 11))
    assert e.value.code == "too_late"
    with pytest.raises(ServiceError) as e:
        services.check_in(care.volunteer, v, outcome="done", photo=Upload("x.png", "image/png", b"GIF89a..."),
                          now=at(2026, 3, 2, 11, 30))
    assert e.value.code == "attachment_type"
    with pytest.raises(ServiceError):
        services.check_in(care.volunteer, v, outcome="done", photo=Upload("x.pdf", "application/pdf", b"%PDF-1.4"),
                          now=at(2026, 3, 2, 11, 30))
    with pytest.raises(ServiceError):
        services.check_in(care.volunteer, v, outcome="asleep", now=at(2026, 3, 2, 11, 30))
    assert Visit.objects.get(pk=v.pk).outcome == ""


def test_late_check_in_is_flagged_and_twice_is_once(tree, users, care):
    v = _lunch()
    services.check_in(care.volunteer, v, outcome="done", now=at(2026, 3, 2, 14))
    again = services.check_in(care.volunteer, v, outcome="done", now=at(2026, 3, 2, 14, 1))
    assert again.late and AuditEntry.objects.filter(action="care.visit.checkin").count() == 1
    with pytest.raises(Conflict):  # the backup, a moment later: told who did it
        services.check_in(users.lumiao_grid, v, outcome="not_home", now=at(2026, 3, 2, 14, 2))


def test_unwell_opens_an_urgent_matter_at_once(tree, users, care):
    v = services.check_in(care.volunteer, _lunch(), outcome="unwell", note="发烧", now=at(2026, 3, 2, 11, 20))
    v.refresh_from_db()
    m = Matter.objects.get(pk=v.matter_id)
    assert m.kind == Kind.CARE_MISS and m.flagged and m.location_unit == tree.lumiao and m.handling_unit == tree.lumiao
    assert "李大爷" in m.title
    assert services.sweep(at(2026, 3, 2, 23))["missed_opened"] == 1  # only the afternoon visit
    assert Matter.objects.count() == 2


def test_reveal_phone_for_the_helper_is_audited(tree, users, care):
    v = _lunch()
    with acting_as(care.volunteer):
        assert services.reveal_phone(care.volunteer, v, "送餐前打电话") == "13805370001"
    e = AuditEntry.objects.get(action="people.person.reveal")
    assert e.actor_id == care.volunteer.pk and "送餐前打电话" in str(e.extra)
    with pytest.raises(ServiceError):
        services.reveal_phone(care.volunteer, v, "")
    with pytest.raises(NotFound):
        services.reveal_phone(users.yanzhou_admin, v, "想看看号码")


# --- nothing slips ------------------------------------------------------------------------------

def test_sweep_opens_one_matter_per_missed_visit_once_and_tells_the_backup(tree, users, care):
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    assert services.sweep(at(2026, 3, 2, 13))["missed_opened"] == 0  # lunch's grace period runs
    assert services.sweep(at(2026, 3, 2, 13, 31))["missed_opened"] == 1
    assert services.sweep(at(2026, 3, 2, 13, 45))["missed_opened"] == 0
    m = Matter.objects.get()
    assert m.kind == Kind.CARE_MISS and m.handling_unit == tree.lumiao and not m.flagged
    assert Notification.objects.filter(user=users.lumiao_grid, matter=m).exists()
    assert services.sweep(at(2026, 3, 2, 18))["missed_opened"] == 1
    with pytest.raises(ServiceError):  # too late to check in the missed lunch two days later
        services.check_in(care.volunteer, Visit.objects.get(day=date(2026, 3, 2), kind="meal"), outcome="done", now=at(2026, 3, 4, 13))


def test_board_counts_today_in_sql(tree, users, care, django_assert_max_num_queries):
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    services.check_in(care.volunteer, Visit.objects.get(day=date(2026, 3, 2), kind="meal"), outcome="done", now=at(2026, 3, 2, 11, 10))
    with django_assert_max_num_queries(3):
        b = selectors.board(users.lumiao_secretary, tree.lumiao, date(2026, 3, 2), at(2026, 3, 2, 15, 30))
    assert (b["total"], b["done"], b["due"], b["missed"]) == (2, 1, 1, 0)
    b = selectors.board(users.lumiao_secretary, tree.lumiao, date(2026, 3, 2), at(2026, 3, 2, 17, 30))
    assert (b["due"], b["missed"], b["kept_rate"]) == (0, 1, 50.0)
    assert selectors.board(users.yanzhou_admin, tree.lumiao, date(2026, 3, 2), at(2026, 3, 2, 17))["total"] == 0


def test_sources_and_section(tree, users, care):
    from bihuan.core import registry

    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    services.check_in(care.volunteer, Visit.objects.get(day=date(2026, 3, 2), kind="meal"), outcome="done", now=at(2026, 3, 2, 11, 10))
    services.record_survey(None, care.resident, surveyed_on=date(2026, 3, 2), living="alone", now=at(2026, 3, 2))
    vals = registry.compute("care.visits_kept_rate", [tree.liying, tree.lumiao, tree.xianying],
                            start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0), now=at(2026, 3, 3))
    assert vals == {tree.liying.pk: 50.0, tree.lumiao.pk: 50.0, tree.xianying.pk: None}
    assert registry.compute("care.surveyed", [tree.lumiao], start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0),
                            now=at(2026, 3, 3)) == {tree.lumiao.pk: 1}
    rows = registry.SECTIONS["care.visits"].figures(tree.liying, start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0),
                                                   now=at(2026, 3, 3))
    assert rows[0]["unit_name"] == "芦庙村" and rows[0]["missed"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_helpers_checking_in_at_once_one_wins(tree, users):
    if connection.vendor != "postgresql":
        pytest.skip("row-level races are shown on PostgreSQL")
    care = make_care(tree, users)
    v = _lunch()
    results = []

    def go(user, outcome):
        try:
            services.check_in(user, v.pk, outcome=outcome, now=at(2026, 3, 2, 11, 30))
            results.append("ok")
        except Conflict:
            results.append("conflict")
        finally:
            connection.close()

    ts = [threading.Thread(target=go, args=(care.volunteer, "done")),
          threading.Thread(target=go, args=(users.lumiao_grid, "not_home"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(results) == ["conflict", "ok"]


def test_cli_generate_and_sweep(tree, users, care):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("care", "generate", "--date", "2026-03-02", stdout=out)
    call_command("care", "generate", "--date", "2026-03-02", stdout=out)
    assert "2 visits made" in out.getvalue() and "0 visits made" in out.getvalue()
    call_command("care", "sweep", "--now", "2026-03-02T23:00", stdout=out)
    assert "'missed_opened': 2" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("care", "generate", "--date", "tomorrow")


def test_the_kept_rate_of_all_weeks_at_once_equals_week_by_week(tree, users, care):
    """The dashboard's trend asks for 12 weeks in one query; each week's value is the period's own."""
    from bihuan.core import registry

    for day in (date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 10)):
        services.generate(day, now=at(day.year, day.month, day.day, 6))
    services.check_in(care.volunteer, Visit.objects.get(day=date(2026, 3, 2), kind="meal"), outcome="done",
                      now=at(2026, 3, 2, 11, 10))
    services.check_in(care.volunteer, Visit.objects.get(day=date(2026, 3, 10), kind="meal"), outcome="done",
                      now=at(2026, 3, 10, 11, 10))
    starts = [at(2026, 2, 23, 0), at(2026, 3, 2, 0), at(2026, 3, 9, 0)]
    end, now = at(2026, 3, 16, 0), at(2026, 3, 12)
    units = [tree.city, tree.liying, tree.lumiao, tree.xianying]
    got = registry.compute_series("care.visits_kept_rate", units, starts=starts, end=end, now=now)
    assert got == one_by_one("care.visits_kept_rate", units, starts=starts, end=end, now=now)
    assert got[tree.lumiao.pk] == [None, 25.0, 50.0] and got[tree.xianying.pk] == [None, None, None]
