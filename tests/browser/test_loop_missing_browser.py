"""Issue 10, "Missing" 1–5, as users meet them in real Chromium: the grid worker's location and
photos on a phone, the village's progress notes, the public list with the copied link and QR
code, and the township's performance page with its chart and XLSX."""

from __future__ import annotations

import io

import openpyxl
import pytest
from PIL import Image

from bihuan.loop import services
from bihuan.loop.models import Category, Matter, MatterEvent, Source, State
from bihuan.orgs.models import OrgUnit

from ..conftest import PASSWORD
from ..loop_helpers import jpeg_with_gps

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def cats(transactional_db, users, tree):
    road = Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3)
    water = Category.objects.create(code="water", name="供水问题", kind="demand", accept_hours=2, handle_days=5,
                                    open311_code="water")
    return road, water


def _context(browser, live_server, username=None, **kw):
    ctx = browser.new_context(locale="zh-CN", **kw)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    if username:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return ctx, page


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def _thumb_loaded(page, selector: str) -> bool:
    page.wait_for_function("s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector)
    return page.evaluate("s => document.querySelector(s).naturalWidth > 0", selector)


def _in_progress_demand(tree, users, water):
    m = services.create_matter(None, category=water, location_unit=tree.lumiao, title="供水：北街停水",
                               description="北街停水两天了", kind="demand", source=Source.PUBLIC)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao)
    return services.accept(users.lumiao_secretary, m.pk, version=m.version)


def test_reporter_uses_the_phones_location_and_the_nearest_grid_is_suggested(browser, live_server, users,
                                                                                 tree, cats):
    OrgUnit.objects.filter(pk=tree.lumiao_g1.pk).update(centre_lat=35.4065, centre_lon=116.6052)
    OrgUnit.objects.filter(pk=tree.lumiao_g2.pk).update(centre_lat=35.4100, centre_lon=116.6100)
    # The village secretary stands in the second grid; their own unit (the village) is preselected.
    ctx, page = _context(browser, live_server, "lumiao_secretary", viewport=PHONE, permissions=["geolocation"],
                         geolocation={"latitude": 35.41005, "longitude": 116.60998})
    page.goto(f"{live_server.url}/loop/new/")
    assert page.locator("#id_location option:checked").inner_text() == "芦庙村"
    page.get_by_test_id("use-location").click()
    page.wait_for_selector('[data-testid="location-status"] .font-monospace')
    assert page.get_by_test_id("location-status").inner_text() == "35.410050, 116.609980"
    page.wait_for_selector('[data-testid="use-nearest-grid"]')
    assert "芦庙村第二网格" in page.get_by_test_id("nearest-grid").inner_text()
    page.get_by_test_id("use-nearest-grid").click()
    assert page.locator("#id_location option:checked").inner_text() == "芦庙村第二网格"
    page.select_option("#id_category", label="道路破损")
    page.fill("#id_description", "路面塌陷，有积水。")
    assert _overflow(page) <= 0
    page.get_by_test_id("submit-report").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("coordinates").inner_text().startswith("35.41005, 116.60998")
    m = Matter.objects.get()
    assert (m.location_unit_id, m.lat, m.lon) == (tree.lumiao_g2.pk, 35.41005, 116.60998)
    ctx.close()


def test_photos_show_as_thumbnails_without_the_phones_gps(browser, live_server, users, tree, cats):
    ctx, page = _context(browser, live_server, "lumiao_grid", viewport=PHONE)
    page.goto(f"{live_server.url}/loop/new/")
    page.select_option("#id_category", label="道路破损")
    page.fill("#id_description", "桥头护栏断了。")
    photo = jpeg_with_gps(1600, 1200)
    page.set_input_files("#id_photos", files=[{"name": "护栏.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.get_by_test_id("submit-report").click()
    page.wait_for_load_state()
    card = '[data-testid="attachments"] [data-testid="photo"] img'
    assert _thumb_loaded(page, card)
    assert _thumb_loaded(page, '[data-testid="timeline"] [data-testid="photo"] img')
    size = page.evaluate("s => [document.querySelector(s).naturalWidth, document.querySelector(s).naturalHeight]",
                         card)
    assert size == [240, 180]
    # What the page loaded carries no EXIF (no GPS position); the link opens the original.
    thumb = page.request.get(live_server.url + page.locator(card).get_attribute("src")).body()
    assert len(Image.open(io.BytesIO(thumb)).getexif()) == 0 and b"Exif" not in thumb
    page.locator('[data-testid="attachments"] [data-testid="photo"]').click()
    page.wait_for_load_state()
    assert page.evaluate("() => document.images[0].naturalWidth") == 1600
    ctx.close()


def test_village_adds_progress_with_a_photo_and_the_resident_sees_it(browser, live_server, users, tree, cats):
    _, water = cats
    m = _in_progress_demand(tree, users, water)
    ctx, page = _context(browser, live_server, "lumiao_secretary", viewport=PHONE)
    page.goto(f"{live_server.url}/loop/{m.pk}/")
    page.locator('[data-testid="action-progress"] summary').click()
    page.fill("#id_progress_comment", "已找到漏点，正在抢修。")
    page.set_input_files("#id_progress_photos",
                         files=[{"name": "抢修.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}])
    page.get_by_test_id("submit-progress").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("matter-state").inner_text() == "办理中"
    last = page.locator('[data-testid="event"]').last
    assert "办理进展" in last.inner_text() and "已找到漏点，正在抢修。" in last.inner_text()
    assert _thumb_loaded(page, '[data-testid="event"]:last-child [data-testid="photo"] img')
    assert Matter.objects.get(pk=m.pk).state == State.IN_PROGRESS
    assert MatterEvent.objects.filter(matter=m, action="progress").count() == 1
    ctx.close()

    # The dispatcher is told, and sees it on the matter.
    ctx, staff = _context(browser, live_server, "liying_staff")
    staff.goto(f"{live_server.url}/loop/notifications/")
    assert f"#{m.pk}" in staff.locator("body").inner_text()
    staff.goto(f"{live_server.url}/loop/{m.pk}/")
    assert "已找到漏点，正在抢修。" in staff.get_by_test_id("timeline").inner_text()
    ctx.close()

    # The resident, on their tracking link.
    ctx, resident = _context(browser, live_server, viewport=PHONE)
    resident.goto(f"{live_server.url}/demand/{m.public_token}/")
    assert resident.get_by_test_id("step-note").inner_text() == "已找到漏点，正在抢修。"
    assert _thumb_loaded(resident, '[data-testid="step-photo"] img')
    ctx.close()


def test_anyone_browses_a_townships_demands_and_copies_and_scans_a_tracking_link(browser, live_server, users,
                                                                                  tree, cats):
    _, water = cats
    m = _in_progress_demand(tree, users, water)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已修复，供水恢复。",
                             uploads=[services.Upload("修好.jpg", "image/jpeg", jpeg_with_gps())])
    services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True)
    ctx, page = _context(browser, live_server, viewport=PHONE,
                         permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/demands/")
    page.get_by_test_id("township").filter(has_text="李营街道").click()
    page.wait_for_load_state()
    card = page.get_by_test_id("public-demand")
    assert card.count() == 1
    text = card.inner_text()
    assert "供水问题" in text and "芦庙村" in text and "已办结" in text and "已修复，供水恢复。" in text
    assert "北街停水两天了" not in page.content()
    assert _thumb_loaded(page, '[data-testid="closing-photo"] img')
    assert _overflow(page) <= 0

    page.goto(f"{live_server.url}/demand/{m.public_token}/")
    link = f"{live_server.url}/demand/{m.public_token}/"
    assert page.get_by_test_id("tracking-link").input_value() == link
    page.get_by_test_id("copy-link").click()
    page.wait_for_function("() => document.querySelector('[data-testid=copy-link]').textContent === '已复制'")
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    page.locator('[data-testid="qr"] summary').click()
    box = page.locator('[data-testid="qr"] svg').bounding_box()
    assert box and box["width"] >= 100
    ctx.close()


def test_township_reads_its_performance_chart_and_downloads_the_xlsx(browser, live_server, users, tree, cats):
    _, water = cats
    m = _in_progress_demand(tree, users, water)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="好了")
    services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True)
    ctx, page = _context(browser, live_server, "liying_staff", viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/loop/")
    page.get_by_role("link", name="绩效").click()
    page.wait_for_load_state()
    rows = page.get_by_test_id("performance-row")
    assert rows.count() == 1 and rows.first.inner_text().startswith("芦庙村")
    assert "100.0" in rows.first.inner_text()  # accepted in time: a response rate of 100 %
    page.wait_for_selector('#performance-chart[data-ready="1"] canvas')
    with page.expect_download() as info:
        page.get_by_test_id("download-xlsx").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    with open(info.value.path(), "rb") as f:
        wb = openpyxl.load_workbook(io.BytesIO(f.read()))
    header, first = list(wb.active.iter_rows(values_only=True))[:2]
    assert header[:5] == ("组织单元", "响应率", "按期办结率", "解决率", "满意率") and first[0] == "芦庙村"
    ctx.close()
