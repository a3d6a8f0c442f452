"""Where a matter goes: the township above a place, the routing rule's lead unit, and the peers a
similar-case sweep (举一反三) reaches. Reads only; the transitions in ``matters`` write."""

from __future__ import annotations

from django.db.models import Q

from bihuan.orgs.models import Level, OrgUnit

from ..models import Category, Matter, RoutingRule


def township_of(unit: OrgUnit) -> OrgUnit:
    """The township above (or at) ``unit``; a unit above township level is its own."""
    if unit.level <= Level.TOWNSHIP:
        return unit
    ids = unit.ancestor_ids()
    return OrgUnit.objects.filter(id__in=ids, level=Level.TOWNSHIP).first() or unit


def suggest_handling_unit(category: Category, location: OrgUnit) -> OrgUnit:
    """Routing: the rule with the deepest location covering ``location`` (category-specific rules
    before catch-all ones at the same depth); else the location's township."""
    ids = location.ancestor_ids()
    rules = list(RoutingRule.objects.filter(location_id__in=ids)
                 .filter(Q(category=category) | Q(category__isnull=True)).select_related("location", "handling_unit"))
    if rules:
        rules.sort(key=lambda r: (r.location.depth, r.category_id is not None), reverse=True)
        return rules[0].handling_unit
    return township_of(location)


def within(unit: OrgUnit, top: OrgUnit) -> bool:
    """``unit`` is ``top`` or below it in the tree (a fact of the tree, not of anyone's scope)."""
    return unit.pk == top.pk or top.is_ancestor_of(unit)


def similar_sweep_targets(matter: Matter) -> tuple[OrgUnit | None, list[OrgUnit]]:
    """The dispatcher and the peer units a similar-case sweep from ``matter`` creates tasks for:
    the other current units under the lead unit's parent, dispatched by that parent when it is
    within the matter's dispatching unit, else by the dispatching unit (then only peers under it)."""
    lead = matter.handling_unit or matter.location_unit
    parent = lead.parent
    if parent is None:
        return None, []
    dispatcher = parent if within(parent, matter.dispatch_unit) else matter.dispatch_unit
    peers = (OrgUnit.objects.filter(parent_id=parent.pk, valid_to__isnull=True).exclude(pk=lead.pk)
             .order_by("sort", "code"))
    return dispatcher, [p for p in peers if within(p, dispatcher)]
