"""Shared fixtures: a small real tree (市 → 2 县区 → 街道 → 村 → 网格) and users bound across it.

Everything is built through the service functions, as the product does it.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.db import connection

from bihuan.accounts import services as account_services
from bihuan.accounts.models import Role
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level

PASSWORD = "Bihuan-Test-2026"


def pytest_collection_modifyitems(config, items):
    """Browser tests run when Chromium is here; with BIHUAN_REQUIRE_BROWSER=1 its absence fails."""
    has_chromium = os.path.exists("/usr/bin/chromium")
    required = os.environ.get("BIHUAN_REQUIRE_BROWSER") == "1"
    for item in items:
        if "browser" in item.keywords and not has_chromium:
            if required:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_chromium"))
            else:
                item.add_marker(pytest.mark.skip(reason="Chromium (/usr/bin/chromium) not installed"))


@pytest.fixture(autouse=True)
def _fast_hasher(request, settings):
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_shared_copies():
    """A test's rows go with its rolled-back transaction: the process's shared copies of calendar
    overrides (core.calendar) and of bindings (accounts.models) must not outlive the test."""
    from bihuan.accounts.models import forget_shared_bindings
    from bihuan.core.calendar import forget_overrides

    forget_overrides()
    forget_shared_bindings()
    yield
    forget_overrides()
    forget_shared_bindings()


@pytest.fixture(autouse=True)
def _builtin_roles_after_flush(request):
    """A transactional test starts after another one's flush, which empties every table, the
    migrations' data included: put the built-in roles back, for every such test, in one place."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction", bool(marker.args and marker.args[0])):
        return
    request.getfixturevalue("transactional_db")
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(Role)


@pytest.fixture(autouse=True)
def _jobs_inline(request, settings, monkeypatch):
    """Background tasks (web imports) run inline, in the test's transaction: django-q2's sync mode.

    django-q2 reads ``Q_CLUSTER`` once, at import, so the setting and its ``Conf`` change together.
    Sealing the audit log right after each commit is off (tests seal when they mean to); the
    ``queued_jobs`` marker keeps tasks in the queue, for tests of the worker itself.
    """
    from django_q.conf import Conf

    sync = "queued_jobs" not in request.keywords
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": sync}
    monkeypatch.setattr(Conf, "SYNC", sync)
    settings.BIHUAN_AUDIT_SEAL_ON_COMMIT = False


@pytest.fixture(autouse=True)
def _two_factor_off(request, settings):
    """Most tests log users in and are not about the second factor: it is required of nobody unless
    a test is marked ``two_factor`` (then the production default applies, whatever var/ says)."""
    if "two_factor" in request.keywords:
        settings.BIHUAN_2FA_REQUIRED_FOR = settings.BIHUAN_2FA_DEFAULT_REQUIRED_FOR.split(",")
    else:
        settings.BIHUAN_2FA_REQUIRED_FOR = []


@pytest.fixture
def _fail_missing_chromium():
    pytest.fail("BIHUAN_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)")


def _unit(parent, level, code, name):
    return org_services.create_unit(None, parent=parent, level=level, code=code, name=name)


@pytest.fixture
def tree(db):
    """济宁市 with 任城区 (李营街道 → 芦庙村 → 2 grids, 仙营街道 → 1 village) and 兖州区 (龙桥街道 → 薛庙社区)."""
    t = SimpleNamespace()
    t.city = _unit(None, Level.CITY, "370800", "济宁市")
    t.rencheng = _unit(t.city, Level.COUNTY, "370811", "任城区")
    t.yanzhou = _unit(t.city, Level.COUNTY, "370812", "兖州区")
    t.liying = _unit(t.rencheng, Level.TOWNSHIP, "370811008000", "李营街道")
    t.xianying = _unit(t.rencheng, Level.TOWNSHIP, "370811003000", "仙营街道")
    t.lumiao = _unit(t.liying, Level.VILLAGE, "370811008201", "芦庙村")
    t.lumiao_g1 = _unit(t.lumiao, Level.GRID, "370811008201001", "芦庙村第一网格")
    t.lumiao_g2 = _unit(t.lumiao, Level.GRID, "370811008201002", "芦庙村第二网格")
    t.xianying_v = _unit(t.xianying, Level.VILLAGE, "370811003101", "仙营社区")
    t.longqiao = _unit(t.yanzhou, Level.TOWNSHIP, "370812002000", "龙桥街道")
    t.xuemiao = _unit(t.longqiao, Level.VILLAGE, "370812002003", "薛庙社区")
    return t


def make_user(username, unit=None, role_code=None, scope=None, **kw):
    role = Role.objects.get(code=role_code) if role_code else None
    return account_services.create_user(None, username=username, password=PASSWORD, unit=unit, role=role,
                                        scope=scope, must_change_password=False, **kw)


@pytest.fixture
def users(tree):
    u = SimpleNamespace()
    u.city_admin = make_user("city_admin", tree.city, "city_admin")
    u.rencheng_admin = make_user("rencheng_admin", tree.rencheng, "county_admin")
    u.yanzhou_admin = make_user("yanzhou_admin", tree.yanzhou, "county_admin")
    u.liying_staff = make_user("liying_staff", tree.liying, "township_staff")
    u.lumiao_secretary = make_user("lumiao_secretary", tree.lumiao, "village_secretary")
    u.lumiao_grid = make_user("lumiao_grid", tree.lumiao_g1, "grid_worker")
    u.nobody = make_user("nobody")
    return u


@pytest.fixture
def login(client):
    """``login(user)`` → a Django test client logged in as ``user``."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def token_for():
    def _token(user):
        _, token = account_services.create_token(user, name="test")
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    return _token


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
