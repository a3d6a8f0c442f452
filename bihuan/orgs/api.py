from __future__ import annotations

from datetime import date

from django.http import Http404
from ninja import Router, Schema

from bihuan.core.pagination import cursor_page
from bihuan.core.schema import Cursor, Id, Limit, ShortText, SmallInt

from .models import OrgUnit

router = Router(tags=["orgs"])


class UnitOut(Schema):
    id: int
    parent_id: int | None
    level: int
    level_name: str
    code: str
    name: str
    path: str
    valid_from: date | None
    valid_to: date | None

    @staticmethod
    def resolve_level_name(obj):
        return str(obj.get_level_display())


class UnitPage(Schema):
    items: list[UnitOut]
    next_cursor: str | None


@router.get("", response=UnitPage, summary="List units (scope-filtered)")
def list_units(request, parent: Id | None = None, level: SmallInt | None = None, q: ShortText | None = None,
               cursor: Cursor | None = None, limit: Limit = 50):
    qs = OrgUnit.objects.restrict(request.user, "view")
    if parent is not None:
        qs = qs.filter(parent_id=parent)
    if level is not None:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(name__contains=q) | qs.filter(code__startswith=q)
    # Children of one parent walk the (parent, sort, code) index. A whole subtree is read in
    # path order: the path index serves both the scope prefix and the order, whereas ordering
    # a subtree by code made PostgreSQL walk the code index and discard most rows.
    order = ["sort", "code", "id"] if parent is not None else ["path"]
    page = cursor_page(qs, order=order, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/{unit_id}", response=UnitOut, summary="One unit")
def get_unit(request, unit_id: Id):
    unit = OrgUnit.objects.get_scoped_or_404(request.user, "view", pk=unit_id)
    if unit is None:
        raise Http404
    return unit
