"""Login security: argon2, password policy, lock-out, tokens, headers."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bihuan.accounts import services
from bihuan.accounts.models import ApiToken, User
from bihuan.core.errors import ServiceError
from bihuan.core.models import AuditEntry

from .conftest import PASSWORD


def post_login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


@pytest.mark.argon2
def test_passwords_are_hashed_with_argon2(db):
    u = services.create_user(None, username="hashed", password=PASSWORD)
    assert u.password.startswith("argon2")
    assert u.check_password(PASSWORD)


@pytest.mark.parametrize("weak", ["short1A!", "alllowercaseletters", "ALLUPPER123456", "Password123"])
def test_password_policy_refuses_weak_passwords(db, weak):
    with pytest.raises(ServiceError) as exc:
        services.create_user(None, username="weak", password=weak)
    assert "password" in exc.value.field_errors
    assert not User.objects.filter(username="weak").exists()


def test_login_and_failed_login_are_audited(client, users):
    assert post_login(client, "liying_staff", "wrong-Password-1").status_code == 200
    assert AuditEntry.objects.filter(action="accounts.login_failed").count() == 1
    r = post_login(client, "liying_staff", PASSWORD)
    assert r.status_code == 302
    entry = AuditEntry.objects.get(action="accounts.login")
    assert entry.actor_name == "liying_staff"


def test_lockout_after_repeated_failures(client, users, settings):
    settings.LOCKOUT_THRESHOLD = 3
    for _ in range(3):
        post_login(client, "liying_staff", "wrong-Password-1")
    # Even the right password is refused while locked.
    r = post_login(client, "liying_staff", PASSWORD)
    assert r.status_code == 200 and "_auth_user_id" not in client.session
    u = User.objects.get(username="liying_staff")
    assert u.locked_until and u.locked_until > timezone.now()
    # After the lock expires the right password works again.
    User.objects.filter(pk=u.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert post_login(client, "liying_staff", PASSWORD).status_code == 302


def _stored(client):
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore(client.cookies["sessionid"].value).load()


def test_session_expires_when_idle(client, users, settings):
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    settings.SESSION_COOKIE_AGE = 2
    assert post_login(client, "liying_staff", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    time.sleep(2.5)
    r = client.get("/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_activity_keeps_the_session_and_it_is_saved_at_most_once_a_minute(client, users, settings, monkeypatch):
    from bihuan.core.middleware import SessionRefreshMiddleware as refresh

    assert post_login(client, "liying_staff", PASSWORD).status_code == 302
    client.get("/")
    first = _stored(client)[refresh.KEY]
    client.get("/")
    assert _stored(client)[refresh.KEY] == first  # within the minute: no write
    # Short sessions, refreshed on every request: a user who keeps clicking stays logged in past the age.
    client.logout()
    settings.SESSION_COOKIE_AGE = 2
    monkeypatch.setattr(refresh, "REFRESH_SECONDS", 0)
    assert post_login(client, "liying_staff", PASSWORD).status_code == 302
    started = time.monotonic()
    while time.monotonic() - started < 4:
        time.sleep(0.5)
        assert client.get("/").status_code == 200


def test_security_headers_and_csp(client, db):
    r = client.get("/login/")
    assert "script-src 'self'" in r["Content-Security-Policy"]
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert "csrfmiddlewaretoken" in r.content.decode()


def test_csrf_is_enforced(users):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "liying_staff", "password": PASSWORD}).status_code == 403


def test_must_change_password_redirects(client, tree):
    u = services.create_user(None, username="fresh", password="Initial-Pass-2026", must_change_password=True)
    client.force_login(u)
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].endswith("/password/")


# --- tokens -----------------------------------------------------------------------------

def test_token_cli_create_use_and_revoke(client, users):
    out = StringIO()
    call_command("token", "create", "liying_staff", stdout=out)
    token = out.getvalue().strip()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    assert token not in "".join(ApiToken.objects.values_list("digest", flat=True))
    call_command("token", "revoke", token[:10], stdout=StringIO())
    r = client.get("/api/v1/me", **auth)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/problem+json"


def test_expired_and_unknown_tokens_refused(client, users):
    rec, token = services.create_token(users.liying_staff, days=1)
    ApiToken.objects.filter(pk=rec.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer bh_nonsense").status_code == 401


def test_token_of_deactivated_user_refused(client, users):
    _, token = services.create_token(users.liying_staff)
    services.set_active(None, users.liying_staff, False)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_demo_logins_list_the_apps_logins_too(users, tree):
    """`make demo` prints every login a newcomer can use, the care volunteer and the lecturer included."""
    from bihuan.accounts.seed import print_logins

    from .conftest import make_user

    make_user("lumiao_volunteer", tree.lumiao_g1, "volunteer", scope="self")
    out = StringIO()
    print_logins(out, "http://127.0.0.1:8000/")
    line = next(x for x in out.getvalue().splitlines() if "lumiao_volunteer" in x)
    assert "volunteer" in line.split()[1] and "芦庙村第一网格" in line
