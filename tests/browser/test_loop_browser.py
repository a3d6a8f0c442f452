"""A grid worker reports a problem from a phone; the township finds it in its inbox and dispatches it."""

from __future__ import annotations

import pytest

from bihuan.loop.models import Category, Matter, State

from ..loop_helpers import PNG

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def road(transactional_db, users, tree):
    return Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3)


def test_grid_worker_reports_on_a_phone_and_the_township_dispatches(browser, log_in, live_server, users, tree,
                                                                    road):
    page = log_in("lumiao_grid")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/loop/new/")
    form = page.locator('[data-testid="report-form"]')
    # The place is already the worker's grid; only what and a photo are needed.
    assert page.locator("#id_location option:checked").inner_text() == "芦庙村第一网格"
    page.select_option("#id_category", label="道路破损")
    page.fill("#id_description", "村东头桥面塌陷一米见方，夜里很危险。")
    page.set_input_files("#id_photos", files=[{"name": "桥面.png", "mimeType": "image/png", "buffer": PNG}])
    assert _overflow(page) <= 0, "report form is wider than the phone"
    form.locator('[data-testid="submit-report"]').click()
    page.wait_for_load_state()
    title = page.locator('[data-testid="matter-title"]').inner_text()
    assert "道路破损：村东头桥面塌陷" in title
    assert page.locator('[data-testid="attachments"]').inner_text() == "桥面.png"
    m = Matter.objects.get()
    assert m.location_unit == tree.lumiao_g1 and m.state == State.NEW and m.attachments.count() == 1

    # The township dispatcher, on a phone too.
    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)
    staff = ctx.new_page()
    staff.set_default_timeout(15000)
    staff.goto(f"{live_server.url}/login/")
    staff.fill("#id_username", "liying_staff")
    from tests.conftest import PASSWORD

    staff.fill("#id_password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_load_state()
    staff.goto(f"{live_server.url}/loop/")
    assert staff.locator('[data-testid="count-to_dispatch"]').inner_text() == "1"
    rows = staff.locator('[data-testid="matter-row"]')
    assert rows.count() == 1
    row_text = rows.first.inner_text()
    assert "村东头桥面塌陷" in row_text and "按时" in row_text  # the light in words
    assert _overflow(staff) <= 0, "inbox is wider than the phone"
    rows.first.locator("a").first.click()
    staff.wait_for_load_state()
    assert "李营街道" in staff.locator('[data-testid="suggestion"]').inner_text()
    staff.locator('[data-testid="action-dispatch"] summary').click()
    staff.select_option("#id_dispatch_handling_unit", label="芦庙村")
    staff.fill("#id_dispatch_comment", "请芦庙村两日内处理")
    staff.locator('[data-testid="submit-dispatch"]').click()
    staff.wait_for_load_state()
    assert staff.locator('[data-testid="lead-unit"]').inner_text() == "芦庙村"
    m.refresh_from_db()
    assert m.state == State.DISPATCHED and m.handling_unit == tree.lumiao and m.version == 2
    assert "请芦庙村两日内处理" in staff.locator('[data-testid="timeline"]').inner_text()
    assert _overflow(staff) <= 0, "matter page is wider than the phone"
    ctx.close()


def test_resident_submits_a_demand_on_a_phone_and_follows_it(page, live_server, users, tree, transactional_db):
    Category.objects.create(code="water", name="供水供暖", kind="demand", open311_code="water")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/demand/?unit={tree.lumiao.code}")
    assert page.input_value("#id_place") == "芦庙村"  # from the village's QR code
    page.fill("#id_description", "自来水停了两天。")
    page.fill("#id_phone", "13900003333")
    assert _overflow(page) <= 0, "demand form is wider than the phone"
    page.locator('[data-testid="submit-demand"]').click()
    page.wait_for_load_state()
    m = Matter.objects.get()
    assert page.url.endswith(f"/demand/{m.public_token}/")
    assert m.public_token in page.locator('[data-testid="tracking-link"]').inner_text()
    assert "139****3333" in page.locator('[data-testid="reporter"]').inner_text()
    assert "13900003333" not in page.content()
    assert _overflow(page) <= 0, "status page is wider than the phone"
    assert not errors, errors


def test_backlog_chart_draws_under_the_content_security_policy(log_in, live_server, users, tree, road):
    from bihuan.loop import services

    services.create_matter(users.lumiao_grid, category=road, location_unit=tree.lumiao_g1, title="路面",
                           description="路面有坑")
    page = log_in("liying_staff")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/loop/backlog/")
    assert page.locator('[data-testid="backlog-total"]').inner_text() == "1"
    page.wait_for_selector("#backlog-chart canvas")
    assert not errors, errors


def test_resident_submits_follows_and_rates_a_demand_on_a_phone(browser, live_server, users, tree,
                                                                transactional_db):
    """The whole resident path in Chromium: submit, follow the tracking link, rate after closure.

    The rating is a real cross-page POST, so the browser's CSRF headers (Origin, Referer) are the
    ones the tracking page's Referrer-Policy lets through; the test client cannot show that."""
    from bihuan.loop import services
    from bihuan.loop.models import Rating

    Category.objects.create(code="water", name="供水供暖", kind="demand", open311_code="water")
    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    forbidden = []
    page.on("response", lambda r: forbidden.append(r.url) if r.status == 403 else None)
    page.goto(f"{live_server.url}/demand/")
    page.select_option("#id_category", label="供水供暖")
    page.fill("#id_place", "芦庙村")
    page.fill("#id_description", "自来水停了两天，老人做饭没有水。")
    page.fill("#id_phone", "13900004444")
    page.locator('[data-testid="submit-demand"]').click()
    page.wait_for_load_state()
    link = page.locator('[data-testid="tracking-link"]').inner_text().strip()
    m = Matter.objects.get()
    assert link == f"{live_server.url}/demand/{m.public_token}/"
    ctx.close()

    # Days later, on the same phone, the resident opens the link they kept.
    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.on("response", lambda r: forbidden.append(r.url) if r.status == 403 else None)
    page.goto(link)
    assert page.locator('[data-testid="public-state"]').inner_text() == "在办 · 待交办"
    assert page.locator('[data-testid="rating-form"]').count() == 0  # nothing to rate yet

    # Staff handle it to the end (their pages have their own browser tests).
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao)
    m = services.accept(users.lumiao_secretary, m.pk, version=m.version)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已恢复供水")
    services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True)

    page.reload()
    assert page.locator('[data-testid="public-state"]').inner_text() == "已办结"  # once, not "已办结 · 已办结"
    assert "芦庙村" in page.locator('[data-testid="agency"]').inner_text()
    form = page.locator('[data-testid="rating-form"]')
    form.get_by_label("满意", exact=True).check()
    form.get_by_label("是", exact=True).check()
    page.fill("#id_comment", "当天就通水了，谢谢。")
    assert _overflow(page) <= 0, "rating form is wider than the phone"
    form.locator('[data-testid="submit-rating"]').click()
    page.wait_for_load_state()
    assert not forbidden, forbidden
    assert page.url == link  # post/redirect/get back to the tracking page
    assert "感谢" in page.content()
    rated = page.locator('[data-testid="rated"]').inner_text()
    assert "满意" in rated and "已解决" in rated
    assert page.locator('[data-testid="rating-form"]').count() == 0
    rating = Rating.objects.get(matter=m)
    assert (rating.satisfaction, rating.resolved, rating.by_resident, rating.comment) == (
        "satisfied", True, True, "当天就通水了，谢谢。")
    ctx.close()
