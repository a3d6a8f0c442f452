"""Issue 10's broken items, walked in Chromium the way the users met them: the grid worker and the
village secretary on a phone (390 px), township and city staff on a desktop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bihuan.core import audit
from bihuan.loop import notify, services
from bihuan.loop.models import Category, Matter, MatterEvent, State

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def road(transactional_db, users, tree):
    return Category.objects.create(code="road", name="道路破损", kind="problem", accept_hours=4, handle_days=3)


@pytest.fixture
def open_as(browser, live_server):
    """``open_as(username, viewport)`` → a page logged in through the form, in its own context."""
    contexts = []

    def _open(username, viewport):
        ctx = browser.new_context(locale="zh-CN", viewport=viewport)
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.set_default_timeout(15000)
        pg.goto(f"{live_server.url}/login/")
        pg.fill("#id_username", username)
        pg.fill("#id_password", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_load_state()
        return pg

    yield _open
    for ctx in contexts:
        ctx.close()


def _new(user, cat, unit, title="桥面塌陷", now=None):
    return services.create_matter(user, category=cat, location_unit=unit, title=title,
                                  description="村东头桥面塌陷一米见方。", now=now or timezone.now())


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


# --- 2. the reporter finds their own report ----------------------------------------------------------

def test_grid_worker_finds_their_report_and_hears_where_it_went(open_as, live_server, users, tree, road):
    grid = open_as("lumiao_grid", PHONE)
    grid.goto(f"{live_server.url}/loop/new/")
    assert grid.locator("#id_category option:checked").inner_text() == "请选择"  # item 8: no preselected category
    grid.select_option("#id_category", label="道路破损")
    grid.fill("#id_description", "村东头桥面塌陷一米见方，夜里很危险。")
    grid.locator('[data-testid="submit-report"]').click()
    grid.wait_for_load_state()
    m = Matter.objects.get()
    # Home: 我上报的 with where it stands.
    grid.goto(f"{live_server.url}/")
    mine = grid.locator('[data-testid="my-report"]')
    assert mine.count() == 1 and "待交办" in mine.inner_text() and "按时" in mine.inner_text()
    # The township dispatches it to 芦庙村.
    services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=timezone.now())
    grid.goto(f"{live_server.url}/loop/")
    grid.locator('[data-testid="tab-mine"]').click()
    grid.wait_for_load_state()
    row = grid.locator('[data-testid="matter-row"]')
    assert row.count() == 1 and "待签收" in row.inner_text() and "芦庙村" in row.inner_text()
    assert _overflow(grid) <= 0
    # A notification says where it went.
    grid.locator('[data-testid="nav-notifications"]').click()
    grid.wait_for_load_state()
    assert "您上报的事项已交办芦庙村" in grid.locator('[data-testid="notification-list"]').inner_text()


# --- 4. one definition of 在办 --------------------------------------------------------------------------

def test_board_and_backlog_show_the_same_open_count(open_as, live_server, users, tree, road):
    now = timezone.now()
    _new(users.lumiao_grid, road, tree.lumiao_g1, "等交办", now)  # 待交办: the board used to leave it out
    _new(None, road, tree.xuemiao, "薛庙待交办", now)
    m = _new(users.lumiao_grid, road, tree.lumiao_g1, "已交办", now)
    services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=now)
    city = open_as("city_admin", DESKTOP)
    city.goto(f"{live_server.url}/loop/board/{tree.city.pk}/")
    board_total = city.locator('[data-testid="total-open"]').inner_text()
    assert city.locator('[data-testid="total-to-dispatch"]').inner_text() == "2"
    city.goto(f"{live_server.url}/loop/backlog/{tree.city.pk}/")
    assert city.locator('[data-testid="backlog-total"]').inner_text() == board_total == "3"


# --- 5. waiting to be dispatched has a time limit ---------------------------------------------------------

def test_a_matter_waiting_since_last_year_is_red_and_counted_overdue(open_as, live_server, users, tree, road):
    m = _new(users.lumiao_grid, road, tree.lumiao_g1, "去年十二月的事", timezone.now() - timedelta(days=330))
    staff = open_as("liying_staff", DESKTOP)
    staff.goto(f"{live_server.url}/loop/?tab=to_dispatch")
    row = staff.locator('[data-testid="matter-row"]')
    assert "已超期" in row.inner_text()
    assert staff.locator('[data-testid="count-overdue"]').inner_text() == "1"
    staff.goto(f"{live_server.url}/loop/{m.pk}/")
    assert staff.locator('[data-light="red"]').first.is_visible()
    staff.goto(f"{live_server.url}/loop/backlog/{tree.liying.pk}/")
    assert int(staff.locator('[data-testid="backlog-red"]').inner_text()) == 1


# --- 6. accepting is the lead unit's act -------------------------------------------------------------------

def test_township_accepts_for_the_village_only_on_its_behalf_with_a_reason(open_as, live_server, users, tree, road):
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                          now=timezone.now())
    staff = open_as("liying_staff", DESKTOP)
    staff.goto(f"{live_server.url}/loop/{m.pk}/")
    assert staff.locator('[data-testid="action-accept"]').count() == 0  # not offered as its own act
    behalf = staff.locator('[data-testid="action-accept-on-behalf"]')
    assert "代芦庙村签收" in behalf.locator("summary").inner_text()
    behalf.locator("summary").click()
    behalf.locator('[data-testid="submit-accept-on-behalf"]').click()  # without ticking the box
    staff.wait_for_load_state()
    assert staff.url.endswith(f"/loop/{m.pk}/")
    assert "芦庙村本单位" in staff.locator('[data-testid="refused"]').inner_text()
    assert Matter.objects.get(pk=m.pk).state == State.DISPATCHED
    behalf = staff.locator('[data-testid="action-accept-on-behalf"]')
    behalf.locator("summary").click()
    behalf.locator("#id_accept_on_behalf").check()
    behalf.locator("#id_accept_on_behalf_reason").fill("村书记住院，街道代为签收")
    behalf.locator('[data-testid="submit-accept-on-behalf"]').click()
    staff.wait_for_load_state()
    assert staff.locator('[data-testid="matter-state"]').inner_text() == "办理中"
    ev = MatterEvent.objects.get(matter=m, action="accept")
    assert ev.data["on_behalf_reason"] == "村书记住院，街道代为签收"
    # The village secretary, on a phone, would have had the plain button.
    m2 = _new(users.lumiao_grid, road, tree.lumiao_g1, "第二件")
    services.dispatch(users.liying_staff, m2.pk, version=m2.version, handling_unit=tree.lumiao, now=timezone.now())
    sec = open_as("lumiao_secretary", PHONE)
    sec.goto(f"{live_server.url}/loop/{m2.pk}/")
    assert sec.locator('[data-testid="action-accept"]').count() == 1
    assert sec.locator('[data-testid="action-accept-on-behalf"]').count() == 0


# --- 7. post/redirect/get ----------------------------------------------------------------------------------

def test_refreshing_after_a_failed_action_does_not_post_it_again(open_as, live_server, users, tree, road):
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                          now=timezone.now())
    sec = open_as("lumiao_secretary", PHONE)
    sec.goto(f"{live_server.url}/loop/{m.pk}/")
    # Meanwhile the township flags it: the secretary's page is stale, so the accept is refused.
    m = services.flag(users.liying_staff, m.pk, version=m.version, comment="请加快", now=timezone.now())
    sec.locator('[data-testid="action-accept"] summary').click()
    sec.locator('[data-testid="submit-accept"]').click()
    sec.wait_for_load_state()
    assert sec.url.endswith(f"/loop/{m.pk}/")  # not /act/accept/
    assert sec.locator('[data-testid="stale-version"]').is_visible()
    posts = []
    sec.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    sec.reload()
    sec.wait_for_load_state()
    assert posts == [] and sec.locator('[data-testid="stale-version"]').count() == 0  # said once
    assert Matter.objects.get(pk=m.pk).version == m.version and Matter.objects.get(pk=m.pk).state == State.DISPATCHED


# --- 8. small ones -------------------------------------------------------------------------------------

def test_closed_list_is_in_the_order_of_the_dates_it_shows(open_as, live_server, users, tree, road):
    base = timezone.now() - timedelta(days=20)
    for i, title in enumerate(["先登记后办结", "后登记先办结"]):
        m = _new(users.lumiao_grid, road, tree.lumiao_g1, title, base + timedelta(days=i))
        m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                              now=base + timedelta(days=i))
        m = services.accept(users.lumiao_secretary, m.pk, version=m.version, now=base + timedelta(days=i))
        m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="好了",
                                 now=base + timedelta(days=i))
        services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True,
                          now=base + timedelta(days=10 - i * 5))
    staff = open_as("liying_staff", DESKTOP)
    staff.goto(f"{live_server.url}/loop/?tab=closed")
    shown = staff.locator('[data-testid="closed-at"]').all_inner_texts()
    assert len(shown) == 2 and shown == sorted(shown, reverse=True)


def test_phone_header_tabs_and_board_fit(open_as, live_server, users, tree, road):
    for i in range(120):
        notify.notify(unit=tree.lumiao, kind="remind", title=f"催办 {i}", now=timezone.now() - timedelta(hours=i))
    sec = open_as("lumiao_secretary", PHONE)
    sec.goto(f"{live_server.url}/loop/")
    assert sec.locator('[data-testid="unread-count"]').inner_text() == "99+"
    # The header stays one row: brand and the notification button on the same line.
    brand = sec.locator(".navbar-brand").bounding_box()
    bell = sec.locator('[data-testid="nav-notifications"]').bounding_box()
    assert abs(brand["y"] - bell["y"]) < brand["height"], (brand, bell)
    assert _overflow(sec) <= 0
    # The section tabs scroll sideways: 未诉先办 is reachable and opens.
    hot = sec.locator('[data-testid="loop-tabs"] a[href$="/loop/hotspots/"]')
    hot.scroll_into_view_if_needed()
    assert hot.is_visible()
    hot.click()
    sec.wait_for_load_state()
    assert sec.url.endswith("/loop/hotspots/")
    # The board's last column is inside the screen (or its table scrolls to it).
    sec.goto(f"{live_server.url}/loop/board/")
    last = sec.locator('[data-testid="board-table"] thead th:visible').last
    last.scroll_into_view_if_needed()
    box = last.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    assert _overflow(sec) <= 0
    # Notifications: 20 a page, grouped by day, far shorter than the 3,900 px of before.
    sec.goto(f"{live_server.url}/loop/notifications/")
    assert sec.locator('[data-testid="notification"]').count() == 20
    assert sec.locator('[data-testid="notification-day"]').count() >= 1
    height = sec.evaluate("() => document.documentElement.scrollHeight")
    assert height < 3000, height


# --- 9. words ----------------------------------------------------------------------------------------------

def test_words_on_the_pages(open_as, live_server, users, tree, road):
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=timezone.now())
    users.lumiao_grid.display_name = "王网格"
    users.lumiao_grid.save()
    # A too-long title: the message names the field (no "确保该变量…").
    grid = open_as("lumiao_grid", PHONE)
    grid.goto(f"{live_server.url}/loop/new/")
    grid.select_option("#id_category", label="道路破损")
    grid.fill("#id_description", "路灯不亮")
    grid.locator('[data-testid="report-form"] details summary').click()
    # as a browser that does not enforce maxlength (or a pasted text through an older one) sends it
    grid.evaluate("() => document.querySelector('#id_title').removeAttribute('maxlength')")
    grid.fill("#id_title", "长" * 130)
    grid.locator('[data-testid="submit-report"]').click()
    grid.wait_for_load_state()
    text = grid.locator('[data-testid="field-error-title"]').inner_text()
    assert "简短标题" in text or "标题" in text
    assert "120" in text and "变量" not in text
    # The timeline names people by their display name and the system as 系统.
    staff = open_as("liying_staff", DESKTOP)
    staff.goto(f"{live_server.url}/loop/{m.pk}/")
    actors = staff.locator('[data-testid="event-actor"]').all_inner_texts()
    assert actors[0].startswith("王网格") and "lumiao_grid" not in " ".join(actors)
    # The audit log names actions in Chinese.
    audit.record("loop.matter.evaluate", m)
    city = open_as("city_admin", DESKTOP)
    city.goto(f"{live_server.url}/audit/?action=loop.matter")
    names = " ".join(city.locator('[data-testid="audit-action"]').all_inner_texts())
    assert "结果评估" in names and "交办事项" in names
    # The resident's steps use a full-width colon: 已转交办理单位：芦庙村.
    demand = services.create_matter(None, category=road, location_unit=tree.lumiao, title="路灯", kind="demand",
                                    description="路灯不亮", source="public", now=timezone.now())
    services.dispatch(None, demand.pk, version=demand.version, handling_unit=tree.lumiao, now=timezone.now())
    grid.goto(f"{live_server.url}/demand/{demand.public_token}/")
    steps = grid.locator('[data-testid="steps"]').inner_text()
    assert "已转交办理单位：芦庙村" in steps and ": 芦庙村" not in steps


def test_the_reveal_form_says_which_number(transactional_db):
    from django.utils import translation

    from bihuan.people.forms import RevealForm

    with translation.override("zh-hans"):
        assert str(RevealForm().fields["field"].label) == "要查看的号码"
