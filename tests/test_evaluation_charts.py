"""Evaluation (h-eval2): the ranking page's charts — scores by peer group and a township's stars grid,
data in a json_script block (no inline script), within the user's view."""

from __future__ import annotations

import json
import re

import pytest

from bihuan.evaluation import services

from .evaluation_helpers import H1, score_all, some_matters, village_set
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def _data(html: str) -> dict:
    m = re.search(r'<script id="eval-chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no chart data"
    return json.loads(m.group(1))


@pytest.fixture
def run(tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    return services.publish(users.city_admin, run)


def test_city_sees_bars_per_peer_group_and_a_township_grid(client, users, tree, run):
    client.force_login(users.city_admin)
    html = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert 'data-testid="score-bar"' in html and "evaluation/ranking.js" in html and "echarts.min.js" in html
    d = _data(html)
    assert len(d["bar"]["groups"]) == 2  # villages and communities
    assert sum(d["bar"]["n"]) == 3 and all(lo <= a <= hi for lo, a, hi in zip(d["bar"]["min"], d["bar"]["avg"],
                                                                               d["bar"]["max"], strict=True))
    towns = {name: tid for tid, name in d["townships"]}
    assert "李营街道" in towns and len(towns) == 3
    d = _data(client.get(f"/evaluation/runs/{run.pk}/?township={towns['李营街道']}").content.decode())
    assert d["grid"]["township"] == "李营街道"
    assert [(c["name"], c["stars"]) for c in d["grid"]["cells"]] == [("芦庙村", 2)]
    # nonsense and out-of-list townships fall back to the first one, never a 5xx
    for bad in ("abc", "99999999999999999999", "-1", str(tree.city.pk)):
        r = client.get(f"/evaluation/runs/{run.pk}/?township={bad}")
        assert r.status_code == 200 and _data(r.content.decode())["grid"]["cells"]


def test_a_village_sees_only_its_township_in_the_charts(client, users, tree, run):
    client.force_login(users.lumiao_secretary)
    d = _data(client.get(f"/evaluation/runs/{run.pk}/").content.decode())
    assert [name for _t, name in d["townships"]] == ["李营街道"]
    assert sum(d["bar"]["n"]) == 1
