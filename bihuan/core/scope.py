"""Data scope: the one queryset mechanism every list, detail, write, export and API path uses.

A model opts in by using ``ScopedManager`` and declaring where its unit lives::

    class OrgUnit(models.Model):
        scope_resource = "orgs.unit"      # permission prefix: orgs.unit.view, orgs.unit.change …
        scope_path_field = "path"         # materialized path of the owning unit
        scope_unit_field = "id"           # the owning unit's id, for "unit only" scope
        scope_owner_field = None          # the user field for "self" scope, if any
        objects = ScopedManager()

``Model.objects.restrict(user, "view")`` then returns only what the user may see.
The user supplies a ``Scope`` through ``user.get_scope(permission)`` (see accounts);
anything without that method, or without a matching binding, sees nothing (default deny).

This module is the one gate. Nothing else re-derives scope from paths:

* ``restrict(user, action)`` — the queryset of rows a user may act on (lists, exports, API);
* ``covers(user, perm, unit)`` — may ``user`` use ``perm`` at this one unit?
* ``binds_at(user, perm, unit)`` — is ``user`` bound to that unit itself (acts as it, not from above)?
* ``units_q(user, perm, prefix)`` — the same question as a filter on units (or on a relation to
  units, ``prefix="handling_unit__"``), for choice lists and aggregates;
* ``require(user, perm, target)`` — the single 403-or-404 policy for a service or view:
  no ``perm`` anywhere → 403; ``target`` covered → allowed; not covered but visible to the user
  → 403 (they know it exists); otherwise → 404, indistinguishable from a missing id;
* ``require_city_wide(user, perm)`` — for city-wide settings (categories, calendar, roots).

``user=None`` is the system (seeds, CLI, worker) and may do everything. The view decorator
``requires(perm)`` lives with the rest of the web plumbing in ``core/views.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import models
from django.db.models import Q
from django.http import Http404


@dataclass(frozen=True)
class Scope:
    """What a user may reach for one permission, as the union of their bindings."""

    all: bool = False
    subtree_paths: frozenset[str] = field(default_factory=frozenset)
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    user_id: int | None = None  # set when a binding grants "self"

    @property
    def empty(self) -> bool:
        return not (self.all or self.subtree_paths or self.unit_ids or self.user_id)

    def covers_path(self, path: str) -> bool:
        """True when a unit with this path is inside the scope (for checks on one unit)."""
        return self.all or any(path.startswith(p) for p in self.subtree_paths)

    def covers_unit(self, unit) -> bool:
        """True when ``unit`` itself is inside the scope (subtree, custom set or unit-only)."""
        return self.contains(unit.path, unit.pk)

    def contains(self, path: str, unit_id: int | None = None) -> bool:
        """``covers_unit`` for a unit known only by its path and id (bulk imports check rows so)."""
        return self.covers_path(path) or (unit_id is not None and unit_id in self.unit_ids)


def minimal_prefixes(paths) -> frozenset[str]:
    """Drop paths already covered by a shorter one: /1/ covers /1/5/."""
    kept: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return frozenset(kept)


NOTHING = Q(pk__in=[])


def scope_q(model, scope: Scope, user_id: int | None = None) -> Q | None:
    """The filter for ``scope`` on ``model``; None means "everything"."""
    if scope.all:
        return None
    parts: list[Q] = []
    path_field = getattr(model, "scope_path_field", None)
    unit_field = getattr(model, "scope_unit_field", None)
    owner_field = getattr(model, "scope_owner_field", None)
    if path_field:
        parts += [Q(**{f"{path_field}__startswith": p}) for p in sorted(scope.subtree_paths)]
    if unit_field and scope.unit_ids:
        parts.append(Q(**{f"{unit_field}__in": sorted(scope.unit_ids)}))
    if scope.user_id is not None:
        if owner_field:
            parts.append(Q(**{owner_field: scope.user_id}))
    return reduce(or_, parts) if parts else NOTHING


def unit_scope_q(scope: Scope, path_field: str, unit_field: str) -> Q | None:
    """The filter for ``scope`` on one relation to units (its path and its id); None = everything.

    For models whose rows belong to several units (a matter's location, lead and dispatching
    unit), the model's ``restrict`` ORs this over each relation."""
    if scope.all:
        return None
    parts = [Q(**{f"{path_field}__startswith": p}) for p in sorted(scope.subtree_paths)]
    if scope.unit_ids:
        parts.append(Q(**{f"{unit_field}__in": sorted(scope.unit_ids)}))
    return reduce(or_, parts) if parts else NOTHING


SYSTEM_SCOPE = Scope(all=True)


def scope_for(user, perm: str) -> Scope:
    """The user's scope for ``perm``; the system (None) has all, anything unauthenticated none."""
    if user is None:
        return SYSTEM_SCOPE
    get_scope = getattr(user, "get_scope", None)
    if get_scope is None or not getattr(user, "is_authenticated", False):
        return Scope()
    return get_scope(perm)


def covers(user, perm: str, unit) -> bool:
    """May ``user`` use ``perm`` at ``unit``? The system may; no unit, nobody may."""
    if user is None:
        return True
    if unit is None:
        return False
    return scope_for(user, perm).covers_unit(unit)


def binds_at(user, perm: str, unit) -> bool:
    """Is ``user`` bound to ``unit`` itself with ``perm`` — acting *as* that unit, not for it from a
    unit above (``covers``)? For acts that belong to one unit (a lead unit accepting its matter)."""
    if user is None:
        return True
    if unit is None or not getattr(user, "is_active", False) or not hasattr(user, "_active_bindings"):
        return False
    return any(b.unit_id == unit.pk and perm in b.role.permissions for b in user._active_bindings())


def units_q(user, perm: str, prefix: str = "") -> Q:
    """Units (``prefix`` for a relation, e.g. ``"handling_unit__"``) in the user's scope for ``perm``."""
    q = unit_scope_q(scope_for(user, perm), f"{prefix}path", f"{prefix}id")
    return Q() if q is None else q


def has_anywhere(user, perm: str) -> bool:
    if user is None:
        return True
    check = getattr(user, "has_perm_anywhere", None)
    return bool(check and getattr(user, "is_authenticated", False) and check(perm))


def _split(perm: str) -> tuple[str, str]:
    resource, _, action = perm.rpartition(".")
    return resource, action


def _visible(user, perm: str, target) -> bool:
    resource, _ = _split(perm)
    if _is_unit(target):
        view = "orgs.unit.view" if resource == "orgs.unit" else f"{resource}.view"
        return covers(user, view, target) or covers(user, "orgs.unit.view", target)
    return type(target).objects.restrict(user, "view").filter(pk=target.pk).exists()


def _is_unit(target) -> bool:
    return getattr(type(target), "_meta", None) is not None and type(target)._meta.label == "orgs.OrgUnit"


def allows(user, perm: str, target=None) -> bool:
    """True when ``require(user, perm, target)`` would pass (for buttons and offered actions)."""
    if user is None:
        return True
    if not has_anywhere(user, perm):
        return False
    if target is None:
        return True
    if _is_unit(target):
        return covers(user, perm, target)
    resource, action = _split(perm)
    model = type(target)
    if getattr(model, "scope_resource", None) != resource:
        raise ValueError(f"{perm} is not a permission on {model._meta.label}")
    scope = scope_for(user, perm)
    if scope.all:
        return True  # restrict() would return every row: no query needed
    covered_by = getattr(target, "scope_covered_by", None)
    if covered_by is not None:  # the model states restrict()'s rule for one loaded row
        return covered_by(scope)
    return model.objects.restrict(user, action).filter(pk=target.pk).exists()


def require(user, perm: str, target=None, message="") -> None:
    """The single 403-or-404 policy. ``target`` is a unit, a scoped object or None ("anywhere").

    Raises ``core.errors.PermissionDenied`` (403) or ``NotFound`` (404); the web and the API map
    both the same way everywhere (``core.views.ServiceErrorMiddleware``, the API's handler)."""
    from .errors import NotFound, PermissionDenied

    if user is None:
        return
    if not has_anywhere(user, perm):
        raise PermissionDenied(message)
    if target is None or allows(user, perm, target):
        return
    if _visible(user, perm, target):
        raise PermissionDenied(message)
    raise NotFound()


def get_required(user, perm: str, queryset, ref, *, on=None):
    """The object ``ref`` (an instance or its id) from ``queryset`` if ``user`` holds ``perm`` on
    it, through ``require``'s one 403-or-404 policy; a missing or malformed id is ``NotFound``.
    ``on(obj)`` names what the permission is checked on when it is not the object itself (a
    person's unit). Services use this for every "get one, in scope" instead of their own try/get."""
    from .errors import NotFound

    model = queryset.model
    try:
        obj = queryset.get(pk=getattr(ref, "pk", ref))
    except (model.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    require(user, perm, on(obj) if on else obj)
    return obj


def require_city_wide(user, perm: str, message="") -> None:
    """Settings that apply to the whole city: ``perm`` with an "all" scope."""
    from .errors import PermissionDenied

    if user is None:
        return
    if not has_anywhere(user, perm):
        raise PermissionDenied()
    if not scope_for(user, perm).all:
        raise PermissionDenied(message)


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> ScopedQuerySet:
        """Rows of this queryset that ``user`` may ``action``. Default deny."""
        resource = getattr(self.model, "scope_resource", None)
        if not resource or user is None:
            return self.none()
        scope = scope_for(user, f"{resource}.{action}")
        if scope.empty:
            return self.none()
        q = scope_q(self.model, scope)
        if q is None:
            return self
        qs = self.filter(q)
        if getattr(self.model, "scope_multi_valued", False):
            qs = qs.distinct()
        return qs

    def get_scoped_or_404(self, user, action: str = "view", **lookup):
        """One object the user may ``action``; 404 (not 403) otherwise, so existence is not revealed."""
        try:
            return self.restrict(user, action).get(**lookup)
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404
        except self.model.MultipleObjectsReturned:
            raise Http404


class ScopedManager(models.Manager.from_queryset(ScopedQuerySet)):
    pass
