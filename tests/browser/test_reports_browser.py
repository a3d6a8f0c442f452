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
