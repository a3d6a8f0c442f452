"""Reads of users and bindings for pages, always through ``restrict()`` (core.scope, the one gate)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from bihuan.core.scope import allows, has_anywhere
from bihuan.orgs.models import OrgUnit

from .models import Binding, Role, User


def visible_bindings(user) -> QuerySet:
    """Bindings shown to ``user``: only those at units they can see, so listings reveal no other subtree."""
    return (Binding.objects.filter(unit__in=OrgUnit.objects.restrict(user, "view"))
            .select_related("unit", "role").prefetch_related("custom_units").order_by("unit__path", "role_id"))


def users(user, *, username: str = "", role: Role | None = None, unit: OrgUnit | None = None) -> QuerySet:
    """Users ``user`` may see, filtered, each with the bindings ``user`` may see (``shown_bindings``)."""
    qs = User.objects.restrict(user, "view")
    if username:
        qs = qs.filter(username__icontains=username.strip())
    if role is not None:
        qs = qs.filter(bindings__role=role)
    if unit is not None:
        qs = qs.filter(bindings__unit__path__startswith=unit.path)  # the chosen unit's subtree
    return qs.distinct().order_by("username").prefetch_related(
        Prefetch("bindings", queryset=visible_bindings(user), to_attr="shown_bindings"))


def detail(user, target: User) -> dict:
    """What the user page shows of ``target`` to ``user``."""
    shown = list(visible_bindings(user).filter(user=target))
    return {
        "target": target,
        "bindings": shown,
        "hidden_bindings": target.bindings.count() - len(shown),
        "can_manage": allows(user, "accounts.user.manage", target),
        # Bindings are also the security administrator's duty (accounts.services.grants_as_security_admin).
        "can_grant": allows(user, "accounts.user.manage", target) or has_anywhere(user, "accounts.role.manage"),
        "is_self": target.pk == user.pk,
    }


def grantable_roles(actor) -> list[Role]:
    """Every role for a security administrator; otherwise roles whose permissions the actor holds
    (the service refuses the rest anyway)."""
    if has_anywhere(actor, "accounts.role.manage"):
        return list(Role.objects.order_by("id"))
    return [r for r in Role.objects.order_by("id") if all(actor.has_perm_anywhere(p) for p in r.permissions)]
