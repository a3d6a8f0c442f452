"""Password login with lock-out per user and throttling per client address.

Every refusal looks the same from outside: ``None`` back, one password hash worth of work (no
timing oracle), and one ``LoginFailure`` row for the address throttle (``throttle.py``). Why a
login was refused is kept for the audit entry only (``request.login_refused``: ``address``,
``unknown``, ``locked``, ``password``, ``inactive``), never shown on the page.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.utils import timezone

from bihuan.core.middleware import client_ip

from . import throttle
from .models import User


def _refuse(request, username: str, reason: str, now, *, hashed: bool) -> None:
    if not hashed:
        User().set_password("-")  # same work as a real check, whatever the reason
    if request is not None:
        request.login_refused = reason
        request.login_locked = reason == "locked"
    throttle.record_failure(client_ip(request) if request is not None else "", username, now)


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, now=None, **kwargs):
        now = now or timezone.now()
        if username is None or password is None:
            return None
        ip = client_ip(request) if request is not None else ""
        # A throttled address is refused even the right password: it is still guessing.
        if throttle.address_blocked(ip, now):
            _refuse(request, username, "address", now, hashed=False)
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            _refuse(request, username, "unknown", now, hashed=False)
            return None
        if user.locked_until and user.locked_until > now:
            _refuse(request, username, "locked", now, hashed=False)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_logins or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
            return user
        if not user.is_active:
            _refuse(request, username, "inactive", now, hashed=True)
            return None
        # Count in SQL so concurrent failures are not lost.
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        user.refresh_from_db(fields=["failed_logins"])
        reason = "password"
        if user.failed_logins >= settings.LOCKOUT_THRESHOLD:
            User.objects.filter(pk=user.pk).update(
                locked_until=now + timedelta(minutes=settings.LOCKOUT_MINUTES), failed_logins=0)
            reason = "locked"
        _refuse(request, username, reason, now, hashed=True)
        return None
