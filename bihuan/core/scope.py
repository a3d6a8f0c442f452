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
        return self.covers_path(unit.path) or unit.pk in self.unit_ids


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


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> ScopedQuerySet:
        """Rows of this queryset that ``user`` may ``action``. Default deny."""
        resource = getattr(self.model, "scope_resource", None)
        get_scope = getattr(user, "get_scope", None)
        if not resource or get_scope is None or not getattr(user, "is_authenticated", False):
            return self.none()
        scope: Scope = get_scope(f"{resource}.{action}")
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
