"""What a person does in the browser: log in, browse their part of the tree, hit a 404, switch language."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def people(transactional_db, users, tree):
    return users, tree


def test_village_secretary_logs_in_and_sees_the_village(log_in, people, live_server):
    page = log_in("lumiao_secretary")
    assert page.url.rstrip("/") == live_server.url
    assert "芦庙村" in page.locator('[data-testid="scope-units"]').inner_text()
    page.click('[data-testid="scope-units"] a')
    assert page.locator('[data-testid="unit-name"]').inner_text() == "芦庙村"
    assert page.locator('[data-testid="unit-row"]').count() == 2


def test_unit_of_another_county_is_a_404_page(log_in, people, live_server):
    _, tree = people
    page = log_in("lumiao_secretary")
    resp = page.goto(f"{live_server.url}/orgs/{tree.xuemiao.pk}/")
    assert resp.status == 404
    assert page.locator('[data-testid="not-found"]').is_visible()
    assert "薛庙社区" not in page.content()


def test_switch_language_to_english_and_back(log_in, people, live_server):
    page = log_in("lumiao_secretary")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "退出" in page.content()
    page.click('[data-testid="lang-switch"]')
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Log out" in page.content()
    page.click('[data-testid="lang-switch"]')
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "退出" in page.content()


def test_tree_page_fits_a_phone(log_in, people, live_server):
    users, tree = people
    page = log_in("rencheng_admin")
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (f"{live_server.url}/orgs/", f"{live_server.url}/orgs/{tree.liying.pk}/"):
        page.goto(url)
        overflow = page.evaluate("() => document.body.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} overflows by {overflow}px"


def test_searching_below_a_unit_swaps_only_the_table(log_in, people, live_server):
    """htmx: the search result replaces the children card; the page itself is not reloaded."""
    _, tree = people
    page = log_in("rencheng_admin")
    page.goto(f"{live_server.url}/orgs/{tree.rencheng.pk}/")
    page.evaluate("() => { window.__notReloaded = true; }")
    page.fill('[data-testid="unit-search"] input[name=q]', "芦庙")
    page.click('[data-testid="unit-search"] button[type=submit]')
    page.wait_for_url("**q=*")
    rows = page.locator('[data-testid="unit-row"]')
    rows.first.wait_for()
    assert "芦庙村" in rows.first.inner_text()
    assert page.evaluate("() => window.__notReloaded === true")
    assert page.locator('[data-testid="unit-name"]').inner_text() == "任城区"


def test_county_admin_creates_a_user_and_finds_it_in_the_audit_log(log_in, people, live_server):
    """Users page → new user bound to 李营街道 → the audit page lists the creation and binding."""
    page = log_in("rencheng_admin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/users/")
    page.click('[data-testid="action-user-create"]')
    form = page.locator('[data-testid="user-create-form"]')
    form.locator("input[name=username]").fill("liying_new")
    form.locator("input[name=password]").fill("Qiu-Feng-Lu-2026")
    form.locator("input[name=unit_code]").fill("370811008000")
    form.locator("select[name=role]").select_option(label="乡镇街道工作人员")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="user-name"]').inner_text().startswith("liying_new")
    assert page.locator('[data-testid="binding-row"][data-unit="370811008000"]').count() == 1
    page.goto(f"{live_server.url}/audit/")
    actions = page.locator('[data-testid="audit-row"]').evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert "accounts.user.create" in actions and "accounts.binding.create" in actions
    overflow = page.evaluate("() => document.body.scrollWidth - window.innerWidth")
    assert overflow <= 0
