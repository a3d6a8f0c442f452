"""Issue 10's broken loop, fixed at the service level: acting on the lead unit's behalf, the
dispatch time limit, one definition of 在办, the reporter's own matters and their notifications.
(The browser tests in tests/browser/test_loopfix_browser.py walk the same as the users did.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bihuan.core.errors import PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop import selectors, services, transitions
from bihuan.loop.models import Matter, MatterEvent, Notification, Reminder, State
from bihuan.loop.sweep import sweep

from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db

NOW = at("2026-11-02 09:00")  # Monday


@pytest.fixture
def cats(tree):
    return make_categories()


def _dispatched(users, tree, road):
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW)
    return services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=NOW)


# --- accepting is the lead unit's act ---------------------------------------------------------------

def test_only_the_lead_unit_accepts_a_unit_above_only_on_its_behalf_with_a_reason(tree, users, cats, client,
                                                                                   token_for):
    road, _ = cats
    m = _dispatched(users, tree, road)
    staff = users.liying_staff
    # Not offered as the township's own act, for the page and the API alike; offered on behalf.
    assert "accept" not in transitions.available_actions(staff, m)
    assert transitions.on_behalf_actions(staff, m) == ["accept", "send_back"]
    assert "accept" in transitions.available_actions(users.lumiao_secretary, m)
    assert transitions.on_behalf_actions(users.lumiao_secretary, m) == []
    body = client.get(f"/api/v1/matters/{m.pk}", **token_for(staff)).json()
    assert "accept" not in body["actions"] and body["actions_on_behalf"] == ["accept", "send_back"]
    # A plain accept by the township is refused, naming the way to do it.
    with pytest.raises(PermissionDenied) as exc:
        services.accept(staff, m.pk, version=m.version, now=NOW)
    assert "芦庙村" in str(exc.value.message)
    r = client.post(f"/api/v1/matters/{m.pk}/actions/accept", {"version": m.version},
                    content_type="application/json", **token_for(staff))
    assert r.status_code == 403
    # On behalf, but without a real reason: refused, nothing changes.
    with pytest.raises(ServiceError) as exc:
        services.accept(staff, m.pk, version=m.version, on_behalf=True, on_behalf_reason="急", now=NOW)
    assert "on_behalf_reason" in exc.value.field_errors
    assert Matter.objects.get(pk=m.pk).state == State.DISPATCHED
    # On behalf with a reason: done, and the event and the audit entry say so.
    r = client.post(f"/api/v1/matters/{m.pk}/actions/accept",
                    {"version": m.version, "on_behalf": True, "on_behalf_reason": "村书记住院，街道代为签收"},
                    content_type="application/json", **token_for(staff))
    assert r.status_code == 200 and r.json()["state"] == State.IN_PROGRESS
    ev = MatterEvent.objects.get(matter=m, action="accept")
    assert ev.data["on_behalf_of"] == tree.lumiao.pk and ev.data["on_behalf_reason"] == "村书记住院，街道代为签收"
    entry = AuditEntry.objects.filter(action="loop.matter.accept", object_id=str(m.pk)).get()
    assert "村书记住院" in str(entry.extra) and str(tree.lumiao.pk) in str(entry.extra)


def test_the_lead_units_own_people_accept_without_any_on_behalf(tree, users, cats):
    road, _ = cats
    m = _dispatched(users, tree, road)
    m = services.accept(users.lumiao_secretary, m.pk, version=m.version, on_behalf=True, on_behalf_reason="",
                        now=NOW)
    assert m.state == State.IN_PROGRESS
    assert "on_behalf_of" not in MatterEvent.objects.get(matter=m, action="accept").data


# --- the dispatch time limit --------------------------------------------------------------------------

def test_waiting_for_dispatch_turns_yellow_then_red_and_the_backlog_counts_it_overdue(tree, users, cats):
    road, _ = cats  # dispatch limit: 8 working hours (the default), warning at 80 %; 7 of them on Monday
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW)
    assert m.dispatch_due_at == at("2026-11-03 09:30") and m.dispatch_warn_at < m.dispatch_due_at

    def light(t):
        row = selectors.with_light(Matter.objects.filter(pk=m.pk), t).get()
        assert selectors.matter_status(m, t).light == row.light
        return row.light

    assert light(at("2026-11-02 10:00")) == "green"
    assert light(m.dispatch_warn_at + timedelta(minutes=1)) == "yellow"
    late = at("2026-12-20 09:00")
    assert light(late) == "red"
    assert selectors.backlog(users.liying_staff, tree.liying, now=late)["by_age"][">90"]["red"] == 0
    assert selectors.backlog(users.liying_staff, tree.liying, now=late)["by_age"]["31-90"]["red"] == 1
    assert selectors.inbox(users.liying_staff, "overdue", now=late).get() == m
    assert selectors.inbox_counts(users.liying_staff, now=late)["overdue"] == 1
    # Dispatching ends the wait: the handling limits take over.
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=late)
    assert m.dispatch_due_at is None and light(late + timedelta(minutes=1)) == "green"


def test_the_sweep_reminds_the_dispatcher_then_escalates_once(tree, users, cats):
    road, _ = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW)
    assert not sweep(at("2026-11-02 10:00"))
    r1 = sweep(m.dispatch_warn_at + timedelta(minutes=1))
    assert (r1.reminders, r1.escalations) == (1, 0)
    assert Notification.objects.filter(matter=m, unit=tree.liying, kind="remind").count() == 1
    assert not sweep(m.dispatch_warn_at + timedelta(minutes=2))
    r2 = sweep(at("2026-11-04 09:00"))
    assert (r2.reminders, r2.escalations) == (0, 1)
    assert not sweep(at("2026-11-04 09:00")) and not sweep(at("2026-11-05 09:00"))
    m.refresh_from_db()
    assert m.state == State.NEW and m.flagged and m.flagged_unit == tree.rencheng  # the county supervises
    assert Reminder.objects.filter(matter=m).count() == 2


def test_a_send_back_starts_a_new_dispatch_limit(tree, users, cats):
    road, _ = cats
    m = _dispatched(users, tree, road)
    back = at("2026-11-10 09:00")
    m = services.send_back(users.lumiao_secretary, m.pk, version=m.version, reason="不属于本村", now=back)
    assert m.state == State.NEW and m.dispatch_due_at == at("2026-11-11 09:30")  # 8 working hours


def test_the_category_sets_the_dispatch_limit(tree, users, cats):
    road, _ = cats
    road.dispatch_hours = 2
    road.save()
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW)
    assert m.dispatch_due_at == at("2026-11-02 11:00")


# --- 在办: one definition for the board and the backlog ---------------------------------------------------

def test_board_and_backlog_count_the_same_open_matters(tree, users, cats):
    road, demand = cats
    waiting = [new_matter(users.lumiao_grid, road, tree.lumiao_g1, NOW),
               new_matter(users.city_admin, demand, tree.xuemiao, NOW),
               new_matter(users.city_admin, road, tree.liying, NOW)]  # at the township itself
    running = _dispatched(users, tree, road)
    done = _dispatched(users, tree, road)
    done = services.accept(users.lumiao_secretary, done.pk, version=done.version, now=NOW)
    done = services.report_done(users.lumiao_secretary, done.pk, version=done.version, comment="好了", now=NOW)
    services.evaluate(users.liying_staff, done.pk, version=done.version, passed=True, now=NOW)
    later = at("2026-11-20 09:00")
    for user, unit in [(users.city_admin, tree.city), (users.rencheng_admin, tree.rencheng),
                       (users.liying_staff, tree.liying), (users.city_admin, tree.yanzhou)]:
        board = selectors.supervision_board(user, unit, now=later)
        total = sum(r["open"] for r in board)
        assert total == selectors.backlog(user, unit, now=later)["total"], unit.name
        assert total == Matter.objects.filter(selectors.in_work_q(unit)).count()
    city = {r["unit_name"]: r for r in selectors.supervision_board(users.city_admin, tree.city, now=later)}
    assert city["任城区"]["open"] == 3 and city["任城区"]["to_dispatch"] == 2 and city["兖州区"]["open"] == 1
    town = {r["unit_name"]: r for r in selectors.supervision_board(users.liying_staff, tree.liying, now=later)}
    assert town["李营街道"]["to_dispatch"] == 1 and town["芦庙村"]["open"] == 2  # own level; waiting + running
    assert running.pk and len(waiting) == 3
