"""On a phone: a village secretary opens "my tasks this week", checks in, and the map cell turns."""

from __future__ import annotations

import pytest

from bihuan.plans.models import CheckIn

from ..plans_helpers import make_current_plan

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def plan(transactional_db, tree, users):
    return make_current_plan(tree, users.city_admin)


def test_secretary_checks_in_on_a_phone_and_the_map_cell_changes(browser, log_in, live_server, tree, users, plan):
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/plans/{plan.plan.pk}/map/")
    cell = page.locator('[data-testid="map-row"]').first.locator('[data-testid="cell"]').first
    before = cell.get_attribute("data-status")
    assert before in ("not_started", "late")

    page.goto(f"{live_server.url}/plans/my/")
    cards = page.locator('[data-testid="my-task"]')
    assert cards.count() == 1
    card = cards.first
    assert "建成幸福食堂" in card.inner_text()
    assert _overflow(page) <= 0, "my tasks is wider than the phone"
    card.locator('input[name$="-value"]').fill("12")
    card.locator('textarea[name$="-note"]').fill("十二个幸福食堂全部建成")
    card.locator('[data-testid="checkin-submit"]').click()
    page.wait_for_load_state()
    assert "建成幸福食堂" in page.locator(".alert-success").inner_text()
    assert CheckIn.objects.get().value == 12

    page.goto(f"{live_server.url}/plans/{plan.plan.pk}/map/")
    cell = page.locator('[data-testid="map-row"]').first.locator('[data-testid="cell"]').first
    assert cell.get_attribute("data-status") == "done"
    assert cell.inner_text().strip() == "12"
    # The grid scrolls sideways inside its box; the page itself does not.
    assert _overflow(page) <= 0
    cell.click()
    page.wait_for_load_state()
    assert "十二个幸福食堂全部建成" in page.locator('[data-testid="checkins"]').inner_text()


@pytest.fixture
def sprint(transactional_db, tree, users):
    """A 50-day sprint of the city, day 10 today, with targets for two townships."""
    from datetime import timedelta

    from django.utils import timezone

    from bihuan.plans.services import campaigns

    start = timezone.localdate() - timedelta(days=9)
    return campaigns.create_campaign(None, unit=tree.city, title="大干五十天、冲刺四季度", starts_on=start,
                                     ends_on=start + timedelta(days=49), target_unit="万元", cadence="daily",
                                     targets=[(tree.liying, 100), (tree.xianying, 80)])


def test_township_checks_in_on_the_campaign_page_on_a_phone(browser, log_in, live_server, tree, users, sprint):
    from bihuan.plans.models import CampaignCheckIn

    page = log_in("liying_staff")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/plans/campaigns/")
    page.locator('[data-testid="campaign-row"] a').first.click()
    page.wait_for_load_state()
    assert "第 10 天 / 共 50 天" in page.locator('[data-testid="campaign-day"]').inner_text()
    assert "还剩 40 天" in page.locator('[data-testid="campaign-countdown"]').inner_text()
    # The leaderboard chart is drawn by ECharts (a canvas inside the box).
    page.wait_for_selector('[data-testid="campaign-chart"] canvas')
    assert _overflow(page) <= 0, "the campaign page is wider than the phone"
    form = page.locator('[data-testid="campaign-own"]').first
    form.locator('input[name$="-value"]').fill("120")
    form.locator('textarea[name$="-note"]').fill("新签约项目3个")
    form.locator('[data-testid="campaign-checkin-submit"]').click()
    page.wait_for_load_state()
    assert "大干五十天" in page.locator(".alert-success").inner_text()
    assert CampaignCheckIn.objects.get().value == 120
    first = page.locator('[data-testid="leader-row"]').first
    assert first.get_attribute("data-unit") == "李营街道"
    assert first.locator("[data-status]").get_attribute("data-status") == "done"
    assert _overflow(page) <= 0
