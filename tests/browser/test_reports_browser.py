"""On a phone: a county administrator drafts the weekly bulletin, writes the requirements, issues
it (第1期), and opens the command dashboard with its trend chart."""

from __future__ import annotations

import pytest

from bihuan.reports.models import Bulletin

from ..reports_helpers import WEEK, make_week

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def week(transactional_db, tree, users):
    return make_week(tree, users)


def test_county_drafts_edits_and_issues_a_bulletin_on_a_phone(browser, log_in, live_server, tree, users, week):
    page = log_in("rencheng_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/reports/")
    assert _overflow(page) <= 0, "the bulletin list is wider than the phone"
    form = page.locator('[data-testid="draft-form"]')
    form.locator('select[name="template"]').select_option("weekly_loop")
    form.locator('select[name="unit"]').select_option(str(tree.rencheng.pk))
    form.locator('input[name="period"]').fill(WEEK)
    page.locator('[data-testid="draft-submit"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="state-draft"]').is_visible()
    section = page.locator('[data-testid="section"]').first
    assert "仙营街道" in section.locator('[data-testid="behind"]').inner_text()
    assert "李营街道" in section.locator('[data-testid="ahead"]').inner_text()
    assert page.locator('[data-testid="chart"]').first.evaluate("img => img.complete && img.naturalWidth > 0")
    assert _overflow(page) <= 0, "the draft is wider than the phone"
    page.locator('textarea[name="text"]').fill("仙营街道本周五前清零超期事项。")
    page.locator('[data-testid="text-save"]').click()
    page.wait_for_load_state()
    page.locator('[data-testid="issue"]').click()
    page.wait_for_load_state()
    assert "第1期" in page.locator('[data-testid="bulletin-number"]').inner_text()
    assert "仙营街道本周五前清零超期事项。" in page.locator('[data-testid="paragraph"]').first.inner_text()
    b = Bulletin.objects.get()
    assert b.number == 1 and b.paragraphs == ["仙营街道本周五前清零超期事项。"]

    page.goto(f"{live_server.url}/reports/dashboard/")
    page.wait_for_selector('[data-testid="dashboard-trend"][data-ready="1"]')
    assert "李营街道" in page.locator('[data-testid="dashboard-children"]').inner_text()
    assert _overflow(page) <= 0, "the dashboard is wider than the phone"


def _phone_login(browser, live_server, username):
    from tests.conftest import PASSWORD

    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return ctx, page


def test_village_secretary_and_grid_worker_land_on_their_work_on_a_phone(browser, live_server, tree, users, week):
    from bihuan.loop import services as loop
    from tests.loop_helpers import at, new_matter

    m = new_matter(users.lumiao_secretary, week, tree.lumiao_g2, at("2026-11-12 08:00"), title="井盖缺失")
    loop.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=at("2026-11-12 08:30"))

    ctx, page = _phone_login(browser, live_server, "lumiao_secretary")
    try:
        work = page.locator('[data-testid="home-loop-work"]')
        assert work.is_visible(), "the village secretary does not land on their work"
        assert "1" in page.locator('[data-testid="home-tab-to_accept"]').inner_text()
        assert "井盖缺失" in work.locator('[data-testid="home-matter"]').first.inner_text()
        assert _overflow(page) <= 0, "the secretary's home page is wider than the phone"
        page.locator('[data-testid="home-tab-to_accept"]').click()
        page.wait_for_load_state()
        assert "井盖缺失" in page.content()
    finally:
        ctx.close()

    ctx, page = _phone_login(browser, live_server, "lumiao_grid")
    try:
        button = page.locator('[data-testid="home-report"]')
        assert button.is_visible() and button.bounding_box()["width"] > 300, "no large 上报问题 button"
        assert page.locator('[data-testid="home-loop-work"]').is_visible()
        assert _overflow(page) <= 0, "the grid worker's home page is wider than the phone"
    finally:
        ctx.close()


def test_county_dashboard_panels_draw_on_a_phone(browser, live_server, tree, users, week):
    ctx, page = _phone_login(browser, live_server, "rencheng_admin")
    try:
        page.goto(f"{live_server.url}/reports/dashboard/?unit={tree.rencheng.pk}")
        page.wait_for_selector('[data-testid="loop-backlog-chart"][data-ready="1"]')
        assert page.locator('[data-testid="loop-red"]').inner_text().strip().isdigit()
        assert "仙营街道" in page.locator('[data-testid="loop-top-units"]').inner_text()
        assert _overflow(page) <= 0, "the dashboard with its panels is wider than the phone"
    finally:
        ctx.close()


# --- h-reports2: star ratings and care visits panels; the supervision board as a chart -----------

def test_stars_and_care_panels_and_the_board_chart_on_a_phone(browser, live_server, tree, users, week):
    from bihuan.evaluation import services as evaluation
    from tests.care_helpers import make_care_today
    from tests.evaluation_helpers import H1, score_all, village_set
    from tests.loop_helpers import at

    s = village_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)
    evaluation.publish(users.city_admin, evaluation.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00")),
                       now=at("2026-07-03 10:00"))
    make_care_today(tree, users)
    ctx, page = _phone_login(browser, live_server, "rencheng_admin")
    try:
        page.goto(f"{live_server.url}/reports/dashboard/?unit={tree.rencheng.pk}")
        page.wait_for_selector('[data-testid="stars-chart"][data-ready="1"]')
        assert "★★★★★ 2" in page.locator('[data-testid="stars-distribution"]').inner_text()  # 芦庙村, 仙营社区
        assert page.locator('[data-testid="care-total"]').inner_text().strip() == "2"
        assert _overflow(page) <= 0, "the dashboard with the stars and care panels is wider than the phone"
        page.locator('[data-testid="stars-ranking"]').click()
        page.wait_for_load_state()
        assert "/evaluation/runs/" in page.url
        page.goto(f"{live_server.url}/loop/board/{tree.rencheng.pk}/")
        page.locator('[data-testid="figures-link"]').click()
        page.wait_for_load_state()
        assert "李营街道" in page.locator('[data-testid="figures-table"]').inner_text()
        assert page.locator('[data-testid="figures-chart"]').evaluate("img => img.complete && img.naturalWidth > 0")
        wide = page.evaluate("() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))")
        assert _overflow(page) <= 0, f"the board's figures are wider than the phone: {wide}"
    finally:
        ctx.close()
