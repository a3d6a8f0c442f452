"""Login hardening (issue 11 §5): one message for every refusal, throttling per address and per
user, two-factor login (TOTP + recovery codes, required for administrators and reveal
permissions), and the password policy (history, expiry). Real TOTP codes are computed here from
the secret the enrolment page shows, as an authenticator app would."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import hotp

from bihuan.accounts import otp, services
from bihuan.accounts.models import LoginFailure, PasswordHistory, User
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.models import AuditEntry

from .conftest import PASSWORD

WRONG = "Wrong-Password-9"


def post_login(client, username, password, ip="10.1.1.1", **extra):
    return client.post(reverse("web:login"), {"username": username, "password": password},
                       REMOTE_ADDR=ip, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def normalised(response, username: str) -> str:
    """The page minus what legitimately differs: the CSRF token and the username typed in."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="-"', body)
    return body.replace(f'value="{username}"', 'value="-"')


def code_at(secret_text: str, offset_steps: int = 0) -> str:
    """The TOTP code an authenticator app shows for the base32 secret, ``offset_steps`` from now."""
    raw = secret_text.replace(" ", "")
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    return f"{hotp(key, int(time.time()) // 30 + offset_steps):06d}"


def secret_of(page_body: str) -> str:
    return re.search(r'data-testid="otp-secret">([A-Z2-7 ]+)<', page_body).group(1)


# --- one message, whatever the reason ---------------------------------------------------------
def test_every_refusal_reads_the_same(users, settings):
    settings.LOCKOUT_THRESHOLD = 3
    settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD = 6
    pages = {}
    pages["unknown user"] = normalised(post_login(Client(), "ghost_user", WRONG, ip="10.0.0.1"), "ghost_user")
    pages["wrong password"] = normalised(post_login(Client(), "liying_staff", WRONG, ip="10.0.0.2"),
                                         "liying_staff")
    for i in range(3):
        post_login(Client(), "lumiao_grid", WRONG, ip=f"10.0.1.{i}")
    c = Client()
    pages["locked user, right password"] = normalised(post_login(c, "lumiao_grid", PASSWORD, ip="10.0.0.3"),
                                                      "lumiao_grid")
    assert not logged_in(c)
    services.set_active(None, users.nobody, False)
    pages["inactive user, right password"] = normalised(post_login(Client(), "nobody", PASSWORD, ip="10.0.0.4"),
                                                        "nobody")
    for i in range(6):
        post_login(Client(), f"guess{i}", WRONG, ip="10.0.0.5")
    c = Client()
    pages["throttled address, right password"] = normalised(post_login(c, "city_admin", PASSWORD, ip="10.0.0.5"),
                                                            "city_admin")
    assert not logged_in(c)
    first = pages["unknown user"]
    assert "logins are paused" in first or "暂停" in first
    for case, body in pages.items():
        assert body == first, case
    # The audit log, not the page, says why.
    reasons = set(AuditEntry.objects.filter(action="accounts.login_failed").values_list("extra__reason", flat=True))
    assert {"unknown", "password", "locked", "inactive", "address"} <= reasons


# --- throttling -----------------------------------------------------------------------------------
def test_an_address_is_throttled_across_usernames_and_a_right_password_too(users, settings):
    settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD = 5
    for name in ["a1", "b2", "c3", "liying_staff", "d4"]:  # one try each: no user lock is reached
        post_login(Client(), name, WRONG, ip="203.0.113.7")
    c = Client()
    post_login(c, "lumiao_secretary", PASSWORD, ip="203.0.113.7")
    assert not logged_in(c)
    assert User.objects.get(username="liying_staff").locked_until is None
    c = Client()
    post_login(c, "lumiao_secretary", PASSWORD, ip="203.0.113.8")  # another address is not affected
    assert logged_in(c)
    # Once the failures leave the window, the address may log in again.
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=settings.BIHUAN_LOGIN_ADDRESS_MINUTES + 1))
    c = Client()
    post_login(c, "lumiao_secretary", PASSWORD, ip="203.0.113.7")
    assert logged_in(c)


def test_behind_a_proxy_the_forwarded_address_is_throttled(users, settings):
    settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD = 3
    settings.BIHUAN_TRUST_PROXY = True
    for name in ["x", "y", "z"]:
        post_login(Client(), name, WRONG, ip="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert not logged_in(c)
    c = Client()  # same proxy, another client
    post_login(c, "liying_staff", PASSWORD, ip="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert logged_in(c)


def test_ipv6_addresses_of_one_subscriber_share_a_count(users, settings):
    settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD = 3
    for i in range(3):
        post_login(Client(), f"v6guess{i}", WRONG, ip=f"2001:db8:1:2::{i + 1}")
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="2001:db8:1:2:ffff::9")
    assert not logged_in(c)


def test_a_user_is_locked_whatever_the_addresses(users, settings):
    settings.LOCKOUT_THRESHOLD = 3
    for i in range(3):
        post_login(Client(), "liying_staff", WRONG, ip=f"192.0.2.{i + 1}")
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="192.0.2.99")
    assert not logged_in(c)
    User.objects.filter(username="liying_staff").update(locked_until=timezone.now() - timedelta(seconds=1))
    post_login(c, "liying_staff", PASSWORD, ip="192.0.2.99")
    assert logged_in(c)


def test_old_failures_are_forgotten_by_the_daily_job(users):
    from bihuan.core import jobs

    post_login(Client(), "ghost", WRONG)
    assert LoginFailure.objects.count() == 1
    jobs.run_job("accounts.login_failures", timezone.now() + timedelta(days=1))
    assert LoginFailure.objects.count() == 0


# --- two-factor login -------------------------------------------------------------------------------
def enrol_through_the_page(client) -> tuple[str, list[str]]:
    """Open the set-up page, read the key, answer with the app's current code; returns (key, recovery codes)."""
    body = client.get(reverse("web:otp_setup")).content.decode()
    assert "<svg" in body  # the QR code is drawn by the server, inline
    secret = secret_of(body)
    r = client.post(reverse("web:otp_setup"), {"code": code_at(secret)})
    assert r.status_code == 200
    codes = re.findall(r'<li class="col-6">([a-z2-7]{8})</li>', r.content.decode())
    assert len(codes) == otp.RECOVERY_CODES
    return secret, codes


@pytest.mark.two_factor
def test_an_administrator_must_enrol_before_anything_else(users):
    c = Client()
    r = post_login(c, "city_admin", PASSWORD)
    assert r.status_code == 302 and logged_in(c)
    r = c.get(reverse("web:users"))
    assert r.status_code == 302 and r.url.startswith(reverse("web:otp_setup"))
    assert c.get("/api/v1/me").status_code == 401  # the API does not take a half-logged-in session
    body = c.get(reverse("web:otp_setup")).content.decode()
    assert 'data-testid="otp-required"' in body
    secret, _ = enrol_through_the_page(c)
    assert c.get(reverse("web:users")).status_code == 200
    assert c.get("/api/v1/me").json()["username"] == "city_admin"
    entry = AuditEntry.objects.get(action="accounts.2fa.enrol")
    assert entry.object_id == str(users.city_admin.pk) and entry.actor_name == "city_admin"
    assert secret.replace(" ", "") not in str(entry.after)

    # Next login: password, then the app's next code (the one used at enrolment is spent).
    c.post(reverse("web:logout"))
    c = Client()
    post_login(c, "city_admin", PASSWORD)
    r = c.get(reverse("web:users"))
    assert r.url.startswith(reverse("web:otp_verify"))
    code = code_at(secret, +1)
    r = c.post(reverse("web:otp_verify") + "?next=/users/", {"code": code, "next": "/users/"})
    assert r.status_code == 302 and r.url == "/users/"
    assert c.get(reverse("web:users")).status_code == 200
    # A code is accepted once: replayed at another login it is refused.
    c = Client()
    post_login(c, "city_admin", PASSWORD)
    assert c.post(reverse("web:otp_verify"), {"code": code}).status_code == 400
    assert c.get(reverse("web:users")).status_code == 302
    assert AuditEntry.objects.filter(action="accounts.2fa.failed").count() == 1


@pytest.mark.two_factor
def test_reveal_permission_requires_two_factor_and_others_may_skip_it(users):
    assert otp.required_for(users.lumiao_secretary)  # people.person.reveal
    assert otp.required_for(users.rencheng_admin)
    assert not otp.required_for(users.lumiao_grid)
    c = Client()
    post_login(c, "lumiao_grid", PASSWORD)
    assert c.get(reverse("web:tree")).status_code == 200
    body = c.get(reverse("web:otp_setup")).content.decode()
    assert 'data-testid="otp-required"' not in body and 'data-testid="otp-secret"' in body


def test_the_requirement_is_a_setting(users, settings):
    settings.BIHUAN_2FA_REQUIRED_FOR = ["grid_worker"]  # a role code works as well as a permission
    assert otp.required_for(users.lumiao_grid) and not otp.required_for(users.city_admin)


def test_a_recovery_code_works_once(users):
    c = Client()
    post_login(c, "liying_staff", PASSWORD)
    _, codes = enrol_through_the_page(c)
    for attempt in range(2):
        c = Client()
        post_login(c, "liying_staff", PASSWORD)
        r = c.post(reverse("web:otp_verify"), {"code": codes[0].upper()})
        if attempt == 0:
            assert r.status_code == 302 and c.get(reverse("web:tree")).status_code == 200
        else:
            assert r.status_code == 400 and c.get(reverse("web:tree")).status_code == 302
    assert AuditEntry.objects.filter(action="accounts.2fa.recovery_used").count() == 1
    assert otp.recovery_codes_left(users.liying_staff) == otp.RECOVERY_CODES - 1


def test_wrong_codes_count_for_the_address_throttle(users, settings):
    settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD = 3
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="10.7.7.7")
    enrol_through_the_page(c)
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="10.7.7.7")
    for _ in range(3):
        c.post(reverse("web:otp_verify"), {"code": "000000"}, REMOTE_ADDR="10.7.7.7")
    c = Client()
    post_login(c, "liying_staff", PASSWORD, ip="10.7.7.7")
    assert not logged_in(c)


def test_an_administrator_resets_two_factor_with_a_reason_audited(users, login):
    c = Client()
    post_login(c, "lumiao_secretary", PASSWORD)
    enrol_through_the_page(c)
    assert otp.is_enrolled(users.lumiao_secretary)
    url = reverse("web:user_otp_reset", args=[users.lumiao_secretary.pk])
    # Another county's administrator does not even see the user.
    assert login(users.yanzhou_admin).get(url).status_code == 404
    with pytest.raises(NotFound):
        otp.reset(users.yanzhou_admin, users.lumiao_secretary, reason="phone lost")
    admin = login(users.rencheng_admin)
    assert admin.post(url, {"reason": ""}).status_code == 400
    r = admin.post(url, {"reason": "phone lost, reported by telephone"})
    assert r.status_code == 302
    assert not otp.is_enrolled(users.lumiao_secretary) and otp.recovery_codes_left(users.lumiao_secretary) == 0
    entry = AuditEntry.objects.get(action="accounts.2fa.reset")
    assert entry.actor_name == "rencheng_admin" and entry.extra["reason"] == "phone lost, reported by telephone"
    assert entry.object_id == str(users.lumiao_secretary.pk)
    # The user logs in with the password alone again (2FA off in this test), and may enrol anew.
    c = Client()
    post_login(c, "lumiao_secretary", PASSWORD)
    assert c.get(reverse("web:tree")).status_code == 200


# --- password policy ----------------------------------------------------------------------------------
def test_the_last_passwords_cannot_be_reused(users, settings):
    assert settings.BIHUAN_PASSWORD_HISTORY == 5
    u = users.liying_staff
    services.set_password(u, u, "Second-Pass-2027")
    services.set_password(u, u, "Third-Pass-2028")
    for old in (PASSWORD, "Second-Pass-2027", "Third-Pass-2028"):
        with pytest.raises(ServiceError) as exc:
            services.set_password(u, u, old)
        assert "password" in exc.value.field_errors
    services.set_password(u, u, "Fourth-Pass-2029")
    assert PasswordHistory.objects.filter(user=u).count() <= 5


def test_an_expired_password_must_be_changed_first(users, settings):
    settings.BIHUAN_PASSWORD_MAX_AGE_DAYS = 90
    PasswordHistory.objects.filter(user=users.liying_staff).update(created_at=timezone.now() - timedelta(days=91))
    c = Client()
    post_login(c, "liying_staff", PASSWORD)
    r = c.get(reverse("web:tree"))
    assert r.status_code == 302 and r.url == reverse("web:password_change")
    assert 'data-testid="password-expired"' in c.get(reverse("web:password_change")).content.decode()
    r = c.post(reverse("web:password_change"), {"old_password": PASSWORD, "new_password1": "Fresh-Pass-2031",
                                                 "new_password2": "Fresh-Pass-2031"})
    assert r.status_code == 302
    assert c.get(reverse("web:tree")).status_code == 200
    # A fresh password is not expired at the next login.
    c = Client()
    post_login(c, "liying_staff", "Fresh-Pass-2031")
    assert c.get(reverse("web:tree")).status_code == 200


def test_the_demo_seed_relaxes_two_factor_once(settings, tmp_path, monkeypatch):
    from bihuan.accounts.seed import relax_two_factor_for_demo

    monkeypatch.delenv("BIHUAN_2FA_REQUIRED_FOR", raising=False)
    settings.VAR_DIR = tmp_path
    assert relax_two_factor_for_demo()
    assert (tmp_path / "2fa_required_for").read_text().strip() == "none"
    assert not relax_two_factor_for_demo()  # an operator's own choice in that file is kept
    settings.PRODUCTION = True
    (tmp_path / "2fa_required_for").unlink()
    assert not relax_two_factor_for_demo() and not (tmp_path / "2fa_required_for").exists()
