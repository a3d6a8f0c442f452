"""Every change to care surveys, plans, helpers and visits (the only module here that writes).

Each function checks permission and scope through the gate (``core.scope.require``), validates
(refusing with a ``ServiceError`` naming the field, nothing written), writes in one transaction
and records one audit entry. Anything that depends on now takes ``now``.

* ``record_survey`` — 摸排; health notes and the contact's phone encrypted (``core.protect``).
* ``register_helper`` — a person becomes a named helper; one without a login gets one
  (role ``volunteer``, "self" scope: only the visits they are paired to).
* ``create_plan`` / ``add_service`` / ``update_service`` — services with an RFC 5545 rule
  (``care.recurrence``), a window, a helper and a backup. A change regenerates future visits only.
* ``generate(day, now)`` — a day's visits from the rules, idempotent (unique (service, starts_at)).
* ``check_in`` — once per visit (compare-and-set: of two helpers at once one wins, the other is
  told); "unwell" opens an urgent loop matter at once.
* ``sweep(now)`` — the ``care.sweep`` job: one loop matter (kind ``care_miss``) per missed visit,
  once, and a notification to the backup helper.
* ``reveal_phone`` — the resident's phone for the helper's call button, audited through the
  people app's reveal.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit, protect
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import allows, get_required, require
from bihuan.core.text import has_control
from bihuan.orgs.models import Level, OrgUnit
from bihuan.people.models import Person

from . import recurrence
from . import status as st
from .models import (
    CHECKLIST,
    NEEDS,
    CarePlan,
    CareService,
    Helper,
    HelperKind,
    Living,
    Outcome,
    RecordStatus,
    Risk,
    ServiceKind,
    ServiceRecord,
    Support,
    Survey,
    TeamMember,
    Visit,
    VolunteerTeam,
)

SURVEY_CHANGE = "care.survey.change"
HEALTH = "care.survey.health"
PLAN_MANAGE = "care.plan.manage"
CHECKIN = "care.visit.checkin"
MAX_NOTE = 500
MAX_HEALTH = 2000
MAX_VISITS_PER_DAY = 12  # services (so visits) one resident may have on one day
MIN_REASON = 4


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, limit: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(field)s is too long (at most %(max)d characters).") % {"field": field, "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    if has_control(value.replace("\n", "").replace("\r", "").replace("\t", "")):
        raise ServiceError(_("%(field)s contains control characters.") % {"field": field},
                           {field: _("Control characters are not allowed.")})
    return value


def _choice(value, enum, field: str) -> str:
    if value not in enum.values:
        raise ServiceError(_("Choose a valid %(field)s.") % {"field": field}, {field: _("Unknown choice.")})
    return value


def _date(value, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ServiceError(_("%(field)s must be a date (YYYY-MM-DD).") % {"field": field},
                           {field: _("Enter a date.")})


def _time(value, field: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    try:
        return time.fromisoformat(str(value)).replace(second=0, microsecond=0)
    except (TypeError, ValueError):
        raise ServiceError(_("%(field)s must be a time (HH:MM).") % {"field": field}, {field: _("Enter a time.")})


def _flags(values, allowed, field: str) -> dict[str, bool]:
    """A checklist given as a list of item names (or a dict of booleans) → every item True/False."""
    names = [f for f, _label in allowed]
    if isinstance(values, dict):
        chosen = {k for k, v in values.items() if v}
        given = set(values)
    else:
        chosen = set(values or [])
        given = chosen
    unknown = given - set(names)
    if unknown:
        raise ServiceError(_("Unknown items in %(field)s: %(i)s.") % {"field": field, "i": ", ".join(sorted(unknown))[:100]},
                           {field: _("Unknown choice.")})
    return {f: f in chosen for f in names}


def village_of(unit: OrgUnit) -> OrgUnit:
    """The village (or community) a unit is in: itself, or the parent of a grid."""
    if unit.level == Level.GRID and unit.parent_id:
        return unit.parent
    return unit


# --- surveys ------------------------------------------------------------------------------------

def _get_person(user, person, perm: str) -> Person:
    return get_required(user, perm, Person.objects.select_related("unit"), person, on=lambda o: o.unit)


def survey_snapshot(s: Survey) -> dict:
    return {"person_id": s.person_id, "surveyed_on": s.surveyed_on, "living": s.living,
            "self_care": s.self_care, "income_support": s.income_support, "needs": [f for f, _l in NEEDS
                                                                                   if getattr(s, f)],
            "risk": s.risk, "contact_phone": s.contact_phone_masked}


@transaction.atomic
def record_survey(user, person, *, surveyed_on, living: str, help=(), income_support: str = Support.NONE,
                  needs=(), health_notes: str = "", contact_name: str = "", contact_relation: str = "",
                  contact_phone: str = "", risk: str = Risk.LOW, now: datetime | None = None) -> Survey:
    """摸排: what was found about ``person`` on ``surveyed_on`` (a new survey each time)."""
    from bihuan.people.validators import InvalidValue, normalise_phone

    now = _now(now)
    person = _get_person(user, person, SURVEY_CHANGE)
    surveyed_on = _date(surveyed_on, "surveyed_on")
    if surveyed_on > timezone.localtime(now).date():
        raise ServiceError(_("A survey cannot be dated in the future."), {"surveyed_on": _("Not after today.")})
    living = _choice(living, Living, "living")
    income_support = _choice(income_support or Support.NONE, Support, "income_support")
    risk = _choice(risk or Risk.LOW, Risk, "risk")
    help_flags = _flags(help, CHECKLIST, "help")
    need_flags = _flags(needs, NEEDS, "needs")
    health_notes = _text(health_notes, "health_notes", limit=MAX_HEALTH)
    if health_notes and not allows(user, HEALTH, person.unit):
        raise PermissionDenied(_("Recording health notes needs its own permission."))
    contact_name = _text(contact_name, "contact_name", limit=50)
    contact_relation = _text(contact_relation, "contact_relation", limit=20)
    phone = (contact_phone or "").strip() if isinstance(contact_phone, str) else contact_phone
    if phone:
        try:
            phone = normalise_phone(str(phone))
        except InvalidValue as exc:
            raise ServiceError(_("The contact's phone number is not valid."), {"contact_phone": str(exc)})
        if not contact_name:
            raise ServiceError(_("Name the emergency contact whose phone this is."),
                               {"contact_name": _("This field is required.")})
    s = Survey(person=person, unit=person.unit, surveyed_on=surveyed_on, living=living,
               income_support=income_support, risk=risk, contact_name=contact_name,
               contact_relation=contact_relation, created_at=now, created_by=user,
               health_enc=protect.encrypt(health_notes) if health_notes else "",
               contact_phone_enc=protect.encrypt(phone) if phone else "",
               contact_phone_masked=protect.mask_phone(phone) if phone else "", **help_flags, **need_flags)
    s.save()
    audit.record("care.survey.create", s, after={**survey_snapshot(s), "health_notes": bool(health_notes)}, now=now)
    return s


def get_survey(user, survey, action: str = "view") -> Survey:
    return get_required(user, f"care.survey.{action}",
                        Survey.objects.select_related("person", "unit"), survey)


def read_health(user, survey, *, now: datetime | None = None) -> str:
    """The decrypted health notes, for a user with ``care.survey.health`` there; audited."""
    s = get_survey(user, survey)
    if not allows(user, HEALTH, s.unit):
        raise PermissionDenied(_("Reading health notes needs its own permission."))
    if not s.health_enc:
        return ""
    audit.record("care.survey.read_health", s, now=now)
    return protect.decrypt(s.health_enc)


# --- helpers ------------------------------------------------------------------------------------

def _username_for(person: Person) -> str:
    return f"vol{person.pk}{secrets.token_hex(2)}"


@transaction.atomic
def register_helper(user, person, *, kind: str = HelperKind.VOLUNTEER, login=None, password: str = "",
                    now: datetime | None = None) -> tuple[Helper, str]:
    """Make ``person`` a named helper. With ``login`` (an existing user) that account is linked;
    without, a login is created with the ``volunteer`` role bound at the person's unit with "self"
    scope (their own assignments only). Returns the helper and the new username ("" if linked)."""
    from bihuan.accounts import services as accounts
    from bihuan.accounts.models import Role

    now = _now(now)
    person = _get_person(user, person, PLAN_MANAGE)
    kind = _choice(kind, HelperKind, "kind")
    if Helper.objects.filter(person=person).exists():
        raise Conflict(_("%(name)s is already a helper.") % {"name": person.name})
    new_username = ""
    if login is None:
        if not password:
            raise ServiceError(_("Give a first password for the new login."), {"password": _("This field is required.")})
        role = Role.objects.filter(code="volunteer").first()
        if role is None:
            raise ServiceError(_("The volunteer role is missing; run the migrations."))
        new_username = _username_for(person)
        # The care manager grants only the narrow volunteer role, on the resident's own unit
        # (checked above), so the account is created by the system on their behalf.
        login = accounts.create_user(None, username=new_username, password=password, display_name=person.name,
                                     unit=person.unit, role=role, scope="self", must_change_password=True)
    elif Helper.objects.filter(user=login).exists():
        raise Conflict(_("This login already belongs to another helper."))
    h = Helper.objects.create(person=person, user=login, unit=person.unit, kind=kind, created_at=now)
    audit.record("care.helper.create", h, after={"person_id": person.pk, "user": login.username, "kind": kind,
                                                 "new_login": bool(new_username)}, now=now)
    return h, new_username


def _helper(user, value, field: str, plan: CarePlan, *, required: bool) -> Helper | None:
    if value in (None, ""):
        if required:
            raise ServiceError(_("Choose a helper."), {field: _("This field is required.")})
        return None
    pk = getattr(value, "pk", value)
    h = Helper.objects.select_related("user", "person").filter(pk=pk).first() if str(pk).isdigit() else None
    if h is None or not (h.unit.pk == plan.unit.pk or h.unit.is_ancestor_of(plan.unit)
                         or plan.unit.is_ancestor_of(h.unit) or village_of(h.unit).pk == village_of(plan.unit).pk):
        raise ServiceError(_("Choose a helper of the resident's village."), {field: _("Unknown helper.")})
    if not h.user.is_active:
        raise ServiceError(_("%(name)s's login is disabled.") % {"name": h.person.name}, {field: _("Disabled login.")})
    return h


# --- plans and services -------------------------------------------------------------------------

def _plan_snapshot(p: CarePlan) -> dict:
    return {"person_id": p.person_id, "starts_on": p.starts_on, "ends_on": p.ends_on, "note": p.note,
            "version": p.version}


def _service_snapshot(s: CareService) -> dict:
    return {"kind": s.kind, "label": s.label, "rrule": s.rrule, "starts_on": s.starts_on, "ends_on": s.ends_on,
            "window": f"{s.window_start:%H:%M}-{s.window_end:%H:%M}", "helper_id": s.helper_id,
            "backup_id": s.backup_id}


def get_plan(user, plan, action: str = "view") -> CarePlan:
    return get_required(user, f"care.plan.{action}", CarePlan.objects.select_related("person", "unit"), plan)


@transaction.atomic
def create_plan(user, person, *, starts_on, ends_on=None, note: str = "", services=(),
                now: datetime | None = None) -> CarePlan:
    """A care plan for ``person`` with its services (``add_service`` keyword arguments), all or nothing."""
    now = _now(now)
    person = _get_person(user, person, PLAN_MANAGE)
    starts_on = _date(starts_on, "starts_on")
    ends_on = _date(ends_on, "ends_on") if ends_on not in (None, "") else None
    if ends_on and ends_on < starts_on:
        raise ServiceError(_("The plan ends before it starts."), {"ends_on": _("Must not be before the start.")})
    note = _text(note, "note", limit=200)
    plan = CarePlan.objects.create(person=person, unit=person.unit, starts_on=starts_on, ends_on=ends_on, note=note,
                                   created_at=now, created_by=user)
    audit.record("care.plan.create", plan, after=_plan_snapshot(plan), now=now)
    for i, spec in enumerate(services or [], start=1):
        if not isinstance(spec, dict):
            raise ServiceError(_("services.%(i)d must be an object.") % {"i": i})
        try:
            add_service(user, plan, now=now, **spec)
        except TypeError as exc:
            raise ServiceError(_("services.%(i)d has unknown fields.") % {"i": i}) from exc
        except ServiceError as exc:
            if type(exc) is not ServiceError:
                raise
            raise ServiceError(f"services.{i}: {exc.message}",
                               {f"services.{i}.{f}": m for f, m in exc.field_errors.items()}, code=exc.code) from exc
    return plan


def _clean_service(user, plan: CarePlan, values: dict, instance: CareService | None) -> dict:
    out = {}
    if "kind" in values or instance is None:
        out["kind"] = _choice(values.get("kind"), ServiceKind, "kind")
    if "label" in values:
        out["label"] = _text(values.get("label"), "label", limit=40)
    starts_on = instance.starts_on if instance else plan.starts_on
    if values.get("starts_on") not in (None, ""):
        starts_on = out["starts_on"] = _date(values["starts_on"], "starts_on")
    elif instance is None:
        out["starts_on"] = starts_on
    if "ends_on" in values:
        out["ends_on"] = _date(values["ends_on"], "ends_on") if values["ends_on"] not in (None, "") else None
        if out["ends_on"] and out["ends_on"] < starts_on:
            raise ServiceError(_("The service ends before it starts."), {"ends_on": _("Must not be before the start.")})
    if "rrule" in values or instance is None or "starts_on" in out:
        text = values.get("rrule", instance.rrule if instance else None)
        recurrence.parse(text, starts_on)  # refuses what it cannot read or what never happens
        out["rrule"] = recurrence.normalise(text)
    ws = _time(values["window_start"], "window_start") if "window_start" in values else (
        instance.window_start if instance else _time(None, "window_start"))
    we = _time(values["window_end"], "window_end") if "window_end" in values else (
        instance.window_end if instance else _time(None, "window_end"))
    if we <= ws:
        raise ServiceError(_("The window must end after it starts (within one day)."),
                           {"window_end": _("Must be after the start.")})
    out["window_start"], out["window_end"] = ws, we
    if "helper" in values or instance is None:
        out["helper"] = _helper(user, values.get("helper"), "helper", plan, required=True).user
    if "backup" in values:
        b = _helper(user, values.get("backup"), "backup", plan, required=False)
        out["backup"] = b.user if b else None
    helper_id = out["helper"].pk if "helper" in out else instance.helper_id
    backup = out.get("backup", instance.backup if instance else None)
    if backup is not None and backup.pk == helper_id:
        raise ServiceError(_("The backup must be someone other than the helper."),
                           {"backup": _("Choose another helper.")})
    return out


@transaction.atomic
def add_service(user, plan, *, kind: str, rrule: str, window_start, window_end, helper, backup=None,
                label: str = "", starts_on=None, ends_on=None, now: datetime | None = None) -> CareService:
    now = _now(now)
    plan = get_plan(user, plan, "manage")
    CarePlan.objects.select_for_update().filter(pk=plan.pk).first()
    values = {"kind": kind, "rrule": rrule, "window_start": window_start, "window_end": window_end,
              "helper": helper, "backup": backup, "label": label, "starts_on": starts_on, "ends_on": ends_on}
    clean = _clean_service(user, plan, values, None)
    if CareService.objects.filter(plan__person_id=plan.person_id).count() >= MAX_VISITS_PER_DAY:
        raise ServiceError(_("A resident can have at most %(n)d services.") % {"n": MAX_VISITS_PER_DAY},
                           {"kind": _("Too many services.")}, code="too_many_services")
    s = CareService.objects.create(plan=plan, **clean)
    audit.record("care.service.create", s, unit=plan.unit, after=_service_snapshot(s), now=now)
    _generate_for(CareService.objects.filter(pk=s.pk), timezone.localtime(now).date(), after=now)
    return s


def get_service(user, service, action: str = "view") -> CareService:
    return get_required(user, f"care.plan.{action}",
                        CareService.objects.select_related("plan__unit", "plan__person"), service)


@transaction.atomic
def update_service(user, service, *, version, now: datetime | None = None, **values) -> CareService:
    """Change a service; its visits still to come (not checked in, starting after ``now``) are
    made again from the new rule, window and helpers. Past visits and check-ins stay."""
    now = _now(now)
    s = get_service(user, service, "manage")
    allowed = {"kind", "label", "rrule", "starts_on", "ends_on", "window_start", "window_end", "helper", "backup"}
    unknown = set(values) - allowed
    if unknown:
        raise ServiceError(_("Unknown fields: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The version must be a whole number."), {"version": _("Enter a whole number.")})
    clean = _clean_service(user, s.plan, values, s)
    before = _service_snapshot(s)
    if not CareService.objects.filter(pk=s.pk, version=version).update(version=version + 1, **clean):
        raise Conflict(_("The service was changed by someone else. Reload it and try again."))
    s = CareService.objects.select_related("plan__unit").get(pk=s.pk)
    dropped, _n = Visit.objects.filter(service=s, outcome="", starts_at__gt=now).delete()
    made = _generate_for(CareService.objects.filter(pk=s.pk), timezone.localtime(now).date(), after=now)
    audit.record("care.service.update", s, unit=s.plan.unit, before=before,
                 after={**_service_snapshot(s), "visits_dropped": dropped, "visits_made": made}, now=now)
    return s


# --- a day's visits -----------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _occurs(rule_text: str, starts_on: date, day: date) -> bool:
    """Services share a handful of rules: each (rule, start, day) is worked out once."""
    return recurrence.occurs_on(recurrence.parse(rule_text, starts_on), day)


def _bounds(day: date, ws: time, we: time) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (timezone.make_aware(datetime.combine(day, ws), tz), timezone.make_aware(datetime.combine(day, we), tz))


def _generate_for(services, day: date, *, after: datetime | None = None, batch: int = 5000) -> int:
    """Visits of ``services`` on ``day`` (only those starting after ``after``, when given)."""
    services = (services.filter(starts_on__lte=day, plan__starts_on__lte=day)
                .exclude(ends_on__lt=day).exclude(plan__ends_on__lt=day)
                .values_list("pk", "rrule", "starts_on", "window_start", "window_end", "helper_id", "backup_id",
                             "kind", "plan__person_id", "plan__unit_id").order_by("pk"))
    made, rows = 0, []
    for pk, rule, starts_on, ws, we, helper_id, backup_id, kind, person_id, unit_id in services.iterator(chunk_size=batch):
        if not _occurs(rule, starts_on, day):
            continue
        starts_at, ends_at = _bounds(day, ws, we)
        if after is not None and starts_at <= after:
            continue
        rows.append(Visit(service_id=pk, person_id=person_id, unit_id=unit_id, helper_id=helper_id,
                          backup_id=backup_id, kind=kind, day=day, starts_at=starts_at, ends_at=ends_at))
        if len(rows) >= batch:
            made += len(Visit.objects.bulk_create(rows, ignore_conflicts=True))
            rows = []
    if rows:
        made += len(Visit.objects.bulk_create(rows, ignore_conflicts=True))
    return made


DAILY = "FREQ=DAILY"

_DAILY_SQL = """
INSERT INTO care_visit (service_id, person_id, unit_id, helper_id, backup_id, kind, day, starts_at, ends_at,
                        outcome, late, note, photo, photo_type)
SELECT s.id, p.person_id, p.unit_id, s.helper_id, s.backup_id, s.kind, %(day)s, {starts}, {ends}, '', %(f)s, '', '', ''
FROM care_careservice s JOIN care_careplan p ON p.id = s.plan_id JOIN orgs_orgunit u ON u.id = p.unit_id
WHERE s.rrule = %(rule)s AND s.starts_on <= %(day)s AND (s.ends_on IS NULL OR s.ends_on >= %(day)s)
  AND p.starts_on <= %(day)s AND (p.ends_on IS NULL OR p.ends_on >= %(day)s) AND u.path LIKE %(path)s
ON CONFLICT (service_id, starts_at) DO NOTHING"""


def _generate_daily(day: date, path: str) -> int:
    """The services whose rule is every day (almost all: meals and daily visits) in one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING``: no rows through Python. Each window is local
    (Asia/Shanghai) time on ``day``, stored in UTC."""
    tz = timezone.get_current_timezone()
    if connection.vendor == "postgresql":
        starts, ends = ("((%(day)s::date + s.window_start) AT TIME ZONE %(tz)s)",
                        "((%(day)s::date + s.window_end) AT TIME ZONE %(tz)s)")
    else:  # SQLite: text datetimes in UTC; the zone's offset on that day (Shanghai keeps no DST)
        starts, ends = ("datetime(%(day)s || ' ' || s.window_start, %(off)s)",
                        "datetime(%(day)s || ' ' || s.window_end, %(off)s)")
    offset = tz.utcoffset(datetime.combine(day, time(12)))
    params = {"day": day.isoformat(), "tz": str(tz), "rule": DAILY, "path": path + "%", "f": False,
              "off": f"{-int(offset.total_seconds() // 60)} minutes"}
    with connection.cursor() as cur:
        cur.execute(_DAILY_SQL.format(starts=starts, ends=ends), params)
        return max(cur.rowcount, 0)


def generate(day, *, now: datetime | None = None, unit: OrgUnit | None = None) -> int:
    """The visits of ``day`` from every active service (of ``unit``'s subtree, when given).
    Idempotent: a visit that exists is not made again (unique (service, starts_at)). Daily rules
    are generated in SQL; the other rules are worked out per distinct rule in Python.
    Returns how many visits were made."""
    day = _date(day, "date")
    now = _now(now)
    qs = CareService.objects.exclude(rrule=DAILY)
    if unit is not None:
        qs = qs.filter(plan__unit__path__startswith=unit.path)
    before = Visit.objects.filter(day=day).count()
    with transaction.atomic():
        _generate_daily(day, unit.path if unit is not None else "/")
        _generate_for(qs, day)
    made = Visit.objects.filter(day=day).count() - before
    audit.record("care.visit.generate", object_type="care.visit", object_id=day.isoformat(), unit=unit,
                 after={"day": day, "made": made}, now=now)
    return made


# --- the round: check-in and the call button ----------------------------------------------------

def get_visit(user, visit, action: str = "view") -> Visit:
    return get_required(user, f"care.visit.{action}",
                        Visit.objects.select_related("person", "unit", "service", "helper", "backup"), visit)


def _photo(photo):
    if photo is None:
        return None
    from bihuan.loop.services import validate_uploads  # JPEG/PNG/PDF by content, size, image structure

    (up,) = validate_uploads([photo])
    if up.content_type.lower() not in ("image/jpeg", "image/png"):
        raise ServiceError(_("The photo must be a JPEG or PNG image."), {"photo": _("Wrong file type.")},
                           code="attachment_type")
    return up


@transaction.atomic
def check_in(user, visit, *, outcome: str, note: str = "", photo=None, now: datetime | None = None) -> Visit:
    """The helper's one tap: done, not home, unwell or refused (with a note and a photo).

    Only the visit's helper or backup checks it in. Accepted from ``EARLY`` before the window
    until ``LATE_LIMIT`` after it (late after the grace period, flagged); the same check-in sent
    again (a flaky network) is answered with the visit as it is; a different one → 409."""
    now = _now(now)
    v = get_visit(user, visit, "checkin")
    outcome = _choice(outcome, Outcome, "outcome")
    note = _text(note, "note", limit=MAX_NOTE)
    if user is not None and user.pk not in (v.helper_id, v.backup_id):
        raise PermissionDenied(_("This visit is assigned to %(h)s; only its helper or backup can check it in.")
                               % {"h": v.helper})
    if v.outcome:
        if v.outcome == outcome and v.checked_by_id == getattr(user, "pk", None):
            return v  # the same check-in again: recorded once
        raise Conflict(_("This visit was already checked in (%(o)s) by %(who)s at %(t)s.")
                       % {"o": v.get_outcome_display(), "who": v.checked_by or _("the system"),
                          "t": timezone.localtime(v.checked_at).strftime("%H:%M")})
    if now < v.starts_at - st.EARLY:
        raise ServiceError(_("This visit is not due yet (it starts at %(t)s).")
                           % {"t": timezone.localtime(v.starts_at).strftime("%Y-%m-%d %H:%M")},
                           {"outcome": _("Too early.")}, code="too_early")
    if now > v.ends_at + st.LATE_LIMIT:
        raise ServiceError(_("This visit ended more than %(h)d hours ago; it can no longer be checked in. "
                             "Tell the village if it was missed.") % {"h": st.LATE_LIMIT.total_seconds() // 3600},
                           {"outcome": _("Too late.")}, code="too_late")
    up = _photo(photo)
    late = now > v.ends_at + st.GRACE
    won = Visit.objects.filter(pk=v.pk, outcome="").update(outcome=outcome, note=note, checked_at=now,
                                                           checked_by=user, late=late)
    if not won:
        other = Visit.objects.select_related("checked_by").get(pk=v.pk)
        raise Conflict(_("%(who)s checked this visit in a moment ago (%(o)s).")
                       % {"who": other.checked_by or _("the system"), "o": other.get_outcome_display()})
    v.outcome, v.note, v.checked_at, v.checked_by, v.late = outcome, note, now, user, late
    if up is not None:
        v.photo_type = up.content_type.lower()
        v.photo.save(up.name[-60:], ContentFile(up.content), save=False)
        Visit.objects.filter(pk=v.pk).update(photo=v.photo.name, photo_type=v.photo_type)
    audit.record("care.visit.checkin", v, after={"outcome": outcome, "late": late, "note": note[:200],
                                                 "photo": up is not None}, now=now)
    if outcome in (Outcome.DONE, Outcome.UNWELL) and user is not None:
        _count_visit(v, user, now)
    if outcome == Outcome.UNWELL:
        _escalate(v, urgent=True, now=now)
    return v


@transaction.atomic
def reveal_phone(user, visit, reason: str, *, now: datetime | None = None) -> str:
    """The resident's full phone for the call button: for the visit's helpers (and staff who may
    check it in), with a reason; audited by the people app's reveal (``people.person.reveal``)."""
    from bihuan.people import services as people

    v = get_visit(user, visit, "checkin")
    if user is not None and user.pk not in (v.helper_id, v.backup_id) and not allows(
            user, "people.person.reveal", v.person):
        raise PermissionDenied(_("Only the visit's helpers can call the resident from here."))
    reason = _text(reason, "reason", limit=200)
    if len(reason) < MIN_REASON:
        raise ServiceError(_("State why you need the full number."),
                           {"reason": _("Give a reason of at least %(n)d characters.") % {"n": MIN_REASON}})
    # The care check above stands in for people.person.reveal; the entry is the people app's own.
    return people.reveal(None, v.person, "phone", _("care visit %(id)d: %(r)s") % {"id": v.pk, "r": reason},
                         now=now)


# --- nothing slips: missed visits and unwell residents into the loop ----------------------------

def _category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.CARE_MISS, active=True, code="care_miss").first()
           or Category.objects.filter(kind=Kind.CARE_MISS, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="care_miss", name="关爱走访遗漏", kind=Kind.CARE_MISS,
                                          handle_days=1)
    return cat


def _escalate(v: Visit, *, urgent: bool, now: datetime) -> int | None:
    """One loop matter for ``v``, once (the compare-and-set on ``escalated_at`` claims it; a
    concurrent run finds it claimed and opens nothing). The backup helper is told."""
    from bihuan.loop import notify
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    with transaction.atomic():
        if not Visit.objects.filter(pk=v.pk, escalated_at__isnull=True).update(escalated_at=now):
            return None
        village = village_of(v.unit)
        when = timezone.localtime(v.starts_at).strftime("%m-%d %H:%M")
        kind_label = ServiceKind(v.kind).label
        if urgent:
            title = _("Urgent: %(name)s is unwell (%(kind)s %(when)s)") % {"name": v.person.name, "kind": kind_label,
                                                                  "when": when}
            detail = _("The helper %(h)s found the resident unwell at the %(kind)s visit of %(when)s. %(note)s") % {
                "h": v.checked_by or v.helper, "kind": kind_label, "when": when, "note": v.note}
        else:
            title = _("Missed care visit: %(name)s (%(kind)s %(when)s)") % {"name": v.person.name, "kind": kind_label,
                                                               "when": when}
            detail = _("The %(kind)s visit of %(when)s to %(name)s (%(addr)s) was not checked in by its helper "
                       "%(h)s.") % {"kind": kind_label, "when": when, "name": v.person.name,
                                   "addr": v.person.address or "-", "h": v.helper}
        matter = loop_services.create_matter(None, category=_category(), location_unit=village, title=title[:120],
                                             description=detail[:5000], kind=Kind.CARE_MISS,
                                             address=v.person.address[:200], now=now)
        matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=village, now=now)
        if urgent:
            loop_services.flag(None, matter, version=matter.version, comment=_("Resident unwell"), now=now)
        Visit.objects.filter(pk=v.pk).update(matter_id=matter.pk)
        for u in {x.pk: x for x in (v.backup, v.helper if urgent else None) if x is not None}.values():
            notify.notify(user=u, matter=matter, kind="care_missed" if not urgent else "care_unwell",
                          title=title[:200], now=now)
        audit.record("care.visit.escalate", v, after={"matter_id": matter.pk, "urgent": urgent}, now=now)
        return matter.pk


def sweep(now: datetime | None = None, *, days_back: int = 2) -> dict:
    """The ``care.sweep`` job: a loop matter for every visit missed (window + grace passed, no
    check-in) in the last ``days_back`` days, once each. Candidates are found in SQL on the
    partial index of open visits, so a day's work does not grow with the history kept."""
    now = _now(now)
    since = timezone.localtime(now).date() - timedelta(days=days_back)
    pending = (Visit.objects.filter(st.missed_q(now), escalated_at__isnull=True, day__gte=since)
               .select_related("person", "unit__parent", "helper", "backup").order_by("ends_at", "pk"))
    opened = 0
    for v in pending.iterator(chunk_size=500):
        if _escalate(v, urgent=False, now=now):
            opened += 1
    return {"missed_opened": opened}


# --- volunteer teams and hours ------------------------------------------------------------------

TEAM_MANAGE = "care.team.manage"
VISIT_HOURS = Decimal("0.5")
MAX_HOURS = Decimal("24")


def get_team(user, team, action: str = "view") -> VolunteerTeam:
    return get_required(user, f"care.team.{action}",
                        VolunteerTeam.objects.select_related("unit", "lead"), team)


@transaction.atomic
def create_team(user, *, unit: OrgUnit, name: str, lead, now: datetime | None = None) -> VolunteerTeam:
    """志愿服务队 under ``unit``, led by ``lead`` (a user who approves the team's hours)."""
    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the unit."), {"unit": _("This field is required.")})
    require(user, TEAM_MANAGE, unit)
    name = _text(name, "name", limit=60, required=True)
    if lead is None or not getattr(lead, "is_active", False):
        raise ServiceError(_("Choose an active team lead."), {"lead": _("This field is required.")})
    if VolunteerTeam.objects.filter(unit=unit, name=name).exists():
        raise Conflict(_("%(unit)s already has a team named %(n)s.") % {"unit": unit.name, "n": name})
    t = VolunteerTeam.objects.create(unit=unit, name=name, lead=lead, created_at=now)
    audit.record("care.team.create", t, after={"name": name, "lead": lead.username}, now=now)
    return t


@transaction.atomic
def add_member(user, team, person, *, now: datetime | None = None) -> TeamMember:
    """A person of the team's unit joins; a helper's login is linked (their check-ins count)."""
    now = _now(now)
    team = get_team(user, team, "manage")
    person = _get_person(user, person, TEAM_MANAGE)
    if not (person.unit_id == team.unit_id or team.unit.is_ancestor_of(person.unit)):
        raise ServiceError(_("The member must live under %(u)s.") % {"u": team.unit.name},
                           {"person": _("Outside the team's unit.")})
    if TeamMember.objects.filter(team=team, person=person).exists():
        raise Conflict(_("%(n)s is already a member.") % {"n": person.name})
    helper = Helper.objects.filter(person=person).first()
    m = TeamMember.objects.create(team=team, person=person, user=helper.user if helper else None,
                                  joined_on=timezone.localtime(now).date())
    audit.record("care.team.member", team, after={"person_id": person.pk, "member_id": m.pk}, now=now)
    return m


def _hours(value) -> Decimal:
    try:
        h = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ServiceError(_("Hours must be a number."), {"hours": _("Enter a number.")})
    if not h.is_finite() or h <= 0 or h > MAX_HOURS:
        raise ServiceError(_("Hours must be more than 0 and at most 24."), {"hours": _("Between 0 and 24.")})
    return h.quantize(Decimal("0.01"))


@transaction.atomic
def record_service(user, team, *, member, day, hours, description: str,
                   now: datetime | None = None) -> ServiceRecord:
    """Other service (not a care visit) entered with hours; pending until the lead approves."""
    now = _now(now)
    team = get_team(user, team, "manage")
    m = TeamMember.objects.filter(team=team, pk=getattr(member, "pk", member)).select_related("person").first() \
        if str(getattr(member, "pk", member)).isdigit() else None
    if m is None:
        raise ServiceError(_("Choose a member of this team."), {"member": _("Unknown member.")})
    day = _date(day, "day")
    if day > timezone.localtime(now).date():
        raise ServiceError(_("Service cannot be recorded for a future day."), {"day": _("Not after today.")})
    hours = _hours(hours)
    description = _text(description, "description", limit=200, required=True)
    r = ServiceRecord.objects.create(team=team, member=m, day=day, hours=hours, description=description,
                                     created_at=now)
    audit.record("care.record.create", r, after={"member_id": m.pk, "day": day, "hours": hours,
                                                 "description": description}, now=now)
    return r


def _count_visit(v: Visit, user, now: datetime) -> None:
    """A care check-in by a team member is counted as service (pending, once per visit)."""
    m = TeamMember.objects.filter(user=user).select_related("team").order_by("pk").first()
    if m is None:
        return
    ServiceRecord.objects.get_or_create(visit=v, defaults={
        "team": m.team, "member": m, "day": v.day, "hours": VISIT_HOURS, "created_at": now,
        "description": f"{ServiceKind(v.kind).label}: {v.person.name}"[:200]})


def get_record(user, record) -> ServiceRecord:
    return get_required(user, "care.team.view",
                        ServiceRecord.objects.select_related("team__unit", "team__lead"), record)


@transaction.atomic
def decide_record(user, record, *, approve: bool, now: datetime | None = None) -> ServiceRecord:
    """The team lead approves (or rejects) a pending record; nobody else does."""
    now = _now(now)
    r = get_record(user, record)
    if user is not None and user.pk != r.team.lead_id:
        raise PermissionDenied(_("Only the team lead (%(l)s) approves the team's hours.") % {"l": r.team.lead})
    status = RecordStatus.APPROVED if approve else RecordStatus.REJECTED
    if not ServiceRecord.objects.filter(pk=r.pk, status=RecordStatus.PENDING).update(
            status=status, decided_at=now, decided_by=user):
        raise Conflict(_("This record was already decided."))
    r.status = status
    audit.record("care.record.decide", r, after={"status": status, "hours": r.hours}, now=now)
    return r


def certificate_pdf(user, member, *, now: datetime | None = None) -> bytes:
    """A certificate of service (志愿服务证明) for a member: approved hours, as a PDF (CJK font)."""
    from django.template.loader import render_to_string

    from bihuan.core.documents import html_to_pdf

    from . import selectors

    now = _now(now)
    pk = getattr(member, "pk", member)
    m = TeamMember.objects.select_related("team__unit", "person").filter(pk=pk).first() \
        if str(pk).isdigit() else None
    if m is None:
        raise NotFound()
    require(user, "care.team.view", m.team)
    hours = selectors.approved_hours(m)
    html = render_to_string("care/certificate.html", {"m": m, "hours": hours, "today": timezone.localtime(now).date(),
                                                      "months": selectors.member_months(m)})
    audit.record("care.team.certificate", m.team, after={"member_id": m.pk, "hours": hours}, now=now)
    return html_to_pdf(html)


# --- canteens (幸福食堂) ---------------------------------------------------------------------------

CANTEEN_MANAGE = "care.canteen.manage"
CANTEEN_RECORD = "care.canteen.record"
MAX_SEATS = 2000
MAX_OTHER_DINERS = 5000
BREAKFAST_BEFORE, LUNCH_BEFORE = time(10, 0), time(15, 0)


def meal_of(window_start: time) -> str:
    """Which meal a meal service is, by the start of its window (local time): before 10:00
    breakfast, before 15:00 lunch, later dinner."""
    from .models import Meal

    if window_start < BREAKFAST_BEFORE:
        return Meal.BREAKFAST
    return Meal.LUNCH if window_start < LUNCH_BEFORE else Meal.DINNER


def _canteen_snapshot(c) -> dict:
    return {"name": c.name, "address": c.address, "seats": c.seats, "eat_in": c.eat_in, "delivery": c.delivery}


@transaction.atomic
def create_canteen(user, *, unit: OrgUnit, name: str, address: str = "", seats=0, eat_in: bool = True,
                   delivery: bool = True, now: datetime | None = None):
    """A 幸福食堂 at a village or community (``unit``)."""
    from .models import Canteen

    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the village or community."), {"unit": _("This field is required.")})
    require(user, CANTEEN_MANAGE, unit)
    if unit.level != Level.VILLAGE:
        raise ServiceError(_("A canteen belongs to a village or community."), {"unit": _("Choose a village.")})
    name = _text(name, "name", limit=60, required=True)
    address = _text(address, "address", limit=200)
    try:
        seats = int(seats or 0)
    except (TypeError, ValueError):
        raise ServiceError(_("Seats must be a whole number."), {"seats": _("Enter a whole number.")})
    if not 0 <= seats <= MAX_SEATS:
        raise ServiceError(_("Seats must be between 0 and %(n)d.") % {"n": MAX_SEATS},
                           {"seats": _("Out of range.")})
    if not (eat_in or delivery):
        raise ServiceError(_("A canteen serves eat-in meals, delivers them, or both."),
                           {"eat_in": _("Choose at least one.")})
    if Canteen.objects.filter(unit=unit, name=name).exists():
        raise Conflict(_("%(unit)s already has a canteen named %(n)s.") % {"unit": unit.name, "n": name})
    c = Canteen.objects.create(unit=unit, name=name, address=address, seats=seats, eat_in=bool(eat_in),
                               delivery=bool(delivery), created_at=now, created_by=user)
    audit.record("care.canteen.create", c, after=_canteen_snapshot(c), now=now)
    return c


def get_canteen(user, canteen, action: str = "view"):
    from .models import Canteen

    return get_required(user, f"care.canteen.{action}", Canteen.objects.select_related("unit"), canteen)


def _served_day(day, now: datetime) -> date:
    day = _date(day, "date")
    today = timezone.localtime(now).date()
    if day > today:
        raise ServiceError(_("Meals cannot be recorded for a future day."), {"date": _("Not after today.")})
    if day < today - timedelta(days=62):
        raise ServiceError(_("Meals can be recorded for the last two months only."), {"date": _("Too long ago.")})
    return day


@transaction.atomic
def serve_meal(user, canteen, visit, *, mode: str = "", now: datetime | None = None):
    """Tick a meal as served: ``visit`` is the resident's meal of the day under a care plan (in
    the canteen's unit's subtree). Once per resident, day and meal: ticking it again (or at
    another canteen) returns the meal already recorded. Returns ``(meal, created)``."""
    from .models import MealMode, MealServed

    now = _now(now)
    c = get_canteen(user, canteen, "record")
    pk = getattr(visit, "pk", visit)
    v = (Visit.objects.select_related("service", "person", "unit").filter(pk=pk, kind=ServiceKind.MEAL,
                                                                         unit__path__startswith=c.unit.path).first()
         if str(pk).isdigit() else None)
    if v is None:
        raise ServiceError(_("Choose a meal of a resident under this canteen's care plans."),
                           {"visit": _("Unknown meal.")})
    _served_day(v.day, now)
    mode = mode or (MealMode.DELIVERED if c.delivery else MealMode.EAT_IN)
    mode = _choice(mode, MealMode, "mode")
    if mode not in c.modes:
        raise ServiceError(_("%(c)s does not serve %(m)s meals.") % {"c": c.name, "m": MealMode(mode).label},
                           {"mode": _("Not served here.")})
    meal = meal_of(v.service.window_start)
    m, created = MealServed.objects.get_or_create(
        person_id=v.person_id, day=v.day, meal=meal,
        defaults={"canteen": c, "visit": v, "mode": mode, "served_at": now, "recorded_by": user})
    if created:
        audit.record("care.canteen.serve", c, after={"person_id": v.person_id, "day": v.day, "meal": meal,
                                                     "mode": mode, "visit_id": v.pk}, now=now)
    return m, created


@transaction.atomic
def unserve_meal(user, canteen, meal_id, *, now: datetime | None = None) -> None:
    """Take back a tick made by mistake (the meal was not served)."""
    from .models import MealServed

    now = _now(now)
    c = get_canteen(user, canteen, "record")
    m = MealServed.objects.filter(pk=meal_id, canteen=c).first() if str(meal_id).isdigit() else None
    if m is None:
        raise NotFound()
    _served_day(m.day, now)
    before = {"person_id": m.person_id, "day": m.day, "meal": m.meal, "mode": m.mode}
    m.delete()
    audit.record("care.canteen.unserve", c, before=before, now=now)


@transaction.atomic
def set_other_diners(user, canteen, day, count, *, now: datetime | None = None):
    """The day's diners who are not under a care plan (a count, no names)."""
    from .models import CanteenDay

    now = _now(now)
    c = get_canteen(user, canteen, "record")
    day = _served_day(day, now)
    try:
        count = int(str(count).strip())
    except (TypeError, ValueError):
        raise ServiceError(_("Other diners must be a whole number."), {"other_diners": _("Enter a whole number.")})
    if not 0 <= count <= MAX_OTHER_DINERS:
        raise ServiceError(_("Other diners must be between 0 and %(n)d.") % {"n": MAX_OTHER_DINERS},
                           {"other_diners": _("Out of range.")})
    row = CanteenDay.objects.select_for_update().filter(canteen=c, day=day).first()
    before = row.other_diners if row else None
    if row is None:
        row = CanteenDay.objects.create(canteen=c, day=day, other_diners=count, updated_at=now, updated_by=user)
    else:
        CanteenDay.objects.filter(pk=row.pk).update(other_diners=count, updated_at=now, updated_by=user)
        row.other_diners = count
    audit.record("care.canteen.diners", c, before={"day": day, "other_diners": before},
                 after={"day": day, "other_diners": count}, now=now)
    return row
