"""On a phone: the city admin enters 2027's New Year holiday; a village secretary opens the
notification centre from the badge in the top bar and goes to the matter."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.core.models import CalendarOverride
from bihuan.loop import notify, services
from bihuan.loop.models import Category

from ..loop_helpers import at, new_matter

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_city_admin_adds_a_2027_holiday_on_a_phone(page, log_in, live_server, users, transactional_db):
    page.set_viewport_size(PHONE)
    log_in("city_admin")
    page.goto(f"{live_server.url}/loop/config/calendar/?year=2027")
    assert page.locator('[data-year="2027"]').get_attribute("data-source") == "unknown"
    assert page.locator('[data-testid="year-unknown"]').is_visible()
    assert "2027" not in page.locator('[data-testid="package-years"]').inner_text().split("–")[0]
    assert _overflow(page) <= 0, "calendar page is wider than the phone"
    page.fill("#id_date", "2027-01-01")
    page.check('input[name="is_workday"][value="0"]')
    page.fill("#id_note", "元旦")
    page.locator('[data-testid="submit-override"]').click()
    page.wait_for_load_state()
    assert "2027-01-01 已设为休息日" in page.locator(".alert-success").inner_text()
    row = page.locator('[data-testid="override-row"]')
    assert row.count() == 1 and "元旦" in row.inner_text()
    assert page.locator('[data-year="2027"]').get_attribute("data-source") == "overrides"
    ov = CalendarOverride.objects.get()
    assert (ov.date, ov.is_workday, ov.note) == (date(2027, 1, 1), False, "元旦")


def test_secretary_opens_the_notification_centre_on_a_phone(page, log_in, live_server, users, tree,
                                                            transactional_db):
    road = Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3)
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"), title="村口路灯不亮")
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                          now=at("2026-11-02 10:00"))
    notify.notify(unit=tree.lumiao, matter=m, kind="remind", title="催办：村口路灯不亮", now=at("2026-11-03 09:00"))
    page.set_viewport_size(PHONE)
    log_in("lumiao_secretary")
    badge = page.locator('[data-testid="nav-notifications"]')
    assert badge.is_visible()  # in the top bar, without opening the menu
    assert page.locator('[data-testid="unread-count"]').inner_text() == "2"
    assert _overflow(page) <= 0, "top bar is wider than the phone"
    badge.click()
    page.wait_for_load_state()
    items = page.locator('[data-testid="notification"]')
    assert items.count() == 2 and items.first.get_attribute("data-read") == "0"
    assert "催办" in items.first.inner_text()
    assert _overflow(page) <= 0, "notification centre is wider than the phone"
    items.nth(1).locator('[data-testid="mark-read"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="unread-count"]').inner_text() == "1"
    page.locator('[data-testid="notification"]').first.locator('[data-testid="notification-open"]').click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/loop/{m.pk}/")
    assert page.locator('[data-testid="unread-count"]').count() == 0
