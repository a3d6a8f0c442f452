"""On a phone: a village secretary sees 芦庙村's stars and breakdown, objects to the published
result; a grid worker awards credit points to a household, which then redeems in the store."""

from __future__ import annotations

import pytest

from bihuan.evaluation import services
from bihuan.evaluation.models import Objection, Result

from ..evaluation_helpers import H1, points_setup, score_all, some_matters, village_set
from ..loop_helpers import at

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def published(transactional_db, tree, users):
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users)
    run = services.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    return services.publish(users.city_admin, run)


def test_secretary_sees_stars_and_objects_on_a_phone(browser, log_in, live_server, tree, users, published):
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/")
    assert _overflow(page) <= 0
    page.locator('[data-testid="my-stars"]').click()
    page.wait_for_load_state()
    row = page.locator('[data-testid="history-row"]')
    assert row.count() == 1 and "2026H1" in row.inner_text()
    assert row.locator('[data-testid="stars"]').get_attribute("data-stars") == "2"
    assert _overflow(page) <= 0
    row.locator("a").first.click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="score"]').inner_text() == "66.00"
    assert "响应率" in page.locator('[data-testid="lost"]').first.inner_text()
    page.locator('textarea[name="reason"]').fill("3月2日的事项已按时受理，响应率应为100%。")
    page.locator('[data-testid="objection-submit"]').click()
    page.wait_for_load_state()
    assert "济宁市" in page.locator(".alert-success").inner_text()
    assert page.locator('[data-testid="objection"]').is_visible()
    assert Objection.objects.get().result == Result.objects.get(run=published, unit=tree.lumiao)
    assert _overflow(page) <= 0


def test_grid_worker_awards_points_on_a_phone(browser, log_in, live_server, transactional_db, tree, users):
    p = points_setup(tree, None)
    page = log_in("lumiao_grid")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/points/households/{p.h1.pk}/")
    assert page.locator('[data-testid="balance"]').inner_text() == "0"
    page.locator('select[name="a-rule"]').select_option(str(p.volunteer.pk))
    page.locator('input[name="a-quantity"]').fill("6")
    page.locator('input[name="a-evidence"]').fill("志愿服务签到表")
    page.locator('[data-testid="award-submit"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="balance"]').inner_text() == "12"
    assert "志愿服务" in page.locator('[data-testid="entry"]').first.inner_text()
    assert _overflow(page) <= 0


def test_secretary_nominates_and_the_city_accepts_on_a_phone(browser, log_in, live_server, transactional_db, tree,
                                                             users):
    from bihuan.evaluation.models import Nomination

    r = services.create_round(users.city_admin, unit=tree.city, kind="vanguard", name="年度先锋", quota=150,
                              nominate_until="2099-12-31")
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/selections/")
    assert _overflow(page) <= 0
    page.locator('[data-testid="selection-row"] a').first.click()
    page.wait_for_load_state()
    page.locator('input[name="nominee"]').fill("张建国")
    page.locator('textarea[name="deeds"]').fill("带头推行垃圾分类")
    page.locator('[data-testid="nomination-submit"]').click()
    page.wait_for_load_state()
    assert "张建国" in page.locator('[data-testid="nomination-row"]').first.inner_text()
    assert _overflow(page) <= 0
    page.context.clear_cookies()
    page = log_in("city_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/selections/{r.pk}/")
    form = page.locator('[data-testid="review-form"]').first
    form.locator('input[name="citation"]').fill("垃圾分类的带头人")
    form.locator("button").click()
    page.wait_for_load_state()
    assert "垃圾分类的带头人" in page.locator('[data-testid="citation"]').first.inner_text()
    assert "1/150" in page.locator('[data-testid="selection-state"]').inner_text()
    assert Nomination.objects.get().state == "accepted"
    assert _overflow(page) <= 0
