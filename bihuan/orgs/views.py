"""Organisation tree pages. Reads through ``orgs.selectors`` (and so ``restrict()``); writes through
``orgs.services``; login, permission, pagination and refusals through ``core.views``."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from bihuan.core.errors import NotFound, PermissionDenied
from bihuan.core.views import paginate, querystring_without, requires, submit

from . import selectors
from . import services as org_services
from .forms import MoveForm, PartyOrgForm, SearchForm, UnitCreateForm, UnitEditForm
from .models import Level, OrgUnit


def _search_term(request) -> tuple[SearchForm, str]:
    form = SearchForm(request.GET or None)
    return form, (form.cleaned_data["q"] if form.is_valid() else "")


@requires("orgs.unit.view")
def tree(request):
    """The top of the user's part of the tree, or search results anywhere in it."""
    form, q = _search_term(request)
    if q:
        units = selectors.search(OrgUnit.objects.restrict(request.user, "view"), q).select_related("parent")
    else:
        units = selectors.tops(request.user)
    units = selectors.with_counts(units.order_by("path"), request.user)
    return render(request, "orgs/tree.html", {
        "form": form, "q": q, "page": paginate(request, units), "qs": querystring_without(request, "page"),
    })


def _unit_context(request, unit: OrgUnit) -> dict:
    return {"unit": unit, "ancestors": selectors.breadcrumb(request.user, unit),
            **selectors.abilities(request.user, unit)}


@requires("orgs.unit.view")
def unit_detail(request, pk: int):
    unit = OrgUnit.objects.get_scoped_or_404(request.user, "view", pk=pk)
    form, q = _search_term(request)
    rows = selectors.with_counts(selectors.below(request.user, unit, q).order_by("sort", "code", "pk"),
                                 request.user)
    ctx = _unit_context(request, unit)
    ctx.update({"form": form, "q": q, "page": paginate(request, rows), "qs": querystring_without(request, "page"),
                "party_orgs": selectors.party_orgs(request.user, unit),
                "totals": selectors.with_counts(OrgUnit.objects.filter(pk=unit.pk), request.user).get()})
    return render(request, "orgs/unit_detail.html", ctx)


def _unit_for(request, pk: int, perm: str) -> OrgUnit:
    """The unit for an action (``@requires`` gave 403 without the permission); 404 when out of its scope."""
    return OrgUnit.objects.get_scoped_or_404(request.user, perm, pk=pk)


@requires("orgs.unit.change")
def unit_create_child(request, pk: int):
    parent = _unit_for(request, pk, "change")
    if parent.level >= Level.GRID:
        raise Http404
    level = parent.level + 1
    form = UnitCreateForm(request.POST or None, initial={"code": org_services.prefix_for_child(parent, level)})
    child = submit(request, form, lambda d: org_services.create_unit(
        request.user, parent=parent, level=level, code=d["code"], name=d["name"], valid_from=d["valid_from"],
        sort=d["sort"] or 0))
    if child is not None:
        messages.success(request, _("Unit %(name)s created.") % {"name": child.name})
        return redirect("web:unit_detail", pk=parent.pk)
    ctx = _unit_context(request, parent)
    ctx.update({"form": form, "child_level": Level(level).label,
                "code_length": org_services.CODE_LENGTH[level]})
    return render(request, "orgs/unit_create.html", ctx)


@requires("orgs.unit.change")
def unit_edit(request, pk: int):
    unit = _unit_for(request, pk, "change")
    initial = {"name": unit.name, "code": unit.code, "valid_from": unit.valid_from, "valid_to": unit.valid_to,
               "sort": unit.sort}
    form = UnitEditForm(request.POST or None, initial=initial)
    if submit(request, form, lambda d: org_services.update_unit(
            request.user, unit, name=d["name"], code=d["code"], valid_from=d["valid_from"],
            valid_to=d["valid_to"], sort=d["sort"])):
        messages.success(request, _("Unit saved."))
        return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx["form"] = form
    return render(request, "orgs/unit_edit.html", ctx)


@requires("orgs.unit.change")
def partyorg_create(request, pk: int):
    unit = _unit_for(request, pk, "change")
    form = PartyOrgForm(request.POST or None, user=request.user, unit=unit)
    if submit(request, form, lambda d: org_services.create_party_org(
            request.user, unit=unit, kind=d["kind"], name=d["name"], parent=d["parent"],
            established=d["established"])):
        messages.success(request, _("Party organisation added."))
        return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx["form"] = form
    return render(request, "orgs/partyorg_create.html", ctx)


@requires("orgs.unit.move")
def unit_move(request, pk: int):
    unit = _unit_for(request, pk, "move")
    if unit.parent_id is None:
        raise Http404
    form = MoveForm(request.POST or None, user=request.user, unit=unit)

    def move(d):
        try:
            return org_services.move_subtree(request.user, unit, d["new_parent"], new_code=d["new_code"] or None)
        except (NotFound, PermissionDenied) as exc:
            # The form already limited the target to scope; say so plainly rather than 404.
            msg = _("The new parent is not in your scope.")
            raise type(exc)(msg, field_errors={"new_parent_code": msg}) from exc

    if submit(request, form, move, rename={"new_parent": "new_parent_code"}):
        messages.success(request, _("Moved %(name)s with everything below it.") % {"name": unit.name})
        return redirect("web:unit_detail", pk=unit.pk)
    ctx = _unit_context(request, unit)
    ctx.update({"form": form, "current_parent": unit.parent})
    return render(request, "orgs/unit_move.html", ctx)
