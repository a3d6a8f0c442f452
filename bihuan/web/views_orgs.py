"""Organisation tree browser and its actions. Reads go through restrict(); writes through orgs.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.errors import PermissionDenied as ServicePermissionDenied
from bihuan.core.scope import require
from bihuan.core.views import paginate, querystring_without
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level, OrgUnit, PartyOrg

from .forms import MoveForm, PartyOrgForm, SearchForm, UnitCreateForm, UnitEditForm, apply_service_error


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


def _search(qs, q: str):
    q = q.strip()
    return qs.filter(Q(name__icontains=q) | Q(code__startswith=q)) if q else qs


@login_required
def tree(request):
    """The top of the user's part of the tree, or search results anywhere in it."""
    require(request.user, "orgs.unit.view")
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    visible = OrgUnit.objects.restrict(request.user, "view")
    if q:
        units = _search(visible, q).select_related("parent")
    else:
        top_ids = request.user.scope_units().values("pk")
        units = visible.filter(pk__in=top_ids)
    units = with_counts(units.order_by("path"), request.user)
    return render(request, "web/orgs/tree.html", {
        "form": form, "q": q, "page": paginate(request, units), "qs": querystring_without(request, "page"),
    })


def _unit_context(request, unit: OrgUnit) -> dict:
    user = request.user
    ids = unit.ancestor_ids()[:-1]
    linkable = set(OrgUnit.objects.restrict(user, "view").filter(id__in=ids).values_list("id", flat=True))
    ancestors = [(a, a.pk in linkable) for a in OrgUnit.objects.filter(id__in=ids).order_by("depth")]
    return {
        "unit": unit,
        "ancestors": ancestors,
        "can_change": OrgUnit.objects.restrict(user, "change").filter(pk=unit.pk).exists(),
        "can_move": unit.parent_id is not None and OrgUnit.objects.restrict(user, "move").filter(pk=unit.pk).exists(),
        "can_add_child": unit.level < Level.GRID,
        "can_export": OrgUnit.objects.restrict(user, "export").filter(pk=unit.pk).exists(),
    }


@login_required
def unit_detail(request, pk: int):
    require(request.user, "orgs.unit.view")
    unit = OrgUnit.objects.get_scoped_or_404(request.user, "view", pk=pk)
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    visible = OrgUnit.objects.restrict(request.user, "view")
    if q:  # search the whole visible subtree below this unit
        rows = _search(visible.filter(path__startswith=unit.path).exclude(pk=unit.pk), q).select_related("parent")
    else:
        rows = visible.filter(parent=unit)
    rows = with_counts(rows.order_by("sort", "code", "pk"), request.user)
    party_orgs = PartyOrg.objects.restrict(request.user, "view").filter(unit=unit).select_related("parent")
    ctx = _unit_context(request, unit)
    ctx.update({"form": form, "q": q, "page": paginate(request, rows), "qs": querystring_without(request, "page"),
                "party_orgs": party_orgs, "totals": with_counts(OrgUnit.objects.filter(pk=unit.pk),
                                                                 request.user).get()})
    return render(request, "web/orgs/unit_detail.html", ctx)


def _unit_for(request, pk: int, perm: str) -> OrgUnit:
    """The unit for an action: 403 without the permission at all, 404 when out of its scope."""
    require(request.user, f"orgs.unit.{perm}")
    return OrgUnit.objects.get_scoped_or_404(request.user, perm, pk=pk)


def _refused(form, exc: ServiceError, rename: dict | None = None):
    # An action target that vanished from scope mid-way is still a 404.
    if isinstance(exc, NotFound) and not exc.field_errors:
        raise Http404
    if isinstance(exc, ServicePermissionDenied) and not exc.field_errors:
        form.add_error(None, str(exc.message))
        return
    apply_service_error(form, exc, rename)


@login_required
def unit_create_child(request, pk: int):
    parent = _unit_for(request, pk, "change")
    if parent.level >= Level.GRID:
        raise Http404
    level = parent.level + 1
    prefix = org_services._prefix_for_child(parent, level)
    form = UnitCreateForm(request.POST or None, initial={"code": prefix})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            child = org_services.create_unit(request.user, parent=parent, level=level, code=d["code"],
                                             name=d["name"], valid_from=d["valid_from"], sort=d["sort"] or 0)
        except ServiceError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("Unit %(name)s created.") % {"name": child.name})
            return redirect("web:unit_detail", pk=parent.pk)
    ctx = _unit_context(request, parent)
    ctx.update({"form": form, "child_level": Level(level).label,
                "code_length": org_services.CODE_LENGTH[level]})
    return render(request, "web/orgs/unit_create.html", ctx)


@login_required
def unit_edit(request, pk: int):
    unit = _unit_for(request, pk, "change")
    initial = {"name": unit.name, "code": unit.code, "valid_from": unit.valid_from, "valid_to": unit.valid_to,
               "sort": unit.sort}
    form = UnitEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org_services.update_unit(request.user, unit, name=d["name"], code=d["code"], valid_from=d["valid_from"],
                                     valid_to=d["valid_to"], sort=d["sort"])
        except ServiceError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("Unit saved."))
            return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx["form"] = form
    return render(request, "web/orgs/unit_edit.html", ctx)


@login_required
def partyorg_create(request, pk: int):
    unit = _unit_for(request, pk, "change")
    form = PartyOrgForm(request.POST or None, user=request.user, unit=unit)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org_services.create_party_org(request.user, unit=unit, kind=d["kind"], name=d["name"],
                                          parent=d["parent"], established=d["established"])
        except ServiceError as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("Party organisation added."))
            return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx["form"] = form
    return render(request, "web/orgs/partyorg_create.html", ctx)


@login_required
def unit_move(request, pk: int):
    unit = _unit_for(request, pk, "move")
    if unit.parent_id is None:
        raise Http404
    form = MoveForm(request.POST or None, user=request.user, unit=unit)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org_services.move_subtree(request.user, unit, d["new_parent"], new_code=d["new_code"] or None)
        except ServiceError as exc:
            if isinstance(exc, NotFound | ServicePermissionDenied):
                # The form already limited the target to scope; say so plainly rather than 404.
                form.add_error("new_parent_code", _("The new parent is not in your scope."))
            else:
                apply_service_error(form, exc, {"new_parent": "new_parent_code"})
        else:
            messages.success(request, _("Moved %(name)s with everything below it.") % {"name": unit.name})
            return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx.update({"form": form, "current_parent": unit.parent})
    return render(request, "web/orgs/unit_move.html", ctx)
