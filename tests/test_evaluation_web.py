"""Evaluation's pages and API: the main path a user takes, refusals, scope."""

from __future__ import annotations

import io

import openpyxl
import pytest

from bihuan.evaluation import services
from bihuan.evaluation.models import IndicatorSet, Objection, PointEntry, Result, Run

from .evaluation_helpers import H1, points_setup, score_all, some_matters, village_set
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def _published(tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    return s, run


def test_set_editor_refuses_bad_weights_then_saves(login, users, tree):
    c = login(users.city_admin)
    data = {"name": "乡镇街道年度考核", "period_kind": "year", "target_kind": "township", "star_mode": "thresholds",
            "star_thresholds": "90,80,70,60", "five_star_quota": 10, "notice_days": 5,
            "i1_name": "按期办结率", "i1_kind": "auto", "i1_source": "loop.on_time_rate", "i1_weight": "70",
            "i1_floor": "60", "i1_target": "100", "i2_name": "党建述职", "i2_kind": "manual", "i2_weight": "20"}
    r = c.post("/evaluation/sets/new/", data)
    assert r.status_code == 400 and "100" in r.content.decode() and not IndicatorSet.objects.exists()
    data["i2_weight"] = "30"
    r = c.post("/evaluation/sets/new/", data)
    s = IndicatorSet.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/evaluation/sets/{s.pk}/"
    assert s.unit == tree.city and s.indicators.count() == 2
    r = c.post(f"/evaluation/sets/{s.pk}/", {"period": "2026H1"})  # a year set takes "2026"
    assert r.status_code == 400 and "2026" in r.content.decode()
    r = c.post(f"/evaluation/sets/{s.pk}/", {"period": "2026"})
    run = Run.objects.get()
    assert r.status_code == 302 and run.targets == 3


def test_run_page_missing_publish_refused_then_published_and_exported(login, users, tree):
    s = village_set(tree, users.city_admin)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    c = login(users.city_admin)
    body = c.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert 'data-testid="missing-row"' in body and "李营街道" in body and "0 / 3" in body
    r = c.post(f"/evaluation/runs/{run.pk}/publish/", HTTP_REFERER=f"/evaluation/runs/{run.pk}/")
    assert r.status_code == 302 and Run.objects.get(pk=run.pk).state == "computed"
    assert "李营街道" in c.get(r["Location"]).content.decode()
    score_all(s, tree, users)
    c.post(f"/evaluation/runs/{run.pk}/recompute/")
    c.post(f"/evaluation/runs/{run.pk}/publish/")
    assert Run.objects.get(pk=run.pk).state == "published"
    x = c.get(f"/evaluation/runs/{run.pk}/results.xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:8] == ("类别", "排名", "较上期", "单位", "区划代码", "上级单位", "得分", "星级")
    assert rows[0][8] == "响应率（60.00分）" and len(rows) == 4


def test_village_secretary_sees_own_result_and_objects(login, users, tree):
    s, run = _published(tree, users)
    c = login(users.lumiao_secretary)
    assert c.get(f"/evaluation/runs/{run.pk}/").status_code == 404  # unpublished
    services.publish(users.city_admin, run)
    body = c.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert "芦庙村" in body and "薛庙社区" not in body
    mine = Result.objects.get(run=run, unit=tree.lumiao)
    other = Result.objects.get(run=run, unit=tree.xuemiao)
    assert c.get(f"/evaluation/results/{other.pk}/").status_code == 404
    page = c.get(f"/evaluation/results/{mine.pk}/").content.decode()
    assert 'data-testid="objection-form"' in page and 'data-testid="lost"' in page
    r = c.post(f"/evaluation/results/{mine.pk}/", {"reason": "响应率有误"})
    assert r.status_code == 302 and Objection.objects.get().matter_id
    assert c.get(f"/evaluation/units/{tree.lumiao.pk}/").status_code == 200
    assert c.get(f"/evaluation/units/{tree.xuemiao.pk}/").status_code == 404


def test_api_sets_runs_results_publish_scores_objections(client, users, tree, token_for):
    h = token_for(users.city_admin)
    body = {"unit": tree.city.code, "name": "村级半年考核", "period_kind": "half", "target_kind": "village",
            "indicators": [{"name": "响应率", "source": "loop.response_rate", "weight": 60, "floor": 50,
                            "target": 100}, {"name": "党建", "kind": "manual", "weight": 30}]}
    r = client.post("/api/v1/evaluation/sets", body, content_type="application/json", **h)
    assert r.status_code == 400 and r["Content-Type"].startswith("application/problem+json")
    body["indicators"][1]["weight"] = 40
    r = client.post("/api/v1/evaluation/sets", body, content_type="application/json", **h)
    assert r.status_code == 201, r.content
    set_id = r.json()["id"]
    r = client.post("/api/v1/evaluation/runs", {"set": set_id, "period": H1}, content_type="application/json", **h)
    assert r.status_code == 201 and r.json()["missing"] == 3
    run_id = r.json()["id"]
    r = client.post(f"/api/v1/evaluation/runs/{run_id}/publish", **h)
    assert r.status_code == 400 and "李营街道" in r.json()["title"]
    manual = IndicatorSet.objects.get(pk=set_id).indicators.get(kind="manual")
    hl = token_for(users.liying_staff)
    r = client.post("/api/v1/evaluation/scores", {"indicator": manual.pk, "unit": tree.lumiao.code, "period": H1,
                                                  "value": 120}, content_type="application/json", **hl)
    assert r.status_code == 400
    r = client.post("/api/v1/evaluation/scores", {"indicator": manual.pk, "unit": tree.xuemiao.code, "period": H1,
                                                  "value": 80}, content_type="application/json", **hl)
    assert r.status_code == 400 and r.json()["type"].endswith("/unknown_unit")
    r = client.get(f"/api/v1/evaluation/runs/{run_id}/results?peer_group=community", **h)
    assert r.status_code == 200 and {i["name"] for i in r.json()["items"]} == {"仙营社区", "薛庙社区"}
    assert r.json()["items"][0]["lines"][0]["indicator"] == "响应率"
    r = client.get(f"/api/v1/evaluation/runs/{run_id}/results?peer_group=nope", **h)
    assert r.status_code == 400
    r = client.get(f"/api/v1/evaluation/runs/{run_id}", **token_for(users.yanzhou_admin))
    assert r.status_code == 404
    r = client.get("/api/v1/evaluation/runs/99999999999999999999", **h)
    assert r.status_code == 422


def test_points_pages_and_api(login, client, users, tree, token_for):
    p = points_setup(tree, users.city_admin)
    c = login(users.lumiao_grid)
    r = c.post(f"/evaluation/points/households/{p.h1.pk}/", {"do": "award", "a-rule": p.volunteer.pk,
                                                              "a-quantity": 10, "a-evidence": "照片"})
    assert r.status_code == 302
    assert 'data-testid="balance">20<' in c.get(r["Location"]).content.decode()
    assert c.get(f"/evaluation/points/households/{p.far.pk}/").status_code == 404
    h = token_for(users.lumiao_secretary)
    r = client.post("/api/v1/points/redemptions", {"household": p.h1.pk, "item": p.rice.pk},
                    content_type="application/json", **h)
    assert r.status_code == 400 and r.json()["type"].endswith("/balance")
    r = client.post("/api/v1/points/redemptions", {"household": p.h1.pk, "item": p.soap.pk, "quantity": 2},
                    content_type="application/json", **h)
    assert r.status_code == 201 and r.json()["balance"] == 0 and r.json()["receipt"].startswith("R")
    r = client.post("/api/v1/points/entries", {"household": p.h2.pk, "rule": p.sort.pk},
                    content_type="application/json", **h)
    assert r.status_code == 201
    r = client.get(f"/api/v1/points/rankings?unit={tree.lumiao.code}", **h)
    assert r.status_code == 200 and [i["balance"] for i in r.json()["items"]] == [5, 0]
    r = client.get("/api/v1/points/rankings?unit=%20%20", **h)  # blank is no unit: refused, not a 500
    assert r.status_code == 400 and r.json()["errors"]["unit"]
    r = client.get(f"/api/v1/points/households/{p.h1.pk}", **h)
    assert r.json()["balance"] == 0 == sum(e["points"] for e in r.json()["entries"])
    r = client.get(f"/api/v1/points/households/{p.far.pk}", **h)
    assert r.status_code == 404
    assert PointEntry.objects.count() == 3
    page = login(users.lumiao_secretary).get(f"/evaluation/points/?unit={tree.lumiao.pk}").content.decode()
    assert 'data-testid="points-row"' in page and "洗衣液" in page
