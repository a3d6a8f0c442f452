"""The menu with every app in it: one row of areas on a desktop, each a dropdown; inside the
collapsed menu on a phone. Every page of an area is reachable in two clicks."""

from __future__ import annotations

import pytest

from .test_loopfix_browser import DESKTOP, PHONE, open_as  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_desktop_menu_is_one_row_of_areas_and_opens_a_page(open_as, live_server, users, tree):  # noqa: F811
    pg = open_as("city_admin", DESKTOP)
    pg.goto(f"{live_server.url}/")
    groups = pg.locator('[data-testid^="nav-group-"]')
    assert groups.count() >= 4
    tops = {round(groups.nth(i).bounding_box()["y"]) for i in range(groups.count())}
    assert len(tops) == 1, tops  # one row, no entry broken into a column of characters
    assert groups.first.bounding_box()["height"] < 60
    pg.click('[data-testid="nav-group-admin"] > a')
    pg.click('[data-testid="nav-users"]')
    pg.wait_for_load_state()
    assert pg.url.endswith("/users/")


def test_phone_menu_opens_an_area_and_a_page(open_as, live_server, users, tree):  # noqa: F811
    pg = open_as("liying_staff", PHONE)
    pg.goto(f"{live_server.url}/")
    pg.click(".navbar-toggler")
    pg.click('[data-testid="nav-group-loop"] > a')
    link = pg.locator('[data-testid="nav-board"]')
    link.wait_for(state="visible")
    link.click()
    pg.wait_for_load_state()
    assert "/loop/board/" in pg.url
    assert pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
