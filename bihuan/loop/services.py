"""Every change to a matter, one function each (Zulip-style actions).

Each transition function:

1. loads the matter through the data scope (out of scope → ``NotFound``);
2. checks the client's ``version`` (stale → ``Conflict``, HTTP 409, nothing changes);
3. checks the transition table (``loop.transitions``): out of order → a clear ``ServiceError``;
4. checks the actor's permission and that their scope covers the unit the table names
   (wrong unit → ``PermissionDenied`` naming the unit that may act);
5. writes with ``UPDATE … SET version = n + 1 … WHERE id = … AND version = n`` — under
   concurrency exactly one writer of version ``n`` wins, on PostgreSQL and SQLite alike;
6. appends a ``MatterEvent`` whose ``seq`` is the new version (unique per matter, so the
   timeline has no gap and no duplicate), and one audit entry.

``user=None`` is the system (sweep, seed, public intake); it skips steps 1 and 4.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.calendar import CalendarUnknownYear, WorkCalendar
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.orgs.models import Level, OrgUnit

from . import notify as notify_mod
from . import transitions
from .models import (
    FINAL_STATES,
    OPEN_STATES,
    Attachment,
    Category,
    ExtensionRequest,
    ExtensionStatus,
    Kind,
    Matter,
    MatterAssist,
    MatterEvent,
    Rating,
    Reminder,
    ReminderKind,
    RoutingRule,
    Satisfaction,
    Source,
    State,
)

MAX_TITLE = 120
MAX_DESCRIPTION = 5000
MAX_COMMENT = 2000
MAX_ATTACHMENTS = 9
MAX_ATTACHMENT_BYTES = getattr(settings, "BIHUAN_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
# content type → (extensions, magic prefix)
ALLOWED_ATTACHMENTS = {
    "image/jpeg": ((".jpg", ".jpeg"), b"\xff\xd8\xff"),
    "image/png": ((".png",), b"\x89PNG\r\n\x1a\n"),
    "application/pdf": ((".pdf",), b"%PDF-"),
}


# --- helpers ----------------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, required: bool, limit: int, label: str) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError(_("%(label)s is required.") % {"label": label}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(label)s is too long: %(n)d characters, at most %(max)d.")
                           % {"label": label, "n": len(value), "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    return value


@dataclass
class Upload:
    """An attachment as received: name, declared content type and the bytes."""

    name: str
    content_type: str
    content: bytes


def validate_uploads(uploads) -> list[Upload]:
    uploads = list(uploads or [])
    if len(uploads) > MAX_ATTACHMENTS:
        raise ServiceError(_("At most %(n)d attachments.") % {"n": MAX_ATTACHMENTS},
                           {"attachments": _("Too many attachments.")})
    for up in uploads:
        spec = ALLOWED_ATTACHMENTS.get((up.content_type or "").lower())
        name = (up.name or "").lower()
        if spec is None or not name.endswith(spec[0]) or not up.content.startswith(spec[1]):
            raise ServiceError(
                _("Attachment %(name)s is not an accepted type (JPEG, PNG or PDF).") % {"name": up.name},
                {"attachments": _("Wrong file type.")}, code="attachment_type")
        if len(up.content) == 0 or len(up.content) > MAX_ATTACHMENT_BYTES:
            raise ServiceError(
                _("Attachment %(name)s is %(size)d bytes; it must be between 1 byte and %(max)d MB.")
                % {"name": up.name, "size": len(up.content), "max": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
                {"attachments": _("Wrong file size.")}, code="attachment_size")
    return uploads


def _store_uploads(matter: Matter, event: MatterEvent | None, uploads: list[Upload]) -> list[Attachment]:
    out = []
    for up in uploads:
        att = Attachment(matter=matter, event=event, name=up.name[:120], content_type=up.content_type,
                         size=len(up.content), sha256=hashlib.sha256(up.content).hexdigest())
        att.file.save(up.name[-80:], ContentFile(up.content), save=False)
        att.save()
        out.append(att)
    return out


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
                 .filter(models_q_category(category)).select_related("location", "handling_unit"))
    if rules:
        rules.sort(key=lambda r: (r.location.depth, r.category_id is not None), reverse=True)
        return rules[0].handling_unit
    return township_of(location)


def models_q_category(category):
    from django.db.models import Q

    return Q(category=category) | Q(category__isnull=True)


def _unit_covered(user, perm: str, unit: OrgUnit | None) -> bool:
    if user is None:
        return True
    if unit is None:
        return False
    scope = user.get_scope(perm)
    return scope.all or scope.covers_path(unit.path) or unit.pk in scope.unit_ids


def _actor_unit(user, unit: OrgUnit | None) -> OrgUnit | None:
    if user is None:
        return None
    best = None
    for b in user._active_bindings():
        if unit is not None and unit.path.startswith(b.unit.path):
            if best is None or len(b.unit.path) > len(best.path):
                best = b.unit
    if best is None and user._active_bindings():
        best = user._active_bindings()[0].unit
    return best


def get_matter(user, matter_id) -> Matter:
    """One matter the user may view (404 otherwise); the system sees all."""
    qs = Matter.objects.select_related("category", "location_unit", "handling_unit", "dispatch_unit")
    if user is not None:
        qs = qs.restrict(user, "view")
    try:
        return qs.get(pk=getattr(matter_id, "pk", matter_id))
    except (Matter.DoesNotExist, ValueError, TypeError):
        raise NotFound()


def _check_transition(user, matter: Matter, action: str, version: int | None) -> transitions.Transition:
    t = transitions.get(action)
    if t is None:
        raise ServiceError(_("Unknown action %(a)s.") % {"a": action}, code="unknown_action")
    if version is None:
        raise ServiceError(_("The matter's version is required."), {"version": _("This field is required.")})
    if int(version) != matter.version:
        raise Conflict(_("The matter was changed by someone else (version %(cur)d, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": matter.version, "sent": int(version)})
    if matter.state not in t.sources:
        allowed = ", ".join(str(State(s).label) for s in t.sources)
        raise ServiceError(
            _("Cannot %(action)s a matter that is %(state)s; this is possible only when it is: %(allowed)s.")
            % {"action": str(t.label).lower(), "state": State(matter.state).label, "allowed": allowed},
            code="invalid_transition")
    if user is not None:
        if not user.has_perm_anywhere(t.permission):
            raise PermissionDenied(_("You do not have permission to %(action)s matters.")
                                   % {"action": str(t.label).lower()})
        if t.unit == "any":
            return t
        unit = getattr(matter, t.unit)
        if not _unit_covered(user, t.permission, unit):
            raise PermissionDenied(
                _("Only %(unit)s (or a unit above it) can %(action)s this matter.")
                % {"unit": unit.name if unit else "?", "action": str(t.label).lower()})
    return t


def _snapshot(m: Matter) -> dict:
    return {"state": m.state, "version": m.version, "handling_unit_id": m.handling_unit_id,
            "due_at": m.due_at, "flagged": m.flagged}


def _commit(user, matter: Matter, action: str, *, to_state: str | None, now: datetime, comment: str = "",
            data: dict | None = None, fields: dict | None = None, uploads: list[Upload] | None = None,
            audit_extra: dict | None = None) -> MatterEvent:
    """The conditional write, the event and the audit entry of one transition."""
    fields = dict(fields or {})
    before = _snapshot(matter)
    old_version, from_state = matter.version, matter.state
    if to_state is not None:
        fields["state"] = to_state
    n = Matter.objects.filter(pk=matter.pk, version=old_version).update(version=old_version + 1, **fields)
    if n != 1:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    for k, v in fields.items():
        setattr(matter, k, v)
    matter.version = old_version + 1
    actor_unit = _actor_unit(user, matter.handling_unit or matter.dispatch_unit)
    try:
        with transaction.atomic():
            event = MatterEvent.objects.create(
                matter=matter, seq=matter.version, at=now, actor=user,
                actor_name=(getattr(user, "display_name", "") or getattr(user, "username", "")) if user else "system",
                actor_unit=actor_unit, action=action, from_state=from_state, to_state=matter.state,
                comment=comment, data=data or {})
    except IntegrityError:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    if uploads:
        _store_uploads(matter, event, uploads)
    audit.record(f"loop.matter.{action}", matter, before=before, after=_snapshot(matter),
                 extra={"comment": comment[:200], **(audit_extra or data or {})}, now=now)
    return event


def _deadlines(category: Category, start: datetime, *, days: int | None = None) -> dict:
    """accept_due_at, warn_at, due_at from ``start``, with a visible warning for unknown years."""
    cal = WorkCalendar(strict=False)
    due = cal.add_working_days(start, category.handle_days if days is None else days)
    accept_due = cal.add_working_hours(start, float(category.accept_hours))
    span = cal.working_hours_between(start, due)
    warn = cal.add_working_hours(start, span * category.warn_percent / 100)
    warning = CalendarUnknownYear(cal.warnings).message[:200] if cal.warnings else ""
    return {"accept_due_at": accept_due, "warn_at": warn, "due_at": due, "calendar_warning": warning}


# --- create -------------------------------------------------------------------------------------

@transaction.atomic
def create_matter(user, *, category: Category, location_unit: OrgUnit, title: str, description: str,
                  kind: str | None = None, source: str = Source.STAFF, reporter_name: str = "",
                  reporter_phone: str = "", address: str = "", lat: float | None = None, lon: float | None = None,
                  dispatch_unit: OrgUnit | None = None, uploads=None, origin: Matter | None = None,
                  now: datetime | None = None, permission: str = "loop.matter.create") -> Matter:
    """Register a matter (登记). ``user=None`` for the public form and Open311."""
    now = _now(now)
    title = _text(title, "title", required=True, limit=MAX_TITLE, label=_("The title"))
    description = _text(description, "description", required=True, limit=MAX_DESCRIPTION, label=_("The description"))
    reporter_name = _text(reporter_name, "reporter_name", required=False, limit=60, label=_("The reporter's name"))
    address = _text(address, "address", required=False, limit=200, label=_("The address"))
    phone = (reporter_phone or "").strip()
    if phone and not (phone.replace("-", "").isdigit() and 7 <= len(phone) <= 20):
        raise ServiceError(_("The phone number is not valid."), {"reporter_phone": _("Digits only, 7 to 20.")})
    if category is None or not category.active:
        raise ServiceError(_("Choose an active category."), {"category": _("Unknown or inactive category.")})
    kind = kind or category.kind
    if kind not in Kind.values:
        raise ServiceError(_("Unknown kind."), {"kind": _("Unknown kind.")})
    if location_unit is None:
        raise ServiceError(_("Choose where the matter is."), {"location_unit": _("This field is required.")})
    if user is not None:
        if not user.has_perm_anywhere(permission):
            raise PermissionDenied()
        if not _unit_covered(user, permission, location_unit):
            raise NotFound()
    uploads = validate_uploads(uploads)
    matter = Matter(kind=kind, title=title, description=description, category=category, source=source,
                    location_unit=location_unit, address=address, lat=lat, lon=lon,
                    dispatch_unit=dispatch_unit or township_of(location_unit), reporter_name=reporter_name,
                    created_by=user, created_at=now, origin=origin)
    matter.set_reporter_phone(phone)
    matter.save()
    event = MatterEvent.objects.create(matter=matter, seq=1, at=now, actor=user,
                                       actor_name=(user.username if user else "system"),
                                       actor_unit=_actor_unit(user, location_unit), action="create",
                                       to_state=State.NEW, comment="", data={"source": source})
    _store_uploads(matter, event, uploads)
    audit.record("loop.matter.create", matter, after={
        "title": title, "kind": kind, "category": category.code, "location_unit_id": location_unit.pk,
        "source": source, "phone": phone}, now=now)
    notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="new",
                      title=_("New matter to dispatch: %(t)s") % {"t": title}, now=now)
    return matter


def create_proactive(user, *, category: Category, location_unit: OrgUnit, title: str = "", description: str = "",
                     now: datetime | None = None) -> Matter:
    """未诉先办: a matter opened before anyone complains, usually from a hotspot."""
    title = title or _("Proactive check: %(cat)s at %(unit)s") % {"cat": category.name, "unit": location_unit.name}
    description = description or _("Repeated %(cat)s matters at %(unit)s; act before the next complaint.") % {
        "cat": category.name, "unit": location_unit.name}
    return create_matter(user, category=category, location_unit=location_unit, title=title,
                         description=description, source=Source.PROACTIVE, now=now,
                         permission="loop.matter.supervise")


# --- transitions --------------------------------------------------------------------------------

@transaction.atomic
def dispatch(user, matter, *, version: int, handling_unit: OrgUnit | None = None,
             assisting_units=(), comment: str = "", now: datetime | None = None) -> Matter:
    """交办: send the matter to a lead unit (with assisting units); the deadlines start now."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "dispatch", version)
    comment = _text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment"))
    handling_unit = handling_unit or suggest_handling_unit(matter.category, matter.location_unit)
    assisting = [u for u in assisting_units or [] if u.pk != handling_unit.pk]
    base = matter.dispatch_unit.path
    for u in [handling_unit, *assisting]:
        if not u.path.startswith(base) or (user is not None and not _unit_covered(user, "loop.matter.dispatch", u)):
            raise ServiceError(_("%(unit)s is not under %(base)s, which dispatches this matter.")
                               % {"unit": u.name, "base": matter.dispatch_unit.name},
                               {"handling_unit": _("Choose a unit under the dispatching unit.")}, code="wrong_unit")
    fields = {"handling_unit": handling_unit, "dispatched_at": now, "accepted_at": None, "reported_at": None,
              **_deadlines(matter.category, now)}
    _commit(user, matter, "dispatch", to_state=State.DISPATCHED, now=now, comment=comment,
            data={"handling_unit_id": handling_unit.pk, "assisting_unit_ids": [u.pk for u in assisting],
                  "due_at": fields["due_at"].isoformat()}, fields=fields)
    MatterAssist.objects.filter(matter=matter).delete()
    MatterAssist.objects.bulk_create([MatterAssist(matter=matter, unit=u) for u in assisting])
    notify_mod.notify(unit=handling_unit, matter=matter, kind="dispatched",
                      title=_("Matter dispatched to you: %(t)s") % {"t": matter.title}, now=now)
    for u in assisting:
        notify_mod.notify(unit=u, matter=matter, kind="assist",
                          title=_("Please assist with: %(t)s") % {"t": matter.title}, now=now)
    return matter


@transaction.atomic
def accept(user, matter, *, version: int, comment: str = "", now: datetime | None = None) -> Matter:
    """签收."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "accept", version)
    _commit(user, matter, "accept", to_state=State.IN_PROGRESS, now=now,
            comment=_text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment")),
            fields={"accepted_at": now})
    return matter


@transaction.atomic
def send_back(user, matter, *, version: int, reason: str, now: datetime | None = None) -> Matter:
    """退回: the handling unit returns the matter to the dispatcher, with a reason."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "send_back", version)
    reason = _text(reason, "reason", required=True, limit=MAX_COMMENT, label=_("The reason"))
    old_unit = matter.handling_unit
    _commit(user, matter, "send_back", to_state=State.NEW, now=now, comment=reason,
            data={"from_unit_id": old_unit.pk if old_unit else None},
            fields={"handling_unit": None, "dispatched_at": None, "accept_due_at": None, "warn_at": None,
                    "due_at": None, "accepted_at": None, "calendar_warning": ""})
    MatterAssist.objects.filter(matter=matter).delete()
    notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="sent_back",
                      title=_("Sent back by %(u)s: %(t)s") % {"u": old_unit.name if old_unit else "", "t": matter.title},
                      body=reason, now=now)
    return matter


@transaction.atomic
def report_done(user, matter, *, version: int, comment: str, uploads=None, now: datetime | None = None) -> Matter:
    """办结上报: the handling unit reports the work done, with evidence."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "report_done", version)
    comment = _text(comment, "comment", required=True, limit=MAX_COMMENT, label=_("The report"))
    uploads = validate_uploads(uploads)
    _commit(user, matter, "report_done", to_state=State.REPORTED, now=now, comment=comment,
            fields={"reported_at": now}, uploads=uploads, data={"attachments": len(uploads)})
    notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="reported",
                      title=_("Reported done, please evaluate: %(t)s") % {"t": matter.title}, now=now)
    return matter


@transaction.atomic
def evaluate(user, matter, *, version: int, passed: bool, comment: str = "", now: datetime | None = None) -> Matter:
    """结果评估: pass closes the matter (and its merged duplicates); fail returns it with a reason."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "evaluate", version)
    comment = _text(comment, "comment", required=not passed, limit=MAX_COMMENT, label=_("The reason"))
    if passed:
        hours = None
        if matter.dispatched_at and matter.reported_at:
            hours = round(WorkCalendar(strict=False).working_hours_between(matter.dispatched_at, matter.reported_at), 2)
        _commit(user, matter, "evaluate", to_state=State.CLOSED, now=now, comment=comment,
                data={"passed": True}, fields={"closed_at": now, "handling_hours": hours})
        for dup in Matter.objects.filter(merged_into=matter, state=State.MERGED):
            _commit(None, dup, "close_with", to_state=State.CLOSED, now=now,
                    comment=_("Closed with #%(id)d.") % {"id": matter.pk}, data={"merged_into": matter.pk},
                    fields={"closed_at": now, "handling_hours": hours, "reported_at": matter.reported_at})
        if matter.kind == Kind.DEMAND:
            notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="return_visit",
                              title=_("Closed; record the resident's rating: %(t)s") % {"t": matter.title}, now=now)
    else:
        _commit(user, matter, "evaluate", to_state=State.IN_PROGRESS, now=now, comment=comment,
                data={"passed": False}, fields={"reported_at": None})
        notify_mod.notify(unit=matter.handling_unit, matter=matter, kind="returned",
                          title=_("Evaluation failed, returned: %(t)s") % {"t": matter.title}, body=comment, now=now)
    return matter


def _rate(user, matter: Matter, *, version: int, satisfaction: str, resolved: bool, comment: str,
          by_resident: bool, now: datetime) -> Rating:
    _check_transition(user, matter, "rate", version)
    if satisfaction not in Satisfaction.values:
        raise ServiceError(_("Choose satisfied, basically satisfied or dissatisfied."),
                           {"satisfaction": _("Unknown value.")})
    comment = _text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment"))
    if Rating.objects.filter(matter=matter, round=matter.rounds).exists():
        raise ServiceError(_("This matter has already been rated."), code="already_rated")
    _commit(user, matter, "rate", to_state=None, now=now, comment=comment,
            data={"satisfaction": satisfaction, "resolved": bool(resolved), "by_resident": by_resident})
    rating = Rating.objects.create(matter=matter, round=matter.rounds, satisfaction=satisfaction,
                                   resolved=bool(resolved), comment=comment, by_resident=by_resident,
                                   rated_at=now, recorded_by=user)
    if satisfaction == Satisfaction.DISSATISFIED:
        notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="dissatisfied",
                          title=_("Resident dissatisfied; consider reopening: %(t)s") % {"t": matter.title}, now=now)
    return rating


@transaction.atomic
def rate(user, matter, *, version: int, satisfaction: str, resolved: bool, comment: str = "",
         now: datetime | None = None) -> Rating:
    """回访: staff record the return-visit rating of a closed matter."""
    now = _now(now)
    matter = get_matter(user, matter)
    return _rate(user, matter, version=version, satisfaction=satisfaction, resolved=resolved, comment=comment,
                 by_resident=False, now=now)


@transaction.atomic
def rate_by_resident(token: str, *, satisfaction: str, resolved: bool, comment: str = "",
                     now: datetime | None = None) -> Rating:
    """The resident rates their own closed matter with the public token they were given."""
    now = _now(now)
    matter = Matter.objects.filter(public_token=token or "-").first()
    if matter is None:
        raise NotFound()
    return _rate(None, matter, version=matter.version, satisfaction=satisfaction, resolved=resolved,
                 comment=comment, by_resident=True, now=now)


@transaction.atomic
def remind(user, matter, *, version: int, comment: str = "", now: datetime | None = None,
           point: str | None = None, deadline: datetime | None = None) -> Reminder | None:
    """催办: a reminder to the lead unit. ``point`` marks an automatic one (see ``loop.sweep``):
    the (matter, kind, point) constraint makes it happen once."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "remind", version)
    comment = _text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment"))
    target = matter.handling_unit or matter.dispatch_unit
    try:
        with transaction.atomic():
            rem = Reminder.objects.create(matter=matter, kind=ReminderKind.REMIND,
                                          point=point or f"manual:v{matter.version + 1}", automatic=bool(point),
                                          deadline=deadline, unit=target, created_at=now, by=user)
    except IntegrityError:
        if point:
            return None  # already emitted
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    _commit(user, matter, "remind", to_state=None, now=now, comment=comment,
            data={"unit_id": target.pk, "automatic": bool(point), "point": point or ""})
    notify_mod.notify(unit=target, matter=matter, kind="remind",
                      title=_("Reminder (催办): %(t)s") % {"t": matter.title}, body=comment, now=now)
    return rem


@transaction.atomic
def flag(user, matter, *, version: int, comment: str = "", now: datetime | None = None,
         point: str | None = None, deadline: datetime | None = None) -> Matter | None:
    """挂牌督办: flagged supervision by the actor's unit, or (automatic) the parent of the lead unit."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "flag", version)
    if matter.flagged:
        if point:
            return None
        raise ServiceError(_("This matter is already under flagged supervision."), code="already_flagged")
    comment = _text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment"))
    base = matter.handling_unit or matter.dispatch_unit
    if user is None:
        sup_unit = base.parent or base
    else:
        sup_unit = _actor_unit(user, base) or matter.dispatch_unit
    if point:
        try:
            with transaction.atomic():
                Reminder.objects.create(matter=matter, kind=ReminderKind.ESCALATE, point=point, automatic=True,
                                        deadline=deadline, unit=sup_unit, created_at=now)
        except IntegrityError:
            return None
    _commit(user, matter, "flag", to_state=None, now=now, comment=comment,
            data={"unit_id": sup_unit.pk, "automatic": bool(point)},
            fields={"flagged": True, "flagged_unit": sup_unit, "flagged_at": now})
    for u in {base.pk: base, sup_unit.pk: sup_unit}.values():
        notify_mod.notify(unit=u, matter=matter, kind="flag",
                          title=_("Flagged supervision (挂牌督办) by %(u)s: %(t)s") % {"u": sup_unit.name,
                                                                                   "t": matter.title}, now=now)
    return matter


@transaction.atomic
def request_extension(user, matter, *, version: int, days: int, reason: str,
                      now: datetime | None = None) -> ExtensionRequest:
    """延期申请, within the category's cap."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "request_extension", version)
    reason = _text(reason, "reason", required=True, limit=MAX_COMMENT, label=_("The reason"))
    cat = matter.category
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= cat.max_extension_days:
        raise ServiceError(_("An extension is 1 to %(n)d working days.") % {"n": cat.max_extension_days},
                           {"days": _("Out of range.")})
    if ExtensionRequest.objects.filter(matter=matter, status=ExtensionStatus.PENDING).exists():
        raise ServiceError(_("An extension request is already waiting for a decision."), code="extension_pending")
    if matter.extensions_used >= cat.max_extensions:
        raise ServiceError(_("The extension cap is reached: %(cat)s allows %(n)d extension(s), %(used)d used.")
                           % {"cat": cat.name, "n": cat.max_extensions, "used": matter.extensions_used},
                           code="extension_cap")
    _commit(user, matter, "request_extension", to_state=None, now=now, comment=reason, data={"days": days})
    req = ExtensionRequest.objects.create(matter=matter, days=days, reason=reason, requested_at=now,
                                          requested_by=user, old_due_at=matter.due_at)
    notify_mod.notify(unit=matter.dispatch_unit, matter=matter, kind="extension",
                      title=_("Extension of %(d)d working days requested: %(t)s") % {"d": days, "t": matter.title},
                      body=reason, now=now)
    return req


@transaction.atomic
def decide_extension(user, matter, *, version: int, approve: bool, comment: str = "",
                     now: datetime | None = None) -> ExtensionRequest:
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "decide_extension", version)
    req = ExtensionRequest.objects.select_for_update().filter(matter=matter, status=ExtensionStatus.PENDING).first()
    if req is None:
        raise ServiceError(_("There is no extension request to decide."), code="no_extension")
    comment = _text(comment, "comment", required=not approve, limit=MAX_COMMENT, label=_("The reason"))
    fields = {}
    if approve:
        cal = WorkCalendar(strict=False)
        new_due = cal.add_working_days(matter.due_at, req.days)
        start = matter.dispatched_at or now
        warn = cal.add_working_hours(start, cal.working_hours_between(start, new_due) * matter.category.warn_percent / 100)
        fields = {"due_at": new_due, "warn_at": warn, "extensions_used": matter.extensions_used + 1}
        if cal.warnings:
            fields["calendar_warning"] = CalendarUnknownYear(cal.warnings).message[:200]
        req.new_due_at = new_due
    _commit(user, matter, "decide_extension", to_state=None, now=now, comment=comment,
            data={"approved": bool(approve), "days": req.days,
                  "new_due_at": fields["due_at"].isoformat() if approve else None}, fields=fields)
    req.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    req.decided_at, req.decided_by, req.decision_comment = now, user, comment
    req.save()
    if matter.handling_unit:
        notify_mod.notify(unit=matter.handling_unit, matter=matter, kind="extension_decided",
                          title=(_("Extension approved: %(t)s") if approve else _("Extension refused: %(t)s"))
                          % {"t": matter.title}, body=comment, now=now)
    return req


@transaction.atomic
def reopen(user, matter, *, version: int, reason: str, now: datetime | None = None) -> Matter:
    """Reopen a closed matter (e.g. after a dissatisfied rating): back to the lead unit, new deadline."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "reopen", version)
    reason = _text(reason, "reason", required=True, limit=MAX_COMMENT, label=_("The reason"))
    d = _deadlines(matter.category, now)
    _commit(user, matter, "reopen", to_state=State.IN_PROGRESS, now=now, comment=reason,
            fields={"closed_at": None, "reported_at": None, "handling_hours": None, "rounds": matter.rounds + 1,
                    "accepted_at": now, "warn_at": d["warn_at"], "due_at": d["due_at"],
                    "calendar_warning": d["calendar_warning"]})
    if matter.handling_unit:
        notify_mod.notify(unit=matter.handling_unit, matter=matter, kind="reopened",
                          title=_("Reopened: %(t)s") % {"t": matter.title}, body=reason, now=now)
    return matter


@transaction.atomic
def merge(user, matter, *, version: int, into, comment: str = "", now: datetime | None = None) -> Matter:
    """Merge a duplicate into another open matter; it closes when that one closes."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "merge", version)
    target = get_matter(user, into)
    if target.pk == matter.pk:
        raise ServiceError(_("A matter cannot be merged into itself."), {"into": _("Choose another matter.")})
    if target.state in FINAL_STATES:
        raise ServiceError(_("Matter #%(id)d is already closed or merged; merge into an open one.")
                           % {"id": target.pk}, {"into": _("Choose an open matter.")})
    _commit(user, matter, "merge", to_state=State.MERGED, now=now,
            comment=_text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment")),
            data={"into": target.pk}, fields={"merged_into": target})
    return matter


# --- 举一反三 ------------------------------------------------------------------------------------

@transaction.atomic
def similar_sweep(user, matter, *, version: int, title: str = "", description: str = "",
                  now: datetime | None = None) -> list[Matter]:
    """举一反三: from a closed problem, one check task for every peer of its lead unit
    (the other units under the same parent), dispatched at once."""
    now = _now(now)
    matter = get_matter(user, matter)
    if version is None or int(version) != matter.version:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    if matter.state != State.CLOSED:
        raise ServiceError(_("A similar-case sweep starts from a closed matter."), code="invalid_transition")
    if user is not None and not _unit_covered(user, "loop.matter.supervise", matter.dispatch_unit):
        raise PermissionDenied(_("Only %(unit)s (or a unit above it) can start a similar-case sweep here.")
                               % {"unit": matter.dispatch_unit.name})
    lead = matter.handling_unit or matter.location_unit
    if lead.parent_id is None:
        raise ServiceError(_("The lead unit has no peers."))
    peers = list(OrgUnit.objects.filter(parent_id=lead.parent_id, valid_to__isnull=True).exclude(pk=lead.pk)
                 .order_by("sort", "code"))
    if not peers:
        raise ServiceError(_("The lead unit has no peers."))
    title = title or _("Check for similar cases (举一反三): %(t)s") % {"t": matter.title}
    description = description or _("A matter of this kind was handled at %(u)s: %(t)s. Check your area for the "
                                    "same problem and report what you find.") % {"u": lead.name, "t": matter.title}
    dispatcher = lead.parent if lead.parent.path.startswith(matter.dispatch_unit.path) else matter.dispatch_unit
    created = []
    for peer in peers:
        m = create_matter(None, category=matter.category, location_unit=peer, title=title[:MAX_TITLE],
                          description=description[:MAX_DESCRIPTION], kind=Kind.TASK, source=Source.SIMILAR,
                          dispatch_unit=dispatcher, origin=matter, now=now)
        created.append(dispatch(None, m, version=m.version, handling_unit=peer, now=now))
    _commit(user, matter, "similar_sweep", to_state=None, now=now,
            comment=_("%(n)d check tasks created.") % {"n": len(created)},
            data={"created": [m.pk for m in created]})
    return created


# --- dispatch table for the API ----------------------------------------------------------------

def perform(user, matter_id, action: str, *, version: int, params: dict, now: datetime | None = None):
    """Run one action by name with already-parsed params (the API and web forms use this)."""
    p = dict(params or {})
    units = lambda ids: list(OrgUnit.objects.filter(pk__in=ids or []))  # noqa: E731
    if action == "dispatch":
        hu = OrgUnit.objects.filter(pk=p.get("handling_unit")).first() if p.get("handling_unit") else None
        if p.get("handling_unit") and hu is None:
            raise ServiceError(_("Unknown handling unit."), {"handling_unit": _("Unknown unit.")})
        return dispatch(user, matter_id, version=version, handling_unit=hu,
                        assisting_units=units(p.get("assisting_units")), comment=p.get("comment", ""), now=now)
    if action == "accept":
        return accept(user, matter_id, version=version, comment=p.get("comment", ""), now=now)
    if action == "send_back":
        return send_back(user, matter_id, version=version, reason=p.get("reason") or p.get("comment", ""), now=now)
    if action == "report_done":
        return report_done(user, matter_id, version=version, comment=p.get("comment", ""),
                           uploads=p.get("uploads"), now=now)
    if action == "evaluate":
        if p.get("passed") is None:
            raise ServiceError(_("Say whether the evaluation passed."), {"passed": _("This field is required.")})
        return evaluate(user, matter_id, version=version, passed=bool(p["passed"]), comment=p.get("comment", ""),
                        now=now)
    if action == "rate":
        return rate(user, matter_id, version=version, satisfaction=p.get("satisfaction", ""),
                    resolved=bool(p.get("resolved")), comment=p.get("comment", ""), now=now)
    if action == "remind":
        return remind(user, matter_id, version=version, comment=p.get("comment", ""), now=now)
    if action == "flag":
        return flag(user, matter_id, version=version, comment=p.get("comment", ""), now=now)
    if action == "request_extension":
        return request_extension(user, matter_id, version=version, days=p.get("days"),
                                 reason=p.get("reason") or p.get("comment", ""), now=now)
    if action == "decide_extension":
        if p.get("approve") is None:
            raise ServiceError(_("Say whether the extension is approved."), {"approve": _("This field is required.")})
        return decide_extension(user, matter_id, version=version, approve=bool(p["approve"]),
                                comment=p.get("comment", ""), now=now)
    if action == "reopen":
        return reopen(user, matter_id, version=version, reason=p.get("reason") or p.get("comment", ""), now=now)
    if action == "merge":
        if not p.get("into"):
            raise ServiceError(_("Choose the matter to merge into."), {"into": _("This field is required.")})
        return merge(user, matter_id, version=version, into=p["into"], comment=p.get("comment", ""), now=now)
    if action == "similar_sweep":
        return similar_sweep(user, matter_id, version=version, title=p.get("title", ""),
                             description=p.get("description", ""), now=now)
    raise ServiceError(_("Unknown action %(a)s.") % {"a": action}, code="unknown_action")


def available_actions(user, matter: Matter) -> list[str]:
    """Actions the table allows from the matter's state that this user may perform on it."""
    out = []
    for action in transitions.allowed_from(matter.state):
        t = transitions.get(action)
        if user is None or _unit_covered(user, t.permission, getattr(matter, t.unit, None)):
            out.append(action)
    return out


# --- deadlines computed while a year was unknown -----------------------------------------------------

def _recalculated(matter: Matter, new: WorkCalendar) -> dict | None:
    """New deadline fields for a matter whose deadlines were computed while years of their span
    had no calendar data (treated as Monday–Friday, ``calendar_warning`` set), now that those years
    are known. None while one of them is still unknown.

    Deadlines are counted from a start (working days for ``due_at``, working hours for the
    others). Both calendars agree up to the first formerly unknown year, so the count is redone
    from there: what the old view counted after that point is counted again on the real days.
    """
    from datetime import date as date_cls
    from datetime import timedelta

    from bihuan.core.calendar import TZ, package_years

    start = (matter.dispatched_at or matter.created_at).astimezone(TZ)
    end = max(v for v in (matter.due_at, matter.warn_at, matter.accept_due_at, start) if v is not None)
    years = [y for y in range(start.year, end.astimezone(TZ).year + 1) if y not in package_years()]
    if not years or not all(new.year_known(y) for y in years):
        return None
    old = WorkCalendar(strict=False, _overrides={y: {} for y in years})  # those years as they were: Mon–Fri
    first = datetime(min(years), 1, 1, tzinfo=TZ)
    ref = max(start, first)
    fields: dict = {"calendar_warning": ""}
    if matter.due_at is not None:
        ref_day = max(start.date(), first.date() - timedelta(days=1))
        due_day = matter.due_at.astimezone(TZ).date()
        k, d = 0, ref_day
        while d < due_day:
            d += timedelta(days=1)
            k += old.is_workday(d)
        if k:
            fields["due_at"] = new.add_working_days(date_cls(ref_day.year, ref_day.month, ref_day.day), k)
    for name in ("warn_at", "accept_due_at"):
        value = getattr(matter, name)
        if value is not None and value > ref:
            fields[name] = new.add_working_hours(ref, old.working_hours_between(ref, value))
    return fields


def recalculate_deadlines(user, *, now: datetime | None = None, batch: int = 500) -> dict:
    """Recalculate the deadlines of open matters computed while a year had no calendar data, for
    the years admins have since entered. The calendar page queues this once an admin says the
    year's arrangement is complete (a year counts as known from its first override, so doing it
    on every saved date would fix deadlines on a half-entered year). Each matter changes in its own transaction, with an event, an audit entry and a
    notice to its lead unit when the deadline moved; a matter changed meanwhile is left for the next
    run. ``user=None`` is the system."""
    now = _now(now)
    if user is not None and not user.has_perm_anywhere("core.calendar.manage"):
        raise PermissionDenied(_("Only the city's calendar administrators can recalculate deadlines."))
    new = WorkCalendar(strict=False)
    counts = {"checked": 0, "recalculated": 0, "moved": 0, "still_unknown": 0, "conflicts": 0}
    last = 0
    while True:
        rows = list(Matter.objects.filter(state__in=OPEN_STATES, pk__gt=last).exclude(calendar_warning="")
                    .select_related("handling_unit").order_by("pk")[:batch])
        if not rows:
            return counts
        last = rows[-1].pk
        for m in rows:
            counts["checked"] += 1
            fields = _recalculated(m, new)
            if fields is None:
                counts["still_unknown"] += 1
                continue
            moved = "due_at" in fields and fields["due_at"] != m.due_at
            before_due = m.due_at
            try:
                with transaction.atomic():
                    _commit(None, m, "recalculate", to_state=None, now=now, fields=fields,
                            comment=_("The working-day calendar for these years has been entered; the "
                                      "deadlines were counted again on the real working days."),
                            data={"due_at_before": before_due.isoformat() if before_due else None,
                                  "due_at": m.due_at.isoformat() if m.due_at else None})
            except Conflict:
                counts["conflicts"] += 1
                continue
            counts["recalculated"] += 1
            if moved and m.handling_unit:
                counts["moved"] += 1
                notify_mod.notify(unit=m.handling_unit, matter=m, kind="deadline_recalculated",
                                  title=_("New deadline %(due)s: %(t)s")
                                  % {"due": timezone.localtime(m.due_at).strftime("%Y-%m-%d %H:%M"), "t": m.title},
                                  now=now)


def recalculate_deadlines_task(user_id: int) -> dict:
    """The worker's task, queued from the calendar page by ``user_id``."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return {"refused": "user gone"}
    from bihuan.core.context import acting_as

    with acting_as(user):
        return recalculate_deadlines(user, now=timezone.now())
