"""Campaigns (大干五十天), key projects and key enterprises: the services, refusals and scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.plans import selectors
from bihuan.plans.models import (
    Campaign,
    CampaignCheckIn,
    CampaignTarget,
    KeyEnterprise,
    KeyProject,
    ProjectMonth,
)
from bihuan.plans.services import campaigns, registers
from tests.plans_helpers import at

pytestmark = pytest.mark.django_db


def make_campaign(tree, user=None, **kw):
    """济宁市 50-day sprint, 2025-11-01 … 2025-12-20, daily, targets for three townships."""
    values = {"title": "大干五十天、冲刺四季度", "starts_on": date(2025, 11, 1), "ends_on": date(2025, 12, 20),
              "target_unit": "万元", "cadence": "daily", "grace_days": 1,
              "targets": [(tree.liying, 100), (tree.xianying, 80), (tree.longqiao, 60)]}
    values.update(kw)
    return campaigns.create_campaign(user, unit=tree.city, now=at(2025, 10, 20), **values)


def target(c, unit):
    return CampaignTarget.objects.get(campaign=c, unit=unit)


def test_a_campaign_counts_its_days_and_ranks_its_units(tree, users):
    c = make_campaign(tree, users.city_admin)
    assert c.days_total == 50
    campaigns.check_in(users.liying_staff, target(c, tree.liying), value=30, note="签约3个项目", now=at(2025, 11, 1, 15))
    campaigns.check_in(users.city_admin, target(c, tree.xianying), value=60, now=at(2025, 11, 1, 16))
    s = selectors.campaign_summary(users.city_admin, c, now=at(2025, 11, 10))
    assert (s["day"], s["days_total"], s["days_left"]) == (10, 50, 40)
    assert s["units"] == 3 and s["value"] == Decimal("90") and s["target"] == Decimal("240")
    board = list(selectors.campaign_targets(users.city_admin, c, now=at(2025, 11, 2, 9)))
    assert [(t.unit.name, float(t.pct)) for t in board] == [("仙营街道", 75.0), ("李营街道", 30.0), ("龙桥街道", 0.0)]
    # A county sees its own townships only.
    assert [t.unit.name for t in selectors.campaign_targets(users.rencheng_admin, c, now=at(2025, 11, 2))] == [
        "仙营街道", "李营街道"]
    assert selectors.campaign_summary(users.rencheng_admin, c, now=at(2025, 11, 2))["units"] == 2
    # Reaching the target is done.
    campaigns.check_in(users.liying_staff, target(c, tree.liying), value=100, now=at(2025, 11, 2, 15))
    statuses = {t.unit.name: t.status for t in selectors.campaign_targets(users.city_admin, c, now=at(2025, 11, 2, 16))}
    assert statuses["李营街道"] == "done"


def test_check_ins_count_for_the_earliest_unreported_day_and_late_ones_are_marked(tree, users):
    c = make_campaign(tree)
    t = target(c, tree.liying)
    ci = campaigns.check_in(users.liying_staff, t, value=10, now=at(2025, 11, 1, 15))
    assert ci.period_start == date(2025, 11, 1) and not ci.late
    # A week later: it counts for 11-02 (catching up) and is late.
    ci = campaigns.check_in(users.liying_staff, t, value=20, now=at(2025, 11, 8, 15))
    assert ci.period_start == date(2025, 11, 2) and ci.late
    t.refresh_from_db()
    assert (t.checkins, t.late_checkins, t.last_value) == (2, 1, Decimal("20"))


def test_refusals_write_nothing(tree, users):
    with pytest.raises(ServiceError):
        make_campaign(tree, users.city_admin, target_unit="")
    with pytest.raises(ServiceError):
        make_campaign(tree, users.city_admin, ends_on=date(2025, 10, 1))
    with pytest.raises(ServiceError):
        make_campaign(tree, users.city_admin, targets=[(tree.liying, 0)])
    with pytest.raises(ServiceError):
        make_campaign(tree, users.city_admin, cadence="hourly")
    with pytest.raises(ServiceError):  # a county's campaign cannot target another county's township
        campaigns.create_campaign(users.rencheng_admin, unit=tree.rencheng, title="x", starts_on=date(2025, 11, 1),
                                  ends_on=date(2025, 11, 30), target_unit="个", targets=[(tree.longqiao, 5)])
    with pytest.raises(ServiceError):  # targets are for the units below the issuer, not itself
        make_campaign(tree, users.city_admin, targets=[(tree.city, 10)])
    with pytest.raises(PermissionDenied):
        make_campaign(tree, users.liying_staff)
    assert not Campaign.objects.exists()
    c = make_campaign(tree)
    t = target(c, tree.liying)
    for bad in ("abc", -1, None, "1e20"):
        with pytest.raises(ServiceError):
            campaigns.check_in(users.liying_staff, t, value=bad, now=at(2025, 11, 3))
    with pytest.raises(ServiceError):
        campaigns.check_in(users.liying_staff, t, value=5, now=at(2025, 10, 30))  # before the start
    with pytest.raises(ServiceError):
        campaigns.check_in(users.liying_staff, t, value=5, note="x\x00y", now=at(2025, 11, 3))
    with pytest.raises(NotFound):
        campaigns.check_in(users.liying_staff, target(c, tree.longqiao), value=5, now=at(2025, 11, 3))
    assert not CampaignCheckIn.objects.exists()


def test_targets_are_versioned(tree, users):
    c = make_campaign(tree)
    r = campaigns.set_targets(users.city_admin, c, version=1, targets=[(tree.liying, 120), (tree.lumiao, 10)],
                              now=at(2025, 11, 5))
    assert (r["added"], r["changed"]) == (1, 1)
    assert target(c, tree.liying).target == 120
    assert target(c, tree.lumiao).first_period_start == date(2025, 11, 5)  # owes nothing before it was added
    with pytest.raises(Conflict):
        campaigns.set_targets(users.city_admin, c, version=1, targets=[(tree.liying, 130)])
    assert target(c, tree.liying).target == 120


def test_missing_check_ins_open_one_matter_a_week_and_closing_needs_the_check_in(tree, users):
    from bihuan.loop import services as loop_services
    from bihuan.loop import transitions
    from bihuan.loop.models import Matter

    c = make_campaign(tree)
    campaigns.check_in(users.liying_staff, target(c, tree.liying), value=10, now=at(2025, 11, 1, 15))
    assert campaigns.open_overdue_matters(at(2025, 11, 12, 10)) == 3  # nobody reported for 11-10
    assert campaigns.open_overdue_matters(at(2025, 11, 12, 11)) == 0
    assert campaigns.open_overdue_matters(at(2025, 11, 13, 10)) == 0  # same week: no second matter
    m = Matter.objects.get(kind="task", location_unit=tree.xianying)
    assert m.handling_unit_id == tree.xianying.pk and "大干五十天" in m.title
    # The loop's one answer for 报告办结 carries the campaign's condition (registered in apps.ready).
    m = loop_services.accept(None, m.pk, version=m.version, now=at(2025, 11, 13, 11))
    assert transitions.check(None, m, "report_done").code == "checkin_owed"
    boss = users.rencheng_admin
    campaigns.check_in(boss, target(c, tree.xianying), value=5, now=at(2025, 11, 13, 12))
    # One check-in catches up one day only (11-01); the missing day 11-10 is still owed.
    assert campaigns.checkin_owed(m).code == "checkin_owed"
    for day in range(2, 11):
        campaigns.check_in(boss, target(c, tree.xianying), value=5 + day, now=at(2025, 11, 13, 12))
    assert campaigns.checkin_owed(m).allowed
    # A unit that reached its target is not chased.
    campaigns.check_in(users.liying_staff, target(c, tree.liying), value=100, now=at(2025, 11, 14, 12))
    assert campaigns.open_overdue_matters(at(2025, 11, 19, 10)) == 2
    assert not Matter.objects.filter(location_unit=tree.liying, created_at__gte=at(2025, 11, 19)).exists()


# --- key projects ---------------------------------------------------------------------------------

def make_project(tree, user=None, name="梁山经济开发区新能源装备产业园", unit=None, **kw):
    values = {"level": "provincial", "official": "王某（县委常委）", "total_investment": 120000,
              "start_planned": date(2025, 3, 1), "production_planned": date(2025, 11, 30),
              "plan": {m: 1000 for m in range(1, 13)}}
    values.update(kw)
    return registers.save_project(user, unit=unit or tree.rencheng, year=2025, name=name, now=at(2025, 1, 5),
                                  **values)


def test_projects_plan_vs_actual_and_behind_plan(tree, users):
    p, outcome = make_project(tree, users.city_admin)
    assert outcome == "created" and p.months.count() == 12
    registers.report_progress(users.rencheng_admin, p, month=1, actual=1200, now=at(2025, 2, 3))
    registers.report_progress(users.rencheng_admin, p, month=2, actual=500, now=at(2025, 3, 3))
    registers.report_progress(users.rencheng_admin, p, milestone="start", on=date(2025, 2, 28), now=at(2025, 3, 3))
    q, _ = make_project(tree, users.city_admin, name="兖州区示范项目", unit=tree.longqiao)
    registers.report_progress(users.city_admin, q, month=1, actual=1000, now=at(2025, 2, 3))
    registers.report_progress(users.city_admin, q, month=2, actual=1000, now=at(2025, 3, 3))
    rows = {r.name: r for r in selectors.projects(users.city_admin, now=at(2025, 3, 15))}
    p_row = rows["梁山经济开发区新能源装备产业园"]
    assert (p_row.plan_to_date, p_row.actual_to_date, p_row.behind) == (2000, 1700, True)
    assert rows["兖州区示范项目"].behind is True  # 开工 planned 03-01, not reported
    registers.report_progress(users.city_admin, q, milestone="start", on=date(2025, 3, 1), now=at(2025, 3, 3))
    rows = list(selectors.projects(users.city_admin, now=at(2025, 3, 15)))
    assert [r.name for r in rows] == ["梁山经济开发区新能源装备产业园", "兖州区示范项目"]  # behind first
    assert [r.behind for r in rows] == [True, False]
    assert [r.name for r in selectors.projects(users.city_admin, now=at(2025, 3, 15), behind=True)] == [
        "梁山经济开发区新能源装备产业园"]
    counties = {r["name"]: r for r in selectors.projects_by_county(users.city_admin, now=at(2025, 3, 15))}
    assert counties["任城区"]["plan"] == 2000 and counties["任城区"]["actual"] == 1700
    assert counties["任城区"]["behind"] == 1 and counties["兖州区"]["rate"] == 100.0
    assert [r.name for r in selectors.projects(users.rencheng_admin, now=at(2025, 3, 15))] == [
        "梁山经济开发区新能源装备产业园"]


def test_project_refusals(tree, users):
    p, _ = make_project(tree)
    with pytest.raises(ServiceError):
        registers.report_progress(users.rencheng_admin, p, month=5, actual=10, now=at(2025, 3, 3))  # future
    with pytest.raises(ServiceError):
        registers.report_progress(users.rencheng_admin, p, month=1, actual=-5, now=at(2025, 3, 3))
    with pytest.raises(ServiceError):
        registers.report_progress(users.rencheng_admin, p, month=13, actual=5, now=at(2025, 3, 3))
    with pytest.raises(ServiceError):
        registers.report_progress(users.rencheng_admin, p, now=at(2025, 3, 3))
    with pytest.raises(NotFound):
        registers.report_progress(users.yanzhou_admin, p, month=1, actual=5, now=at(2025, 3, 3))
    with pytest.raises(PermissionDenied):  # staff report, counties register
        registers.save_project(users.liying_staff, unit=tree.liying, year=2025, name="x")
    with pytest.raises(ServiceError):
        make_project(tree, name="y", level="national")
    assert not ProjectMonth.objects.filter(actual__isnull=False).exists()
    assert KeyProject.objects.count() == 1
    _p, outcome = make_project(tree)
    assert outcome == "unchanged"


# --- key enterprises ------------------------------------------------------------------------------

CODE = "91370832MA3C12345X"


def test_enterprises_and_their_demand_enters_the_loop(tree, users):
    from bihuan.loop.models import Matter

    e, outcome = registers.save_enterprise(users.city_admin, unit=tree.liying, group="十强产业", name="梁山华宇集团",
                                           credit_code=CODE, industry="专用车制造", officials="张某（副县长）")
    assert outcome == "created"
    _e, outcome = registers.save_enterprise(users.city_admin, unit=tree.liying, group="十强产业", name="梁山华宇集团",
                                            credit_code=CODE.lower(), industry="专用车制造", officials="张某（副县长）")
    assert outcome == "unchanged"
    matter_id = registers.raise_demand(users.liying_staff, e, title="用工缺口", description="急需焊工30名")
    m = Matter.objects.get(pk=matter_id)
    assert m.kind == "demand" and m.handling_unit_id == tree.liying.pk and "梁山华宇集团" in m.title
    assert e.demands.get().matter_id == matter_id
    with pytest.raises(NotFound):
        registers.raise_demand(users.yanzhou_admin, e, title="x", description="y")
    with pytest.raises(ServiceError):
        registers.save_enterprise(users.city_admin, unit=tree.liying, group="十强产业", name="x", credit_code="123")
    with pytest.raises(PermissionDenied):  # a county cannot define a new list
        registers.save_enterprise(users.rencheng_admin, unit=tree.liying, group="新名单", name="x",
                                  credit_code="91370832MA3C99999X")
    assert KeyEnterprise.objects.count() == 1
    assert [(g.name, n) for g, n in selectors.enterprise_groups(users.yanzhou_admin)] == [("十强产业", 0)]


def test_campaign_rate_source_and_report_column(tree, users):
    from bihuan.core import registry

    c = make_campaign(tree)
    campaigns.check_in(None, target(c, tree.liying), value=150, now=at(2025, 11, 3, 15))  # capped at 100
    campaigns.check_in(None, target(c, tree.xianying), value=20, now=at(2025, 11, 3, 15))
    period = {"start": at(2025, 11, 1, 0), "end": at(2025, 12, 1, 0), "now": at(2025, 11, 20)}
    rate = registry.compute("plans.campaign_rate", [tree.rencheng, tree.yanzhou, tree.city, tree.liying], **period)
    assert rate == {tree.rencheng.pk: 66.7, tree.yanzhou.pk: 0.0, tree.city.pk: 50.0, tree.liying.pk: 100.0}
    rows = registry.SECTIONS["plans.progress"].figures(tree.city, **period)
    assert [(r["unit_name"], r["campaign_rate"]) for r in rows] == [("任城区", 66.7), ("兖州区", 0.0)]
    outside = {"start": at(2026, 1, 1, 0), "end": at(2026, 2, 1, 0), "now": at(2026, 1, 20)}
    assert registry.compute("plans.campaign_rate", [tree.rencheng], **outside) == {tree.rencheng.pk: None}
