"""Evaluation: indicator sets, runs, 全覆盖 publishing, stars, rankings, objections, freezing, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bihuan.core.audit import AuditEntry
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import IndicatorSet, Line, ManualScore, Result, Run, RunState
from bihuan.loop.models import Matter

from .evaluation_helpers import H1, score_all, some_matters, village_set
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def test_weights_must_sum_to_100_and_nothing_is_written(tree, users):
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="坏的", period_kind="half", target_kind="village",
                            indicators=[{"name": "响应率", "source": "loop.response_rate", "weight": 60, "floor": 50,
                                         "target": 100},
                                        {"name": "党建", "kind": "manual", "weight": 30}])
    assert "100" in str(exc.value.message) and "90" in str(exc.value.message)
    assert not IndicatorSet.objects.exists()


def test_unknown_source_and_bad_rule_are_refused_naming_the_indicator(tree, users):
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="x", period_kind="half", target_kind="village",
                            indicators=[{"name": "a", "source": "care.visits_kept", "weight": 100, "floor": 0,
                                         "target": 1}])
    assert "indicators.1.source" in exc.value.field_errors
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="x", period_kind="half", target_kind="village",
                            indicators=[{"name": "a", "source": "loop.overdue", "weight": 100, "floor": 0,
                                         "target": 5}])  # fewer overdue is better: target must be below floor
    assert "indicators.1.target" in exc.value.field_errors


def test_a_township_cannot_define_the_citys_set(tree, users):
    with pytest.raises((PermissionDenied, NotFound)):
        village_set(tree, users.liying_staff)


def test_run_scores_every_village_with_a_breakdown_and_lists_who_must_act(tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-01 09:00"))
    assert run.targets == 3 and run.missing == 3
    lumiao = Result.objects.get(run=run, unit=tree.lumiao)
    auto = Line.objects.get(result=lumiao, indicator__name="响应率")
    assert auto.value == Decimal("75.00") and auto.points == Decimal("30.00")  # halfway from 50 to 100 → 30 of 60
    assert lumiao.score is None  # no manual score yet
    assert Result.objects.get(run=run, unit=tree.xuemiao).peer_group == "community"
    assert lumiao.peer_group == "village"
    missing = services.missing_list(run)
    assert {m["who"] for m in missing} == {"李营街道", "仙营街道", "龙桥街道"}
    with pytest.raises(ServiceError) as exc:
        services.publish(users.city_admin, run, now=at("2026-07-01 10:00"))
    assert exc.value.code == "incomplete" and all(t in str(exc.value.message) for t in ("李营街道", "龙桥街道", "芦庙村"))
    assert Run.objects.get(pk=run.pk).state == RunState.COMPUTED


def test_manual_scores_need_range_assessor_and_a_second_person(tree, users):
    s = village_set(tree, users.city_admin)
    manual = s.indicators.get(kind="manual")
    with pytest.raises(ServiceError) as exc:
        services.enter_score(users.liying_staff, indicator=manual, unit=tree.lumiao, period=H1, value=101)
    assert "value" in exc.value.field_errors
    with pytest.raises(NotFound):  # 薛庙社区 is outside 李营街道's subtree
        services.enter_score(users.liying_staff, indicator=manual, unit=tree.xuemiao, period=H1, value=80)
    sc = services.enter_score(users.liying_staff, indicator=manual, unit=tree.lumiao, period=H1, value=80)
    with pytest.raises(PermissionDenied):
        services.approve_score(users.liying_staff, sc)
    with pytest.raises(ServiceError):
        services.enter_score(users.liying_staff, indicator=manual, unit=tree.lumiao, period="2026Q1", value=80)
    services.approve_score(users.rencheng_admin, sc)
    assert ManualScore.objects.get(pk=sc.pk).state == "approved"
    with pytest.raises(Conflict):
        services.enter_score(users.liying_staff, indicator=manual, unit=tree.lumiao, period=H1, value=10)


def test_publish_ranks_stars_notice_objection_freeze_and_correction(tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    assert run.missing == 0
    scores = dict(Result.objects.filter(run=run).values_list("unit__name", "score"))
    # 芦庙村: 30 (响应率 75 %) + 36 (90 % of 40); the communities had no matters: full 60 + 36.
    assert scores == {"芦庙村": Decimal("66.00"), "仙营社区": Decimal("96.00"), "薛庙社区": Decimal("96.00")}
    ranks = {r.unit.name: (r.peer_group, r.rank, r.stars) for r in Result.objects.filter(run=run)}
    assert ranks == {"芦庙村": ("village", 1, 2), "仙营社区": ("community", 1, 5), "薛庙社区": ("community", 1, 5)}

    run = services.publish(users.city_admin, run, now=at("2026-07-03 10:00"))  # a Friday
    assert run.state == RunState.PUBLISHED and str(run.notice_until) == "2026-07-10"  # 5 working days
    with pytest.raises(Conflict):
        services.compute_run(users.city_admin, s, H1, now=at("2026-07-04 09:00"))  # never silently again

    lumiao = Result.objects.get(run=run, unit=tree.lumiao)
    with pytest.raises(NotFound):  # another township's village: not even visible
        services.lodge_objection(users.lumiao_secretary, Result.objects.get(run=run, unit=tree.xianying_v),
                                 reason="不公平")
    obj = services.lodge_objection(users.lumiao_secretary, lumiao, reason="响应率统计有误，3月2日已受理。",
                                   now=at("2026-07-06 09:00"))
    matter = Matter.objects.get(pk=obj.matter_id)
    assert matter.handling_unit_id == tree.city.pk and matter.state == "dispatched"
    with pytest.raises(Conflict):  # once per result
        services.lodge_objection(users.lumiao_secretary, lumiao, reason="再次", now=at("2026-07-06 10:00"))
    assert Matter.objects.count() == 5

    assert services.freeze_due(at("2026-07-10 20:00")) == 0
    assert services.freeze_due(at("2026-07-11 08:00")) == 1
    run.refresh_from_db()
    assert run.state == RunState.FROZEN
    with pytest.raises(ServiceError) as exc:
        services.lodge_objection(users.yanzhou_admin, Result.objects.get(run=run, unit=tree.xuemiao),
                                 reason="晚了", now=at("2026-07-13 09:00"))
    assert exc.value.code == "closed"

    with pytest.raises(ServiceError):
        services.correct(users.city_admin, run, reason="", now=at("2026-07-20 09:00"))
    new = services.correct(users.city_admin, run, reason="异议成立：响应率重算", now=at("2026-07-20 09:00"))
    assert new.version == 2 and new.supersedes_id == run.pk and new.state == RunState.COMPUTED
    services.publish(users.city_admin, new, now=at("2026-07-20 10:00"))
    assert Run.objects.get(pk=run.pk).state == RunState.SUPERSEDED
    actions = set(AuditEntry.objects.filter(action__startswith="evaluation.").values_list("action", flat=True))
    assert {"evaluation.run.publish", "evaluation.objection.lodge", "evaluation.run.freeze",
            "evaluation.run.correct", "evaluation.score.approve"} <= actions


def test_quota_caps_five_stars_and_change_against_the_last_period(tree, users):
    s = village_set(tree, users.city_admin, star_mode="quota", quota=10)
    score_all(s, tree, users, value=100, period="2025H2")
    r1 = services.compute_run(users.city_admin, s, "2025H2", now=at("2026-01-05 09:00"))
    # 仙营社区 and 薛庙社区 tie at 100 (rank 1 both); 10 % of 2 rounds down to 0: at least one five-star place.
    stars = dict(Result.objects.filter(run=r1).values_list("unit__name", "stars"))
    assert stars["芦庙村"] == 5
    services.publish(users.city_admin, r1, now=at("2026-01-05 10:00"))
    manual = s.indicators.get(kind="manual")
    for unit, value, who, ok in ((tree.lumiao, 50, users.liying_staff, users.rencheng_admin),
                                 (tree.xianying_v, 60, users.rencheng_admin, users.city_admin),
                                 (tree.xuemiao, 100, users.yanzhou_admin, users.city_admin)):
        sc = services.enter_score(who, indicator=manual, unit=unit, period=H1, value=value)
        services.approve_score(ok, sc)
    r2 = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    rows = {r.unit.name: (r.rank, r.previous_rank, r.change) for r in Result.objects.filter(run=r2)}
    assert rows["仙营社区"] == (2, 1, -1) and rows["薛庙社区"] == (1, 1, 0) and rows["芦庙村"] == (1, 1, 0)


def test_scope_a_village_sees_its_own_and_its_peers_published_results_only(tree, users):
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    mine = Result.objects.restrict(users.lumiao_secretary)
    assert list(mine.values_list("unit__name", flat=True)) == ["芦庙村"]
    assert not Run.objects.restrict(users.lumiao_secretary).exists()  # unpublished: not its run to see
    services.publish(users.city_admin, run, now=at("2026-07-03 10:00"))
    assert Run.objects.restrict(users.lumiao_secretary).count() == 1
    # Peers under the same township (李营街道 has only 芦庙村); other townships' villages stay hidden.
    assert set(Result.objects.restrict(users.lumiao_secretary).values_list("unit__name", flat=True)) == {"芦庙村"}
    assert set(Result.objects.restrict(users.liying_staff).values_list("unit__name", flat=True)) == {"芦庙村"}
    assert Result.objects.restrict(users.city_admin).count() == 3


def test_compute_many_gives_what_each_source_gives_alone(tree, users):
    from datetime import timedelta

    from bihuan.core import registry

    some_matters(tree, users)
    units = [tree.lumiao, tree.xianying_v, tree.xuemiao, tree.liying]
    start, end, now = at("2026-01-01 00:00"), at("2026-07-01 00:00"), at("2026-07-01 00:00") + timedelta(days=1)
    names = ["loop.response_rate", "loop.on_time_rate", "loop.open_overdue_now", "plans.done_rate"]
    many = registry.compute_many(names, units, start=start, end=end, now=now)
    for name in names:
        assert many[name] == registry.compute(name, units, start=start, end=end, now=now)
    assert many["loop.response_rate"][tree.lumiao.pk] == 0.75


def test_command_computes_a_run(tree, users):
    import io

    from django.core.management import CommandError, call_command

    s = village_set(tree, users.city_admin)
    out = io.StringIO()
    call_command("evaluate", "run", str(s.pk), H1, "--now", "2026-07-01T09:00", stdout=out)
    assert "3 targets, 3 missing" in out.getvalue() and "李营街道" in out.getvalue()
    assert Run.objects.get().computed_at.isoformat().startswith("2026-07-01T01:00")
    with pytest.raises(CommandError):
        call_command("evaluate", "run", s.name, "2026Q1", stdout=out)
