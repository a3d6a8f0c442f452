"""Pages for persons, households, grids and the reserve pool.

Reads go through ``selectors`` (and so ``restrict``); writes through ``services``; login,
permission, forms and refusals through ``core.views`` (``requires``, ``submit``, the middleware). Lists use
keyset pages ("next" carries a cursor), so they cost the same on page 1 and page 10,000.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.errors import PermissionDenied as ServicePermissionDenied
from bihuan.core.pagination import cursor_page
from bihuan.core.scope import allows
from bihuan.core.views import querystring_without, requires, submit
from bihuan.orgs.models import Level

from . import forms, selectors, services
from .choices import AgeBand, Education, Flag
from .models import FLAG_FIELDS, Household, Person, Vulnerability

PAGE = 25


# Persons and households are listed grid by grid: (unit, id) is an index, and a township's first
# page is then a seek per grid, where id order walked everyone inserted before it (3 s at 8.3M).
BY_UNIT = ("unit_id", "id")


def _page(request, qs, order=BY_UNIT):
    try:
        return cursor_page(qs, order=list(order), cursor=request.GET.get("cursor") or None, limit=PAGE)
    except ServiceError:
        raise Http404


# --- persons ---------------------------------------------------------------------------------

SEARCH_SESSION_KEY = "people.searches"


def _search_redirect(request):
    """The person search form is POSTed: an ID number or phone typed into it is kept in the
    session behind a random token (``?qt=``), so it never lands in a URL, the browser history
    or an access log. Other searches redirect to a plain, shareable ``?q=`` URL."""
    params = {k: v for k in ("unit", "role", "flag") if (v := request.POST.get(k, "").strip())}
    q = request.POST.get("q", "").strip()[:50]
    if q and selectors.is_personal_query(q):
        token = secrets.token_urlsafe(9)
        saved = request.session.get(SEARCH_SESSION_KEY, {})
        saved[token] = q
        request.session[SEARCH_SESSION_KEY] = dict(list(saved.items())[-10:])  # keep the session small
        params["qt"] = token
    elif q:
        params["q"] = q
    return redirect(f"{request.path}?{urlencode(params)}" if params else request.path)


@requires("people.person.view")
def person_list(request):
    if request.method == "POST":
        return _search_redirect(request)
    data = request.GET.copy()
    expired = False
    if "qt" in data:
        q = request.session.get(SEARCH_SESSION_KEY, {}).get(data.pop("qt")[0])
        expired = q is None
        data["q"] = q or ""
    form = forms.PersonFilterForm(data or None)
    f = selectors.PersonFilter()
    unit_unknown = False
    if form.is_valid():
        d = form.cleaned_data
        f.q, f.role, f.flag = d["q"], d["role"], d["flag"]
        if d["unit"]:
            f.unit = selectors.unit_in_scope(request.user, d["unit"])
            unit_unknown = f.unit is None
    qs = Person.objects.none() if unit_unknown or expired else selectors.persons(request.user, f)
    page = _page(request, qs.select_related("unit", "vulnerability"))
    return render(request, "people/person_list.html", {
        "form": form, "page": page, "qs": querystring_without(request, "cursor"), "unit_unknown": unit_unknown,
        "search_expired": expired,
        "can_change": request.user.has_perm_anywhere("people.person.change")})


def _detail_context(request, person: Person, **extra) -> dict:
    user = request.user
    vul = Vulnerability.objects.filter(person=person).first()
    can_needs = allows(user, services.NEEDS, person)
    ctx = {
        "person": person, "vul": vul, "flags": [Flag(f).label for f in FLAG_FIELDS if vul and getattr(vul, f)],
        "can_change": allows(user, "people.person.change", person),
        "can_reveal": allows(user, services.REVEAL, person),
        "can_needs": can_needs,
        "needs": services.read_needs(user, person) if can_needs and vul and vul.needs_enc else "",
        "household": Household.objects.restrict(user, "view").filter(pk=person.household_id).first(),
        "cared": Household.objects.restrict(user, "view").filter(carer=person).order_by("code")[:50],
        "reveal_form": forms.RevealForm(),
    }
    ctx.update(extra)
    return ctx


@requires("people.person.view")
def person_detail(request, pk: int):
    person = Person.objects.select_related("unit", "party_branch").get_scoped_or_404(request.user, "view", pk=pk)
    return render(request, "people/person_detail.html", _detail_context(request, person))


@requires("people.person.view")
@require_POST
def person_reveal(request, pk: int):
    person = Person.objects.select_related("unit").get_scoped_or_404(request.user, "view", pk=pk)
    form = forms.RevealForm(request.POST)
    value = submit(request, form, lambda d: services.reveal(request.user, person, d["field"], d["reason"]))
    if form.status == 403:
        raise DjangoPermissionDenied  # no reveal permission on this person: the 403 page, as before
    revealed = {"field": form.cleaned_data["field"], "value": value} if value is not None else None
    resp = render(request, "people/person_detail.html",
                  _detail_context(request, person, reveal_form=form, revealed=revealed),
                  status=200 if revealed else 400)
    resp["Cache-Control"] = "no-store"  # a revealed number must not sit in a cache
    return resp


def _person_data(d: dict, *, editing: bool) -> dict:
    data = {k: d[k] for k in ("name", "gender", "birth_date", "address", "party_status", "party_joined",
                              "is_volunteer", "is_lecturer", "is_reserve", "education", "skills", "grid_role")}
    for k in ("id_number", "phone"):
        if d[k] or not editing:
            data[k] = d[k]
    return data


def _unit_for_form(user, code, resource: str):
    """The unit typed into a form, as a field error the form shows when it is not in scope."""
    unit = selectors.unit_in_scope(user, code, resource, "change")
    if unit is None:
        msg = _("No current unit with this code is in your scope.")
        raise ServiceError(msg, {"unit": msg})
    return unit


@requires("people.person.change")
def person_create(request):
    form = forms.PersonForm(request.POST or None, initial={"unit": request.GET.get("unit", "")})
    person = submit(request, form, lambda d: services.create_person(
        request.user, unit=_unit_for_form(request.user, d["unit"], "people.person"),
        **_person_data(d, editing=False)))
    if person is not None:
        messages.success(request, _("Person registered."))
        return redirect("people:person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "title": _("Register a person")},
                  status=form.status)


@requires("people.person.change")
def person_edit(request, pk: int):
    person = Person.objects.select_related("unit").get_scoped_or_404(request.user, "change", pk=pk)
    initial = {k: getattr(person, k) for k in ("name", "gender", "birth_date", "address", "party_status",
                                               "party_joined", "is_volunteer", "is_lecturer", "is_reserve",
                                               "education", "skills", "grid_role", "version")}
    initial["unit"] = person.unit.code
    form = forms.PersonForm(request.POST or None, initial=initial, editing=True)
    if submit(request, form, lambda d: services.update_person(
            request.user, person, unit=_unit_for_form(request.user, d["unit"], "people.person"),
            version=d["version"], **_person_data(d, editing=True))):
        messages.success(request, _("Changes saved."))
        return redirect("people:person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "person": person, "title": _("Edit person")},
                  status=form.status)


@requires("people.person.change")
def person_vulnerability(request, pk: int):
    person = Person.objects.select_related("unit").get_scoped_or_404(request.user, "change", pk=pk)
    can_needs = allows(request.user, services.NEEDS, person)
    vul = Vulnerability.objects.filter(person=person).first()
    initial = {f: getattr(vul, f) for f in FLAG_FIELDS} if vul else {}
    if vul:
        initial["surveyed_on"] = vul.surveyed_on
        if can_needs:
            initial["needs"] = services.read_needs(request.user, person)
    form = forms.VulnerabilityForm(request.POST or None, initial=initial, can_needs=can_needs)
    if submit(request, form, lambda d: services.set_vulnerability(
            request.user, person, flags=form.flags(), needs=d.get("needs") if can_needs else None,
            surveyed_on=d["surveyed_on"])):
        messages.success(request, _("Survey result saved."))
        return redirect("people:person_detail", pk=person.pk)
    return render(request, "people/person_form.html",
                  {"form": form, "person": person, "title": _("Vulnerability survey")}, status=form.status)


# --- households ---------------------------------------------------------------------------------

@requires("people.household.view")
def household_list(request):
    unit, unit_unknown = None, False
    if request.GET.get("unit"):
        unit = selectors.unit_in_scope(request.user, request.GET["unit"], "people.household")
        unit_unknown = unit is None
    qs = Household.objects.none() if unit_unknown else selectors.households(request.user, unit=unit,
                                                                            q=request.GET.get("q", ""))
    page = _page(request, qs.select_related("unit", "carer", "head"))
    return render(request, "people/household_list.html", {
        "page": page, "qs": querystring_without(request, "cursor"), "unit_unknown": unit_unknown,
        "q": request.GET.get("q", ""), "unit_code": request.GET.get("unit", ""),
        "can_change": request.user.has_perm_anywhere("people.household.change")})


def _carer_candidates(user, household: Household):
    """Party members of the household's village (its grid's parent), for the carer choice."""
    village = household.unit if household.unit.level != Level.GRID else household.unit.parent
    return (selectors.persons(user, selectors.PersonFilter(unit=village, role="party_member"))
            .select_related("unit").order_by("name", "id")[:300])


@requires("people.household.view")
def household_detail(request, pk: int):
    h = Household.objects.select_related("unit", "head", "carer").get_scoped_or_404(request.user, "view", pk=pk)
    can_change = allows(request.user, "people.household.change", h)
    members = (Person.objects.restrict(request.user, "view").filter(household=h)
               .select_related("vulnerability").order_by("id")[:100])
    ctx = {"h": h, "members": members, "can_change": can_change}
    if can_change:
        ctx["member_form"] = forms.MemberForm()
        ctx["carer_form"] = forms.CarerForm(initial={"carer": h.carer_id},
                                            candidates=_carer_candidates(request.user, h))
    return render(request, "people/household_detail.html", ctx)


@requires("people.household.change")
def household_create(request):
    form = forms.HouseholdForm(request.POST or None, initial={"unit": request.GET.get("unit", "")})
    h = submit(request, form, lambda d: services.create_household(
        request.user, unit=_unit_for_form(request.user, d["unit"], "people.household"), address=d["address"],
        code=d["code"]))
    if h is not None:
        messages.success(request, _("Household registered."))
        return redirect("people:household_detail", pk=h.pk)
    return render(request, "people/person_form.html", {"form": form, "title": _("Register a household")},
                  status=form.status)


@requires("people.household.change")
@require_POST
def household_member(request, pk: int):
    h = Household.objects.get_scoped_or_404(request.user, "change", pk=pk)
    form = forms.MemberForm(request.POST)
    if form.is_valid():
        ref = form.cleaned_data["person"].strip()
        qs = Person.objects.restrict(request.user, "change")
        if len(ref) >= 15:
            qs = qs.filter(selectors.search_q(ref))
        else:
            qs = qs.filter(pk=int(ref)) if ref.isdigit() else qs.none()
        person = qs.first()
        if person is None:
            messages.error(request, _("No such person in your scope."))
        else:
            try:
                services.add_member(request.user, h, person, form.cleaned_data["relation"])
            except (NotFound, ServicePermissionDenied):
                raise  # 404/403 through core.views.ServiceErrorMiddleware
            except ServiceError as exc:  # shown on the household page the form sits on
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Member added."))
    return redirect("people:household_detail", pk=h.pk)


@requires("people.household.change")
@require_POST
def household_carer(request, pk: int):
    h = Household.objects.select_related("unit").get_scoped_or_404(request.user, "change", pk=pk)
    form = forms.CarerForm(request.POST, candidates=_carer_candidates(request.user, h))
    if form.is_valid():
        pk_ = form.cleaned_data["carer"]
        carer = Person.objects.restrict(request.user, "view").filter(pk=pk_).first() if pk_ else None
        try:
            services.link_carer(request.user, h, carer)
        except (NotFound, ServicePermissionDenied):
            raise  # 404/403 through core.views.ServiceErrorMiddleware
        except ServiceError as exc:  # shown on the household page the form sits on
            messages.error(request, "; ".join(str(m) for m in exc.field_errors.values()) or str(exc.message))
        else:
            messages.success(request, _("Linked party member saved."))
    else:
        messages.error(request, _("Choose a party member of this village."))
    return redirect("people:household_detail", pk=h.pk)


# --- grids and the reserve pool -------------------------------------------------------------------

@requires("people.household.view")
def grid_list(request):
    """The grids where the user may see households (a grid worker: their own)."""
    grids = selectors.units_in_scope(request.user, "people.household").filter(level=Level.GRID)
    page = _page(request, grids.select_related("parent"), order=("code", "id"))
    return render(request, "people/grid_list.html", {"page": page, "qs": querystring_without(request, "cursor")})


@requires("people.household.view")
def grid_detail(request, unit_id: int):
    """A grid's households with whoever looks after each, and its carers."""
    grid = selectors.units_in_scope(request.user, "people.household").filter(pk=unit_id).first()
    if grid is None:
        raise Http404
    data = selectors.grid_overview(request.user, grid)
    page = _page(request, data["households"], order=("code", "id"))
    return render(request, "people/grid_detail.html", {
        "grid": grid, "page": page, "carers": data["carers"][:100], "uncared": data["uncared"],
        "qs": querystring_without(request, "cursor")})


@requires("people.person.view")
def reserve_pool(request):
    form = forms.ReserveFilterForm(request.GET or None)
    today = timezone.localdate()
    f = selectors.PersonFilter(role="reserve")
    unit_unknown = False
    if form.is_valid():
        d = form.cleaned_data
        f.age_band, f.education = d["age_band"], d["education"]
        if d["unit"]:
            f.unit = selectors.unit_in_scope(request.user, d["unit"])
            unit_unknown = f.unit is None
    qs = Person.objects.none() if unit_unknown else selectors.persons(request.user, f, today=today)
    stats = selectors.reserve_pool(request.user, f.unit, today=today) if not unit_unknown else None
    bands = [(AgeBand(b).label, (stats or {}).get("by_band", {}).get(b, 0)) for b in AgeBand.values]
    educations = [(Education(e).label if e else _("not set"), n)
                  for e, n in sorted((stats or {}).get("by_education", {}).items())]
    return render(request, "people/reserve.html", {
        "form": form, "page": _page(request, qs.select_related("unit")), "qs": querystring_without(request, "cursor"),
        "stats": stats, "bands": bands, "educations": educations, "unit_unknown": unit_unknown,
        "unit": f.unit, "today": today})
