"""Evaluation (h-eval2): the rank-based scoring rule — best of the peer group full points, linear
down to the worst, ties share their places; computed in SQL, reproducible."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bihuan.core.errors import ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import Line, Result
from bihuan.evaluation.services.runs import rank_points

from .evaluation_helpers import H1, score_all, some_matters
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def test_rank_points_best_full_worst_zero_ties_share_per_peer_group():
    ind = {"weight": "40", "direction": "higher"}
    values = {1: 90.0, 2: 80.0, 3: 80.0, 4: 10.0, 5: None, 6: 55.5}
    groups = {1: "village", 2: "village", 3: "village", 4: "village", 5: "village", 6: "community"}
    pts = rank_points(ind, values, groups)
    # four villages ranked: places 1, 2–3 (tied: 2.5 each), 4 → 40, 20, 20, 0; a group of one: full
    assert pts == {1: Decimal("40.00"), 2: Decimal("20.00"), 3: Decimal("20.00"), 4: Decimal("0.00"),
                   6: Decimal("40.00")}
    assert rank_points(ind, values, groups) == pts  # reproducible
    lower = rank_points({"weight": "40", "direction": "lower"}, values, groups)
    assert lower[4] == Decimal("40.00") and lower[1] == Decimal("0.00") and lower[2] == Decimal("20.00")
    assert rank_points(ind, {1: None}, groups) == {}


def test_a_set_with_a_rank_rule_needs_no_floor_and_the_run_uses_it(tree, users):
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="坏", period_kind="half", target_kind="village",
                            indicators=[{"name": "响应率", "kind": "auto", "source": "loop.response_rate",
                                         "weight": 100, "rule": "random"}], now=at("2026-01-05 09:00"))
    assert "indicators.1.rule" in exc.value.field_errors
    some_matters(tree, users)
    s = services.create_set(users.city_admin, unit=tree.city, name="按名次", period_kind="half",
                            target_kind="village", now=at("2026-01-05 09:00"), indicators=[
                                {"name": "响应率", "kind": "auto", "source": "loop.response_rate", "weight": 60,
                                 "rule": "rank"},
                                {"name": "党建工作", "kind": "manual", "weight": 40}])
    ind = s.indicators.get(name="响应率")
    assert ind.rule == "rank" and ind.floor is None
    score_all(s, tree, users, value=90)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-01 09:00"))
    assert run.inputs["indicators"][0]["rule"] == "rank"
    lumiao = Result.objects.get(run=run, unit=tree.lumiao)
    line = Line.objects.get(result=lumiao, indicator=ind)
    # 75 % (the only village with matters: ranked alone in its peer group → full points, not 30 as linear)
    assert line.value == Decimal("75.00") and line.points == Decimal("60.00")
    assert lumiao.score == Decimal("96.00")


def test_api_accepts_and_shows_the_rule(tree, users, client):
    client.force_login(users.city_admin)
    r = client.post("/api/v1/evaluation/sets", data={
        "unit": tree.city.code, "name": "按名次", "period_kind": "half", "target_kind": "village",
        "indicators": [{"name": "响应率", "source": "loop.response_rate", "weight": 100, "rule": "rank"}]},
        content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["indicators"][0]["rule"] == "rank"
