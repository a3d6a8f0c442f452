"""``/api/v1/matters`` and ``/api/v1/stats/units``: the loop over REST.

Views parse; ``loop.services`` authorises and changes state; ``loop.selectors`` and
``loop.metrics`` read. Scope: everything goes through ``Matter.objects.restrict`` and
``core.scope`` — a matter or unit outside the caller's scope is a 404, exactly like one that
does not exist. A matter's ``actions`` are ``transitions.available_actions``: the actions the
service would accept from this caller now (the web page shows the same buttons).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import NinjaJSONEncoder

from bihuan.core import scope
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.protect import mask_text
from bihuan.core.schema import (
    Cursor,
    Id,
    Latitude,
    Limit,
    Longitude,
    LongText,
    ShortText,
    SmallInt,
    Text,
    Version,
    When,
)
from bihuan.orgs.models import OrgUnit

from . import metrics, notify, selectors, services, transitions
from .models import Category, Kind, Matter, Source
from .services import idempotency

router = Router(tags=["loop"])


# --- schemas ------------------------------------------------------------------------------------

class UnitRef(Schema):
    id: int
    name: str


class MatterOut(Schema):
    id: int
    kind: str
    title: str
    description: str
    category_id: int
    category: str
    source: str
    state: str
    state_label: str
    version: int
    location_unit: UnitRef
    dispatch_unit: UnitRef
    handling_unit: UnitRef | None
    assisting_units: list[UnitRef]
    address: str
    reporter_name: str
    reporter_phone: str = Field(description="masked")
    created_at: datetime
    dispatched_at: datetime | None
    accept_due_at: datetime | None
    accepted_at: datetime | None
    warn_at: datetime | None
    due_at: datetime | None
    reported_at: datetime | None
    closed_at: datetime | None
    flagged: bool
    merged_into: int | None
    light: str
    overdue: bool
    remaining_hours: float | None
    calendar_warning: str
    actions: list[str]
    actions_on_behalf: list[str]


class MatterListItem(Schema):
    id: int
    kind: str
    title: str = Field(description="phone and ID numbers masked unless the caller may reveal them")
    category_id: int
    state: str
    version: int
    location_unit_id: int
    handling_unit_id: int | None
    created_at: datetime
    due_at: datetime | None
    flagged: bool
    light: str

    @staticmethod
    def resolve_title(obj, context):
        return services.text_for(context["request"].user, obj, obj.title)


class MatterPage(Schema):
    items: list[MatterListItem]
    next_cursor: str | None


class AttachmentIn(Schema):
    name: Text(120)
    content_type: Text(80)
    data_base64: str  # bounded by the request size (settings.BIHUAN_MAX_REQUEST_BYTES)


class MatterIn(Schema):
    category: ShortText = Field(description="category code or id")
    location_unit: Id
    title: LongText
    description: LongText
    kind: ShortText | None = None
    reporter_name: ShortText = ""
    reporter_phone: Text(40) = ""
    address: ShortText = ""
    lat: Latitude | None = None
    lon: Longitude | None = None
    attachments: list[AttachmentIn] = []


class ActionIn(Schema):
    version: Version | None = Field(None, description="the matter's current version (required; stale → 409)")
    comment: LongText = ""
    reason: LongText = ""
    handling_unit: Id | None = None
    assisting_units: list[Id] = Field([], max_length=100)
    passed: bool | None = None
    satisfaction: ShortText = ""
    resolved: bool | None = None
    days: SmallInt | None = None
    approve: bool | None = None
    into: Id | None = None
    on_behalf: bool = Field(False, description="accept / send_back from a unit above the lead unit, in its name "
                                                "(only for the actions listed in `actions_on_behalf`)")
    on_behalf_reason: LongText = Field("", description="why you act on the lead unit's behalf (required with "
                                                       "on_behalf; recorded in the event and the audit log)")
    title: LongText = ""
    description: LongText = ""
    attachments: list[AttachmentIn] = []


class EventOut(Schema):
    seq: int
    at: datetime
    actor: str
    actor_unit: str | None
    action: str
    from_state: str
    to_state: str
    comment: str
    data: dict
    attachments: list[dict]


# --- helpers ------------------------------------------------------------------------------------

def _uploads(items: list[AttachmentIn]) -> list[services.Upload]:
    out = []
    for a in items or []:
        try:
            content = base64.b64decode(a.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(_("Attachment %(name)s is not valid base64.") % {"name": a.name},
                               {"attachments": _("Invalid base64.")})
        out.append(services.Upload(a.name, a.content_type, content))
    return out


def _ref(u: OrgUnit | None):
    return {"id": u.pk, "name": u.name} if u else None


def _assists(m: Matter):
    known = m.assists_known()  # a new or just dispatched matter carries the ones just written
    return known if known is not None else m.assists.select_related("unit")


def matter_out(user, m: Matter, now: datetime) -> dict:
    st = selectors.matter_status(m, now)
    return {
        "id": m.pk, "kind": m.kind, "title": services.text_for(user, m, m.title),
        "description": services.text_for(user, m, m.description),
        "category_id": m.category_id, "category": m.category.name, "source": m.source,
        "state": m.state, "state_label": str(m.get_state_display()), "version": m.version,
        "location_unit": _ref(m.location_unit), "dispatch_unit": _ref(m.dispatch_unit),
        "handling_unit": _ref(m.handling_unit),
        "assisting_units": [_ref(a.unit) for a in _assists(m)],
        "address": services.text_for(user, m, m.address), "reporter_name": m.reporter_name, "reporter_phone": m.reporter_phone_masked,
        "created_at": m.created_at, "dispatched_at": m.dispatched_at, "accept_due_at": m.accept_due_at,
        "accepted_at": m.accepted_at, "warn_at": m.warn_at, "due_at": m.due_at, "reported_at": m.reported_at,
        "closed_at": m.closed_at, "flagged": m.flagged, "merged_into": m.merged_into_id,
        "light": st.light, "overdue": st.overdue, "remaining_hours": st.remaining_hours,
        "calendar_warning": m.calendar_warning, "actions": transitions.available_actions(user, m),
        "actions_on_behalf": transitions.on_behalf_actions(user, m),
    }


def _category(value: str) -> Category:
    value = str(value or "")
    qs = Category.objects.filter(active=True)
    cat = (qs.filter(pk=int(value)).first() if value.isdigit() else None) or qs.filter(code=value).first()
    if cat is None:
        raise ServiceError(_("Unknown category."), {"category": _("Unknown or inactive category.")})
    return cat


def _json(data) -> dict:
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


# --- endpoints ----------------------------------------------------------------------------------

@router.post("/matters", response={201: MatterOut}, summary="Register a matter (Idempotency-Key)")
def create_matter(request, payload: MatterIn):
    """With an ``Idempotency-Key`` header a retry gets the first answer byte for byte (header
    ``Idempotent-Replayed: true``); the same key with another body is refused with 422."""
    user = request.user
    now = timezone.now()
    key = idempotency.valid_key(request.headers.get("Idempotency-Key"))
    loc = OrgUnit.objects.filter(pk=payload.location_unit).first()
    if loc is None:
        raise NotFound()
    if payload.kind and payload.kind not in Kind.values:
        raise ServiceError(_("Unknown kind."), {"kind": _("Unknown kind.")})

    def register():
        m = services.create_matter(
            user, category=_category(payload.category), location_unit=loc, title=payload.title,
            description=payload.description, kind=payload.kind, source=Source.API,
            reporter_name=payload.reporter_name, reporter_phone=payload.reporter_phone, address=payload.address,
            lat=payload.lat, lon=payload.lon, uploads=_uploads(payload.attachments), now=now)
        return 201, _render(MatterOut, matter_out(user, m, now)), m

    if not key:
        status, body, _m = register()
        return HttpResponse(body, status=status, content_type="application/json")
    answer = idempotency.once(user_id=user.pk, scope="matters.create", key=key, request_body=request.body,
                              work=register)
    resp = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    if answer.replayed:
        resp["Idempotent-Replayed"] = "true"
    return resp


def _render(schema, data) -> str:
    """The body ninja would send for ``data`` as ``schema`` (so the stored answer is exactly it)."""
    return json.dumps(schema.model_validate(data).model_dump(by_alias=True), cls=NinjaJSONEncoder)


@router.get("/matters", response=MatterPage, summary="List matters in scope (filters, cursor pagination)")
def list_matters(request, state: ShortText | None = None, kind: ShortText | None = None,
                 category: ShortText | None = None, unit: Id | None = None, light: ShortText | None = None,
                 overdue: bool | None = None, flagged: bool | None = None, created_from: When | None = None,
                 created_to: When | None = None, tab: ShortText | None = None, q: ShortText | None = None,
                 cursor: Cursor | None = None, limit: Limit = 50):
    user, now = request.user, timezone.now()
    unit_obj = None
    if unit is not None:
        unit_obj = OrgUnit.objects.filter(pk=unit).first()
        if unit_obj is None:
            return {"items": [], "next_cursor": None}
    if light and light not in selectors.LIGHTS:
        raise ServiceError(_("Unknown light."), {"light": "green, yellow, red or none"})
    if tab and tab not in selectors.INBOX_TABS:
        raise ServiceError(_("Unknown tab."), {"tab": ", ".join(selectors.INBOX_TABS)})
    # A tab is the base queryset (already scoped), not a second scoped subquery: see docs/performance.md.
    qs = selectors.matters_for(user, now=now, state=state.split(",") if state else None, kind=kind,
                               category=category, unit=unit_obj, light=light, overdue=overdue, flagged=flagged,
                               created_from=created_from, created_to=created_to, q=q,
                               base=selectors.inbox(user, tab, now=now) if tab else None)
    qs, order = selectors.newest_first(selectors.with_light(qs, now), tab)
    page = cursor_page(qs, order=order, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/matters/{matter_id}", response=MatterOut, summary="One matter with its derived status")
def get_matter(request, matter_id: Id):
    now = timezone.now()
    m = services.get_matter(request.user, matter_id)
    return matter_out(request.user, m, now)


@router.get("/matters/{matter_id}/events", response=list[EventOut], summary="The matter's timeline")
def matter_events(request, matter_id: Id):
    m = services.get_matter(request.user, matter_id)
    return [{"seq": e.seq, "at": e.at, "actor": e.actor_name, "actor_unit": e.actor_unit.name if e.actor_unit else None,
             "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
             "comment": services.text_for(request.user, m, e.comment),
             "data": e.data, "attachments": [{"id": a.pk, "name": a.name, "content_type": a.content_type,
                                              "size": a.size} for a in e.attachments.all()]}
            for e in selectors.timeline(m)]


@router.get("/matters/{matter_id}/similar", response=list[MatterListItem],
            summary="Similar matters (same category, same township, last 90 days)")
def similar(request, matter_id: Id):
    now = timezone.now()
    m = services.get_matter(request.user, matter_id)
    visible = Matter.objects.restrict(request.user, "view")
    ids = [x.pk for x in selectors.similar_matters(m, now=now)]
    return list(selectors.with_light(visible.filter(pk__in=ids), now).order_by("-created_at"))


@router.post("/matters/{matter_id}/actions/{action}", response=MatterOut, summary="Perform a transition")
def act(request, matter_id: Id, action: Text(40), payload: ActionIn):
    if action not in transitions.ACTIONS:
        raise ServiceError(_("Unknown action %(a)s.") % {"a": action},
                           {"action": ", ".join(transitions.ACTIONS)}, code="unknown_action")
    user, now = request.user, timezone.now()
    params = payload.dict()
    params["uploads"] = _uploads(payload.attachments)
    done = services.perform(user, matter_id, action, version=payload.version, params=params, now=now)
    if not (isinstance(done, Matter) and done.pk == matter_id):
        done = services.get_matter(user, matter_id)
    elif action not in _SCOPE_KEEPING and not done.scope_covered_by(scope.scope_for(user, "loop.matter.view")):
        raise NotFound()  # the act moved the matter out of the caller's sight (as get_matter would say)
    return matter_out(user, done, now)


class MatterRevealIn(Schema):
    reason: LongText = Field("", description="why the full number is needed (recorded in the audit log)")


class MatterRevealOut(Schema):
    field: str
    value: str


@router.post("/matters/{matter_id}/reveal", response=MatterRevealOut,
             summary="Reveal the reporter's full phone (needs loop.matter.reveal and a reason; audited)")
def reveal(request, matter_id: Id, payload: MatterRevealIn):
    value = services.reveal_phone(request.user, matter_id, payload.reason, now=timezone.now())
    return {"field": "reporter_phone", "value": value}


# Actions that leave the matter's location, dispatching, lead and assisting units as they were, so the
# caller (checked by the service a moment ago) still sees it. Every action that returns the matter has
# its response drawn from the matter the service returned (its fields are the ones just written); the
# others' is checked against the caller's view scope first (docs/performance.md).
_SCOPE_KEEPING = frozenset({"accept", "report_done", "evaluate", "flag", "reopen"})


# --- supervision reads ----------------------------------------------------------------------

def _unit_in_scope(user, unit_id: int) -> OrgUnit:
    unit = OrgUnit.objects.filter(pk=unit_id).first()
    if unit is None or not scope.covers(user, "loop.matter.view", unit):
        raise NotFound()
    return unit


@router.get("/stats/units", summary="Metrics for the unit's children over a period")
def stats_units(request, unit: Id, from_: When | None = Query(None, alias="from"),  # noqa: B008
                to: When | None = None):
    now = timezone.now()
    u = _unit_in_scope(request.user, unit)
    end = to or now
    start = from_ or end.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if start >= end:
        raise ServiceError(_("'from' must be before 'to'."), {"from": _("Empty period.")})
    return _json(metrics.children_metrics(u, start=start, end=end, now=now))


@router.get("/supervision/board", summary="Open, yellow, red and flagged matters by child unit")
def board(request, unit: Id):
    u = _unit_in_scope(request.user, unit)
    return selectors.supervision_board(request.user, u, now=timezone.now())


@router.get("/supervision/backlog", summary="Open matters of a unit by age and light (清仓见底)")
def backlog(request, unit: Id):
    u = _unit_in_scope(request.user, unit)
    return selectors.backlog(request.user, u, now=timezone.now())


@router.get("/supervision/hotspots", summary="Category × unit over a threshold in a window (未诉先办)")
def hotspot_list(request, unit: Id, window_days: SmallInt = 30, threshold: SmallInt = 3):
    u = _unit_in_scope(request.user, unit)
    return selectors.hotspots(request.user, u, now=timezone.now(), window_days=max(1, min(window_days, 366)),
                              threshold=max(1, threshold))


@router.get("/inbox", summary="Inbox tab counts for the caller")
def inbox_counts(request, exact: bool = False):
    """The count of every inbox tab. 已办结 (``closed``) is counted as the inbox page counts it: up
    to 999, and past that ``closed`` is 1000 with ``closed_capped`` true. ``exact=true`` counts
    every closed matter in scope (a scan: seconds for a township at city scale)."""
    cap = None if exact else selectors.CLOSED_COUNT_CAP
    counts = selectors.inbox_counts(request.user, now=timezone.now(), closed_cap=cap)
    return {**counts, "closed_capped": cap is not None and counts["closed"] > cap}


@router.get("/categories", summary="Active matter categories")
def categories(request):
    return [{"id": c.pk, "code": c.code, "name": c.name, "kind": c.kind, "accept_hours": float(c.accept_hours),
             "handle_days": c.handle_days, "warn_percent": c.warn_percent, "max_extensions": c.max_extensions}
            for c in Category.objects.filter(active=True)]


# --- notification centre --------------------------------------------------------------------

class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    created_at: datetime
    unit: UnitRef | None
    matter_id: int | None
    read: bool


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


def _notification_out(n) -> dict:
    # Masked at creation (loop.notify); masked again here for notifications from before that.
    return {"id": n.pk, "kind": n.kind, "title": mask_text(n.title), "body": mask_text(n.body),
            "created_at": n.created_at,
            "unit": _ref(n.unit), "matter_id": n.matter_id, "read": bool(n.is_read)}


@router.get("/notifications", response=NotificationPage,
            summary="The caller's notifications (to them and their units), newest first")
def notification_list(request, unread: bool = False, cursor: Cursor | None = None, limit: Limit = 50):
    user = request.user
    qs = notify.unread_for(user) if unread else notify.for_user(user)
    qs = notify.with_read_state(user, qs).select_related("unit")
    page = cursor_page(qs, order=["-created_at", "-id"], cursor=cursor, limit=limit)
    return {"items": [_notification_out(n) for n in page.items], "next_cursor": page.next_cursor,
            "unread": notify.unread_count(user)}


@router.post("/notifications/read-all", summary="Mark all of the caller's notifications read")
def notification_read_all(request):
    return {"marked": notify.mark_all_read(request.user, now=timezone.now()),
            "unread": notify.unread_count(request.user)}


@router.post("/notifications/{notification_id}/read", response=NotificationOut,
             summary="Mark one notification read (for the caller only)")
def notification_read(request, notification_id: Id):
    user = request.user
    notify.mark_read(user, notification_id, now=timezone.now())
    n = notify.with_read_state(user, notify.for_user(user).select_related("unit")).get(pk=notification_id)
    return _notification_out(n)
