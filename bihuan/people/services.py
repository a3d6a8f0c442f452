"""Every write to persons and households. Views, API, CLI, importer and seed call these.

Each function checks scope (out of scope → NotFound, in view scope without the right →
PermissionDenied), validates, writes in one transaction and records one audit entry in
which ID and phone numbers appear only masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit, protect
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import allows, has_anywhere, require
from bihuan.orgs.models import OrgUnit, PartyOrg

from . import validators
from .choices import Education, Gender, GridRole, PartyStatus, Relation
from .models import FLAG_FIELDS, Household, Person, Vulnerability
from .pinyin import initials

REVEAL = "people.person.reveal"
NEEDS = "people.person.needs"
EXPORT_UNMASKED = "people.person.export_unmasked"
MIN_REASON = 4


# --- protected values --------------------------------------------------------------------

@dataclass(frozen=True)
class Protected:
    enc: str
    bidx: str | None
    masked: str


EMPTY = Protected("", None, "")


def protect_id_number(number: str) -> Protected:
    return Protected(protect.encrypt(number), protect.blind_index(number, "id_number"),
                     protect.mask_id_number(number))


def protect_phone(phone: str) -> Protected:
    return Protected(protect.encrypt(phone), protect.blind_index(phone, "phone"), protect.mask_phone(phone))


def id_number_bidx(number: str) -> str:
    return protect.blind_index(number, "id_number")


def phone_bidx(phone: str) -> str:
    return protect.blind_index(phone, "phone")


# --- checks ------------------------------------------------------------------------------

def holder_message(user, existing: Person) -> str:
    """Who already holds an ID number, told only as far as ``user``'s scope reaches."""
    visible = allows(user, "people.person.view", existing)
    if visible:
        return _("This ID number is already registered: %(name)s at %(unit)s.") % {
            "name": existing.name, "unit": existing.unit.name}
    return _("This ID number is already registered at a unit outside your scope.")


def _choice(value, enum, field: str, errors: dict):
    value = value or ""
    if value and value not in enum.values:
        errors[field] = _("Unknown value.")
    return value


@dataclass
class Cleaned:
    fields: dict
    id_number: str | None  # normalised, None when not given
    phone: str | None


def clean_person(data: dict, *, today: date, partial: bool = False) -> Cleaned:
    """Validate person fields (a dict of the editable ones). Raises ServiceError with field errors."""
    errors: dict[str, str] = {}
    out: dict = {}
    if not partial or "name" in data:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = _("A name is required.")
        elif len(name) > 50:
            errors["name"] = _("At most %(n)d characters.") % {"n": 50}
        out["name"] = name
    for key, enum in (("gender", Gender), ("party_status", PartyStatus), ("relation", Relation),
                      ("education", Education), ("grid_role", GridRole)):
        if not partial or key in data:
            out[key] = _choice(data.get(key), enum, key, errors)
    for key in ("address", "skills"):
        if not partial or key in data:
            value = (data.get(key) or "").strip()
            if len(value) > 200:
                errors[key] = _("At most %(n)d characters.") % {"n": 200}
            out[key] = value
    for key in ("is_volunteer", "is_lecturer", "is_reserve", "is_resident"):
        if key in data and data[key] is not None:
            out[key] = bool(data[key])
        elif not partial:
            out[key] = key == "is_resident"
    for key in ("birth_date", "party_joined"):
        if not partial or key in data:
            value = data.get(key)
            if value and value > today:
                errors[key] = _("The date is in the future.")
            out[key] = value or None
    id_number = phone = None
    if "id_number" in data and data["id_number"] not in (None, ""):
        try:
            parsed = validators.parse_id_number(data["id_number"], today=today)
        except validators.InvalidValue as exc:
            errors["id_number"] = str(exc)
        else:
            id_number = parsed.number
            # Birth date and gender come from the number; entered values must agree.
            errors.update(validators.disagreements(parsed.birth_date, parsed.gender,
                                                   birth_date=out.get("birth_date"), gender=out.get("gender")))
            out["birth_date"], out["gender"] = parsed.birth_date, parsed.gender
    if "phone" in data and data["phone"] not in (None, ""):
        try:
            phone = validators.normalise_phone(data["phone"])
        except validators.InvalidValue as exc:
            errors["phone"] = str(exc)
    if errors:
        raise ServiceError(_("The person could not be saved."), errors)
    return Cleaned(out, id_number, phone)


def snapshot(person: Person) -> dict:
    """What the audit log keeps of a person: masked numbers only."""
    return {"name": person.name, "unit": person.unit.code if person.unit_id else None,
            "gender": person.gender, "birth_date": person.birth_date, "id_number": person.id_number_masked,
            "phone": person.phone_masked, "address": person.address, "household_id": person.household_id,
            "relation": person.relation, "party_status": person.party_status,
            "party_joined": person.party_joined, "party_branch_id": person.party_branch_id,
            "is_volunteer": person.is_volunteer, "is_lecturer": person.is_lecturer,
            "is_reserve": person.is_reserve, "education": person.education, "skills": person.skills,
            "grid_role": person.grid_role}


def _check_branch(user, branch: PartyOrg | None, errors: dict) -> None:
    if branch is None or user is None:
        return
    if not PartyOrg.objects.restrict(user, "view").filter(pk=branch.pk).exists():
        errors["party_branch"] = _("No such party organisation in your scope.")


def _check_household(user, household: Household | None, unit: OrgUnit, errors: dict) -> None:
    if household is None:
        return
    if user is not None and not Household.objects.restrict(user, "change").filter(pk=household.pk).exists():
        errors["household"] = _("No such household in your scope.")


def _apply_numbers(person: Person, cleaned: Cleaned, user, *, clear_id: bool = False,
                   clear_phone: bool = False) -> None:
    if cleaned.id_number is not None:
        bidx = id_number_bidx(cleaned.id_number)
        existing = Person.objects.select_related("unit").filter(id_number_bidx=bidx).exclude(pk=person.pk).first()
        if existing is not None:
            msg = holder_message(user, existing)
            raise Conflict(msg, field_errors={"id_number": msg})
        p = protect_id_number(cleaned.id_number)
        person.id_number_enc, person.id_number_bidx, person.id_number_masked = p.enc, p.bidx, p.masked
    elif clear_id:
        person.id_number_enc, person.id_number_bidx, person.id_number_masked = "", None, ""
    if cleaned.phone is not None:
        p = protect_phone(cleaned.phone)
        person.phone_enc, person.phone_bidx, person.phone_masked = p.enc, p.bidx, p.masked
    elif clear_phone:
        person.phone_enc, person.phone_bidx, person.phone_masked = "", None, ""


def _save_unique(obj, **kw) -> None:
    try:
        with transaction.atomic():
            obj.save(**kw)
    except IntegrityError:
        # Another registration of the same number won the race.
        msg = _("This ID number is already registered.")
        raise Conflict(msg, field_errors={"id_number": msg})


# --- persons -------------------------------------------------------------------------------

@transaction.atomic
def create_person(user, *, unit: OrgUnit, household: Household | None = None,
                  party_branch: PartyOrg | None = None, now: datetime | None = None, **data) -> Person:
    """Register a person at ``unit`` (a village, community or grid)."""
    now = now or timezone.now()
    require(user, "people.person.change", unit)
    cleaned = clean_person(data, today=timezone.localdate(now))
    errors: dict = {}
    _check_branch(user, party_branch, errors)
    _check_household(user, household, unit, errors)
    if errors:
        raise ServiceError(_("The person could not be saved."), errors)
    person = Person(unit=unit, household=household, party_branch=party_branch, **cleaned.fields)
    person.name_initials = initials(person.name)
    _apply_numbers(person, cleaned, user)
    _save_unique(person)
    audit.record("people.person.create", person, after=snapshot(person), now=now)
    return person


def _check_version(obj, version: int | None) -> None:
    if version is not None and int(version) != obj.version:
        raise Conflict(_("Someone else changed this record meanwhile. Reload it and apply your change again."),
                       field_errors={"version": _("Stale version.")})


@transaction.atomic
def update_person(user, person: Person, *, version: int | None = None, now: datetime | None = None,
                  **data) -> Person:
    """Change the given fields. ``unit``, ``household`` and ``party_branch`` are objects (or None).

    ``id_number=""`` / ``phone=""`` clear the number; omitted keys are left as they are.
    """
    now = now or timezone.now()
    require(user, "people.person.change", person)
    person = Person.objects.select_for_update().select_related("unit").get(pk=person.pk)
    _check_version(person, version)
    before = snapshot(person)
    unit = data.pop("unit", None)
    if unit is not None and unit.pk != person.unit_id:
        require(user, "people.person.change", unit)
        person.unit = unit
    errors: dict = {}
    if "household" in data:
        household = data.pop("household")
        _check_household(user, household, person.unit, errors)
        person.household = household
    if "party_branch" in data:
        branch = data.pop("party_branch")
        _check_branch(user, branch, errors)
        person.party_branch = branch
    # Entered birth date/gender are checked against the number, new or stored.
    if "id_number" not in data and ("birth_date" in data or "gender" in data) and person.id_number_enc:
        data["id_number"] = protect.decrypt(person.id_number_enc)
    cleaned = clean_person(data, today=timezone.localdate(now), partial=True)
    if errors:
        raise ServiceError(_("The person could not be saved."), errors)
    for k, v in cleaned.fields.items():
        setattr(person, k, v)
    person.name_initials = initials(person.name)
    _apply_numbers(person, cleaned, user, clear_id=data.get("id_number") == "",
                   clear_phone=data.get("phone") == "")
    person.version = F("version") + 1
    _save_unique(person)
    person.refresh_from_db()
    after = snapshot(person)
    audit.record("people.person.update", person, before=before, after=after, now=now)
    return person


@transaction.atomic
def delete_person(user, person: Person, *, now: datetime | None = None) -> None:
    require(user, "people.person.change", person)
    audit.record("people.person.delete", person, before=snapshot(person), now=now)
    Household.objects.filter(head=person).update(head=None)
    Household.objects.filter(carer=person).update(carer=None)
    person.delete()


@transaction.atomic
def set_vulnerability(user, person: Person, *, flags: dict[str, bool], needs: str | None = None,
                      surveyed_on: date | None = None, now: datetime | None = None) -> Vulnerability:
    """Record what the survey found. Writing needs notes requires ``people.person.needs``."""
    now = now or timezone.now()
    require(user, "people.person.change", person)
    unknown = set(flags) - set(FLAG_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown flag."), {"flags": ", ".join(sorted(unknown))})
    if needs is not None and not allows(user, NEEDS, person):
        raise PermissionDenied(_("Recording needs notes needs its own permission."))
    vul, _created = Vulnerability.objects.select_for_update().get_or_create(person=person)
    before = {f: getattr(vul, f) for f in FLAG_FIELDS}
    for f, v in flags.items():
        setattr(vul, f, bool(v))
    if needs is not None:
        vul.needs_enc = protect.encrypt(needs.strip()) if needs.strip() else ""
    if surveyed_on is not None:
        vul.surveyed_on = surveyed_on
    vul.save()
    after = {f: getattr(vul, f) for f in FLAG_FIELDS}
    # The notes themselves never go into the audit log: only that they changed.
    audit.record("people.person.vulnerability", person, before=before, after=after,
                 extra={"needs_changed": needs is not None}, now=now)
    return vul


def read_needs(user, person: Person) -> str:
    """The decrypted needs notes, for a user with ``people.person.needs`` on this person."""
    if not allows(user, NEEDS, person):
        raise PermissionDenied(_("Reading needs notes needs its own permission."))
    vul = Vulnerability.objects.filter(person=person).first()
    return protect.decrypt(vul.needs_enc) if vul and vul.needs_enc else ""


REVEAL_FIELDS = {"id_number": "id_number_enc", "phone": "phone_enc"}


@transaction.atomic
def reveal(user, person: Person, field: str, reason: str, *, now: datetime | None = None) -> str:
    """The full ID or phone number: needs ``people.person.reveal`` on the person and a reason; audited."""
    if field not in REVEAL_FIELDS:
        raise ServiceError(_("Only the ID number or the phone can be revealed."), {"field": _("Unknown field.")})
    require(user, "people.person.reveal", person)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ServiceError(_("State why you need the full number."),
                           {"reason": _("Give a reason of at least %(n)d characters.") % {"n": MIN_REASON}})
    token = getattr(person, REVEAL_FIELDS[field])
    audit.record("people.person.reveal", person, extra={"field": field, "reason": reason[:500]}, now=now)
    return protect.decrypt(token) if token else ""


def can_export_unmasked(user) -> bool:
    return has_anywhere(user, EXPORT_UNMASKED)


# --- households ----------------------------------------------------------------------------

def household_snapshot(h: Household) -> dict:
    return {"code": h.code, "unit": h.unit.code, "address": h.address, "head_id": h.head_id,
            "carer_id": h.carer_id}


def _check_member_person(user, person: Person | None, field: str, errors: dict) -> None:
    if person is None or user is None:
        return
    if not Person.objects.restrict(user, "view").filter(pk=person.pk).exists():
        errors[field] = _("No such person in your scope.")


def _check_carer(user, carer: Person | None, errors: dict) -> None:
    if carer is None:
        return
    _check_member_person(user, carer, "carer", errors)
    if "carer" not in errors and not carer.is_party_member:
        errors["carer"] = _("The linked person must be a party member.")


def _next_code(unit: OrgUnit) -> str:
    n = Household.objects.filter(unit=unit).count() + 1
    while Household.objects.filter(code=f"{unit.code}-{n:04d}").exists():
        n += 1
    return f"{unit.code}-{n:04d}"


@transaction.atomic
def create_household(user, *, unit: OrgUnit, address: str = "", code: str = "", head: Person | None = None,
                     carer: Person | None = None, now: datetime | None = None) -> Household:
    require(user, "people.household.change", unit)
    errors: dict = {}
    address, code = (address or "").strip(), (code or "").strip()
    if not address:
        errors["address"] = _("An address is required.")
    if code and Household.objects.filter(code=code).exists():
        errors["code"] = _("This household number is already used.")
    _check_member_person(user, head, "head", errors)
    _check_carer(user, carer, errors)
    if errors:
        raise ServiceError(_("The household could not be saved."), errors)
    h = Household.objects.create(unit=unit, address=address, code=code or _next_code(unit), head=head,
                                 carer=carer)
    if head is not None:
        Person.objects.filter(pk=head.pk).update(household=h, relation=Relation.HEAD)
    audit.record("people.household.create", h, after=household_snapshot(h), now=now)
    return h


@transaction.atomic
def update_household(user, household: Household, *, version: int | None = None, now: datetime | None = None,
                     **data) -> Household:
    require(user, "people.household.change", household)
    h = Household.objects.select_for_update().select_related("unit").get(pk=household.pk)
    _check_version(h, version)
    before = household_snapshot(h)
    errors: dict = {}
    if "unit" in data and data["unit"] is not None and data["unit"].pk != h.unit_id:
        require(user, "people.household.change", data["unit"])
        h.unit = data["unit"]
    if "address" in data:
        h.address = (data["address"] or "").strip()
        if not h.address:
            errors["address"] = _("An address is required.")
    if "head" in data:
        _check_member_person(user, data["head"], "head", errors)
        h.head = data["head"]
    if "carer" in data:
        _check_carer(user, data["carer"], errors)
        h.carer = data["carer"]
    if errors:
        raise ServiceError(_("The household could not be saved."), errors)
    h.version = F("version") + 1
    h.save()
    h.refresh_from_db()
    if "head" in data and h.head_id:
        Person.objects.filter(pk=h.head_id).update(household=h, relation=Relation.HEAD)
    audit.record("people.household.update", h, before=before, after=household_snapshot(h), now=now)
    return h


def link_carer(user, household: Household, carer: Person | None, *, now: datetime | None = None) -> Household:
    """划片定岗联户: link the party member who looks after ``household`` (None unlinks)."""
    return update_household(user, household, carer=carer, now=now)


@transaction.atomic
def add_member(user, household: Household, person: Person, relation: str, *,
               now: datetime | None = None) -> Person:
    require(user, "people.household.change", household)
    require(user, "people.person.change", person)
    if relation not in Relation.values:
        raise ServiceError(_("Unknown relation."), {"relation": _("Unknown value.")})
    before = {"household_id": person.household_id, "relation": person.relation}
    Person.objects.filter(pk=person.pk).update(household=household, relation=relation, version=F("version") + 1)
    if relation == Relation.HEAD:
        Household.objects.filter(pk=household.pk).update(head=person)
    person.refresh_from_db()
    audit.record("people.household.member", household, before=before,
                 after={"person_id": person.pk, "household_id": household.pk, "relation": relation}, now=now)
    return person


@transaction.atomic
def remove_member(user, household: Household, person: Person, *, now: datetime | None = None) -> None:
    require(user, "people.household.change", household)
    if person.household_id != household.pk:
        raise NotFound()
    Person.objects.filter(pk=person.pk).update(household=None, relation="", version=F("version") + 1)
    Household.objects.filter(pk=household.pk, head=person).update(head=None)
    audit.record("people.household.member_remove", household, before={"person_id": person.pk}, now=now)
