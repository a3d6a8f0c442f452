"""Two-factor login: TOTP (django-otp's ``otp_totp``) with recovery codes (``otp_static``).

Rules, in one place:

* who must use a second factor: ``required_for(user)`` — anyone holding one of the roles or
  permissions in ``BIHUAN_2FA_REQUIRED_FOR`` (default: administrators, i.e. whoever holds
  ``accounts.user.manage``, and whoever may reveal personal numbers); others may enrol;
* a session is "verified" once a code was accepted in it (django-otp's ``otp_device`` on the
  session); ``SecondFactorMiddleware`` keeps an unverified session on the verify or enrol page;
* a TOTP code is accepted once (django-otp keeps the last step used); a recovery code once
  (it is deleted); wrong codes slow the device down (django-otp's throttling) and count for
  the client address (``throttle.py``);
* enrolment, use of a recovery code and reset by an administrator each make one audit entry.

These are the services of two-factor login: each write is one transaction with its audit entry.
"""

from __future__ import annotations

import base64
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bihuan.core import audit
from bihuan.core.errors import ServiceError
from bihuan.core.scope import require

from . import throttle
from .models import User

# Where a session stands after the password step (SecondFactorMiddleware reads it).
SESSION_KEY = "bihuan_2fa"
VERIFIED, NEEDS_CODE, NEEDS_ENROLMENT = "ok", "verify", "enrol"

RECOVERY_CODES = 10
TOTP_NAME = "totp"
RECOVERY_NAME = "recovery"


# --- who and what -------------------------------------------------------------------------
def required_for(user: User) -> bool:
    """Must ``user`` use a second factor? (a role code or a permission from the setting)."""
    wanted = set(getattr(settings, "BIHUAN_2FA_REQUIRED_FOR", []))
    if not wanted or not getattr(user, "is_authenticated", False):
        return False
    # An entry with a dot is a permission (held anywhere), any other a role code.
    if any(user.has_perm_anywhere(w) for w in wanted if "." in w):
        return True
    roles = {w for w in wanted if "." not in w}
    return bool(roles) and user.bindings.filter(role__code__in=roles).exists()


def state_after_password(user: User) -> str:
    """Enrolled → a code is needed; not enrolled but required → enrol first; else done."""
    if is_enrolled(user):
        return NEEDS_CODE
    return NEEDS_ENROLMENT if required_for(user) else VERIFIED


def totp_device(user: User, *, confirmed: bool | None = True) -> TOTPDevice | None:
    qs = TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).filter(name=TOTP_NAME)
    return qs.order_by("-id").first()


def is_enrolled(user: User) -> bool:
    return totp_device(user) is not None


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_NAME).count()


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps type it: base32, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The enrolment QR code as an inline SVG document (drawn here; no outside service)."""
    import segno

    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def _totp_ok(device: TOTPDevice, code: str, now: datetime) -> bool:
    """django-otp's ``TOTPDevice.verify_token`` at ``now`` instead of the wall clock."""
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return False
    code = (code or "").strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == device.digits):
        device.throttle_increment(commit=True)
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = now.timestamp()
    if totp.verify(int(code), device.tolerance, device.last_t + 1):
        device.last_t = totp.t()  # the same code is not accepted twice
        device.drift = totp.drift
        device.throttle_reset(commit=False)
        device.set_last_used_timestamp(commit=False)
        device.save()
        return True
    device.throttle_increment(commit=True)
    return False


# --- enrolment ------------------------------------------------------------------------------
@transaction.atomic
def start_enrolment(user: User) -> TOTPDevice:
    """An unconfirmed TOTP device with a fresh secret (the same one on every reload of the page)."""
    if is_enrolled(user):
        raise ServiceError(_("Two-factor login is already set up for this account."))
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_enrolment(user: User, code: str, *, now: datetime | None = None) -> tuple[TOTPDevice, list[str]]:
    """Confirm the device with a code from the app; returns it and the recovery codes (shown once)."""
    now = now or timezone.now()
    device = totp_device(user, confirmed=False)
    if device is None or is_enrolled(user):
        raise ServiceError(_("Start the set-up again."), code="conflict")
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not _totp_ok(device, code, now):
        raise ServiceError(_("The code is not right. Check the time on your phone and try again."),
                           {"code": _("The code is not right.")})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    audit.record("accounts.2fa.enrol", user, after={"device": "totp", "recovery_codes": len(codes)}, now=now)
    return device, codes


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user, name=RECOVERY_NAME).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = []
    while len(codes) < RECOVERY_CODES:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def renew_recovery_codes(user: User, *, now: datetime | None = None) -> list[str]:
    """New recovery codes for an enrolled user (the old ones stop working)."""
    if not is_enrolled(user):
        raise ServiceError(_("Two-factor login is not set up for this account."))
    codes = _new_recovery_codes(user)
    audit.record("accounts.2fa.recovery_renew", user, after={"recovery_codes": len(codes)}, now=now)
    return codes


# --- the second step of a login ---------------------------------------------------------------
def verify(user: User, code: str, *, ip: str = "", now: datetime | None = None):
    """The device that accepts ``code`` (TOTP, else a recovery code), or None.

    A recovery code is spent (deleted) and audited; a failure counts for the address throttle."""
    now = now or timezone.now()
    code = (code or "").strip().replace(" ", "").replace("-", "").lower()[:32]
    with transaction.atomic():
        totp = TOTPDevice.objects.select_for_update().filter(
            user=user, name=TOTP_NAME, confirmed=True).order_by("-id").first()
        # Six digits are a TOTP code; recovery codes are eight base32 characters.
        if totp is not None and len(code) == totp.digits and code.isdigit():
            if _totp_ok(totp, code, now):
                return totp
        recovery = StaticDevice.objects.select_for_update().filter(
            user=user, name=RECOVERY_NAME, confirmed=True).first()
        if recovery is not None and len(code) == 8 and recovery.verify_token(code):
            audit.record("accounts.2fa.recovery_used", user,
                         extra={"recovery_codes_left": recovery.token_set.count()}, now=now)
            return recovery
    throttle.record_failure(ip, user.username, now)
    audit.record("accounts.2fa.failed", user, now=now)
    return None


# --- reset by an administrator --------------------------------------------------------------
@transaction.atomic
def reset(actor: User | None, user: User, *, reason: str = "", now: datetime | None = None) -> int:
    """Remove a user's devices (lost phone): they enrol again at their next login if required."""
    require(actor, "accounts.user.manage", user)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give a reason for the reset."), {"reason": _("A reason is required.")})
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
    StaticDevice.objects.filter(user=user).delete()
    audit.record("accounts.2fa.reset", user, before={"enrolled": bool(removed)}, extra={"reason": reason[:200]},
                 now=now)
    return removed
