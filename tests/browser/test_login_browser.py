"""Login with two-factor on a phone: password, then the six-digit code from the app."""

from __future__ import annotations

import base64
import time

import pytest
from django_otp.oath import hotp

from bihuan.accounts import otp

pytestmark = [pytest.mark.browser, pytest.mark.two_factor]


def test_administrator_logs_in_with_a_code_on_a_phone(log_in, page, transactional_db, users, live_server):
    # Enrolled as the set-up page does it; the test plays the authenticator app from the secret.
    device = otp.start_enrolment(users.rencheng_admin)
    key = device.bin_key
    step = int(time.time()) // 30
    otp.confirm_enrolment(users.rencheng_admin, f"{hotp(key, step):06d}")
    assert base64.b32encode(key).decode().startswith(otp.secret_base32(device).replace(" ", ""))

    page.set_viewport_size({"width": 390, "height": 844})
    log_in("rencheng_admin")
    assert page.url.startswith(f"{live_server.url}/login/verify/")
    assert page.locator('[data-testid="otp-verify-form"]').is_visible()
    assert page.evaluate("() => document.body.scrollWidth - window.innerWidth") <= 0
    # The app's next code (the one used at enrolment is spent).
    page.fill("#id_code", f"{hotp(key, int(time.time()) // 30 + 1):06d}")
    page.click('[data-testid="otp-verify-form"] button[type=submit]')
    page.wait_for_load_state()
    assert page.url.rstrip("/") == live_server.url
    assert "任城区" in page.locator('[data-testid="scope-units"]').inner_text()
