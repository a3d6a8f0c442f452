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


# --- what a user's bindings grant changed: a new stamp (accounts.models, the process's copies) -------

def _restamp_binding_user(sender, instance, **kwargs):
    from .models import restamp_bindings

    restamp_bindings([instance.user_id])


def _restamp_custom_units(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        from .models import restamp_bindings

        restamp_bindings([instance.user_id])


def _restamp_role_holders(sender, instance, created, **kwargs):
    if not created:  # a new role has no bindings yet
        from .models import Binding, restamp_bindings

        restamp_bindings(Binding.objects.filter(role=instance).values_list("user_id", flat=True))


def _restamp_moved_subtree(sender, path: str, **kwargs):
    from django.db.models import Q

    from .models import Binding, restamp_bindings

    restamp_bindings(Binding.objects.filter(Q(unit__path__startswith=path) | Q(custom_units__path__startswith=path))
                     .values_list("user_id", flat=True).distinct())


def _connect():
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from bihuan.orgs.services import subtree_moved

    from .models import Binding, Role

    post_save.connect(_restamp_binding_user, sender=Binding, dispatch_uid="bindings-stamp-save")
    post_delete.connect(_restamp_binding_user, sender=Binding, dispatch_uid="bindings-stamp-delete")
    m2m_changed.connect(_restamp_custom_units, sender=Binding.custom_units.through, dispatch_uid="bindings-stamp-m2m")
    post_save.connect(_restamp_role_holders, sender=Role, dispatch_uid="bindings-stamp-role")
    subtree_moved.connect(_restamp_moved_subtree, dispatch_uid="bindings-stamp-move")


_connect()
