"""``/api/v1/people`` and ``/api/v1/households``: same scope, masking and validation as the web."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from bihuan.core.errors import ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import Column, Cursor, Id, Limit, LongText, ShortText, Text, Version
from bihuan.orgs.models import OrgUnit, PartyOrg

from . import selectors, services
from .models import FLAG_FIELDS, Household, Person

people_router = Router(tags=["people"])
households_router = Router(tags=["households"])


class PersonOut(Schema):
    id: int
    name: str
    gender: str
    birth_date: date | None
    id_number: str  # always masked
    phone: str  # always masked
    address: str
    unit_id: int
    unit_code: str
    unit_name: str
    household_id: int | None
    relation: str
    party_status: str
    party_joined: date | None
    party_branch_id: int | None
    is_resident: bool
    is_volunteer: bool
    is_lecturer: bool
    is_reserve: bool
    education: str
    skills: str
    grid_role: str
    flags: list[str]
    version: int

    @staticmethod
    def resolve_id_number(obj):
        return obj.id_number_masked

    @staticmethod
    def resolve_phone(obj):
        return obj.phone_masked

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name

    @staticmethod
    def resolve_flags(obj):
        return selectors.flags_of(obj)


class PersonPage(Schema):
    items: list[PersonOut]
    next_cursor: str | None


# Text fields are bounded by their columns (core.schema.Column): a longer value is a 422, not a 500.
Name = Column(Person, "name")
Address = Column(Person, "address")
Skills = Column(Person, "skills")
Choice = Text(20)  # gender, relation, party status, education, grid role: checked against the choices
Number = Text(40)  # ID or phone as typed (spaces, dashes); people.validators decides


class PersonIn(Schema):
    unit: ShortText  # division code (or id) of the village, community or grid
    name: Name
    gender: Choice = ""
    birth_date: date | None = None
    id_number: Number = ""
    phone: Number = ""
    address: Address = ""
    household_id: Id | None = None
    relation: Choice = ""
    party_status: Choice = ""
    party_joined: date | None = None
    party_branch_id: Id | None = None
    is_volunteer: bool = False
    is_lecturer: bool = False
    is_reserve: bool = False
    education: Choice = ""
    skills: Skills = ""
    grid_role: Choice = ""


class PersonPatch(Schema):
    version: Version | None = None
    unit: ShortText | None = None
    name: Name | None = None
    gender: Choice | None = None
    birth_date: date | None = None
    id_number: Number | None = None
    phone: Number | None = None
    address: Address | None = None
    household_id: Id | None = None
    relation: Choice | None = None
    party_status: Choice | None = None
    party_joined: date | None = None
    party_branch_id: Id | None = None
    is_volunteer: bool | None = None
    is_lecturer: bool | None = None
    is_reserve: bool | None = None
    education: Choice | None = None
    skills: Skills | None = None
    grid_role: Choice | None = None


class VulnerabilityIn(Schema):
    living_alone: bool | None = None
    elderly: bool | None = None
    hardship: bool | None = None
    disability: bool | None = None
    chronic_illness: bool | None = None
    left_behind_child: bool | None = None
    needs: LongText | None = None
    surveyed_on: date | None = None


class PersonRevealIn(Schema):
    # Optional here so scope is judged first (404) and the service reports missing values per field.
    field: Text(20) = ""
    reason: LongText = ""


class PersonRevealOut(Schema):
    field: str
    value: str


def _unit(user, code_or_pk: str | None, resource: str, action: str = "change") -> OrgUnit:
    unit = selectors.unit_in_scope(user, code_or_pk, resource, action)
    if unit is None:
        raise ServiceError(_("No current unit with this code is in your scope."), {"unit": _("Unknown unit.")})
    return unit


def _household(user, pk: int | None) -> Household | None:
    if pk is None:
        return None
    h = Household.objects.restrict(user, "view").filter(pk=pk).first()
    if h is None:
        raise ServiceError(_("No such household in your scope."), {"household_id": _("Unknown household.")})
    return h


def _branch(user, pk: int | None) -> PartyOrg | None:
    if pk is None:
        return None
    b = PartyOrg.objects.restrict(user, "view").filter(pk=pk).first()
    if b is None:
        raise ServiceError(_("No such party organisation in your scope."),
                           {"party_branch_id": _("Unknown party organisation.")})
    return b


def _person(user, pk: int, action: str = "view") -> Person:
    return Person.objects.select_related("unit", "vulnerability").get_scoped_or_404(user, action, pk=pk)


@people_router.get("", response=PersonPage, summary="Search persons (scope-filtered, masked)")
def list_people(request, q: ShortText = "", unit: ShortText = "", role: ShortText = "", flag: ShortText = "",
                age_band: ShortText = "", education: ShortText = "", cursor: Cursor | None = None,
                limit: Limit = 50):
    f = selectors.PersonFilter(q=q, role=role, flag=flag, age_band=age_band, education=education)
    if unit:
        f.unit = selectors.unit_in_scope(request.user, unit)
        if f.unit is None:
            return {"items": [], "next_cursor": None}
    qs = selectors.persons(request.user, f, today=timezone.localdate()).select_related("unit", "vulnerability")
    page = cursor_page(qs, order=["unit_id", "id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


class PersonSearch(Schema):
    """The list's filters in a body: a search by phone or ID number keeps the number out of URLs,
    and so out of access logs, proxies and browser history."""

    q: ShortText  # a search says what it looks for (a name, a number)
    unit: ShortText = ""
    role: ShortText = ""
    flag: ShortText = ""
    age_band: ShortText = ""
    education: ShortText = ""
    cursor: Cursor | None = None
    limit: Limit = 50


@people_router.post("/search", response=PersonPage,
                    summary="Search persons with the filters in the body (use for numbers; same answer as GET)")
def search_people(request, payload: PersonSearch):
    return list_people(request, **payload.dict())


@people_router.get("/{person_id}", response=PersonOut, summary="One person (masked)")
def get_person(request, person_id: Id):
    return _person(request.user, person_id)


@people_router.post("", response={201: PersonOut}, summary="Register a person")
def create_person(request, payload: PersonIn):
    data = payload.dict()
    unit = _unit(request.user, data.pop("unit"), "people.person")
    household = _household(request.user, data.pop("household_id"))
    branch = _branch(request.user, data.pop("party_branch_id"))
    person = services.create_person(request.user, unit=unit, household=household, party_branch=branch, **data)
    return Status(201, _person(request.user, person.pk))


@people_router.patch("/{person_id}", response=PersonOut, summary="Change a person (send version to detect conflicts)")
def update_person(request, person_id: Id, payload: PersonPatch):
    person = _person(request.user, person_id)
    data = payload.dict(exclude_unset=True)
    if "unit" in data:
        data["unit"] = _unit(request.user, data["unit"], "people.person")
    if "household_id" in data:
        data["household"] = _household(request.user, data.pop("household_id"))
    if "party_branch_id" in data:
        data["party_branch"] = _branch(request.user, data.pop("party_branch_id"))
    services.update_person(request.user, person, **data)
    return _person(request.user, person_id)


@people_router.post("/{person_id}/vulnerability", response=PersonOut, summary="Set vulnerability flags and needs")
def set_vulnerability(request, person_id: Id, payload: VulnerabilityIn):
    person = _person(request.user, person_id)
    data = payload.dict(exclude_unset=True)
    flags = {f: data[f] for f in FLAG_FIELDS if data.get(f) is not None}
    services.set_vulnerability(request.user, person, flags=flags, needs=data.get("needs"),
                               surveyed_on=data.get("surveyed_on"))
    return _person(request.user, person_id)


@people_router.post("/{person_id}/reveal", response=PersonRevealOut,
                    summary="Reveal the full ID number or phone (needs permission and a reason; audited)")
def reveal(request, person_id: Id, payload: PersonRevealIn):
    person = _person(request.user, person_id)
    value = services.reveal(request.user, person, payload.field, payload.reason)
    return {"field": payload.field, "value": value}


# --- households ----------------------------------------------------------------------------

class MemberOut(Schema):
    id: int
    name: str
    relation: str
    gender: str
    birth_date: date | None
    id_number: str

    @staticmethod
    def resolve_id_number(obj):
        return obj.id_number_masked


class HouseholdOut(Schema):
    id: int
    code: str
    unit_id: int
    unit_code: str
    unit_name: str
    address: str
    head_id: int | None
    head_name: str | None
    carer_id: int | None
    carer_name: str | None
    version: int

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name

    @staticmethod
    def resolve_head_name(obj):
        return obj.head.name if obj.head_id else None

    @staticmethod
    def resolve_carer_name(obj):
        return obj.carer.name if obj.carer_id else None


class HouseholdDetail(HouseholdOut):
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj):
        return obj.shown_members


class HouseholdPage(Schema):
    items: list[HouseholdOut]
    next_cursor: str | None


class HouseholdIn(Schema):
    unit: ShortText
    address: Column(Household, "address")
    code: Column(Household, "code") = ""
    head_id: Id | None = None
    carer_id: Id | None = None


class HouseholdPatch(Schema):
    version: Version | None = None
    unit: ShortText | None = None
    address: Column(Household, "address") | None = None
    head_id: Id | None = None
    carer_id: Id | None = None


def _hh(user, pk: int) -> Household:
    return Household.objects.select_related("unit", "head", "carer").get_scoped_or_404(user, "view", pk=pk)


def _member_person(user, pk: int | None, field: str) -> Person | None:
    if pk is None:
        return None
    p = Person.objects.restrict(user, "view").filter(pk=pk).first()
    if p is None:
        raise ServiceError(_("No such person in your scope."), {field: _("Unknown person.")})
    return p


def _detail(h: Household, user) -> Household:
    # Members the caller may see (a household never has more than a few; capped anyway).
    h.shown_members = list(Person.objects.restrict(user, "view").filter(household=h).order_by("id")[:100])
    return h


@households_router.get("", response=HouseholdPage, summary="List households (scope-filtered)")
def list_households(request, unit: ShortText = "", q: ShortText = "", cursor: Cursor | None = None,
                    limit: Limit = 50):
    u = None
    if unit:
        u = selectors.unit_in_scope(request.user, unit, "people.household")
        if u is None:
            return {"items": [], "next_cursor": None}
    qs = selectors.households(request.user, unit=u, q=q).select_related("unit", "head", "carer")
    page = cursor_page(qs, order=["unit_id", "id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@households_router.get("/{household_id}", response=HouseholdDetail, summary="One household with its members")
def get_household(request, household_id: Id):
    return _detail(_hh(request.user, household_id), request.user)


@households_router.post("", response={201: HouseholdDetail}, summary="Register a household")
def create_household(request, payload: HouseholdIn):
    unit = _unit(request.user, payload.unit, "people.household")
    h = services.create_household(request.user, unit=unit, address=payload.address, code=payload.code,
                                  head=_member_person(request.user, payload.head_id, "head_id"),
                                  carer=_member_person(request.user, payload.carer_id, "carer_id"))
    return Status(201, _detail(_hh(request.user, h.pk), request.user))


@households_router.patch("/{household_id}", response=HouseholdDetail, summary="Change a household")
def update_household(request, household_id: Id, payload: HouseholdPatch):
    h = _hh(request.user, household_id)
    data = payload.dict(exclude_unset=True)
    if "unit" in data:
        data["unit"] = _unit(request.user, data["unit"], "people.household")
    if "head_id" in data:
        data["head"] = _member_person(request.user, data.pop("head_id"), "head_id")
    if "carer_id" in data:
        data["carer"] = _member_person(request.user, data.pop("carer_id"), "carer_id")
    services.update_household(request.user, h, **data)
    return _detail(_hh(request.user, household_id), request.user)

