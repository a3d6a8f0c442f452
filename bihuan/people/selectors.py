"""Reads: scoped person and household searches, the grid and reserve-pool views.

Everything starts from ``restrict(user, action)``; counting happens in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When

from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import validators
from .choices import AGE_BANDS, MEMBER_STATUSES, PIPELINE_STATUSES, Flag, GridRole, Role
from .models import FLAG_FIELDS, Household, Person
from .services import id_number_bidx, phone_bidx

_ASCII_QUERY = re.compile(r"[A-Za-z]{1,20}")


@dataclass
class PersonFilter:
    q: str = ""
    unit: OrgUnit | None = None  # the unit and everything below it
    role: str = ""
    flag: str = ""
    age_band: str = ""
    education: str = ""


def years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def age_band_q(band: str, today: date) -> Q:
    """Born in the range that makes the age fall in ``band`` on ``today``."""
    for code, lo, hi in AGE_BANDS:
        if code == band:
            q = Q(birth_date__lte=years_ago(today, lo))
            if hi is not None:
                q &= Q(birth_date__gt=years_ago(today, hi))
            return q
    return Q(pk__in=[])


def age_band_case(today: date) -> Case:
    whens = []
    for code, lo, hi in AGE_BANDS:
        cond = Q(birth_date__lte=years_ago(today, lo))
        if hi is not None:
            cond &= Q(birth_date__gt=years_ago(today, hi))
        whens.append(When(cond, then=Value(str(code))))
    return Case(*whens, default=Value(""), output_field=CharField())


def role_q(role: str) -> Q:
    return {
        Role.RESIDENT: Q(is_resident=True),
        Role.PARTY_MEMBER: Q(party_status__in=MEMBER_STATUSES),
        Role.APPLICANT: Q(party_status__in=PIPELINE_STATUSES),
        Role.VOLUNTEER: Q(is_volunteer=True),
        Role.LECTURER: Q(is_lecturer=True),
        Role.RESERVE: Q(is_reserve=True),
        Role.GRID: Q(grid_role__in=[GridRole.GRID_WORKER, GridRole.BUILDING, GridRole.STAIRWELL]),
    }.get(role, Q(pk__in=[]))


def is_personal_query(q: str) -> bool:
    """True when the search text is (or could be) an ID number or phone: it must not travel in a URL."""
    q = (q or "").strip()
    return validators.looks_like_id_number(q) or len(re.sub(r"[^0-9]", "", q)) >= 7


def search_q(q: str) -> Q:
    """One search box: an exact ID or phone (blind index), pinyin initials, or a name prefix."""
    q = (q or "").strip()
    if not q:
        return Q()
    if validators.looks_like_id_number(q):
        try:
            return Q(id_number_bidx=id_number_bidx(validators.parse_id_number(q).number))
        except validators.InvalidValue:
            return Q(pk__in=[])
    digits = re.sub(r"[\s-]", "", q)
    if digits.isdigit() and len(digits) >= 7:
        try:
            return Q(phone_bidx=phone_bidx(validators.normalise_phone(q)))
        except validators.InvalidValue:
            return Q(pk__in=[])
    if _ASCII_QUERY.fullmatch(q):
        return Q(name_initials__startswith=q.lower())
    return Q(name__startswith=q)


def persons(user, f: PersonFilter | None = None, *, action: str = "view", today: date | None = None) -> QuerySet:
    """Persons ``user`` may ``action``, filtered. Unordered: callers page it by keyset."""
    f = f or PersonFilter()
    qs = Person.objects.restrict(user, action)
    if f.q:
        qs = qs.filter(search_q(f.q))
    if f.unit is not None:
        qs = qs.filter(unit__path__startswith=f.unit.path)
    if f.role:
        qs = qs.filter(role_q(f.role))
    if f.flag in Flag.values:
        qs = qs.filter(**{f"vulnerability__{f.flag}": True})
    if f.age_band:
        qs = qs.filter(age_band_q(f.age_band, today or date.today()))
    if f.education:
        qs = qs.filter(education=f.education)
    return qs


def households(user, *, unit: OrgUnit | None = None, q: str = "", action: str = "view") -> QuerySet:
    qs = Household.objects.restrict(user, action)
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(address__contains=q))
    return qs


def units_in_scope(user, resource: str = "people.person", action: str = "view") -> QuerySet:
    """Units where ``user`` may ``action`` ``resource`` records (the system: all)."""
    return OrgUnit.objects.filter(units_q(user, f"{resource}.{action}"))


def unit_in_scope(user, code, resource: str = "people.person", action: str = "view") -> OrgUnit | None:
    """The current unit with division ``code`` inside that scope, or None."""
    code = str(code or "").strip()
    if not code:
        return None
    return units_in_scope(user, resource, action).filter(code=code, valid_to__isnull=True).first()


def grid_overview(user, grid: OrgUnit) -> dict:
    """A grid's households with who looks after each, and its carers with their household counts."""
    hh = Household.objects.restrict(user, "view").filter(unit=grid)
    carers = (Person.objects.restrict(user, "view").filter(cared_households__unit=grid)
              .annotate(n=Count("cared_households")).order_by("-n", "name"))
    return {"households": hh.select_related("carer", "head").order_by("code"),
            "carers": carers, "uncared": hh.filter(carer__isnull=True).count()}


def reserve_pool(user, unit: OrgUnit | None, *, today: date) -> dict:
    """Reserve talents in scope, with counts per age band and education — one grouped query each."""
    qs = persons(user, PersonFilter(unit=unit, role=Role.RESERVE), today=today)
    by_band = dict(qs.annotate(band=age_band_case(today)).values("band").annotate(n=Count("id"))
                   .values_list("band", "n"))
    by_education = dict(qs.values("education").annotate(n=Count("id")).values_list("education", "n"))
    return {"total": sum(by_band.values()), "by_band": by_band, "by_education": by_education}


def flags_of(person: Person) -> list[str]:
    vul = getattr(person, "vulnerability", None)
    return [f for f in FLAG_FIELDS if vul is not None and getattr(vul, f)]
