"""Writes to users, bindings and tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import allows, has_anywhere, require, scope_for
from bihuan.orgs.models import OrgUnit

from .models import ApiToken, Binding, Role, ScopeMode, User
from .roles import SEPARATED_ROLES

MANAGE = "accounts.user.manage"
# The security administrator's duty (三员分立): roles and bindings, not users (docs/security.md).
ROLE_MANAGE = "accounts.role.manage"


def _user_snapshot(user: User) -> dict:
    return {"username": user.username, "display_name": user.display_name, "is_active": user.is_active}


def _require_manage_unit(actor: User | None, unit: OrgUnit, field: str = "unit") -> None:
    """The actor may manage users at ``unit`` (the one gate's 403-or-404 policy).

    The refusal names the form field the unit came from, so a form shows it there."""
    try:
        require(actor, MANAGE, unit)
    except (NotFound, PermissionDenied) as exc:
        if not has_anywhere(actor, MANAGE):
            raise
        msg = _("You cannot manage users at this unit.")
        raise type(exc)(msg, field_errors={field: msg}) from exc


def grants_as_security_admin(actor: User | None, unit: OrgUnit, field: str = "unit") -> bool:
    """The one rule for who may bind and unbind roles at ``unit``.

    A holder of ``accounts.role.manage`` there (the security administrator) grants any role, but
    never to itself; a holder of ``accounts.user.manage`` there grants only permissions it holds
    itself. Returns True for the first, False for the second; refuses (403 or 404) anyone else."""
    if actor is not None and allows(actor, ROLE_MANAGE, unit):
        return True
    _require_manage_unit(actor, unit, field)
    return False


def require_manage_user(actor: User | None, user: User) -> None:
    """The actor may manage ``user`` if the user is in the actor's manage scope."""
    require(actor, MANAGE, user)


def _validate_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(_("The password is not strong enough."), {"password": " ".join(exc.messages)})


@transaction.atomic
def create_user(actor: User | None, *, username: str, password: str, display_name: str = "",
                unit: OrgUnit | None = None, role: Role | None = None, scope: str | None = None,
                must_change_password: bool = True) -> User:
    """Create a user; with ``unit`` and ``role`` also their first binding (same transaction)."""
    username = (username or "").strip()
    require(actor, MANAGE)
    errors = {}
    if not username:
        errors["username"] = _("A username is required.")
    elif User.objects.filter(username=username).exists():
        errors["username"] = _("This username is taken.")
    if errors:
        raise ServiceError(_("The user could not be created."), errors)
    user = User(username=username, display_name=(display_name or "").strip(),
                must_change_password=must_change_password)
    _validate_password(password, user)
    user.set_password(password)
    user.save()
    audit.record("accounts.user.create", user, after=_user_snapshot(user), unit=unit)
    if unit is not None and role is not None:
        bind(actor, user, unit, role, scope=scope)
    return user


@transaction.atomic
def bind(actor: User | None, user: User, unit: OrgUnit, role: Role, *, scope: str | None = None,
         custom_units: list[OrgUnit] | None = None) -> Binding:
    security = grants_as_security_admin(actor, unit)
    scope = scope or role.default_scope
    if scope not in ScopeMode.values:
        raise ServiceError(_("Unknown scope mode."), {"scope": _("Unknown scope mode.")})
    if actor is not None:
        if security and actor.pk == user.pk:
            raise PermissionDenied(_("Nobody grants roles to themselves; ask another security administrator."),
                                   field_errors={"role": _("Nobody grants roles to themselves.")})
        # Nobody hands out more than they hold (the security administrator's duty is granting itself).
        if scope == ScopeMode.ALL and not scope_for(actor, ROLE_MANAGE if security else MANAGE).all:
            raise PermissionDenied(_("Only a city-wide administrator can grant the whole city."))
        missing = [] if security else [p for p in role.permissions if not has_anywhere(actor, p)]
        if missing:
            raise PermissionDenied(_("You cannot grant permissions you do not hold: %(p)s") % {"p": ", ".join(missing)})
        for u in custom_units or []:
            grants_as_security_admin(actor, u, "custom_units")
    separated = set(SEPARATED_ROLES)
    if role.code in separated and user.bindings.filter(role__code__in=separated - {role.code}).exists():
        msg = _("One person holds at most one of the system, security and audit administrator roles.")
        raise ServiceError(msg, {"role": msg})
    if scope == ScopeMode.CUSTOM and not custom_units:
        raise ServiceError(_("A custom scope needs at least one unit."), {"custom_units": _("Choose units.")})
    if Binding.objects.filter(user=user, unit=unit, role=role).exists():
        raise ServiceError(_("This user already has this role at this unit."), {"role": _("Duplicate binding.")})
    binding = Binding.objects.create(user=user, unit=unit, role=role, scope=scope)
    if custom_units:
        binding.custom_units.set(custom_units)
    audit.record("accounts.binding.create", binding, unit=unit, after={
        "user": user.username, "unit": unit.code, "role": role.code, "scope": scope,
        "custom_units": [u.code for u in custom_units or []]})
    user.forget_bindings()
    return binding


@transaction.atomic
def unbind(actor: User | None, binding: Binding) -> None:
    grants_as_security_admin(actor, binding.unit)
    snapshot = {"user": binding.user.username, "unit": binding.unit.code, "role": binding.role.code,
                "scope": binding.scope}
    audit.record("accounts.binding.delete", binding, unit=binding.unit, before=snapshot)
    binding.delete()


@transaction.atomic
def set_active(actor: User | None, user: User, active: bool) -> User:
    require_manage_user(actor, user)
    if actor is not None and actor.pk == user.pk and not active:
        raise ServiceError(_("You cannot deactivate yourself."))
    before = _user_snapshot(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record("accounts.user.update", user, before=before, after=_user_snapshot(user))
    return user


@transaction.atomic
def set_password(actor: User | None, user: User, password: str, *, must_change: bool = False) -> User:
    if actor is None or actor.pk != user.pk:
        require_manage_user(actor, user)
    _validate_password(password, user)
    user.set_password(password)
    user.must_change_password = must_change
    user.failed_logins, user.locked_until = 0, None
    user.save(update_fields=["password", "must_change_password", "failed_logins", "locked_until"])
    audit.record("accounts.user.password", user, after={"must_change_password": must_change})
    return user


TOKEN_PREFIX = "bh_"


@transaction.atomic
def create_token(user: User, *, name: str = "", days: int | None = None,
                 now: datetime | None = None) -> tuple[ApiToken, str]:
    """Returns (record, token). The token itself is never stored."""
    now = now or timezone.now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rec = ApiToken.objects.create(user=user, name=name, prefix=token[:10], digest=ApiToken.digest_of(token),
                                  expires_at=now + timedelta(days=days) if days else None)
    audit.record("accounts.token.create", rec, after={"user": user.username, "name": name, "prefix": rec.prefix})
    return rec, token


@transaction.atomic
def revoke_token(rec: ApiToken, *, now: datetime | None = None) -> ApiToken:
    if rec.revoked_at is None:
        rec.revoked_at = now or timezone.now()
        rec.save(update_fields=["revoked_at"])
        audit.record("accounts.token.revoke", rec, after={"user": rec.user.username, "prefix": rec.prefix})
    return rec


def user_for_token(token: str, *, now: datetime | None = None) -> User | None:
    """The active user behind a bearer token, or None if unknown, expired or revoked."""
    now = now or timezone.now()
    rec = (ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(token or "")).first())
    if rec is None or rec.revoked_at or (rec.expires_at and rec.expires_at <= now) or not rec.user.is_active:
        return None
    if rec.last_used_at is None or now - rec.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=rec.pk).update(last_used_at=now)  # coarse, to keep reads cheap
    return rec.user
