"""On a phone: a volunteer opens today's visits, calls the resident (audited), checks lunch in,
and the village secretary's care board counts it."""

from __future__ import annotations

import pytest

from bihuan.care.models import Visit
from bihuan.core.models import AuditEntry

from ..care_helpers import make_care_today

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def care(transactional_db, tree, users):
    return make_care_today(tree, users)


def test_volunteer_does_the_round_on_a_phone(browser, log_in, live_server, tree, users, care):
    page = log_in(care.volunteer.username)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/care/round/")
    cards = page.locator('[data-testid="visit"]')
    assert cards.count() == 2
    lunch = cards.first
    assert "李大爷" in lunch.inner_text() and "芦庙村东街8号" in lunch.inner_text()
    assert lunch.locator('[data-testid="visit-phone"]').inner_text() == "138****0001"
    assert _overflow(page) <= 0, "today's visits is wider than the phone"

    lunch.locator('[data-testid="call"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="tel-link"]').get_attribute("href") == "tel:13805370001"
    assert AuditEntry.objects.filter(action="people.person.reveal", actor_id=care.volunteer.pk).exists()

    page.goto(f"{live_server.url}/care/round/")
    lunch = page.locator('[data-testid="visit"]').first
    lunch.locator('textarea').fill("送了饺子，聊了一会儿")
    lunch.locator('[data-testid="checkin-done"]').click()
    page.wait_for_load_state()
    assert "李大爷" in page.locator(".alert-success").inner_text()
    assert page.locator('[data-testid="visit"]').first.get_attribute("data-status") == "done"
    v = Visit.objects.get(day=care.today, kind="meal")
    assert (v.outcome, v.note) == ("done", "送了饺子，聊了一会儿")

    page.context.clear_cookies()
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/care/?unit={tree.lumiao.pk}")
    assert page.locator('[data-testid="count-total"]').inner_text() == "2"
    assert page.locator('[data-testid="count-done"]').inner_text() == "1"
    assert page.locator('[data-testid="count-due"]').inner_text() == "1"
    assert _overflow(page) <= 0, "the care board is wider than the phone"


def test_canteen_ticks_a_meal_served_on_a_phone(browser, log_in, live_server, tree, users, care):
    from bihuan.care import services
    from bihuan.care.models import MealServed

    canteen = services.create_canteen(users.lumiao_secretary, unit=tree.lumiao, name="芦庙村幸福食堂", seats=40)
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/care/canteens/?unit={tree.lumiao.pk}")
    page.locator('[data-testid="canteen-row"]').first.click()
    page.wait_for_load_state()
    row = page.locator('[data-testid="meal-row"]').first
    assert "李大爷" in row.inner_text() and row.get_attribute("data-served") == "0"
    assert page.locator('[data-testid="count-needed"]').inner_text() == "1"
    assert _overflow(page) <= 0, "the canteen's day is wider than the phone"

    row.locator('[data-testid="serve-eat_in"]').click()
    page.wait_for_load_state()
    assert "李大爷" in page.locator(".alert-success").inner_text()
    assert page.locator('[data-testid="meal-row"]').first.get_attribute("data-served") == "1"
    assert page.locator('[data-testid="count-served"]').inner_text() == "1"
    m = MealServed.objects.get()
    assert (m.canteen_id, m.person_id, m.meal, m.mode) == (canteen.pk, care.resident.pk, "lunch", "eat_in")

    page.locator('[data-testid="month-link"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="total-served"]').inner_text() == "1"
    assert _overflow(page) <= 0, "the monthly summary is wider than the phone"
