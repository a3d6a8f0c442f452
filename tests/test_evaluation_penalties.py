"""Deductions and vetoes (一票否决): incidents recorded with evidence, approved by another person;
a deduction takes points per incident (capped), a veto caps the stars whatever the score."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bihuan.core.audit import AuditEntry
from bihuan.core.errors import NotFound, PermissionDenied, ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import Incident, IndicatorSet, Result

from .evaluation_helpers import H1, score_all, some_matters
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def penalty_set(tree, user):
    return services.create_set(user, unit=tree.city, name="含扣分与否决", period_kind="half", target_kind="village",
                               star_thresholds=[90, 80, 70, 60], indicators=[
                                   {"name": "响应率", "kind": "auto", "source": "loop.response_rate", "weight": 60,
                                    "floor": 50, "target": 100},
                                   {"name": "党建工作", "kind": "manual", "weight": 40},
                                   {"name": "安全事故", "kind": "deduct", "penalty": 5, "max_penalty": 8},
                                   {"name": "重大信访", "kind": "veto", "star_cap": 1},
                               ], now=at("2026-01-05 09:00"))


def test_penalties_carry_no_weight_and_need_their_rule(tree, users):
    s = penalty_set(tree, users.city_admin)
    assert {i.name: (i.kind, i.weight) for i in s.indicators.all()}["重大信访"] == ("veto", Decimal("0"))
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="坏", period_kind="half", target_kind="village",
                            indicators=[{"name": "党建", "kind": "manual", "weight": 100},
                                        {"name": "事故", "kind": "deduct"}])
    assert "indicators.2.penalty" in exc.value.field_errors
    with pytest.raises(ServiceError) as exc:
        services.create_set(users.city_admin, unit=tree.city, name="坏", period_kind="half", target_kind="village",
                            indicators=[{"name": "党建", "kind": "manual", "weight": 100},
                                        {"name": "否决", "kind": "veto", "weight": 10}])
    assert "indicators.2.weight" in exc.value.field_errors
    assert IndicatorSet.objects.count() == 1


def test_incidents_need_evidence_an_assessor_and_a_second_person(tree, users):
    s = penalty_set(tree, users.city_admin)
    deduct = s.indicators.get(kind="deduct")
    manual = s.indicators.get(kind="manual")
    kw = {"occurred_on": "2026-03-03", "description": "道路塌陷致伤", "now": at("2026-03-05 09:00")}
    with pytest.raises(ServiceError) as exc:
        services.record_incident(users.liying_staff, indicator=deduct, unit=tree.lumiao, evidence="", **kw)
    assert "evidence" in exc.value.field_errors
    with pytest.raises(ServiceError):
        services.record_incident(users.liying_staff, indicator=manual, unit=tree.lumiao, evidence="照片", **kw)
    with pytest.raises(ServiceError) as exc:
        services.record_incident(users.liying_staff, indicator=deduct, unit=tree.lumiao, evidence="照片",
                                 **{**kw, "occurred_on": "2026-04-01"})  # after "now"
    assert "occurred_on" in exc.value.field_errors
    with pytest.raises((NotFound, PermissionDenied)):  # 薛庙社区 is not 李营街道's
        services.record_incident(users.liying_staff, indicator=deduct, unit=tree.xuemiao, evidence="照片", **kw)
    inc = services.record_incident(users.liying_staff, indicator=deduct, unit=tree.lumiao, evidence="照片", **kw)
    assert inc.period == H1 and inc.state == "entered"
    with pytest.raises(PermissionDenied):
        services.approve_incident(users.liying_staff, inc)
    services.approve_incident(users.rencheng_admin, inc, now=at("2026-03-06 09:00"))
    assert set(AuditEntry.objects.filter(action__startswith="evaluation.incident").values_list("action", flat=True)) \
        == {"evaluation.incident.record", "evaluation.incident.approve"}


def test_deduction_takes_points_and_veto_caps_the_stars_in_the_breakdown_and_inputs(tree, users):
    some_matters(tree, users)  # 芦庙村: response rate 75 % → 30 of 60
    s = penalty_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)  # 党建工作 36 of 40 for every village
    deduct, veto = s.indicators.get(kind="deduct"), s.indicators.get(kind="veto")
    for day in ("2026-03-03", "2026-04-10"):  # two incidents: 2 × 5 = 10, capped at 8
        inc = services.record_incident(users.liying_staff, indicator=deduct, unit=tree.lumiao, occurred_on=day,
                                       description="安全事故", evidence="通报", now=at("2026-06-30 09:00"))
        services.approve_incident(users.rencheng_admin, inc, now=at("2026-06-30 10:00"))
    pending = services.record_incident(users.rencheng_admin, indicator=veto, unit=tree.xianying_v,
                                       occurred_on="2026-05-01", description="重大群体性信访", evidence="信访局通报",
                                       now=at("2026-06-30 09:00"))
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    assert run.missing == 1  # the veto awaits approval: nobody is scored around it
    who = services.missing_list(run)
    assert (who[0]["state"], who[0]["indicator"], who[0]["target"]) == ("awaiting_approval", "重大信访",
                                                                   tree.xianying_v.name)
    services.approve_incident(users.city_admin, pending, now=at("2026-07-03 10:00"))
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 11:00"))
    assert run.missing == 0
    lumiao = Result.objects.get(run=run, unit=tree.lumiao)
    assert lumiao.score == Decimal("58.00")  # 30 + 36 − 8
    line = lumiao.lines.get(indicator=deduct)
    assert (line.value, line.points, line.note) == (Decimal("2.00"), Decimal("-8.00"), "deduction")
    xianying = Result.objects.get(run=run, unit=tree.xianying_v)
    assert xianying.score == Decimal("96.00") and xianying.stars == 1 and xianying.star_cap == 1
    assert Result.objects.get(run=run, unit=tree.xuemiao).stars == 5  # same score, no veto
    assert run.inputs["incidents"] == {str(deduct.pk): {str(tree.lumiao.pk): 2},
                                       str(veto.pk): {str(tree.xianying_v.pk): 1}}
    assert services.penalty_for(next(i for i in run.inputs["indicators"] if i["kind"] == "deduct"), 2)[0] \
        == Decimal("-8.00")  # reproducible from the recorded inputs alone
    services.publish(users.city_admin, run, now=at("2026-07-03 12:00"))
    with pytest.raises(ServiceError):  # published: no more incidents for that half-year
        services.record_incident(users.liying_staff, indicator=deduct, unit=tree.lumiao, occurred_on="2026-06-01",
                                 description="补录", evidence="通报", now=at("2026-07-04 09:00"))


def test_breakdown_page_and_xlsx_show_where_points_were_lost(tree, users, client):
    s = penalty_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)
    veto = s.indicators.get(kind="veto")
    inc = services.record_incident(users.rencheng_admin, indicator=veto, unit=tree.xianying_v,
                                   occurred_on="2026-05-01", description="重大群体性信访", evidence="信访局通报",
                                   now=at("2026-06-30 09:00"))
    services.approve_incident(users.city_admin, inc, now=at("2026-06-30 10:00"))
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    r = Result.objects.get(run=run, unit=tree.xianying_v)
    client.force_login(users.city_admin)
    page = client.get(f"/evaluation/results/{r.pk}/").content.decode()
    assert 'data-testid="veto"' in page and "重大信访" in page and "一票否决" in page
    resp = client.get(f"/evaluation/runs/{run.pk}/results.xlsx")
    ws = load_workbook(io.BytesIO(resp.content)).active
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    col = next(i for i, h in enumerate(head) if h and h.startswith("重大信访"))
    assert "一票否决" in head[col]
    row = next(x for x in rows[1:] if x[3] == tree.xianying_v.name)
    assert row[col] == "否决（1次）" and row[7] == 1
    pdf = client.get(f"/evaluation/runs/{run.pk}/results.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf["Content-Type"] == "application/pdf"


def test_incident_api_and_page(tree, users, client):
    s = penalty_set(tree, users.city_admin)
    deduct = s.indicators.get(kind="deduct")
    client.force_login(users.liying_staff)
    resp = client.post("/api/v1/evaluation/incidents", {"indicator": deduct.pk, "unit": tree.lumiao.code,
                                                        "occurred_on": "2026-13-01", "description": "x",
                                                        "evidence": "y"}, content_type="application/json")
    assert resp.status_code in (400, 422)
    resp = client.post("/evaluation/scores/", {"inc-indicator": deduct.pk, "inc-unit": tree.lumiao.pk,
                                               "inc-occurred_on": "2026-03-03", "inc-description": "道路塌陷",
                                               "inc-evidence": "照片"})
    assert resp.status_code == 302
    inc = Incident.objects.get()
    assert inc.entered_by == users.liying_staff
    client.force_login(users.rencheng_admin)
    assert "道路塌陷" in client.get("/evaluation/scores/").content.decode()
    resp = client.post(f"/api/v1/evaluation/incidents/{inc.pk}/approve", content_type="application/json")
    assert resp.status_code == 200 and resp.json()["state"] == "approved"
