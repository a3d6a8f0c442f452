"""The loop's services: transition table, refusals, deadlines, sweep, lights, metrics."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command

from bihuan.core import calendar
from bihuan.core.calendar import CalendarUnknownYear
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop import metrics, selectors, services
from bihuan.loop.models import Matter, MatterEvent, Notification, Rating, Reminder, State

from .loop_helpers import PNG, at, closed_matter, make_categories, new_matter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def cats(db):
    return make_categories()


# --- calendar -------------------------------------------------------------------------------------

def test_working_days_skip_national_day_and_count_the_adjusted_saturday():
    # 2026: 10-01..10-07 off; Saturday 10-10 is a 调休 working day.
    due = calendar.add_working_days(at("2026-09-30 10:00"), 3)
    assert due == at("2026-10-10 17:30")
    assert calendar.is_workday(date(2026, 10, 10)) and not calendar.is_workday(date(2026, 10, 5))


def test_working_hours_follow_office_hours_and_holidays():
    # 16:30 on the last day before National Day + 2 h → 1 h left that day, then 09:30 on 10-08.
    assert calendar.add_working_hours(at("2026-09-30 16:30"), 2) == at("2026-10-08 09:30")
    assert calendar.add_working_hours(at("2026-09-30 11:00"), 1.5) == at("2026-09-30 14:00")
    assert calendar.working_hours_between(at("2026-09-30 08:30"), at("2026-10-08 17:30")) == 15.0
    assert calendar.working_hours_between(at("2026-10-08 17:30"), at("2026-09-30 08:30")) == -15.0


def test_unknown_year_raises_and_flags_instead_of_guessing(tree, users, cats):
    with pytest.raises(CalendarUnknownYear) as exc:
        calendar.add_working_days(at("2026-12-30 10:00"), 5)
    assert exc.value.years == [2027] and "2027" in exc.value.message
    # The loop still gives a deadline, but the matter carries a visible warning.
    road, _ = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-12-30 10:00"))
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, now=at("2026-12-30 10:00"))
    assert "2027" in m.calendar_warning


def test_overrides_make_a_year_known_and_win_over_the_package(tree):
    calendar.set_override(None, date(2027, 1, 1), False, "元旦")
    assert calendar.unknown_years([2026, 2027, 2028]) == [2028]
    assert calendar.add_working_days(at("2026-12-31 10:00"), 1) == at("2027-01-04 17:30")
    calendar.set_override(None, date(2026, 10, 12), False, "local holiday")
    assert not calendar.is_workday(date(2026, 10, 12))
    assert AuditEntry.objects.filter(action="core.calendar.override").count() == 2


# --- the happy path and the table ---------------------------------------------------------------

def test_full_loop_writes_events_audit_and_deadlines(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")  # Monday
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    assert m.state == State.NEW and m.dispatch_unit == tree.liying and m.reporter_phone_masked == "138****5678"
    assert "13812345678" not in m.reporter_phone_enc
    assert services.suggest_handling_unit(road, tree.lumiao_g1) == tree.liying  # fallback: the township
    m = services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao,
                          assisting_units=[tree.xianying_v] if False else [], now=now)
    assert m.due_at == at("2026-11-05 17:30") and m.accept_due_at == at("2026-11-02 14:30")
    m = services.accept(users.lumiao_secretary, m.pk, version=2, now=now + timedelta(hours=1))
    m = services.report_done(users.lumiao_secretary, m.pk, version=3, comment="已修复，附照片",
                             uploads=[services.Upload("photo.png", "image/png", PNG)], now=at("2026-11-03 10:00"))
    m = services.evaluate(users.liying_staff, m.pk, version=4, passed=True, now=at("2026-11-03 11:00"))
    assert m.state == State.CLOSED and m.version == 5
    assert m.handling_hours == pytest.approx(8.5)
    seqs = list(MatterEvent.objects.filter(matter=m).values_list("seq", "action"))
    assert seqs == [(1, "create"), (2, "dispatch"), (3, "accept"), (4, "report_done"), (5, "evaluate")]
    assert MatterEvent.objects.get(matter=m, seq=4).attachments.count() == 1
    assert AuditEntry.objects.filter(object_type="loop.matter", object_id=str(m.pk)).count() == 5
    assert Notification.objects.filter(matter=m, unit=tree.lumiao, kind="dispatched").exists()


def test_out_of_order_is_refused_with_a_clear_message(tree, users, cats):
    road, _ = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    with pytest.raises(ServiceError) as exc:
        services.accept(users.lumiao_secretary, m.pk, version=1)
    assert exc.value.code == "invalid_transition" and "awaiting dispatch" in str(exc.value.message)
    with pytest.raises(ServiceError, match="only when it is"):
        services.evaluate(users.liying_staff, m.pk, version=1, passed=True)
    assert Matter.objects.get(pk=m.pk).version == 1


def test_wrong_unit_is_refused(tree, users, cats):
    from .conftest import make_user

    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.liying_staff, road, tree.lumiao, now)
    m = services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    other = make_user("xianying_sec", tree.xianying_v, "village_secretary")
    with pytest.raises(NotFound):  # cannot even see it
        services.accept(other, m.pk, version=2)
    # A village secretary located in the matter's place but not its lead unit:
    m2 = new_matter(users.liying_staff, road, tree.lumiao, now)
    services.dispatch(users.liying_staff, m2.pk, version=1, handling_unit=tree.liying, now=now)
    with pytest.raises(PermissionDenied) as exc:
        services.accept(users.lumiao_secretary, m2.pk, version=2)
    assert "李营街道" in str(exc.value.message)
    # Grid workers register but do not dispatch; a village cannot evaluate its own work.
    m4 = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    with pytest.raises(PermissionDenied, match="permission to dispatch"):
        services.dispatch(users.lumiao_grid, m4.pk, version=1)
    # Dispatching outside the dispatching unit's subtree is refused.
    m3 = new_matter(users.liying_staff, road, tree.lumiao, now)
    with pytest.raises(ServiceError, match="not under"):
        services.dispatch(users.rencheng_admin, m3.pk, version=1, handling_unit=tree.xianying_v, now=now)


def test_stale_version_is_a_conflict_and_changes_nothing(tree, users, cats):
    road, _ = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao)
    with pytest.raises(Conflict):
        services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao)
    events = MatterEvent.objects.filter(matter=m).count()
    with pytest.raises(Conflict):
        services.send_back(users.lumiao_secretary, m.pk, version=1, reason="不属于本村")
    assert MatterEvent.objects.filter(matter=m).count() == events and Matter.objects.get(pk=m.pk).version == 2


def test_send_back_needs_a_reason_and_returns_to_the_dispatcher(tree, users, cats):
    road, _ = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao)
    with pytest.raises(ServiceError, match="reason"):
        services.send_back(users.lumiao_secretary, m.pk, version=2, reason="  ")
    m = services.send_back(users.lumiao_secretary, m.pk, version=2, reason="不属于本村")
    assert m.state == State.NEW and m.handling_unit is None and m.due_at is None


def test_evaluation_fail_returns_with_reason(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    services.accept(users.lumiao_secretary, m.pk, version=2, now=now)
    services.report_done(users.lumiao_secretary, m.pk, version=3, comment="done", now=now)
    with pytest.raises(ServiceError):
        services.evaluate(users.liying_staff, m.pk, version=4, passed=False, comment="")
    m = services.evaluate(users.liying_staff, m.pk, version=4, passed=False, comment="照片不清楚", now=now)
    assert m.state == State.IN_PROGRESS and m.reported_at is None


# --- refusals -------------------------------------------------------------------------------------

def test_rating_before_closure_is_refused(tree, users, cats):
    _, demand = cats
    m = new_matter(users.lumiao_grid, demand, tree.lumiao_g1, at("2026-11-02 09:00"))
    with pytest.raises(ServiceError, match="closed"):
        services.rate(users.liying_staff, m.pk, version=1, satisfaction="satisfied", resolved=True)
    with pytest.raises(ServiceError, match="closed"):
        services.rate_by_resident(m.public_token, satisfaction="satisfied", resolved=True)
    assert not Rating.objects.exists()


def test_rating_once_and_dissatisfied_can_reopen(tree, users, cats):
    _, demand = cats
    m = closed_matter(tree, users, demand, at("2026-11-02 09:00"))
    services.rate_by_resident(m.public_token, satisfaction="dissatisfied", resolved=False, comment="没修好")
    with pytest.raises(ServiceError, match="already"):
        services.rate_by_resident(m.public_token, satisfaction="satisfied", resolved=True)
    m.refresh_from_db()
    m = services.reopen(users.liying_staff, m.pk, version=m.version, reason="居民不满意")
    assert m.state == State.IN_PROGRESS and m.rounds == 2 and m.closed_at is None


def test_extension_past_the_cap_is_refused(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    services.accept(users.lumiao_secretary, m.pk, version=2, now=now)
    with pytest.raises(ServiceError, match="1 to 5"):
        services.request_extension(users.lumiao_secretary, m.pk, version=3, days=30, reason="材料未到")
    services.request_extension(users.lumiao_secretary, m.pk, version=3, days=2, reason="材料未到", now=now)
    req = services.decide_extension(users.liying_staff, m.pk, version=4, approve=True, now=now)
    assert req.new_due_at == at("2026-11-09 17:30")  # 11-05 + 2 working days (weekend skipped)
    with pytest.raises(ServiceError) as exc:
        services.request_extension(users.lumiao_secretary, m.pk, version=5, days=1, reason="还要再等")
    assert exc.value.code == "extension_cap" and "1 extension" in str(exc.value.message)


@pytest.mark.parametrize("description", ["", "   ", "长" * 5001])
def test_huge_or_empty_description_is_refused(tree, users, cats, description):
    road, _ = cats
    with pytest.raises(ServiceError) as exc:
        new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"), description=description)
    assert "description" in exc.value.field_errors
    assert not Matter.objects.exists()


@pytest.mark.parametrize("upload,code", [
    (services.Upload("x.exe", "application/octet-stream", b"MZ\x90"), "attachment_type"),
    (services.Upload("fake.png", "image/png", b"GIF89a..."), "attachment_type"),
    (services.Upload("big.png", "image/png", PNG + b"\0" * (10 * 1024 * 1024)), "attachment_size"),
])
def test_wrong_attachment_type_or_size_is_refused(tree, users, cats, upload, code):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    services.accept(users.lumiao_secretary, m.pk, version=2, now=now)
    with pytest.raises(ServiceError) as exc:
        services.report_done(users.lumiao_secretary, m.pk, version=3, comment="done", uploads=[upload])
    assert exc.value.code == code
    assert Matter.objects.get(pk=m.pk).state == State.IN_PROGRESS


# --- merge, similar sweep, proactive --------------------------------------------------------------

def test_merged_duplicates_close_together(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    a = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    b = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now, title="同一个坑")
    services.merge(users.liying_staff, b.pk, version=1, into=a.pk)
    with pytest.raises(ServiceError):
        services.merge(users.liying_staff, a.pk, version=1, into=a.pk)
    services.dispatch(users.liying_staff, a.pk, version=1, handling_unit=tree.lumiao, now=now)
    services.accept(users.lumiao_secretary, a.pk, version=2, now=now)
    services.report_done(users.lumiao_secretary, a.pk, version=3, comment="done", now=now)
    services.evaluate(users.liying_staff, a.pk, version=4, passed=True, now=now)
    b.refresh_from_db()
    assert b.state == State.CLOSED and b.merged_into_id == a.pk


def test_similar_sweep_creates_a_task_for_every_peer(tree, users, cats):
    from bihuan.orgs import services as org_services
    from bihuan.orgs.models import Level

    road, _ = cats
    org_services.create_unit(None, parent=tree.liying, level=Level.VILLAGE, code="370811008202", name="岱庄村")
    org_services.create_unit(None, parent=tree.liying, level=Level.VILLAGE, code="370811008203", name="后营村")
    m = closed_matter(tree, users, road, at("2026-11-02 09:00"))
    tasks = services.similar_sweep(users.liying_staff, m.pk, version=m.version, now=at("2026-11-03 09:00"))
    assert sorted(t.handling_unit.name for t in tasks) == ["后营村", "岱庄村"]
    assert all(t.kind == "task" and t.state == State.DISPATCHED and t.origin_id == m.pk for t in tasks)


def test_hotspots_and_proactive_matter(tree, users, cats):
    road, _ = cats
    for i in range(3):
        new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00") + timedelta(days=i))
    hot = selectors.hotspots(users.liying_staff, tree.liying, now=at("2026-11-10 09:00"), threshold=3)
    assert hot == [{"category_id": road.pk, "category": "道路破损", "unit_id": tree.lumiao_g1.pk,
                    "unit_name": "芦庙村第一网格", "count": 3, "window_days": 30}]
    p = services.create_proactive(users.liying_staff, category=road, location_unit=tree.lumiao_g1,
                                  now=at("2026-11-10 09:00"))
    assert p.source == "proactive"
    with pytest.raises(PermissionDenied):
        services.create_proactive(users.lumiao_grid, category=road, location_unit=tree.lumiao)
    similar = selectors.similar_matters(p, now=at("2026-11-10 09:00"))
    assert len(similar) == 3


# --- lights and sweep -------------------------------------------------------------------------------

def test_light_is_derived_from_now(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    m = services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    m = services.accept(users.lumiao_secretary, m.pk, version=2, now=now)

    def light(t):
        row = selectors.with_light(Matter.objects.filter(pk=m.pk), t).get()
        assert selectors.matter_status(m, t).light == row.light
        return row.light

    assert light(at("2026-11-02 10:00")) == "green"
    assert light(m.warn_at + timedelta(minutes=1)) == "yellow"
    assert light(at("2026-11-06 09:00")) == "red"
    assert selectors.inbox(users.liying_staff, "overdue", now=at("2026-11-06 09:00")).get() == m
    assert not selectors.inbox(users.liying_staff, "overdue", now=at("2026-11-04 09:00")).exists()
    assert selectors.matter_status(m, at("2026-11-05 16:30")).remaining_hours == 1.0


def test_sweep_is_idempotent_with_explicit_now(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    m = services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    from bihuan.loop.sweep import sweep

    r1 = sweep(at("2026-11-02 15:00"))  # not accepted within 4 working hours
    assert (r1.reminders, r1.escalations) == (1, 0)
    assert not sweep(at("2026-11-02 15:00"))
    r2 = sweep(m.warn_at + timedelta(minutes=1))  # the warning point: a reminder
    assert (r2.reminders, r2.escalations) == (1, 0)
    assert not sweep(m.warn_at + timedelta(minutes=2))
    r3 = sweep(at("2026-11-06 09:00"))  # overdue: escalation to the parent of the lead unit
    assert (r3.reminders, r3.escalations) == (0, 1)
    assert not sweep(at("2026-11-06 09:00")) and not sweep(at("2026-11-07 09:00"))
    m.refresh_from_db()
    assert m.flagged and m.flagged_unit == tree.liying
    assert Reminder.objects.filter(matter=m).count() == 3
    seqs = list(MatterEvent.objects.filter(matter=m).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, m.version + 1))


def test_sweep_command_accepts_now(tree, users, cats, capsys):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    call_command("sweep", "--now", "2026-11-06T09:00:00+08:00")
    call_command("sweep", "--now", "2026-11-06T09:00:00+08:00")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sweep: 1 reminders, 1 escalations") and out[1].startswith("sweep: 0 reminders, 0 esc")


def test_worker_once_runs_the_sweep(db, capsys):
    call_command("worker", "--once")
    assert "loop.sweep" in capsys.readouterr().out


# --- boards and metrics ---------------------------------------------------------------------------

def test_supervision_board_and_backlog(tree, users, cats):
    road, _ = cats
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    later = at("2026-11-09 09:00")
    board = selectors.supervision_board(users.rencheng_admin, tree.rencheng, now=later)
    by_name = {r["unit_name"]: r for r in board}
    assert by_name["李营街道"]["red"] == 1 and by_name["仙营街道"]["open"] == 0
    drill = {r["unit_name"]: r for r in selectors.supervision_board(users.rencheng_admin, tree.liying, now=later)}
    assert drill["芦庙村"]["red"] == 1 and drill["芦庙村"]["to_accept"] == 1
    assert selectors.backlog(users.liying_staff, tree.liying, now=later)["by_age"]["0-7"]["red"] == 1
    with pytest.raises(NotFound):
        selectors.supervision_board(users.yanzhou_admin, tree.rencheng, now=later)


def recount(unit, start, end, now):
    """The metrics recomputed in Python from the rows, for comparison with the SQL."""
    ms = [m for m in Matter.objects.all() if m.handling_unit and m.handling_unit.path.startswith(unit.path)]
    vol = [m for m in ms if m.dispatched_at and start <= m.dispatched_at < end]
    due = [m for m in ms if m.due_at and start <= m.due_at < min(end, now) and m.state != "merged"]
    rs = [r for r in Rating.objects.all() if r.matter in ms and start <= r.rated_at < end]
    closed = sorted(m.handling_hours for m in ms if m.state == "closed" and start <= m.closed_at < end)
    import math

    return {
        "volume": len(vol),
        "accepted_in_time": sum(1 for m in vol if m.accepted_at and m.accepted_at <= m.accept_due_at),
        "due": len(due),
        "closed_in_time": sum(1 for m in due if m.closed_at and m.closed_at <= m.due_at),
        "rated": len(rs), "resolved": sum(r.resolved for r in rs),
        "satisfied": sum(r.satisfaction in ("satisfied", "basic") for r in rs),
        "closed": len(closed),
        "p90_hours": closed[math.ceil(0.9 * len(closed)) - 1] if closed else None,
    }


def test_stats_equal_a_recount(tree, users, cats):
    road, demand = cats
    base = at("2026-10-12 09:00")
    for i in range(6):
        t = base + timedelta(days=i)
        m = new_matter(users.lumiao_grid, demand if i % 2 else road, tree.lumiao_g1, t)
        services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao if i % 3 else tree.liying,
                          now=t)
        if i < 5:
            services.accept(users.liying_staff if i % 3 == 0 else users.lumiao_secretary, m.pk, version=2,
                            now=t + timedelta(hours=i))
        if i < 4:
            services.report_done(users.liying_staff if i % 3 == 0 else users.lumiao_secretary, m.pk, version=3,
                                 comment="ok", now=t + timedelta(days=i))
            services.evaluate(users.liying_staff, m.pk, version=4, passed=True, now=t + timedelta(days=i, hours=1))
            services.rate(users.liying_staff, m.pk, version=5, satisfaction=["satisfied", "basic", "dissatisfied"][i % 3],
                          resolved=i % 2 == 0, now=t + timedelta(days=i, hours=2))
    start, end, now = at("2026-10-01 00:00"), at("2026-11-01 00:00"), at("2026-11-20 00:00")
    for unit in (tree.liying, tree.lumiao, tree.rencheng):
        got = metrics.unit_metrics(unit, start=start, end=end, now=now)
        want = recount(unit, start, end, now)
        assert {k: got[k] for k in want} == want
    kids = metrics.children_metrics(tree.rencheng, start=start, end=end, now=now)
    liying_row = next(r for r in kids["children"] if r["unit_name"] == "李营街道")
    assert {k: liying_row[k] for k in want} == recount(tree.liying, start, end, now)
    own = metrics.children_metrics(tree.liying, start=start, end=end, now=now)["own"]
    assert own["volume"] == 2  # i = 0, 3 were handled by the township itself
