"""h-eval2 — on a phone, the city's assessor opens a published ranking: the peer-group bars and the
township's stars grid draw (ECharts, no CSP error), another township can be picked, nothing overflows."""

from __future__ import annotations

import pytest

from bihuan.evaluation import services

from ..evaluation_helpers import H1, score_all, some_matters, village_set
from ..loop_helpers import at

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def published(transactional_db, tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    return services.publish(users.city_admin, run)


def test_ranking_charts_on_a_phone(browser, log_in, live_server, tree, users, published):
    page = log_in("city_admin")
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/runs/{published.pk}/")
    page.wait_for_selector('[data-testid="score-bar"][data-ready="1"]')
    page.wait_for_selector('[data-testid="stars-grid"][data-ready="1"]')
    assert page.locator('[data-testid="stars-grid"] canvas').count() >= 1
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.locator('[data-testid="grid-township"]').select_option(label="李营街道")
    page.locator('[data-testid="grid-township-form"] button').click()
    page.wait_for_selector('[data-testid="stars-grid"][data-ready="1"]')
    assert "李营街道" in page.locator('[data-testid="ranking-charts"]').inner_text()
    assert not [e for e in errors if "Content Security Policy" in e or "echarts" in e.lower()], errors
