"""On a phone (390 px): a township committee member opens their contact point, records a visit
that found a problem, and turns the problem into a loop matter with one click."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bihuan.activities.models import ContactVisit
from bihuan.loop.models import Matter

from ..party_life_helpers import make_party_life

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_member_records_a_visit_and_turns_its_problem_into_a_matter_on_a_phone(log_in, live_server, tree, users):
    make_party_life(tree, users)
    page = log_in("liying_staff")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/activities/party/contacts/")
    assert _overflow(page) <= 0, "the contact points page is wider than the phone"
    page.locator('[data-testid="my-contact"]').first.click()
    page.wait_for_load_state()
    assert _overflow(page) <= 0, "the contact point page is wider than the phone"
    form = page.locator('[data-testid="visit-form"]')
    form.locator("#id_visited_on").fill(timezone.localdate().isoformat())
    form.locator("#id_topic").fill("入户走访困难党员")
    form.locator("#id_problems").fill("村口路灯不亮，联系人电话 13812345678")
    form.locator('[data-testid="visit-submit"]').click()
    page.wait_for_load_state()
    v = ContactVisit.objects.get(topic="入户走访困难党员")
    first = page.locator('[data-testid="visit"]').first
    assert "路灯不亮" in first.inner_text() and "13812345678" not in first.inner_text()
    first.locator('[data-testid="to-matter"]').click()
    page.wait_for_load_state()
    v.refresh_from_db()
    m = Matter.objects.get(pk=v.matter_id)
    assert "路灯不亮" in m.description and m.location_unit_id == tree.lumiao.pk
    assert page.locator('[data-testid="visit"]').first.locator('[data-testid="visit-matter"]').count() == 1
    assert page.locator('[data-testid="to-matter"]').count() == 1  # the older visit's problem is still open
    assert _overflow(page) <= 0


def test_party_life_pages_fit_a_phone(log_in, live_server, tree, users):
    x = make_party_life(tree, users)
    page = log_in("rencheng_admin")
    page.set_viewport_size(PHONE)
    for path in ("/activities/party/elections/", f"/activities/party/orgs/{x.lumiao_branch.pk}/",
                 "/activities/party/contacts/", "/activities/party/reviews/",
                 f"/activities/party/reviews/{x.review.pk}/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("h2").first.is_visible()
        assert _overflow(page) <= 0, f"{path} is wider than the phone"
