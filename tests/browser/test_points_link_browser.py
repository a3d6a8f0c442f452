"""points2 on a phone: a grid worker makes a household's balance link; a resident opens it without
an account and sees the balance, the masked name and the recent entries."""

from __future__ import annotations

import pytest

from bihuan.evaluation import services
from bihuan.people import services as people

from ..evaluation_helpers import points_setup
from ..loop_helpers import at

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_resident_opens_the_balance_link_on_a_phone(browser, log_in, live_server, transactional_db, tree, users):
    p = points_setup(tree, None)
    head = people.create_person(None, unit=tree.lumiao_g1, household=p.h1, name="张三丰", phone="13805370009")
    type(p.h1).objects.filter(pk=p.h1.pk).update(head=head)  # test setup only
    services.award(None, household=p.h1, rule=p.volunteer, quantity=6, now=at("2026-03-01 09:00"))
    page = log_in("lumiao_grid")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/evaluation/points/households/{p.h1.pk}/")
    page.locator('[data-testid="points-link-make"]').click()
    page.wait_for_load_state()
    url = page.locator('[data-testid="points-link-url"]').input_value()
    assert "/evaluation/points/my/" in url
    assert _overflow(page) <= 0

    ctx = browser.new_context(locale="zh-CN", viewport=PHONE)  # the resident: no session
    resident = ctx.new_page()
    try:
        resident.goto(url)
        assert resident.locator('[data-testid="balance"]').inner_text() == "12"
        assert "张**" in resident.locator('[data-testid="household"]').inner_text()
        body = resident.content()
        assert "张三丰" not in body and "13805370009" not in body
        assert "志愿服务" in resident.locator('[data-testid="entry"]').first.inner_text()
        assert _overflow(resident) <= 0
    finally:
        ctx.close()
