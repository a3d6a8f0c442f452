"""On a phone: a lecturer records a 微课堂 with a photo, an attendee rates it through the
feedback link without an account (real CSRF), and the coverage grid shows the gap first."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bihuan.activities.models import Feedback, Session
from tests.loop_helpers import PNG

from ..activities_helpers import make_lectures
from ..conftest import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_lecturer_records_a_session_and_an_attendee_rates_it_on_a_phone(browser, log_in, live_server, tree, users,
                                                                        tmp_path):
    login = make_user("wang_lecturer", tree.lumiao, "lecturer")
    x = make_lectures(tree, lecturer_login=login)
    page = log_in("wang_lecturer")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/activities/")
    assert "任城区青年宣讲团" in page.locator('[data-testid="my-profiles"]').inner_text()
    page.locator('[data-testid="record-session"]').click()
    page.wait_for_load_state()
    assert _overflow(page) <= 0, "the session form is wider than the phone"
    form = page.locator('[data-testid="session-form"]')
    form.locator("#id_lecturer").select_option(str(x.wang.pk))
    form.locator("#id_place").select_option(str(tree.xianying_v.pk))
    form.locator("#id_held_on").fill(timezone.localdate().isoformat())
    form.locator("#id_audience").select_option("youth")
    form.locator("#id_topic").fill("青春心向党")
    form.locator("#id_attendance").fill("36")
    photo = tmp_path / "课堂.png"
    photo.write_bytes(PNG)
    form.locator("#photos").set_input_files(str(photo))
    form.locator('[data-testid="session-submit"]').click()
    page.wait_for_load_state()
    s = Session.objects.get(topic="青春心向党")
    assert s.photos.count() == 1 and s.created_by == login
    assert page.locator('[data-testid="attendance"]').inner_text().strip() == "36"
    assert page.locator('[data-testid="qr"] svg').count() == 1
    link = page.locator('[data-testid="feedback-link"]').get_attribute("href")
    assert _overflow(page) <= 0

    # An attendee scans the QR code: another browser, no account.
    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)
    attendee = ctx.new_page()
    attendee.goto(link)
    assert "青春心向党" in attendee.content()
    attendee.locator('input[name="rating"][value="5"]').check()
    attendee.locator("#id_comment").fill("通俗易懂")
    attendee.locator('[data-testid="feedback-submit"]').click()
    attendee.wait_for_load_state()
    assert attendee.locator(".alert-success").count() == 1
    assert Feedback.objects.filter(session=s, rating=5).count() == 1
    # The same phone again: refused, nothing written.
    attendee.locator('input[name="rating"][value="1"]').check()
    attendee.locator('[data-testid="feedback-submit"]').click()
    attendee.wait_for_load_state()
    assert Feedback.objects.filter(session=s).count() == 1
    assert _overflow(attendee) <= 0
    ctx.close()

    # The district sees the coverage grid, the gap (no session this year) first.
    page.context.clear_cookies()
    page = log_in("rencheng_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/activities/coverage/")
    cells = page.locator('[data-testid="coverage-cell"]')
    assert cells.count() == 2
    assert _overflow(page) <= 0
    assert [cells.nth(i).get_attribute("data-sessions") for i in range(2)] == ["0", "1"]
