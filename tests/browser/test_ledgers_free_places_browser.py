"""On a phone: a township worker opens a resident's demand (a bed for an elderly resident), taps
"find a free place", picks 床位 and sees the township's providers with free places first."""

from __future__ import annotations

import pytest

from bihuan.ledgers import services
from bihuan.loop import services as loop_services

from ..ledgers_helpers import load
from ..loop_helpers import at, make_categories

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_a_demand_is_matched_to_a_free_bed_on_a_phone(browser, log_in, live_server, transactional_db, tree, users):
    r = load()["service_capacity"]
    for unit, provider, cap, occ in ((tree.liying, "李营养老院", 100, 97), (tree.liying, "李营幸福院", 30, 10),
                                     (tree.liying, "李营满员院", 40, 40), (tree.xianying, "仙营敬老院", 60, 55)):
        services.create_entry(None, r, unit=unit, values={"kind": "床位", "provider": provider, "capacity": cap,
                                                          "occupied": occ, "free": cap - occ})
    _road, water = make_categories()
    m = loop_services.create_matter(None, category=water, location_unit=tree.lumiao_g1, title="独居老人需要养老床位",
                                    description="芦庙村独居老人需要养老床位。", kind="demand", now=at("2026-11-02 09:00"))
    page = log_in("liying_staff")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/loop/{m.pk}/")
    page.locator('[data-testid="find-free-place"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="free-unit"]').input_value() == tree.liying.code  # prefilled from the matter
    page.locator('[data-testid="free-kind"]').select_option("床位")
    page.locator('[data-testid="free-search"]').click()
    page.wait_for_load_state()
    rows = page.locator('[data-testid="free-row"]')
    assert rows.count() == 2  # the staff's township only; the full one is not offered
    assert "李营幸福院" in rows.nth(0).inner_text() and rows.nth(0).locator('[data-testid="free-n"]').inner_text() == "20"
    assert "李营养老院" in rows.nth(1).inner_text()
    assert _overflow(page) <= 0, "the free-place page is wider than the phone"


def test_city_admin_defines_a_dictionary_on_a_phone(browser, log_in, live_server, transactional_db, tree, users):
    from bihuan.ledgers.models import Dictionary

    page = log_in("city_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/ledgers/")
    page.locator('[data-testid="dictionaries"]').click()
    page.wait_for_load_state()
    form = page.locator('[data-testid="dictionary-form"]')
    form.locator('input[name="code"]').fill("education")
    form.locator('input[name="name"]').fill("学历")
    form.locator('textarea[name="choices"]').fill("初中及以下\n高中\n本科")
    form.locator('[data-testid="dictionary-save"]').click()
    page.wait_for_load_state()
    assert "学历" in page.locator('[data-testid="dictionary-list"]').inner_text()
    assert Dictionary.objects.get().choices == ["初中及以下", "高中", "本科"]
    assert _overflow(page) <= 0, "the dictionaries page is wider than the phone"
