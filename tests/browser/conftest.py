"""Browser fixtures: Debian Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _ensure_builtin_roles(config) -> None:
    from pytest_django.plugin import blocking_manager_key

    from bihuan.accounts.models import Role
    from bihuan.accounts.roles import ensure_builtin_roles

    with config.stash[blocking_manager_key].unblock():
        ensure_builtin_roles(Role)


@pytest.fixture(autouse=True)
def _builtin_roles(request, transactional_db):
    # An earlier transactional test may have flushed the roles the data migration made.
    _ensure_builtin_roles(request.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the flush that ends a live-server test, put the built-in roles back.

    Later transactional tests then find the database as migrations left it.
    """
    yield
    # After the last test the session teardown has already dropped the test database.
    if nextitem is not None and "transactional_db" in getattr(item, "fixturenames", ()):
        _ensure_builtin_roles(item.config)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(15000)
    yield pg
    ctx.close()


@pytest.fixture
def log_in(page, live_server):
    """Log in through the form, as a person would."""

    def _log_in(username: str, password: str | None = None):
        from tests.conftest import PASSWORD

        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password or PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return _log_in
