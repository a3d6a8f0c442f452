"""Password login with lock-out after repeated failures."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.utils import timezone

from .models import User


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, now=None, **kwargs):
        now = now or timezone.now()
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.locked_until and user.locked_until > now:
            if request is not None:
                request.login_locked = True
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_logins or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
            return user
        # Count in SQL so concurrent failures are not lost.
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        user.refresh_from_db(fields=["failed_logins"])
        if user.failed_logins >= settings.LOCKOUT_THRESHOLD:
            User.objects.filter(pk=user.pk).update(
                locked_until=now + timedelta(minutes=settings.LOCKOUT_MINUTES), failed_logins=0)
            if request is not None:
                request.login_locked = True
        return None
