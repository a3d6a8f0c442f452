"""Supervision pages: the board (督查督导) by child unit with drill-down, the backlog
(清仓见底) by age and light, and hotspots (未诉先办) with a one-click proactive matter.

A unit outside the user's view scope is a 404 (``core.scope.covers``). Counts come from
``loop.selectors`` (SQL). A refused service call is turned into a page by
``core.views.ServiceErrorMiddleware``.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.contrib import messages
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core.scope import allows, covers
from bihuan.core.views import paginate, querystring_without, requires
from bihuan.orgs.models import OrgUnit

from .. import selectors, services
from ..models import OPEN_STATES, Category, Matter, Source
from .matters import LIGHT_LABELS

VIEW = "loop.matter.view"


def unit_for(request, unit_id: int | None) -> OrgUnit:
    """The unit a page is about: ``unit_id`` if in scope (else 404), or the user's top unit."""
    user = request.user
    if unit_id is None:
        unit = user.scope_units(VIEW).order_by("path").first()
        if unit is None:
            raise Http404
        return unit
    unit = OrgUnit.objects.filter(pk=unit_id).first()
    if unit is None or not covers(user, VIEW, unit):
        raise Http404
    return unit


def crumbs(user, unit: OrgUnit) -> list[OrgUnit]:
    """Ancestors of ``unit`` the user may open, top first (for drilling back up)."""
    ids = unit.ancestor_ids()[:-1]
    return [a for a in OrgUnit.objects.filter(id__in=ids).order_by("depth") if covers(user, VIEW, a)]


def _common(request, unit: OrgUnit, page: str) -> dict:
    return {"unit": unit, "crumbs": crumbs(request.user, unit), "section": page,
            "tops": list(request.user.scope_units(VIEW).order_by("path")[:20])}


@requires(VIEW)
def board(request, unit_id: int | None = None):
    """An upper unit's open, overdue and flagged matters by child unit; drill down by clicking one."""
    user, now = request.user, timezone.now()
    unit = unit_for(request, unit_id)
    rows = selectors.supervision_board(user, unit, now=now)
    totals = {k: sum(r.get(k) or 0 for r in rows) for k in selectors.BOARD_COUNTS}
    # The user's open matters (for a township found once through the unit indexes), overdue or flagged;
    # by deadline through an expression, not the due_at index, whose walk from the oldest deadline
    # passes every closed matter first (same order). See docs/performance.md.
    matters = (selectors.open_matters(user).filter(selectors.subtree_q(unit))
               .filter(selectors.overdue_q(now) | Q(flagged=True)))
    matters = (selectors.with_light(matters, now).select_related("category", "location_unit", "handling_unit", "flagged_unit")
               .annotate(due_order=Coalesce("due_at", "dispatch_due_at")).order_by("due_order", "id"))
    ctx = _common(request, unit, "board")
    ctx.update({"rows": rows, "totals": totals, "page": paginate(request, matters),
                "qs": querystring_without(request, "page"), "light_labels": LIGHT_LABELS})
    return render(request, "loop/board.html", ctx)


@requires(VIEW)
def backlog(request, unit_id: int | None = None):
    """清仓见底: open matters by age and light; zero when everything is done."""
    user, now = request.user, timezone.now()
    unit = unit_for(request, unit_id)
    data = selectors.backlog(user, unit, now=now)
    ages = [label for label, *_ in selectors.AGE_BUCKETS]
    grid = [(age, data["by_age"][age], sum(data["by_age"][age].values())) for age in ages]
    by_light = {light: sum(data["by_age"][a][light] for a in ages) for light in ("green", "yellow", "red")}
    # Each child's 在办 is the board's count (the same in_work_q), from its two grouped queries
    # rather than one backlog query per child.
    children = [(SimpleNamespace(pk=r["unit_id"], name=r["unit_name"]), r["open"])
                for r in selectors.supervision_board(user, unit, now=now) if not r.get("own")]
    chart = {"ages": ages, "series": [
        {"light": light, "name": str(LIGHT_LABELS[light]), "data": [data["by_age"][a][light] for a in ages]}
        for light in ("green", "yellow", "red")]}
    ctx = _common(request, unit, "backlog")
    ctx.update({"total": data["total"], "grid": grid, "by_light": by_light, "children": children,
                "chart": chart, "light_labels": LIGHT_LABELS})
    return render(request, "loop/backlog.html", ctx)


def _int(value, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value)))
    except (TypeError, ValueError):
        return default


@requires(VIEW)
def hotspots(request, unit_id: int | None = None):
    """未诉先办: a category piling up at one place within a window; open a proactive matter in one click."""
    user, now = request.user, timezone.now()
    unit = unit_for(request, unit_id)
    window = _int(request.GET.get("window"), 30, 1, 366)
    threshold = _int(request.GET.get("threshold"), 3, 1, 1000)
    rows = selectors.hotspots(user, unit, now=now, window_days=window, threshold=threshold)
    existing = {}
    if rows:
        for r in (Matter.objects.restrict(user, "view")
                  .filter(selectors.unit_q(unit, field="location_unit"), source=Source.PROACTIVE,
                          state__in=OPEN_STATES, created_at__gte=now - timedelta(days=window))
                  .values("category_id", "location_unit_id", "id").order_by("id")):
            existing.setdefault((r["category_id"], r["location_unit_id"]), r["id"])
    for r in rows:
        r["proactive_id"] = existing.get((r["category_id"], r["unit_id"]))
    ctx = _common(request, unit, "hotspots")
    ctx.update({"rows": rows, "window": window, "threshold": threshold,
                "can_supervise": allows(user, "loop.matter.supervise")})
    return render(request, "loop/hotspots.html", ctx)


@requires("loop.matter.supervise")
@require_POST
def proactive(request):
    """One click from a hotspot: a proactive matter (未诉先办) at that place for that category.

    The service decides; a refusal goes back to the hotspots page (``next``) as a message."""
    user = request.user
    cat = Category.objects.filter(pk=_int(request.POST.get("category"), 0, 0, 2**31), active=True).first()
    unit = OrgUnit.objects.filter(pk=_int(request.POST.get("unit"), 0, 0, 2**31)).first()
    if cat is None or unit is None or not covers(user, VIEW, unit):
        raise Http404
    m = services.create_proactive(user, category=cat, location_unit=unit, now=timezone.now())
    messages.success(request, _("Proactive matter #%(id)d opened; dispatch it now.") % {"id": m.pk})
    return redirect("loop:detail", pk=m.pk)
