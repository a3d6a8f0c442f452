"""Every change to lecture teams, lecturers, sessions, feedback and orders (the only module here
that writes).

Each function checks permission and scope through the gate (``core.scope.require``), validates
(refusing with a ``ServiceError`` naming the field, nothing written), writes in one transaction
and records one audit entry. Anything that depends on now takes ``now``.

* ``create_team``, ``add_lecturer`` — 宣讲团 and 宣讲员 (a lecturer is a ``people.Person``);
* ``record_session`` — 微课堂 with photos (checked by the loop's ``validate_uploads``); the place
  must lie under the lecturer's team's unit;
* ``give_feedback`` — an attendee's rating through the public link, once per device;
* ``create_order`` / ``match_order`` / ``accept_order`` — 点单; ``open_unmatched_orders`` (the
  ``activities.orders`` job) opens one loop matter for the district per order left unmatched past
  its limit, through ``loop.services`` (claimed by ``escalated_at``: idempotent, also when two runs
  overlap).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.calendar import add_working_days
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import get_required, has_anywhere, require, require_city_wide
from bihuan.core.text import has_control
from bihuan.orgs.models import Level, OrgUnit

from .models import (
    Audience,
    Feedback,
    LectureOrder,
    Lecturer,
    LectureTeam,
    OrderState,
    Session,
    SessionPhoto,
    TeamKind,
)

MANAGE = "activities.team.manage"
RECORD = "activities.session.record"
ORDER = "activities.order.create"
MATCH = "activities.order.match"
ACCEPT = "activities.order.accept"
MAX_ATTENDANCE = 100_000
FEEDBACK_DAYS = 30  # the public link takes ratings for this many days after the session
ORDER_MATCH_WORKING_DAYS = 5  # an order must be matched within this many working days
RECENT_DAYS = 90  # "recent sessions" when suggesting a lecturer


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, limit: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(field)s is too long (at most %(max)d characters).") % {"field": field, "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    if has_control(value.replace("\n", "").replace("\t", "")):
        raise ServiceError(_("%(field)s contains control characters.") % {"field": field},
                           {field: _("Control characters are not allowed.")})
    return value


def _date(value, field: str) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        d = value
    else:
        try:
            d = date.fromisoformat(str(value))
        except (TypeError, ValueError):
            raise ServiceError(_("%(field)s must be a date (YYYY-MM-DD).") % {"field": field},
                               {field: _("Enter a date.")})
    if not 2000 <= d.year <= 2100:
        raise ServiceError(_("%(field)s is out of range.") % {"field": field}, {field: _("Enter a date.")})
    return d


def _topics(value, field: str) -> str:
    """Topics as typed (、，, or newlines between them), stored joined by 、."""
    raw = _text(value, field, limit=300)
    for sep in ("，", ",", "\n", ";", "；"):
        raw = raw.replace(sep, "、")
    parts = []
    for t in raw.split("、"):
        t = t.strip()
        if t and t not in parts:
            parts.append(t[:40])
    return "、".join(parts)[:300]


def _audiences(values, field: str = "audiences") -> str:
    if isinstance(values, str):
        values = [v for v in values.replace("，", ",").split(",") if v.strip()]
    out = []
    for v in values or []:
        v = str(v).strip()
        if v not in Audience.values:
            raise ServiceError(_("Unknown audience %(a)s.") % {"a": v[:20]},
                               {field: _("One of: %(v)s.") % {"v": ", ".join(Audience.values)}})
        if v not in out:
            out.append(v)
    return ",".join(out)


def _within(unit: OrgUnit, top: OrgUnit) -> bool:
    return unit.pk == top.pk or top.is_ancestor_of(unit)


def _current(unit, field: str) -> OrgUnit:
    if unit is None or not isinstance(unit, OrgUnit):
        raise ServiceError(_("Choose a unit."), {field: _("This field is required.")})
    if unit.valid_to is not None:
        raise ServiceError(_("%(u)s is no longer a current unit.") % {"u": unit.name}, {field: _("Not current.")})
    return unit


# --- teams and lecturers ------------------------------------------------------------------------

@transaction.atomic
def create_team(user, *, unit: OrgUnit, name: str, kind: str, topics: str = "",
                now: datetime | None = None) -> LectureTeam:
    """宣讲团 under ``unit`` (the district or a township), of one of the seven kinds."""
    now = _now(now)
    unit = _current(unit, "unit")
    require(user, MANAGE, unit)
    name = _text(name, "name", limit=80, required=True)
    if kind not in TeamKind.values:
        raise ServiceError(_("Choose the team's kind."), {"kind": _("One of: %(v)s.") % {
            "v": ", ".join(TeamKind.values)}})
    if LectureTeam.objects.filter(unit=unit, name=name).exists():
        raise ServiceError(_("%(u)s already has a team named %(n)s.") % {"u": unit.name, "n": name},
                           {"name": _("Taken.")})
    team = LectureTeam.objects.create(unit=unit, name=name, kind=kind, topics=_topics(topics, "topics"),
                                      created_at=now)
    audit.record("activities.team.create", team, after={"name": name, "kind": kind, "topics": team.topics}, now=now)
    return team


def get_team(user, team, action: str = "view") -> LectureTeam:
    return get_required(user, f"activities.team.{action}", LectureTeam.objects.select_related("unit"), team)


@transaction.atomic
def add_lecturer(user, team, *, person, topics: str = "", audiences=(), excellent: bool = False, login=None,
                 now: datetime | None = None) -> Lecturer:
    """A person joins a team as a lecturer. The person must be in the user's people scope (they are
    not copied); ``login`` is the account the lecturer records their own sessions with."""
    from bihuan.people.models import Person

    now = _now(now)
    team = get_team(user, team, "manage")
    pk = getattr(person, "pk", person)
    p = Person.objects.restrict(user, "view").filter(pk=pk).first() if user is not None else \
        Person.objects.filter(pk=pk).first()
    if p is None:
        raise ServiceError(_("Choose a registered person in your scope."), {"person": _("Unknown person.")})
    if Lecturer.objects.filter(team=team, person=p).exists():
        raise ServiceError(_("%(p)s is already a lecturer of %(t)s.") % {"p": p.name, "t": team.name},
                           {"person": _("Already in the team.")})
    lec = Lecturer.objects.create(team=team, person=p, user=login, topics=_topics(topics, "topics"),
                                  audiences=_audiences(audiences), excellent=bool(excellent), created_at=now)
    if not p.is_lecturer:
        Person.objects.filter(pk=p.pk).update(is_lecturer=True)
    audit.record("activities.lecturer.create", lec, after={"team_id": team.pk, "person_id": p.pk,
                                                           "topics": lec.topics, "audiences": lec.audiences,
                                                           "excellent": lec.excellent,
                                                           "login": getattr(login, "username", "")}, now=now)
    return lec


@transaction.atomic
def link_login(user, lecturer, *, login, now: datetime | None = None) -> Lecturer:
    """Give a lecturer the account they log in with (the ``lecturer`` role) to record their own
    sessions; ``login=None`` removes it."""
    now = _now(now)
    pk = getattr(lecturer, "pk", lecturer)
    lec = Lecturer.objects.select_related("team__unit").filter(pk=pk).first()
    if lec is None:
        raise NotFound()
    require(user, MANAGE, lec.team)
    before = lec.user_id
    Lecturer.objects.filter(pk=lec.pk).update(user=login)
    lec.user = login
    audit.record("activities.lecturer.link", lec, before={"user_id": before},
                 after={"user_id": getattr(login, "pk", None)}, now=now)
    return lec


# --- sessions -----------------------------------------------------------------------------------

def covered_unit_of(place: OrgUnit) -> OrgUnit | None:
    """The village or community a place counts for in coverage (itself, or the grid's village)."""
    if place.level == Level.VILLAGE:
        return place
    if place.level == Level.GRID:
        return place.parent
    return None


def _may_record_as_lecturer(user, lecturer: Lecturer) -> bool:
    return user is not None and lecturer.user_id == user.pk and has_anywhere(user, RECORD)


@transaction.atomic
def record_session(user, *, lecturer, place: OrgUnit, held_on, audience: str, topic: str, attendance,
                   note: str = "", uploads=(), order=None, now: datetime | None = None) -> Session:
    """微课堂: a lecture given. Staff record at places in their scope; a lecturer records their own.
    Either way the place must lie under the lecturer's team's unit (the lecturer's scope)."""
    from bihuan.loop.services import validate_uploads  # JPEG/PNG/PDF by content, image checks, sizes

    now = _now(now)
    pk = getattr(lecturer, "pk", lecturer)
    lec = Lecturer.objects.select_related("team__unit", "person").filter(pk=pk).first() if pk else None
    if lec is None:
        raise ServiceError(_("Choose a lecturer."), {"lecturer": _("Unknown lecturer.")})
    place = _current(place, "place")
    if not _may_record_as_lecturer(user, lec):
        require(user, RECORD, place)
    if not lec.active:
        raise ServiceError(_("%(p)s is no longer an active lecturer.") % {"p": lec.person.name},
                           {"lecturer": _("Not active.")})
    if not _within(place, lec.team.unit):
        raise ServiceError(_("%(u)s is outside %(t)s's area (%(a)s); the lecture cannot be recorded there.")
                           % {"u": place.name, "t": lec.team.name, "a": lec.team.unit.name},
                           {"place": _("Choose a place under %(a)s.") % {"a": lec.team.unit.name}},
                           code="place_outside_scope")
    held_on = _date(held_on, "held_on")
    if held_on > timezone.localtime(now).date():
        raise ServiceError(_("The session date is in the future."), {"held_on": _("Not after today.")})
    if audience not in Audience.values:
        raise ServiceError(_("Choose the audience."), {"audience": _("One of: %(v)s.") % {
            "v": ", ".join(Audience.values)}})
    topic = _text(topic, "topic", limit=80, required=True)
    try:
        attendance = int(attendance)
    except (TypeError, ValueError):
        raise ServiceError(_("The attendance must be a whole number."), {"attendance": _("Enter a whole number.")})
    if not 1 <= attendance <= MAX_ATTENDANCE:
        raise ServiceError(_("The attendance must be between 1 and %(n)d.") % {"n": MAX_ATTENDANCE},
                           {"attendance": _("1 to %(n)d.") % {"n": MAX_ATTENDANCE}})
    note = _text(note, "note", limit=2000)
    uploads = validate_uploads(uploads)
    o = None
    if order is not None:
        o = LectureOrder.objects.select_for_update().filter(pk=getattr(order, "pk", order)).first()
        if o is None or o.lecturer_id != lec.pk or o.state != OrderState.ACCEPTED:
            raise ServiceError(_("The order is not accepted by this lecturer."), {"order": _("Not accepted.")})
    s = Session.objects.create(team=lec.team, lecturer=lec, place=place, covered_unit=covered_unit_of(place),
                               held_on=held_on, audience=audience, topic=topic, attendance=attendance, note=note,
                               order=o, created_at=now, created_by=user)
    for up in uploads:
        ph = SessionPhoto(session=s, name=up.name[:120], content_type=up.content_type, size=len(up.content),
                          sha256=hashlib.sha256(up.content).hexdigest())
        ph.file.save(up.name[-80:], ContentFile(up.content), save=False)
        ph.save()
    if o is not None:
        LectureOrder.objects.filter(pk=o.pk).update(state=OrderState.DONE, version=F("version") + 1)
    audit.record("activities.session.create", s, after={
        "lecturer_id": lec.pk, "place_id": place.pk, "held_on": held_on, "audience": audience, "topic": topic,
        "attendance": attendance, "photos": len(uploads), "order_id": o.pk if o else None}, now=now)
    return s


def session_by_token(token: str, now: datetime | None = None) -> Session:
    """The session a public feedback link names, while it takes feedback; NotFound otherwise
    (an unknown link and an expired one answer the same)."""
    now = _now(now)
    s = (Session.objects.select_related("place", "lecturer__person", "team")
         .filter(feedback_token=(token or "-")[:24]).first())
    if s is None or timezone.localtime(now).date() > s.held_on + timedelta(days=FEEDBACK_DAYS):
        raise NotFound()
    return s


def device_hash(device: str) -> str:
    return hashlib.sha256(f"activities-feedback:{device}".encode()).hexdigest()


@transaction.atomic
def give_feedback(token: str, *, device: str, rating, comment: str = "", now: datetime | None = None) -> Feedback:
    """An attendee rates a session (1–5) through its link, without an account, once per device."""
    now = _now(now)
    s = session_by_token(token, now)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise ServiceError(_("Choose a rating from 1 to 5."), {"rating": _("1 to 5.")})
    comment = _text(comment, "comment", limit=300)
    if not device or len(device) > 100:
        raise ServiceError(_("This browser did not keep the page's cookie; allow cookies and try again."),
                           {"rating": _("Cookies are needed.")}, code="no_device")
    try:
        with transaction.atomic():
            fb = Feedback.objects.create(session=s, rating=rating, comment=comment, device=device_hash(device), at=now)
    except IntegrityError:
        raise Conflict(_("You have already rated this session from this device. Thank you."))
    Session.objects.filter(pk=s.pk).update(feedback_count=F("feedback_count") + 1,
                                           rating_sum=F("rating_sum") + rating)
    audit.record("activities.feedback.create", fb, unit=s.place, after={"session_id": s.pk, "rating": rating},
                 now=now)
    return fb


# --- orders (点单) --------------------------------------------------------------------------------

@transaction.atomic
def create_order(user, *, unit: OrgUnit, topic: str, audience: str, wanted_from, wanted_to, expected=0,
                 note: str = "", now: datetime | None = None) -> LectureOrder:
    """A unit orders a lecture. It must be matched within ``ORDER_MATCH_WORKING_DAYS`` working days
    (and before the wanted dates start)."""
    now = _now(now)
    unit = _current(unit, "unit")
    require(user, ORDER, unit)
    topic = _text(topic, "topic", limit=80, required=True)
    if audience not in Audience.values:
        raise ServiceError(_("Choose the audience."), {"audience": _("One of: %(v)s.") % {
            "v": ", ".join(Audience.values)}})
    wanted_from, wanted_to = _date(wanted_from, "wanted_from"), _date(wanted_to, "wanted_to")
    today = timezone.localtime(now).date()
    if wanted_from < today:
        raise ServiceError(_("The wanted dates must not start in the past."), {"wanted_from": _("Today or later.")})
    if wanted_to < wanted_from:
        raise ServiceError(_("The date range ends before it starts."), {"wanted_to": _("Not before the start.")})
    if wanted_to > wanted_from + timedelta(days=366):
        raise ServiceError(_("The date range is longer than a year."), {"wanted_to": _("Within a year.")})
    try:
        expected = int(expected or 0)
    except (TypeError, ValueError):
        expected = -1
    if not 0 <= expected <= MAX_ATTENDANCE:
        raise ServiceError(_("The expected attendance must be between 0 and %(n)d.") % {"n": MAX_ATTENDANCE},
                           {"expected": _("0 to %(n)d.") % {"n": MAX_ATTENDANCE}})
    note = _text(note, "note", limit=300)
    match_by = min(add_working_days(today, ORDER_MATCH_WORKING_DAYS).date(), wanted_from)
    o = LectureOrder.objects.create(unit=unit, topic=topic, audience=audience, expected=expected,
                                    wanted_from=wanted_from, wanted_to=wanted_to, match_by=match_by, note=note,
                                    created_at=now, created_by=user)
    audit.record("activities.order.create", o, after={"topic": topic, "audience": audience,
                                                      "wanted_from": wanted_from, "wanted_to": wanted_to,
                                                      "match_by": match_by}, now=now)
    return o


def get_order(user, order, action: str = "view") -> LectureOrder:
    return get_required(user, f"activities.order.{action}",
                        LectureOrder.objects.select_related("unit", "team", "lecturer__person"), order)


def _check_version(o: LectureOrder, version) -> None:
    if version is None or version == "":
        raise ServiceError(_("The version is required."), {"version": _("This field is required.")})
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The version is required."), {"version": _("This field is required.")})
    if version != o.version:
        raise Conflict(_("The order was changed by someone else. Reload it and try again."))


@transaction.atomic
def match_order(user, order, *, lecturer, version, now: datetime | None = None) -> LectureOrder:
    """The district matches an open order to a lecturer of a team above the ordering unit."""
    from . import selectors

    now = _now(now)
    o = get_order(user, order, "match")
    o = LectureOrder.objects.select_for_update().select_related("unit").get(pk=o.pk)
    _check_version(o, version)
    if o.state not in (OrderState.OPEN, OrderState.MATCHED):
        raise ServiceError(_("The order is already accepted."), code="order_accepted")
    pk = getattr(lecturer, "pk", lecturer)
    lec = selectors.candidates(o, now=now).filter(pk=pk).select_related("team").first() if pk else None
    if lec is None:
        raise ServiceError(_("Choose an active lecturer of a team serving %(u)s.") % {"u": o.unit.name},
                           {"lecturer": _("Not a candidate for this order.")})
    LectureOrder.objects.filter(pk=o.pk).update(state=OrderState.MATCHED, team=lec.team, lecturer=lec,
                                                matched_at=now, version=F("version") + 1)
    o.refresh_from_db()
    audit.record("activities.order.match", o, after={"lecturer_id": lec.pk, "team_id": lec.team_id}, now=now)
    return o


@transaction.atomic
def accept_order(user, order, *, version, now: datetime | None = None) -> LectureOrder:
    """The matched lecturer accepts (only they may)."""
    now = _now(now)
    o = get_order(user, order, "view")
    o = LectureOrder.objects.select_for_update(of=("self",)).select_related("lecturer").get(pk=o.pk)
    if user is not None and (o.lecturer is None or o.lecturer.user_id != user.pk or not has_anywhere(user, ACCEPT)):
        raise PermissionDenied(_("Only the matched lecturer may accept the order."))
    _check_version(o, version)
    if o.state != OrderState.MATCHED:
        raise ServiceError(_("The order is not waiting for your acceptance."), code="order_not_matched")
    LectureOrder.objects.filter(pk=o.pk).update(state=OrderState.ACCEPTED, accepted_at=now,
                                                version=F("version") + 1)
    o.refresh_from_db()
    audit.record("activities.order.accept", o, after={"lecturer_id": o.lecturer_id}, now=now)
    return o


def _order_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.TASK, active=True, code="lecture_order").first()
           or Category.objects.filter(kind=Kind.TASK, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="lecture_order", name="宣讲点单", kind=Kind.TASK, handle_days=10)
    return cat


def _district_of(unit: OrgUnit) -> OrgUnit:
    if unit.level <= Level.COUNTY:
        return unit
    ids = unit.ancestor_ids()
    return OrgUnit.objects.filter(pk__in=ids, level=Level.COUNTY).first() or unit


def open_unmatched_orders(now: datetime | None = None) -> int:
    """The ``activities.orders`` job: each order still open after its ``match_by`` date opens one
    loop matter (kind task) for its district. The order is claimed (``escalated_at``) in the same
    transaction as the matter, so a second or concurrent run opens nothing."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    now = _now(now)
    today = timezone.localtime(now).date()
    opened = 0
    due = (LectureOrder.objects.filter(state=OrderState.OPEN, match_by__lt=today, escalated_at__isnull=True)
           .select_related("unit").order_by("id"))
    for o in due.iterator(chunk_size=200):
        with transaction.atomic():
            if not LectureOrder.objects.filter(pk=o.pk, state=OrderState.OPEN,
                                               escalated_at__isnull=True).update(escalated_at=now):
                continue
            district = _district_of(o.unit)
            title = (_("宣讲点单未匹配: %(topic)s (%(unit)s)") % {"topic": o.topic, "unit": o.unit.name})[:120]
            detail = _("%(unit)s ordered a lecture on %(topic)s for %(aud)s, %(f)s – %(t)s; it was not matched "
                       "by %(by)s.") % {"unit": o.unit.name, "topic": o.topic, "aud": Audience(o.audience).label,
                                        "f": o.wanted_from, "t": o.wanted_to, "by": o.match_by}
            matter = loop_services.create_matter(None, category=_order_category(), location_unit=o.unit,
                                                 dispatch_unit=district, title=title, description=detail,
                                                 kind=Kind.TASK, now=now)
            matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=district, now=now)
            LectureOrder.objects.filter(pk=o.pk).update(matter_id=matter.pk)
            audit.record("activities.order.escalate", o, after={"matter_id": matter.pk, "district_id": district.pk},
                         now=now)
            opened += 1
    return opened


# --- party life: re-election (换届), contact points (联系点), on-site reviews (观摩评比) ------------
# Issue 15 items 7–9. Party organisations are ``orgs.PartyOrg``; their scope is their unit's.

ELECTION_VIEW = "activities.election.view"
ELECTION_RECORD = "activities.election.record"
CONTACT_MANAGE = "activities.contact.manage"
CONTACT_VISIT = "activities.contact.visit"
REVIEW_MANAGE = "activities.review.manage"
REVIEW_SCORE = "activities.review.score"
# Term of office by kind (《中国共产党基层组织选举工作条例》: 基层委员会 5 years, 总支部委员会 and
# 支部委员会 3 years; a village's branch 5 years, with the village committee). 1–5 may be recorded.
TERM_YEARS = {"committee": 5, "general_branch": 3, "branch": 3}
VILLAGE_TERM_YEARS = 5
DUE_SOON_DAYS = 183  # "due within 6 months"
MAX_REVIEW_UNITS = 50


def _party_org(party_org):
    from bihuan.orgs.models import PartyOrg

    pk = getattr(party_org, "pk", party_org)
    po = PartyOrg.objects.select_related("unit").filter(pk=pk).first() if pk else None
    if po is None:
        raise NotFound()
    return po


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def default_term_years(po) -> int:
    if po.kind != "committee" and po.unit.level == Level.VILLAGE:
        return VILLAGE_TERM_YEARS
    return TERM_YEARS.get(po.kind, 3)


@transaction.atomic
def record_election(user, party_org, *, held_on, years=None, note: str = "", now: datetime | None = None):
    """换届: a completed (re-)election of ``party_org`` on ``held_on`` starts its next term of
    ``years`` years (by default its kind's) and ends the current one. The first record of an
    organisation just starts its term."""
    from .models import PartyTerm

    now = _now(now)
    po = _party_org(party_org)
    require(user, ELECTION_RECORD, po.unit)
    held_on = _date(held_on, "held_on")
    if held_on > timezone.localtime(now).date():
        raise ServiceError(_("The election date is in the future."), {"held_on": _("Not after today.")})
    if years in (None, ""):
        years = default_term_years(po)
    try:
        years = int(years)
    except (TypeError, ValueError):
        years = 0
    if not 1 <= years <= 5:
        raise ServiceError(_("The term must be 1 to 5 years."), {"years": _("1 to 5.")})
    note = _text(note, "note", limit=300)
    current = PartyTerm.objects.select_for_update().filter(party_org=po, ended_on__isnull=True).first()
    if current is not None and held_on <= current.started_on:
        raise ServiceError(_("The election must be after the current term started (%(d)s).")
                           % {"d": current.started_on}, {"held_on": _("After %(d)s.") % {"d": current.started_on}})
    if current is not None:
        PartyTerm.objects.filter(pk=current.pk).update(ended_on=held_on)
    term = PartyTerm.objects.create(party_org=po, started_on=held_on, years=years,
                                    due_on=add_years(held_on, years), note=note, created_at=now, created_by=user)
    audit.record("activities.election.record", term, after={
        "party_org_id": po.pk, "held_on": held_on, "years": years, "due_on": term.due_on,
        "previous_term_id": current.pk if current else None}, now=now)
    return term


def _election_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.TASK, active=True, code="party_election").first()
           or Category.objects.filter(kind=Kind.TASK, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="party_election", name="党组织换届", kind=Kind.TASK,
                                          handle_days=30)
    return cat


def open_overdue_elections(now: datetime | None = None) -> int:
    """The ``activities.elections`` job: each current term past its ``due_on`` opens one loop
    matter (kind task) for its organisation, dispatched by the unit above to the organisation's
    unit. The term is claimed (``escalated_at``) in the matter's transaction: a second or
    concurrent run opens nothing; the next term, once recorded, may open its own."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    from .models import PartyTerm

    now = _now(now)
    today = timezone.localtime(now).date()
    opened = 0
    due = (PartyTerm.objects.filter(ended_on__isnull=True, due_on__lt=today, escalated_at__isnull=True)
           .select_related("party_org__unit__parent").order_by("id"))
    for t in due.iterator(chunk_size=200):
        with transaction.atomic():
            if not PartyTerm.objects.filter(pk=t.pk, ended_on__isnull=True,
                                            escalated_at__isnull=True).update(escalated_at=now):
                continue
            po = t.party_org
            above = po.unit.parent or po.unit
            title = (_("党组织换届逾期: %(org)s") % {"org": po.name})[:120]
            detail = _("The term of %(org)s began on %(s)s for %(y)d years; its re-election was due on %(d)s "
                       "and has not been recorded.") % {"org": po.name, "s": t.started_on, "y": t.years,
                                                        "d": t.due_on}
            matter = loop_services.create_matter(None, category=_election_category(), location_unit=po.unit,
                                                 dispatch_unit=above, title=title, description=detail,
                                                 kind=Kind.TASK, now=now)
            matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=po.unit, now=now)
            PartyTerm.objects.filter(pk=t.pk).update(matter_id=matter.pk)
            audit.record("activities.election.escalate", t, after={"matter_id": matter.pk, "due_on": t.due_on},
                         now=now)
            opened += 1
    return opened


def record_export(user, what: str, *, rows: int, unit=None, now: datetime | None = None) -> None:
    """An export of a party-life list (one audit entry, as every export)."""
    audit.record(f"activities.{what}.export", object_type=f"activities.{what}", unit=unit,
                 extra={"rows": rows}, now=_now(now))


# contact points ---------------------------------------------------------------------------------

def get_contact(user, contact, action: str = "view"):
    from .models import ContactPoint

    return get_required(user, f"activities.contact.{action}",
                        ContactPoint.objects.select_related("party_org__unit", "member"), contact)


@transaction.atomic
def link_contact(user, *, member, party_org, since, now: datetime | None = None):
    """联系点: a committee member (a login able to record visits at the branch) becomes the contact
    for a party branch (or general branch)."""
    from bihuan.core.scope import covers

    from .models import ContactPoint

    now = _now(now)
    po = _party_org(party_org)
    require(user, CONTACT_MANAGE, po.unit)
    if po.kind not in ("branch", "general_branch"):
        raise ServiceError(_("A contact point is a party branch or general branch."),
                           {"party_org": _("Choose a branch.")})
    if member is None or not getattr(member, "is_active", False):
        raise ServiceError(_("Choose an active committee member."), {"member": _("Unknown member.")})
    if not covers(member, CONTACT_VISIT, po.unit):
        raise ServiceError(_("This login cannot record visits at %(o)s; bind it above the branch first.")
                           % {"o": po.name}, {"member": _("Not a committee member above it.")})
    since = _date(since, "since")
    if since > timezone.localtime(now).date():
        raise ServiceError(_("The start date is in the future."), {"since": _("Not after today.")})
    if ContactPoint.objects.filter(member=member, party_org=po, ended_on__isnull=True).exists():
        raise ServiceError(_("This member is already the contact of %(o)s.") % {"o": po.name},
                           {"party_org": _("Already linked.")})
    c = ContactPoint.objects.create(member=member, party_org=po, since=since, created_at=now)
    audit.record("activities.contact.link", c, after={"member_id": member.pk, "party_org_id": po.pk, "since": since},
                 now=now)
    return c


@transaction.atomic
def record_visit(user, contact, *, visited_on, topic: str, problems: str = "", now: datetime | None = None):
    """A contact-point visit: the member (or staff with ``activities.contact.visit`` at the
    branch) records its date, topic and the problems found."""
    from .models import ContactVisit

    now = _now(now)
    c = get_contact(user, contact, "visit")
    if c.ended_on is not None:
        raise ServiceError(_("This contact point has ended."), code="contact_ended")
    visited_on = _date(visited_on, "visited_on")
    if visited_on > timezone.localtime(now).date():
        raise ServiceError(_("The visit date is in the future."), {"visited_on": _("Not after today.")})
    if visited_on < c.since:
        raise ServiceError(_("The visit is before the contact point began (%(d)s).") % {"d": c.since},
                           {"visited_on": _("From %(d)s.") % {"d": c.since}})
    topic = _text(topic, "topic", limit=80, required=True)
    problems = _text(problems, "problems", limit=2000)
    v = ContactVisit.objects.create(contact_point=c, visited_on=visited_on, topic=topic, problems=problems,
                                    created_at=now, created_by=user)
    audit.record("activities.contact.visit", v, after={"contact_point_id": c.pk, "visited_on": visited_on,
                                                       "topic": topic, "problems": bool(problems)}, now=now)
    return v


def get_visit(user, visit, action: str = "view"):
    from .models import ContactVisit

    return get_required(user, f"activities.contact.{action}",
                        ContactVisit.objects.select_related("contact_point__party_org__unit", "contact_point__member"), visit)


def _problem_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.PROBLEM, active=True, code="contact_point").first()
           or Category.objects.filter(kind=Kind.PROBLEM, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="contact_point", name="联系点发现问题", kind=Kind.PROBLEM,
                                          handle_days=15)
    return cat


@transaction.atomic
def visit_to_matter(user, visit, *, now: datetime | None = None):
    """The problems a visit found become one loop matter at the branch's unit (through the loop's
    ``create_matter``, with the user's own permission), once per visit."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    from .models import ContactVisit

    now = _now(now)
    v = get_visit(user, visit, "visit")
    v = ContactVisit.objects.select_for_update().select_related("contact_point__party_org__unit").get(pk=v.pk)
    if v.matter_id is not None:
        raise Conflict(_("The problems of this visit are already matter #%(n)d.") % {"n": v.matter_id})
    if not v.problems.strip():
        raise ServiceError(_("This visit found no problems."), {"problems": _("Nothing to report.")},
                           code="no_problems")
    po = v.contact_point.party_org
    title = (_("联系点发现问题: %(org)s — %(topic)s") % {"org": po.name, "topic": v.topic})[:120]
    detail = _("Found on the contact-point visit of %(d)s (%(topic)s):\n%(p)s") % {
        "d": v.visited_on, "topic": v.topic, "p": v.problems}
    matter = loop_services.create_matter(user, category=_problem_category(), location_unit=po.unit, title=title,
                                         description=detail[:2000], kind=Kind.PROBLEM, now=now)
    ContactVisit.objects.filter(pk=v.pk).update(matter_id=matter.pk)
    v.matter_id = matter.pk
    audit.record("activities.contact.matter", v, after={"matter_id": matter.pk}, now=now)
    return v


# on-site reviews --------------------------------------------------------------------------------

def get_review(user, review, action: str = "view"):
    from .models import Review

    return get_required(user, f"activities.review.{action}", Review.objects.select_related("unit"), review)


@transaction.atomic
def create_review(user, *, unit: OrgUnit, year, quarter, theme: str, held_on, units, drop_extremes: bool = True,
                  now: datetime | None = None):
    """观摩评比: a quarter's theme and its review meeting at ``held_on``, visiting ``units`` (under
    the organising unit)."""
    from .models import Review, ReviewUnit

    now = _now(now)
    unit = _current(unit, "unit")
    require(user, REVIEW_MANAGE, unit)
    theme = _text(theme, "theme", limit=80, required=True)
    try:
        year, quarter = int(year), int(quarter)
    except (TypeError, ValueError):
        year, quarter = 0, 0
    if not 2000 <= year <= 2100:
        raise ServiceError(_("year is out of range."), {"year": _("2000 to 2100.")})
    if not 1 <= quarter <= 4:
        raise ServiceError(_("The quarter is 1 to 4."), {"quarter": _("1 to 4.")})
    held_on = _date(held_on, "held_on")
    if held_on.year != year or (held_on.month - 1) // 3 + 1 != quarter:
        raise ServiceError(_("The review meeting must be in %(y)d Q%(q)d.") % {"y": year, "q": quarter},
                           {"held_on": _("Within the quarter.")})
    visited, seen = [], set()
    for u in units or []:
        if not isinstance(u, OrgUnit) or u.pk in seen:
            continue
        seen.add(u.pk)
        if u.valid_to is not None or not _within(u, unit) or u.pk == unit.pk:
            raise ServiceError(_("%(u)s is not a current unit under %(a)s.") % {"u": u.name, "a": unit.name},
                               {"units": _("Choose units under %(a)s.") % {"a": unit.name}})
        visited.append(u)
    if not 1 <= len(visited) <= MAX_REVIEW_UNITS:
        raise ServiceError(_("Choose 1 to %(n)d units to visit.") % {"n": MAX_REVIEW_UNITS},
                           {"units": _("1 to %(n)d units.") % {"n": MAX_REVIEW_UNITS}})
    r = Review.objects.create(unit=unit, year=year, quarter=quarter, theme=theme, held_on=held_on,
                              drop_extremes=bool(drop_extremes), created_at=now)
    ReviewUnit.objects.bulk_create([ReviewUnit(review=r, unit=u) for u in visited])
    audit.record("activities.review.create", r, after={"theme": theme, "year": year, "quarter": quarter,
                                                       "held_on": held_on, "units": [u.pk for u in visited],
                                                       "drop_extremes": r.drop_extremes}, now=now)
    return r


@transaction.atomic
def score_unit(user, review, *, unit, score, now: datetime | None = None):
    """A reviewer scores a unit visited (0–100, one decimal), once; from the meeting's day on."""
    from decimal import Decimal, InvalidOperation

    from .models import ReviewScore, ReviewUnit

    now = _now(now)
    r = get_review(user, review, "score")
    if user is None:
        raise ServiceError(_("A score needs a reviewer."), code="no_reviewer")
    pk = getattr(unit, "pk", unit)
    ru = ReviewUnit.objects.filter(review=r, unit_id=pk).select_related("unit").first() if pk else None
    if ru is None:
        raise ServiceError(_("This unit was not visited in the review."), {"unit": _("Not visited.")})
    if timezone.localtime(now).date() < r.held_on:
        raise ServiceError(_("Scores are given from the review meeting on (%(d)s).") % {"d": r.held_on},
                           code="review_not_held")
    try:
        value = Decimal(str(score)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError, TypeError):
        value = Decimal(-1)
    if not Decimal(0) <= value <= Decimal(100):
        raise ServiceError(_("A score is 0 to 100."), {"score": _("0 to 100.")})
    try:
        with transaction.atomic():
            s = ReviewScore.objects.create(review_unit=ru, reviewer=user, score=value, at=now)
    except IntegrityError:
        raise Conflict(_("You have already scored %(u)s in this review.") % {"u": ru.unit.name})
    audit.record("activities.review.score", r, after={"unit_id": ru.unit_id, "score": str(value)}, now=now)
    return s




# --- party meetings (三会一课, 主题党日) and member development (发展党员), issue 15 items 5–6 ----------
# Rules in ``party_rules`` (MEETING_RULES with the city's ``MeetingRule`` overrides; STEPS).

MEETING_RECORD = "activities.meeting.record"
MEETING_RULES_PERM = "activities.meeting.rules"
APPLICANT_MANAGE = "activities.applicant.manage"
APPLICANT_REVIEW = "activities.applicant.review"
MAX_MEETING_PEOPLE = 2000


def meeting_rules() -> dict[str, int]:
    """Months per period for each meeting kind: the code's table, with the city's changes."""
    from .models import MeetingRule
    from .party_rules import MEETING_RULES

    rules = {str(k): v for k, v in MEETING_RULES.items()}
    rules.update({r.kind: r.every_months for r in MeetingRule.objects.all()})
    return rules


@transaction.atomic
def set_meeting_rule(user, *, kind: str, every_months, now: datetime | None = None):
    """The city changes how often one kind of meeting is required (every month or every quarter)."""
    from .models import MeetingRule
    from .party_rules import ALLOWED_PERIODS, MeetingKind

    now = _now(now)
    require_city_wide(user, MEETING_RULES_PERM, _("Only a city-wide administrator may change meeting rules."))
    if kind not in MeetingKind.values:
        raise ServiceError(_("Choose the meeting kind."), {"kind": _("One of: %(v)s.") % {
            "v": ", ".join(MeetingKind.values)}})
    try:
        every_months = int(every_months)
    except (TypeError, ValueError):
        every_months = 0
    if every_months not in ALLOWED_PERIODS:
        raise ServiceError(_("A meeting is required every month (1) or every quarter (3)."),
                           {"every_months": _("1 or 3.")})
    before = meeting_rules().get(kind)
    MeetingRule.objects.update_or_create(kind=kind, defaults={"every_months": every_months, "updated_at": now})
    rule = MeetingRule.objects.get(kind=kind)
    audit.record("activities.meeting_rule.change", rule, unit=None, before={"every_months": before},
                 after={"every_months": every_months}, now=now)
    return rule


def _party_org(org, field: str = "org"):
    from bihuan.orgs.models import PartyOrg

    pk = getattr(org, "pk", org)
    o = PartyOrg.objects.select_related("unit", "parent__unit").filter(pk=pk).first() if pk else None
    if o is None:
        raise ServiceError(_("Choose a party organisation."), {field: _("Unknown party organisation.")})
    if o.unit.valid_to is not None:
        raise ServiceError(_("%(u)s is no longer a current unit.") % {"u": o.unit.name}, {field: _("Not current.")})
    return o


def _person_ids(values, field: str) -> list[int]:
    out = []
    for v in values or ():
        pk = getattr(v, "pk", v)
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            raise ServiceError(_("Unknown person."), {field: _("Unknown person.")})
        if pk not in out:
            out.append(pk)
    if len(out) > MAX_MEETING_PEOPLE:
        raise ServiceError(_("At most %(n)d people.") % {"n": MAX_MEETING_PEOPLE}, {field: _("Too many.")})
    return out


def org_members(org):
    """The members (probationary and full) of a party organisation, from ``people``."""
    from bihuan.people.choices import MEMBER_STATUSES
    from bihuan.people.models import Person

    return Person.objects.filter(party_branch=org, party_status__in=MEMBER_STATUSES)


@transaction.atomic
def record_meeting(user, *, org, kind: str, held_on, topic: str, minutes: str = "", attendees=(),
                   absentees=(), uploads=(), now: datetime | None = None):
    """三会一课 / 主题党日 of a party organisation. Attendees and absentees must be members of that
    organisation (others are refused by name); an absentee needs a reason. ``absentees`` is a list of
    ``(person, reason)``."""
    from bihuan.loop.services import validate_uploads

    from .models import MeetingAttendance, MeetingPhoto, PartyMeeting
    from .party_rules import MeetingKind

    now = _now(now)
    org = _party_org(org)
    require(user, MEETING_RECORD, org.unit)
    if kind not in MeetingKind.values:
        raise ServiceError(_("Choose the meeting kind."), {"kind": _("One of: %(v)s.") % {
            "v": ", ".join(MeetingKind.values)}})
    held_on = _date(held_on, "held_on")
    if held_on > timezone.localtime(now).date():
        raise ServiceError(_("The meeting date is in the future."), {"held_on": _("Not after today.")})
    topic = _text(topic, "topic", limit=120, required=True)
    minutes = _text(minutes, "minutes", limit=20000)
    present = _person_ids(attendees, "attendees")
    absent: dict[int, str] = {}
    for item in absentees or ():
        person, reason = item if isinstance(item, (tuple, list)) and len(item) == 2 else (item, "")
        (pk,) = _person_ids([person], "absentees")
        reason = _text(reason, "absentees", limit=120)
        if not reason:
            raise ServiceError(_("Give the reason of each absentee."), {"absentees": _("A reason is required.")})
        absent[pk] = reason
    if not present:
        raise ServiceError(_("Choose at least one attendee."), {"attendees": _("This field is required.")})
    both = set(present) & set(absent)
    if both:
        raise ServiceError(_("A person cannot both attend and be absent."), {"absentees": _("Already an attendee.")})
    everyone = set(present) | set(absent)
    members = set(org_members(org).filter(pk__in=everyone).values_list("pk", flat=True))
    strangers = everyone - members
    if strangers:
        from bihuan.people.models import Person

        names = list(Person.objects.filter(pk__in=strangers).order_by("pk").values_list("name", flat=True)[:5])
        field = "attendees" if strangers & set(present) else "absentees"
        raise ServiceError(_("Not members of %(o)s: %(n)s.") % {"o": org.name, "n": "、".join(names) or "?"},
                           {field: _("Only members of the organisation.")}, code="not_a_member")
    uploads = validate_uploads(uploads)
    m = PartyMeeting.objects.create(org=org, kind=kind, held_on=held_on, topic=topic, minutes=minutes,
                                    attendees=len(present), absentees=len(absent), created_at=now, created_by=user)
    MeetingAttendance.objects.bulk_create(
        [MeetingAttendance(meeting=m, person_id=pk, present=True) for pk in present]
        + [MeetingAttendance(meeting=m, person_id=pk, present=False, reason=r) for pk, r in absent.items()])
    for up in uploads:
        ph = MeetingPhoto(meeting=m, name=up.name[:120], content_type=up.content_type, size=len(up.content),
                          sha256=hashlib.sha256(up.content).hexdigest())
        ph.file.save(up.name[-80:], ContentFile(up.content), save=False)
        ph.save()
    audit.record("activities.meeting.create", m, unit=org.unit, after={
        "org_id": org.pk, "kind": kind, "held_on": held_on, "topic": topic, "attendees": len(present),
        "absentees": len(absent), "photos": len(uploads)}, now=now)
    return m


def _meeting_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.TASK, active=True, code="party_meeting").first()
           or Category.objects.filter(kind=Kind.TASK, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="party_meeting", name="三会一课", kind=Kind.TASK, handle_days=10)
    return cat


def last_ended_period(today: date, months: int) -> tuple[date, date]:
    """The last whole month (1) or quarter (3) before ``today``'s."""
    from .party_rules import add_months, period_start

    this = period_start(today, months)
    return add_months(this, -months), date.fromordinal(this.toordinal() - 1)


def open_overdue_meetings(now: datetime | None = None) -> int:
    """The ``activities.meetings`` job: for each meeting kind, each party branch that records its
    meetings here (at least one meeting recorded before) and held none of that kind in the last
    ended period opens one loop matter for the branch's unit. The ``MeetingEscalation`` row (unique
    per organisation, kind and period) is written in the matter's transaction: a second or
    concurrent run opens nothing."""
    from django.db.models import Exists, OuterRef

    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind
    from bihuan.orgs.models import PartyOrg

    from .models import MeetingEscalation, PartyMeeting
    from .party_rules import MEETING_ORG_KINDS, MeetingKind

    now = _now(now)
    today = timezone.localtime(now).date()
    opened = 0
    for kind, months in meeting_rules().items():
        start, end = last_ended_period(today, months)
        held = PartyMeeting.objects.filter(org=OuterRef("pk"), kind=kind, held_on__gte=start, held_on__lte=end)
        started = PartyMeeting.objects.filter(org=OuterRef("pk"), held_on__lt=start)
        done = MeetingEscalation.objects.filter(org=OuterRef("pk"), kind=kind, period_start=start)
        due = (PartyOrg.objects.filter(kind__in=MEETING_ORG_KINDS, unit__valid_to__isnull=True)
               .filter(Exists(started)).exclude(Exists(held)).exclude(Exists(done))
               .select_related("unit").order_by("id"))
        for org in due.iterator(chunk_size=200):
            try:
                with transaction.atomic():
                    esc = MeetingEscalation.objects.create(org=org, kind=kind, period_start=start, created_at=now)
                    label = MeetingKind(kind).label
                    title = (_("%(org)s: no %(kind)s in %(period)s") % {
                        "org": org.name, "kind": label, "period": _period_label(start, months)})[:120]
                    detail = _("%(org)s held no %(kind)s between %(s)s and %(e)s; it is required every %(m)d "
                               "month(s).") % {"org": org.name, "kind": label, "s": start, "e": end, "m": months}
                    matter = loop_services.create_matter(None, category=_meeting_category(), location_unit=org.unit,
                                                         dispatch_unit=org.unit, title=title, description=detail,
                                                         kind=Kind.TASK, now=now)
                    matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=org.unit,
                                                    now=now)
                    MeetingEscalation.objects.filter(pk=esc.pk).update(matter_id=matter.pk)
                    audit.record("activities.meeting.escalate", esc, unit=org.unit, after={
                        "org_id": org.pk, "kind": kind, "period_start": start, "matter_id": matter.pk}, now=now)
                    opened += 1
            except IntegrityError:
                continue  # another run claimed it
    return opened


def _period_label(start: date, months: int) -> str:
    return f"{start.year}年{start.month}月" if months == 1 else f"{start.year}年第{(start.month - 1) // 3 + 1}季度"


# --- member development (发展党员) ---------------------------------------------------------------

def committee_unit(org) -> OrgUnit:
    """The unit of the organisation's committee (the parent organisation's, or its own at the top)."""
    return org.parent.unit if org.parent_id else org.unit


def may_read_review(user, applicant) -> bool:
    """Political review notes: the organisation's committee and above (scope at the committee's unit)."""
    from bihuan.core.scope import covers

    if user is None:
        return True
    return covers(user, APPLICANT_REVIEW, committee_unit(applicant.org))


@transaction.atomic
def register_applicant(user, *, person, org, applied_on, now: datetime | None = None):
    """入党申请: a registered person applies to a party organisation (once; not a member already)."""
    from bihuan.people.choices import MEMBER_STATUSES
    from bihuan.people.models import Person

    from .models import Applicant, ApplicantStep
    from .party_rules import Stage

    now = _now(now)
    org = _party_org(org)
    require(user, APPLICANT_MANAGE, org.unit)
    pk = getattr(person, "pk", person)
    people = Person.objects.all() if user is None else Person.objects.restrict(user, "view")
    p = people.filter(pk=pk).first() if pk else None
    if p is None:
        raise ServiceError(_("Choose a registered person."), {"person": _("Unknown person.")})
    if p.party_status in MEMBER_STATUSES:
        raise ServiceError(_("%(p)s is already a party member.") % {"p": p.name}, {"person": _("Already a member.")})
    if Applicant.objects.filter(person=p).exists():
        raise Conflict(_("%(p)s has already applied.") % {"p": p.name})
    applied_on = _date(applied_on, "applied_on")
    if applied_on > timezone.localtime(now).date():
        raise ServiceError(_("The application date is in the future."), {"applied_on": _("Not after today.")})
    a = Applicant.objects.create(person=p, org=org, stage=Stage.APPLICANT, applied_on=applied_on,
                                 stage_since=applied_on, created_at=now, created_by=user)
    ApplicantStep.objects.create(applicant=a, step="apply", taken_on=applied_on, created_at=now, created_by=user)
    audit.record("activities.applicant.create", a, unit=org.unit, after={
        "person_id": p.pk, "org_id": org.pk, "applied_on": applied_on}, now=now)
    return a


def get_applicant(user, applicant, action: str = "view"):
    from .models import Applicant

    return get_required(user, f"activities.applicant.{action}",
                        Applicant.objects.select_related("person", "org__unit", "org__parent__unit"), applicant, on=lambda o: o.org.unit)


@transaction.atomic
def take_step(user, applicant, *, step: str, taken_on, note: str = "", version, now: datetime | None = None):
    """One step of the development (``party_rules.STEPS``): refused when it belongs to another stage
    (out of order), when a step it requires is missing, when it was taken already, or before its
    earliest date (the minimum time in the stage). A step that leaves a stage moves the applicant on.
    The note of the political review is the review note (committee and above only)."""
    from .models import Applicant, ApplicantStep
    from .party_rules import REVIEW_STEP, STEP_BY_CODE, Stage, earliest

    now = _now(now)
    a = get_applicant(user, applicant, "manage")
    a = (Applicant.objects.select_for_update(of=("self",))
         .select_related("person", "org__unit", "org__parent__unit").get(pk=a.pk))
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The version is required."), {"version": _("This field is required.")})
    if version != a.version:
        raise Conflict(_("The applicant was changed by someone else. Reload and try again."))
    s = STEP_BY_CODE.get(str(step or ""))
    if s is None:
        raise ServiceError(_("Choose a step."), {"step": _("One of: %(v)s.") % {"v": ", ".join(STEP_BY_CODE)}})
    if a.stage == Stage.FORMAL:
        raise ServiceError(_("%(p)s is already a full member.") % {"p": a.person.name}, {"step": _("No more steps.")},
                           code="step_out_of_order")
    if s.stage != a.stage:
        raise ServiceError(_("“%(s)s” is a step for %(need)s; %(p)s is %(stage)s.") % {
            "s": s.label, "need": Stage(s.stage).label, "p": a.person.name, "stage": Stage(a.stage).label},
            {"step": _("Out of order.")}, code="step_out_of_order")
    taken = dict(ApplicantStep.objects.filter(applicant=a).values_list("step", "taken_on"))
    if s.code in taken:
        raise ServiceError(_("“%(s)s” was recorded already (%(d)s).") % {"s": s.label, "d": taken[s.code]},
                           {"step": _("Already recorded.")}, code="step_out_of_order")
    missing = [STEP_BY_CODE[r].label for r in s.requires if r not in taken]
    if missing:
        raise ServiceError(_("Record “%(r)s” before “%(s)s”.") % {"r": "、".join(missing), "s": s.label},
                           {"step": _("Out of order.")}, code="step_out_of_order")
    taken_on = _date(taken_on, "taken_on")
    if taken_on > timezone.localtime(now).date():
        raise ServiceError(_("The step's date is in the future."), {"taken_on": _("Not after today.")})
    last = max([a.stage_since, *(taken[r] for r in s.requires)])
    if taken_on < last:
        raise ServiceError(_("The step's date is before %(d)s, the date of the step before it.") % {"d": last},
                           {"taken_on": _("Not before %(d)s.") % {"d": last}}, code="step_too_early")
    first = earliest(s, a.stage_since)
    if taken_on < first:
        raise ServiceError(_("“%(s)s” may be taken on %(d)s at the earliest: %(m)d months after becoming %(stage)s "
                             "on %(since)s.") % {"s": s.label, "d": first, "m": s.min_months,
                                                 "stage": Stage(a.stage).label, "since": a.stage_since},
                           {"taken_on": _("Not before %(d)s.") % {"d": first}}, code="step_too_early")
    note = _text(note, "note", limit=2000 if s.code == REVIEW_STEP else 300)
    changes = {"version": F("version") + 1}
    if s.code == REVIEW_STEP:
        if not may_read_review(user, a):
            raise PermissionDenied(_("Political review notes are kept by the organisation's committee."))
        changes["review_notes"] = note
        note = ""
    ApplicantStep.objects.create(applicant=a, step=s.code, taken_on=taken_on, note=note, created_at=now,
                                 created_by=user)
    before = {"stage": a.stage}
    if s.to_stage:
        changes.update(stage=s.to_stage, stage_since=taken_on)
    Applicant.objects.filter(pk=a.pk).update(**changes)
    a.refresh_from_db()
    audit.record("activities.applicant.step", a, unit=a.org.unit, before=before,
                 after={"step": s.code, "taken_on": taken_on, "stage": a.stage}, now=now)
    return a
