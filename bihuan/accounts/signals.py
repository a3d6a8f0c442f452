"""Logins and failed logins go to the audit log through the one path."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from bihuan.core import audit
from bihuan.core.context import Actor, current_actor

from . import otp, validators


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    now = current_actor()
    audit.record("accounts.login", user,
                 actor=Actor(user_id=user.pk, username=user.username, ip=now.ip, request_id=now.request_id))
    session = getattr(request, "session", None)
    if session is not None:
        # Decided once per login: the second factor still to give, and whether the password expired.
        session[otp.SESSION_KEY] = otp.state_after_password(user)
        session[validators.PASSWORD_EXPIRED_KEY] = validators.password_expired(user, timezone.now())


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("accounts.logout", user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The reason is for the audit reader only; the login page says the same thing in every case.
    audit.record("accounts.login_failed", object_type="accounts.user",
                 extra={"username": str(credentials.get("username", ""))[:150],
                        "locked": bool(getattr(request, "login_locked", False)),
                        "reason": getattr(request, "login_refused", "")})
