"""Every change to a matter, one function each (Zulip-style actions), and ``perform`` — the
same functions by action name, for the API and the web forms.

Each transition function:

1. loads the matter through the data scope (out of scope → ``NotFound``);
2. checks the client's ``version`` (stale → ``Conflict``, HTTP 409, nothing changes);
3. asks ``loop.transitions.check`` — state, permission, the unit the actor's scope must cover
   and the action's own preconditions — and raises its refusal (out of order → a clear
   ``ServiceError``; wrong unit → ``PermissionDenied`` naming the unit that may act); the web's
   buttons and the API's ``actions`` come from the same check;
5. writes with ``UPDATE … SET version = n + 1 … WHERE id = … AND version = n`` — under
   concurrency exactly one writer of version ``n`` wins, on PostgreSQL and SQLite alike;
6. appends a ``MatterEvent`` whose ``seq`` is the new version (unique per matter, so the
   timeline has no gap and no duplicate), and one audit entry.

``user=None`` is the system (sweep, seed, public intake); it skips steps 1 and 4.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from bihuan.core import audit, scope
from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.orgs.models import OrgUnit
from bihuan.people.validators import InvalidValue, normalise_phone

from .. import geo, transitions
from .. import notify as notify_mod
from ..deadlines import deadlines, dispatch_limits, extended, handling_hours
from ..models import (
    FINAL_STATES,
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
    Satisfaction,
    Source,
    State,
)
from .attachments import store_uploads, validate_uploads
from .base import (
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_TITLE,
    _actor_unit,
    _check_transition,
    _check_version,
    _commit,
    _now,
    _on_behalf,
    _text,
    get_matter,
)
from .progress import add_progress
from .routing import similar_sweep_targets, suggest_handling_unit, township_of, within


def _tell_reporter(user, matter: Matter, kind: str, title: str, now: datetime) -> None:
    """The staff member who registered the matter hears where it went (dispatched, closed), unless
    they did it themselves."""
    if matter.created_by_id and (user is None or matter.created_by_id != user.pk):
        notify_mod.notify(user=matter.created_by, matter=matter, kind=kind, title=title, now=now)


def _known_assists(matter: Matter, assists: list[MatterAssist]) -> None:
    """The assisting units just written, kept on the matter as Django's prefetch would: the
    response and the scope check read them without a query (``matter.assists.all()``)."""
    matter._prefetched_objects_cache = {**getattr(matter, "_prefetched_objects_cache", {}), "assists": assists}


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
    if phone:  # what a valid phone is, people.validators says (one rule for persons and reporters)
        try:
            phone = normalise_phone(phone)
        except InvalidValue as exc:
            raise ServiceError(_("The phone number is not valid."), {"reporter_phone": str(exc)})
    if category is None or not category.active:
        raise ServiceError(_("Choose an active category."), {"category": _("Unknown or inactive category.")})
    kind = kind or category.kind
    if kind not in Kind.values:
        raise ServiceError(_("Unknown kind."), {"kind": _("Unknown kind.")})
    if location_unit is None:
        raise ServiceError(_("Choose where the matter is."), {"location_unit": _("This field is required.")})
    lat, lon = geo.clean_coords(lat, lon)
    scope.require(user, permission, location_unit)
    uploads = validate_uploads(uploads)
    matter = Matter(kind=kind, title=title, description=description, category=category, source=source,
                    location_unit=location_unit, address=address, lat=lat, lon=lon,
                    dispatch_unit=dispatch_unit or township_of(location_unit), reporter_name=reporter_name,
                    created_by=user, created_at=now, origin=origin, **dispatch_limits(category, now))
    matter.set_reporter_phone(phone)
    matter.save()
    event = MatterEvent.objects.create(matter=matter, seq=1, at=now, actor=user,
                                       actor_name=(str(user) if user else "system"),
                                       actor_unit=_actor_unit(user, location_unit), action="create",
                                       to_state=State.NEW, comment="", data={"source": source})
    store_uploads(matter, event, uploads)
    _known_assists(matter, [])
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
    for u in [handling_unit, *assisting]:
        if not within(u, matter.dispatch_unit) or not scope.covers(user, "loop.matter.dispatch", u):
            raise ServiceError(_("%(unit)s is not under %(base)s, which dispatches this matter.")
                               % {"unit": u.name, "base": matter.dispatch_unit.name},
                               {"handling_unit": _("Choose a unit under the dispatching unit.")}, code="wrong_unit")
    fields = {"handling_unit": handling_unit, "dispatched_at": now, "accepted_at": None, "reported_at": None,
              "dispatch_warn_at": None, "dispatch_due_at": None, **deadlines(matter.category, now)}
    _commit(user, matter, "dispatch", to_state=State.DISPATCHED, now=now, comment=comment,
            data={"handling_unit_id": handling_unit.pk, "assisting_unit_ids": [u.pk for u in assisting],
                  "due_at": fields["due_at"].isoformat()}, fields=fields)
    MatterAssist.objects.filter(matter=matter).delete()
    assists = MatterAssist.objects.bulk_create([MatterAssist(matter=matter, unit=u) for u in assisting])
    _known_assists(matter, assists)
    notify_mod.notify(unit=handling_unit, matter=matter, kind="dispatched",
                      title=_("Matter dispatched to you: %(t)s") % {"t": matter.title}, now=now)
    for u in assisting:
        notify_mod.notify(unit=u, matter=matter, kind="assist",
                          title=_("Please assist with: %(t)s") % {"t": matter.title}, now=now)
    _tell_reporter(user, matter, "reported_dispatched",
                   _("Your report was dispatched to %(unit)s: %(t)s") % {"unit": handling_unit.name, "t": matter.title},
                   now)
    return matter


@transaction.atomic
def accept(user, matter, *, version: int, comment: str = "", on_behalf: bool = False, on_behalf_reason: str = "",
           now: datetime | None = None) -> Matter:
    """签收: the lead unit's own act; a unit above it only ``on_behalf`` of it, with a reason."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "accept", version, on_behalf=on_behalf)
    comment = _text(comment, "comment", required=False, limit=MAX_COMMENT, label=_("The comment"))
    data = _on_behalf(user, matter, "accept", on_behalf, on_behalf_reason)
    _commit(user, matter, "accept", to_state=State.IN_PROGRESS, now=now, comment=comment, data=data,
            fields={"accepted_at": now})
    return matter


@transaction.atomic
def send_back(user, matter, *, version: int, reason: str, on_behalf: bool = False, on_behalf_reason: str = "",
              now: datetime | None = None) -> Matter:
    """退回: the handling unit returns the matter to the dispatcher, with a reason (a unit above it
    only ``on_behalf`` of it, with a reason for that too)."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "send_back", version, on_behalf=on_behalf)
    reason = _text(reason, "reason", required=True, limit=MAX_COMMENT, label=_("The reason"))
    behalf = _on_behalf(user, matter, "send_back", on_behalf, on_behalf_reason)
    old_unit = matter.handling_unit
    _commit(user, matter, "send_back", to_state=State.NEW, now=now, comment=reason,
            data={"from_unit_id": old_unit.pk if old_unit else None, **behalf},
            fields={"handling_unit": None, "dispatched_at": None, "accept_due_at": None, "warn_at": None,
                    "due_at": None, "accepted_at": None, "calendar_warning": "",
                    # waiting for dispatch again: a fresh dispatch limit from now
                    **dispatch_limits(matter.category, now)})
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
            hours = handling_hours(matter.dispatched_at, matter.reported_at)
        _commit(user, matter, "evaluate", to_state=State.CLOSED, now=now, comment=comment,
                data={"passed": True}, fields={"closed_at": now, "handling_hours": hours})
        unit = matter.handling_unit or matter.dispatch_unit
        _tell_reporter(user, matter, "reported_closed",
                       _("Your report was closed by %(unit)s: %(t)s") % {"unit": unit.name, "t": matter.title}, now)
        for dup in Matter.objects.filter(merged_into=matter, state=State.MERGED):
            _commit(None, dup, "close_with", to_state=State.CLOSED, now=now,
                    comment=_("Closed with #%(id)d.") % {"id": matter.pk}, data={"merged_into": matter.pk},
                    fields={"closed_at": now, "handling_hours": hours, "reported_at": matter.reported_at})
            _tell_reporter(user, dup, "reported_closed",
                           _("Your report was closed by %(unit)s: %(t)s") % {"unit": unit.name, "t": dup.title}, now)
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
    if point and matter.flagged:
        _check_version(matter, version)
        return None  # an automatic escalation that already happened (or a person flagged it first)
    _check_transition(user, matter, "flag", version)
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
    # The check said one is pending; locked here, a concurrent decision finds none.
    req = ExtensionRequest.objects.select_for_update().filter(matter=matter, status=ExtensionStatus.PENDING).first()
    if req is None:
        raise Conflict(_("The matter was changed by someone else. Reload it and try again."))
    comment = _text(comment, "comment", required=not approve, limit=MAX_COMMENT, label=_("The reason"))
    fields = {}
    if approve:
        fields = extended(matter, req.days, now=now)
        req.new_due_at = fields["due_at"]
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
    d = deadlines(matter.category, now)
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
    (the other units under the same parent, see ``routing.similar_sweep_targets``), dispatched at once."""
    now = _now(now)
    matter = get_matter(user, matter)
    _check_transition(user, matter, "similar_sweep", version)
    lead = matter.handling_unit or matter.location_unit
    dispatcher, peers = similar_sweep_targets(matter)
    title = title or _("Check for similar cases (举一反三): %(t)s") % {"t": matter.title}
    description = description or _("A matter of this kind was handled at %(u)s: %(t)s. Check your area for the "
                                    "same problem and report what you find.") % {"u": lead.name, "t": matter.title}
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


# --- the actions by name (the API and the web forms) ----------------------------------------------

def _required(p: dict, key: str, message) -> object:
    if p.get(key) is None or p.get(key) == "":
        raise ServiceError(message, {key: _("This field is required.")})
    return p[key]


def _reason(p: dict) -> str:
    return p.get("reason") or p.get("comment", "")


def _dispatch(user, mid, v, p, now):
    hu = None
    if p.get("handling_unit"):
        hu = OrgUnit.objects.filter(pk=p["handling_unit"]).first() if str(p["handling_unit"]).isdigit() else None
        if hu is None:
            raise ServiceError(_("Unknown handling unit."), {"handling_unit": _("Unknown unit.")})
    ids = [i for i in p.get("assisting_units") or [] if str(i).isdigit()]
    return dispatch(user, mid, version=v, handling_unit=hu, assisting_units=list(OrgUnit.objects.filter(pk__in=ids)),
                    comment=p.get("comment", ""), now=now)


# action → call with (user, matter id, version, params, now). Every action of the transition table
# has one entry (tests/test_loop_actions.py checks that).
PERFORM = {
    "dispatch": _dispatch,
    "accept": lambda user, mid, v, p, now: accept(user, mid, version=v, comment=p.get("comment", ""),
                                                  on_behalf=bool(p.get("on_behalf")),
                                                  on_behalf_reason=p.get("on_behalf_reason", ""), now=now),
    "send_back": lambda user, mid, v, p, now: send_back(user, mid, version=v, reason=_reason(p),
                                                        on_behalf=bool(p.get("on_behalf")),
                                                        on_behalf_reason=p.get("on_behalf_reason", ""), now=now),
    "report_done": lambda user, mid, v, p, now: report_done(user, mid, version=v, comment=p.get("comment", ""),
                                                            uploads=p.get("uploads"), now=now),
    "progress": lambda user, mid, v, p, now: add_progress(user, mid, version=v, comment=p.get("comment", ""),
                                                          uploads=p.get("uploads"), now=now),
    "evaluate": lambda user, mid, v, p, now: evaluate(
        user, mid, version=v, passed=bool(_required(p, "passed", _("Say whether the evaluation passed."))),
        comment=p.get("comment", ""), now=now),
    "rate": lambda user, mid, v, p, now: rate(user, mid, version=v, satisfaction=p.get("satisfaction", ""),
                                              resolved=bool(p.get("resolved")), comment=p.get("comment", ""),
                                              now=now),
    "remind": lambda user, mid, v, p, now: remind(user, mid, version=v, comment=p.get("comment", ""), now=now),
    "flag": lambda user, mid, v, p, now: flag(user, mid, version=v, comment=p.get("comment", ""), now=now),
    "request_extension": lambda user, mid, v, p, now: request_extension(user, mid, version=v, days=p.get("days"),
                                                                        reason=_reason(p), now=now),
    "decide_extension": lambda user, mid, v, p, now: decide_extension(
        user, mid, version=v, approve=bool(_required(p, "approve", _("Say whether the extension is approved."))),
        comment=p.get("comment", ""), now=now),
    "reopen": lambda user, mid, v, p, now: reopen(user, mid, version=v, reason=_reason(p), now=now),
    "merge": lambda user, mid, v, p, now: merge(
        user, mid, version=v, into=_required(p, "into", _("Choose the matter to merge into.")),
        comment=p.get("comment", ""), now=now),
    "similar_sweep": lambda user, mid, v, p, now: similar_sweep(user, mid, version=v, title=p.get("title", ""),
                                                                description=p.get("description", ""), now=now),
}


def perform(user, matter_id, action: str, *, version: int, params: dict, now: datetime | None = None):
    """Run one action by name with already-parsed params (the API and web forms use this)."""
    call = PERFORM.get(action)
    if call is None:
        raise ServiceError(_("Unknown action %(a)s.") % {"a": action}, code="unknown_action")
    return call(user, matter_id, version, dict(params or {}), now)


def available_actions(user, matter: Matter) -> list[str]:
    """The actions ``user`` may perform on ``matter`` now (``transitions.available_actions``)."""
    return transitions.available_actions(user, matter)
