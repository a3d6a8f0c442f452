"""A grid worker on a phone sees the households of their grid and who looks after each."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.people import services
from bihuan.people.validators import build_id_number

pytestmark = pytest.mark.browser


@pytest.fixture
def grid_households(transactional_db, users, tree):
    carer = services.create_person(None, unit=tree.lumiao_g1, name="李建国", party_status="formal",
                                   id_number=build_id_number("370811", date(1968, 5, 1), 51))
    for i in range(3):
        head = services.create_person(None, unit=tree.lumiao_g1, name=f"王{'一二三'[i]}爷",
                                      id_number=build_id_number("370811", date(1944, 1, 1 + i), 11),
                                      phone=f"1391234567{i}")
        services.create_household(None, unit=tree.lumiao_g1, address=f"芦庙村{i + 1}号", head=head,
                                  carer=carer if i < 2 else None)
    # Another grid's household must not show.
    other = services.create_person(None, unit=tree.lumiao_g2, name="赵外格",
                                   id_number=build_id_number("370811", date(1950, 1, 1), 11))
    services.create_household(None, unit=tree.lumiao_g2, address="芦庙村99号", head=other)
    return users, tree


def test_grid_worker_sees_their_grid_on_a_phone(log_in, grid_households, live_server):
    users, tree = grid_households
    page = log_in("lumiao_grid")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/people/grids/")
    links = page.locator('[data-testid="grid-link"]')
    assert links.count() == 1 and "芦庙村第一网格" in links.inner_text()
    links.first.click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="grid-title"]').inner_text() == "芦庙村第一网格"
    rows = page.locator('[data-testid="household-row"]')
    assert rows.count() == 3
    text = page.locator('[data-testid="household-table"]').inner_text()
    assert "芦庙村1号" in text and "李建国" in text and "芦庙村99号" not in text
    assert page.locator('[data-testid="carer-list"]').inner_text().count("李建国") == 1
    overflow = page.evaluate("() => document.body.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"grid page overflows by {overflow}px"
    # The household page shows members masked; no full phone anywhere.
    rows.first.locator("a").click()
    page.wait_for_load_state()
    assert "13912345670" not in page.content()
    assert "370811********" in page.locator('[data-testid="member-table"]').inner_text()
