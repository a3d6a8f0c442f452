"""Reads of the organisation tree for pages: what a user sees of it, with counts done in SQL.

Everything starts from ``OrgUnit.objects.restrict(user, action)`` (core.scope, the one gate).
"""

from __future__ import annotations

from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from bihuan.core.scope import allows

from .models import Level, OrgUnit, PartyOrg


def _count(qs):
    """COUNT(*) of ``qs`` as a correlated subquery (one row, no GROUP BY)."""
    sub = qs.order_by().annotate(_n=Func(F("pk"), function="COUNT")).values("_n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def with_counts(qs, user):
    """Annotate each unit with what the user can see below it: direct children, descendants, grids."""
    visible = OrgUnit.objects.restrict(user, "view")
    below = visible.filter(path__startswith=OuterRef("path"), depth__gt=OuterRef("depth"))
    return qs.annotate(
        n_children=_count(visible.filter(parent_id=OuterRef("pk"))),
        n_descendants=_count(below),
        n_grids=_count(below.filter(level=Level.GRID)),
    )


def search(qs, q: str):
    """Units whose name contains ``q`` or whose code starts with it."""
    q = (q or "").strip()
    return qs.filter(Q(name__icontains=q) | Q(code__startswith=q)) if q else qs


def tops(user) -> QuerySet:
    """The units at the top of the user's part of the tree (the tree page's first rows)."""
    return OrgUnit.objects.restrict(user, "view").filter(pk__in=user.scope_units().values("pk"))


def below(user, unit: OrgUnit, q: str = "") -> QuerySet:
    """``unit``'s children the user sees, or with ``q`` a search of its whole visible subtree."""
    visible = OrgUnit.objects.restrict(user, "view")
    if q:
        return search(visible.filter(path__startswith=unit.path).exclude(pk=unit.pk), q).select_related("parent")
    return visible.filter(parent=unit)


def party_orgs(user, unit: OrgUnit) -> QuerySet:
    return PartyOrg.objects.restrict(user, "view").filter(unit=unit).select_related("parent")


def breadcrumb(user, unit: OrgUnit) -> list[tuple[OrgUnit, bool]]:
    """``unit``'s ancestors, root first, each with whether the user may open it."""
    ids = unit.ancestor_ids()[:-1]
    linkable = set(OrgUnit.objects.restrict(user, "view").filter(id__in=ids).values_list("id", flat=True))
    return [(a, a.pk in linkable) for a in OrgUnit.objects.filter(id__in=ids).order_by("depth")]


def abilities(user, unit: OrgUnit) -> dict:
    """Which of the unit page's buttons to show (the services decide again on submit)."""
    return {
        "can_change": allows(user, "orgs.unit.change", unit),
        "can_move": unit.parent_id is not None and allows(user, "orgs.unit.move", unit),
        "can_add_child": unit.level < Level.GRID,
        "can_export": allows(user, "orgs.unit.export", unit),
    }


def current_unit_by_code(user, code: str, action: str = "view") -> OrgUnit | None:
    """The current (not expired) unit with ``code`` inside the user's scope, or None."""
    code = (code or "").strip()
    if not code:
        return None
    return OrgUnit.objects.restrict(user, action).filter(code=code, valid_to__isnull=True).first()


def move_candidates(user, unit: OrgUnit) -> QuerySet:
    """Likely new parents: units of the parent's level under the same grandparent (a bounded list)."""
    candidates = OrgUnit.objects.restrict(user, "move").filter(level=unit.level - 1, valid_to__isnull=True)
    if unit.depth >= 2:
        candidates = candidates.filter(parent_id=unit.ancestor_ids()[-3])
    return candidates.exclude(pk=unit.parent_id).order_by("path")


def ancestor_at(path_field: str, depth: int):
    """The id (as text) of the ancestor at ``depth`` on a path like ``/1/12/345/`` held in
    ``path_field``, in SQL: rows of whole subtrees group by the unit of a set above them in one
    query (units of one depth never overlap, so a row counts for at most one of them)."""
    from django.db.models import Value
    from django.db.models.functions import StrIndex, Substr

    rest = Substr(path_field, 2)
    for _i in range(depth):
        rest = Substr(rest, StrIndex(rest, Value("/")) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)
