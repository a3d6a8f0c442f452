"""Plans: drafting, publishing, versioned edits, check-ins and derived status (services)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.plans import selectors, services
from bihuan.plans.models import Assignment, CheckIn, Status
from tests.plans_helpers import at, make_plan
from tests.series_helpers import one_by_one

pytestmark = pytest.mark.django_db


def _status(user, a, now):
    return selectors.assignments(user, now=now).get(pk=a.pk).status


def test_publish_assigns_every_named_unit_once_with_one_audit_entry(tree, users):
    p = make_plan(tree, users.city_admin, publish=False)
    r = services.publish(users.city_admin, p.plan, version=p.plan.version, now=at(2025, 1, 2))
    villages = {tree.lumiao.pk, tree.xianying_v.pk, tree.xuemiao.pk}
    assert set(Assignment.objects.filter(task=p.canteen).values_list("unit_id", flat=True)) == villages
    assert set(Assignment.objects.filter(task=p.election).values_list("unit_id", flat=True)) == {
        tree.liying.pk, tree.longqiao.pk}
    assert r["assigned"] == 5
    assert AuditEntry.objects.filter(action="plans.plan.publish").count() == 1
    p.plan.refresh_from_db()
    again = services.publish(users.city_admin, p.plan, version=p.plan.version, now=at(2025, 1, 3))
    assert again["assigned"] == 0
    assert Assignment.objects.filter(plan=p.plan).count() == 5


def test_publish_needs_the_issuing_units_scope(tree, users):
    p = make_plan(tree, users.city_admin, publish=False)
    with pytest.raises(NotFound):  # a draft of the city is not visible to a county
        services.publish(users.rencheng_admin, p.plan, version=p.plan.version)
    assert not Assignment.objects.exists()
    services.publish(users.city_admin, p.plan, version=p.plan.version)
    p.plan.refresh_from_db()
    for user in (users.rencheng_admin, users.lumiao_secretary):  # they see it now, but may not publish
        with pytest.raises(PermissionDenied):
            services.publish(user, p.plan, version=p.plan.version)


def test_stale_version_is_a_conflict_and_nothing_changes(tree, users):
    p = make_plan(tree, users.city_admin)
    v = p.canteen.version
    services.update_task(users.city_admin, p.canteen, version=v, target_value=15)
    with pytest.raises(Conflict):
        services.update_task(users.city_admin, p.canteen, version=v, target_value=20)
    p.canteen.refresh_from_db()
    assert p.canteen.target_value == 15
    entry = AuditEntry.objects.filter(action="plans.task.update").get()
    assert entry.before["target_value"] == "12.00" and entry.after["target_value"] == "15.00"


def test_bad_task_input_is_refused_with_nothing_written(tree, users):
    p = make_plan(tree, users.city_admin, publish=False)
    with pytest.raises(ServiceError) as e:
        services.add_task(users.city_admin, p.plan, action=p.action, title="x", lead_level=4, target_value=5)
    assert "target_unit" in e.value.field_errors
    with pytest.raises(ServiceError) as e:
        services.add_task(users.city_admin, p.plan, action=p.action, title="y", lead_level=4,
                          milestones=[("late", date(2026, 2, 1), None)])
    assert e.value.code == "milestone_outside_plan"
    with pytest.raises(ServiceError):
        services.add_task(users.city_admin, p.plan, action=p.action, title="z\x00", lead_level=4)
    assert p.plan.tasks.count() == 2


def test_adding_a_unit_to_a_published_task_assigns_it_and_keeps_checkins(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.election, unit=tree.liying)
    services.check_in(users.liying_staff, a, value=50, note="进行中", now=at(2025, 3, 20))
    services.update_task(users.city_admin, p.election, version=p.election.version, add_lead_units=[tree.xianying],
                         now=at(2025, 4, 1))
    assert Assignment.objects.filter(task=p.election, unit=tree.xianying).exists()
    assert CheckIn.objects.filter(assignment=a).count() == 1


def test_checkin_derives_status_from_target_milestones_and_now(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    sec = users.lumiao_secretary
    assert _status(sec, a, at(2025, 1, 10)) == Status.NOT_STARTED
    # January's check-in is due 3 working days after 31 January (after the Spring Festival).
    assert _status(sec, a, at(2025, 2, 20)) == Status.LATE
    c = services.check_in(sec, a, value=1, note="选址完成", now=at(2025, 2, 20))
    assert c.period_start == date(2025, 1, 1) and c.late
    services.check_in(sec, a, value=2, note="二月", now=at(2025, 2, 21))
    # February counted; 2 of 12 by late February is the linear path (about 1.8): on track.
    assert _status(sec, a, at(2025, 2, 25)) == Status.ON_TRACK
    # By late March February's check-in is there but the value is behind the path: at risk.
    assert _status(sec, a, at(2025, 3, 25)) == Status.AT_RISK
    services.check_in(sec, a, value=12, note="全部建成", now=at(2025, 3, 26))
    assert _status(sec, a, at(2025, 3, 27)) == Status.DONE


def test_missed_milestone_makes_it_late(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    for m in range(1, 7):
        services.check_in(users.lumiao_secretary, a, value=m - 1 if m < 6 else 5, note="月报",
                          now=at(2025, m, 28))
    # June reported (5 < milestone 6) and the milestone's date has passed: late.
    assert _status(users.lumiao_secretary, a, at(2025, 7, 2)) == Status.LATE


def test_checkin_refusals(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.xuemiao)
    with pytest.raises(NotFound):  # another unit's assignment: as if absent
        services.check_in(users.lumiao_secretary, a, value=1)
    mine = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    with pytest.raises(ServiceError) as e:
        services.check_in(users.lumiao_secretary, mine, value="twelve")
    assert "value" in e.value.field_errors
    with pytest.raises(ServiceError):
        services.check_in(users.lumiao_secretary, mine)
    assert not CheckIn.objects.exists()


def test_scope_township_sees_its_subtree_not_the_neighbours(tree, users):
    make_plan(tree, users.city_admin)
    now = at(2025, 2, 1)
    units = set(selectors.assignments(users.liying_staff, now=now).values_list("unit__name", flat=True))
    assert units == {"李营街道", "芦庙村"}
    assert selectors.plans(users.yanzhou_admin).count() == 1  # the city's plan reaches 兖州区


def test_supervision_job_opens_one_matter_per_missing_checkin_also_when_run_twice(tree, users):
    from bihuan.core import jobs
    from bihuan.loop.models import Matter

    p = make_plan(tree, users.city_admin)
    r1 = jobs.run_job("plans.supervise", at(2025, 2, 20))  # as the worker runs it
    r2 = services.open_overdue_matters(at(2025, 2, 20, 11))
    assert r1["checkin"] == 3 and r2 == {"checkin": 0, "milestone": 0}
    matters = Matter.objects.filter(kind="task")
    assert matters.count() == 3
    lumiao = matters.get(location_unit=tree.lumiao)
    assert lumiao.handling_unit == tree.lumiao and lumiao.state == "dispatched"
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    assert a.escalations.get().matter_id == lumiao.pk


def test_supervise_by_hand_once_per_period(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    mid = services.supervise(users.liying_staff, a, comment="请加快进度", now=at(2025, 1, 15))
    assert mid
    with pytest.raises(Conflict):
        services.supervise(users.liying_staff, a, now=at(2025, 1, 16))
    with pytest.raises(PermissionDenied):
        services.supervise(users.lumiao_secretary, a, now=at(2025, 1, 16))


def test_progress_map_counts_in_sql_by_child_unit(tree, users):
    p = make_plan(tree, users.city_admin)
    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    services.check_in(users.lumiao_secretary, a, value=12, completed=True, note="done", now=at(2025, 1, 20))
    m = selectors.progress_map(users.city_admin, p.plan, now=at(2025, 1, 25))
    names = [r["name"] for r in m["rows"]]
    assert names == ["任城区", "兖州区"]
    rencheng = m["rows"][0]
    canteen = rencheng["cells"][0]
    assert canteen.counts == {Status.DONE: 1, Status.NOT_STARTED: 1}
    assert rencheng["total"] == 3
    county = selectors.progress_map(users.rencheng_admin, p.plan, now=at(2025, 1, 25))
    assert [r["name"] for r in county["rows"]] == ["任城区"] or county["unit"] == tree.rencheng
    villages = selectors.progress_map(users.city_admin, p.plan, unit=tree.rencheng, level=4, now=at(2025, 1, 25))
    cell = {r["name"]: r["cells"][0] for r in villages["rows"]}["芦庙村"]
    assert cell.status == Status.DONE and cell.value == Decimal("12.00")
    with pytest.raises(NotFound):
        selectors.progress_map(users.rencheng_admin, p.plan, unit=tree.yanzhou, now=at(2025, 1, 25))


def test_evaluation_sources_and_report_section(tree, users):
    from bihuan.core import registry

    p = make_plan(tree, users.city_admin)
    services.check_in(users.lumiao_secretary, Assignment.objects.get(task=p.canteen, unit=tree.lumiao), value=12,
                      note="done", now=at(2025, 2, 3))  # January's, on time
    services.check_in(users.liying_staff, Assignment.objects.get(task=p.election, unit=tree.liying), value=40,
                      note="进行中", now=at(2025, 4, 25))  # Q1's, after its grace period: late
    year = dict(start=at(2025, 1, 1, 0), end=at(2026, 1, 1, 0), now=at(2025, 5, 1))
    done = registry.compute("plans.done_rate", [tree.rencheng, tree.yanzhou], **year)
    # 任城区: 3 assignments (2 villages, 1 township), 1 done; 兖州区: 2, none done.
    assert done == {tree.rencheng.pk: 33.3, tree.yanzhou.pk: 0.0}
    on_time = registry.compute("plans.checkin_on_time_rate", [tree.rencheng, tree.yanzhou, tree.city], **year)
    assert on_time == {tree.rencheng.pk: 50.0, tree.yanzhou.pk: None, tree.city.pk: 50.0}
    rows = registry.SECTIONS["plans.progress"].figures(tree.city, **year)
    assert [(r["unit_name"], r["assignments"], r["checkins"]) for r in rows] == [("任城区", 3, 2), ("兖州区", 2, 0)]


def test_a_matter_for_a_missed_checkin_is_reported_done_only_after_that_checkin(tree, users):
    """Issue 12, 'supervise through the loop': closing the matter requires the overdue check-in.
    The loop's one answer (transitions.check) carries the plans condition: the service refuses,
    and neither the API's actions nor the page's buttons offer 报告办结 until it is made."""
    from bihuan.loop import services as loop_services
    from bihuan.loop import transitions
    from bihuan.loop.models import Matter

    p = make_plan(tree, users.city_admin)
    services.open_overdue_matters(at(2025, 2, 20))
    m = Matter.objects.get(kind="task", location_unit=tree.lumiao)
    m = loop_services.accept(users.lumiao_secretary, m.pk, version=m.version, now=at(2025, 2, 20, 10))
    assert "report_done" not in transitions.available_actions(users.lumiao_secretary, m)
    with pytest.raises(ServiceError) as refused:
        loop_services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已整改",
                                  now=at(2025, 2, 20, 11))
    assert refused.value.code == "checkin_owed"
    assert Matter.objects.get(pk=m.pk).state == "in_progress"

    a = Assignment.objects.get(task=p.canteen, unit=tree.lumiao)
    services.check_in(users.lumiao_secretary, a, value=3, note="补报", now=at(2025, 2, 21))
    m.refresh_from_db()
    assert "report_done" in transitions.available_actions(users.lumiao_secretary, m)
    m = loop_services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已补报",
                                  now=at(2025, 2, 21, 10))
    assert m.state == "reported"


def test_the_done_rate_of_all_periods_at_once_equals_period_by_period(tree, users):
    """The dashboard's trend asks for all periods in one query; each period's value is its own."""
    from bihuan.core import registry

    p = make_plan(tree, users.city_admin)
    services.check_in(users.lumiao_secretary, Assignment.objects.get(task=p.canteen, unit=tree.lumiao), value=12,
                      completed=True, note="done", now=at(2025, 2, 3))
    services.check_in(users.liying_staff, Assignment.objects.get(task=p.election, unit=tree.liying), value=40,
                      note="进行中", now=at(2025, 4, 25))
    starts = [at(2024, 10, 1, 0), at(2025, 1, 1, 0), at(2025, 4, 1, 0), at(2025, 7, 1, 0)]
    end, now = at(2026, 1, 1, 0), at(2025, 5, 1)
    units = [tree.city, tree.rencheng, tree.yanzhou, tree.lumiao]
    got = registry.compute_series("plans.done_rate", units, starts=starts, end=end, now=now)
    assert got == one_by_one("plans.done_rate", units, starts=starts, end=end, now=now)
    assert any(v is not None for v in got[tree.city.pk]) and got[tree.city.pk][0] is None
