"""``/api/v1/care``: surveys, plans and visits, with the same scope, rules and status as the pages.

Input is bounded here (``core.schema`` types, lengths, control characters) and checked again
by the services; refusals are problem+json through the one handler in ``api/urls.py``.
A check-in sent with an ``Idempotency-Key`` is answered once (a retry gets the first answer,
header ``Idempotent-Replayed: true``); without one, the same check-in again is also recorded once.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime, time

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.responses import NinjaJSONEncoder

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Cursor, Day, Id, Limit, ShortText
from bihuan.core.scope import units_q
from bihuan.loop.services import Upload, idempotency
from bihuan.orgs.models import OrgUnit

from . import selectors, services
from . import status as st
from .models import Outcome

router = Router(tags=["care"])


class _CareIn(CleanIn):
    pass


class SurveyIn(_CareIn):
    person: Id
    surveyed_on: date
    living: str = Field(..., max_length=12)
    help: list[str] = Field(default_factory=list, max_length=10)
    income_support: str = Field("none", max_length=8)
    needs: list[str] = Field(default_factory=list, max_length=10)
    health_notes: str = Field("", max_length=2000)
    contact_name: str = Field("", max_length=50)
    contact_relation: str = Field("", max_length=20)
    contact_phone: str = Field("", max_length=20)
    risk: str = Field("low", max_length=8)


class SurveyOut(Schema):
    id: int
    person_id: int
    person_name: str
    unit_id: int
    surveyed_on: date
    living: str
    self_care: str
    help: list[str]
    income_support: str
    needs: list[str]
    contact_name: str
    contact_phone_masked: str
    risk: str

    @staticmethod
    def resolve_person_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_help(obj):
        from .models import CHECKLIST

        return [f for f, _l in CHECKLIST if getattr(obj, f)]

    @staticmethod
    def resolve_needs(obj):
        from .models import NEEDS

        return [f for f, _l in NEEDS if getattr(obj, f)]


class SurveyPage(Schema):
    items: list[SurveyOut]
    next_cursor: str | None


class ServiceIn(_CareIn):
    kind: str = Field(..., max_length=10)
    label: str = Field("", max_length=40)
    rrule: str = Field(..., max_length=300)
    starts_on: date | None = None
    ends_on: date | None = None
    window_start: time
    window_end: time
    helper: Id
    backup: Id | None = None


class CarePlanIn(_CareIn):
    person: Id
    starts_on: date
    ends_on: date | None = None
    note: str = Field("", max_length=200)
    services: list[ServiceIn] = Field(default_factory=list, max_length=12)


class ServiceOut(Schema):
    id: int
    kind: str
    label: str
    rrule: str
    starts_on: date
    ends_on: date | None
    window_start: time
    window_end: time
    helper_id: int
    backup_id: int | None
    version: int


class CarePlanOut(Schema):
    id: int
    person_id: int
    person_name: str
    unit_id: int
    starts_on: date
    ends_on: date | None
    note: str
    version: int
    services: list[ServiceOut]

    @staticmethod
    def resolve_person_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_services(obj):
        return list(selectors.plan_services(obj))


class CarePlanPage(Schema):
    items: list[CarePlanOut]
    next_cursor: str | None


class VisitOut(Schema):
    id: int
    service_id: int
    person_id: int
    person_name: str
    address: str
    phone_masked: str
    unit_id: int
    kind: str
    day: date
    starts_at: datetime
    ends_at: datetime
    status: str
    outcome: str
    late: bool
    note: str
    checked_at: datetime | None
    helper_id: int
    backup_id: int | None
    matter_id: int | None


def visit_out(v, now) -> dict:
    return {"id": v.pk, "service_id": v.service_id, "person_id": v.person_id, "person_name": v.person.name,
            "address": v.person.address, "phone_masked": v.person.phone_masked, "unit_id": v.unit_id,
            "kind": v.kind, "day": v.day, "starts_at": v.starts_at, "ends_at": v.ends_at,
            "status": st.status_of(v, now), "outcome": v.outcome, "late": v.late, "note": v.note,
            "checked_at": v.checked_at, "helper_id": v.helper_id, "backup_id": v.backup_id, "matter_id": v.matter_id}


class VisitPage(Schema):
    items: list[VisitOut]
    next_cursor: str | None


class PhotoIn(_CareIn):
    name: str = Field(..., min_length=1, max_length=120)
    content_type: str = Field(..., max_length=80)
    data_base64: str = Field(..., max_length=15_000_000)


class VisitCheckInIn(_CareIn):
    outcome: str = Field("", max_length=10)  # checked by the service, after the visit is found
    note: str = Field("", max_length=500)
    photo: PhotoIn | None = None


def _unit(user, ref: int | None, perm: str) -> OrgUnit | None:
    if ref is None:
        return None
    unit = OrgUnit.objects.filter(units_q(user, perm), pk=ref).first()
    if unit is None:
        raise NotFound()
    return unit


@router.get("/surveys", response=SurveyPage, summary="Needs surveys (摸排) in scope, newest first (masked)")
def list_surveys(request, unit: Id | None = None, cursor: Cursor | None = None, limit: Limit = 50):
    qs = selectors.surveys(request.user, unit=_unit(request.user, unit, "care.survey.view"))
    page = cursor_page(qs, order=["-id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/surveys", response={201: SurveyOut}, summary="Record a needs survey (摸排) for a resident")
def create_survey(request, payload: SurveyIn):
    d = payload.dict()
    s = services.record_survey(request.user, d.pop("person"), **d)
    return Status(201, s)


@router.get("/plans", response=CarePlanPage, summary="Care plans in scope with their services")
def list_plans(request, unit: Id | None = None, cursor: Cursor | None = None, limit: Limit = 50):
    qs = selectors.plans(request.user, unit=_unit(request.user, unit, "care.plan.view"))
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/plans", response={201: CarePlanOut}, summary="Make a care plan with its services (all or nothing)")
def create_plan(request, payload: CarePlanIn):
    d = payload.dict()
    plan = services.create_plan(request.user, d.pop("person"), starts_on=d["starts_on"], ends_on=d["ends_on"],
                                note=d["note"], services=d["services"])
    return Status(201, services.get_plan(request.user, plan))


@router.get("/visits", response=VisitPage,
            summary="Visits in scope (a volunteer: their own) by day, unit, helper and derived status")
def list_visits(request, date: Day | None = None, unit: Id | None = None, helper: Id | None = None,
                status: ShortText | None = None, cursor: Cursor | None = None, limit: Limit = 50):
    now = timezone.now()
    if status and status not in (st.DUE, st.MISSED, *Outcome.values):
        raise ServiceError("Unknown status.", {"status": "One of: due, missed, " + ", ".join(Outcome.values)})
    qs = selectors.visits(request.user, day=date or selectors.today(now),
                          unit=_unit(request.user, unit, "care.visit.view"), helper_id=helper, status=status or "",
                          now=now)
    page = cursor_page(qs, order=["starts_at", "id"], cursor=cursor, limit=limit)
    return {"items": [visit_out(v, now) for v in page.items], "next_cursor": page.next_cursor}


def _photo(p: PhotoIn | None) -> Upload | None:
    if p is None:
        return None
    try:
        content = base64.b64decode(p.data_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("The photo is not valid base64.", {"photo": "Invalid base64."})
    return Upload(p.name, p.content_type, content)


@router.post("/visits/{visit_id}/checkin", response=VisitOut,
             summary="Check in a visit: done, not_home, unwell (opens an urgent matter) or refused (Idempotency-Key)")
def check_in(request, visit_id: Id, payload: VisitCheckInIn):
    user, now = request.user, timezone.now()
    key = idempotency.valid_key(request.headers.get("Idempotency-Key"))

    def work():
        v = services.check_in(user, visit_id, outcome=payload.outcome, note=payload.note,
                              photo=_photo(payload.photo), now=now)
        v = services.get_visit(user, v.pk)
        body = json.dumps(VisitOut.model_validate(visit_out(v, now)).model_dump(), cls=NinjaJSONEncoder)
        return 200, body, None

    if not key:
        status, body, _m = work()
        return HttpResponse(body, status=status, content_type="application/json")
    answer = idempotency.once(user_id=user.pk, scope=f"care.checkin.{int(visit_id)}", key=key,
                              request_body=request.body, work=work)
    resp = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    if answer.replayed:
        resp["Idempotent-Replayed"] = "true"
    return resp


# --- canteens (幸福食堂) ---------------------------------------------------------------------------

class CanteenIn(_CareIn):
    unit: Id
    name: str = Field(..., min_length=1, max_length=60)
    address: str = Field("", max_length=200)
    seats: int = Field(0, ge=0, le=2000)
    eat_in: bool = True
    delivery: bool = True


class CanteenOut(Schema):
    id: int
    unit_id: int
    name: str
    address: str
    seats: int
    eat_in: bool
    delivery: bool


class CanteenPage(Schema):
    items: list[CanteenOut]
    next_cursor: str | None


class MealNeedOut(Schema):
    visit_id: int
    person_id: int
    person_name: str
    day: date
    meal: str
    window_start: time
    window_end: time
    served: bool
    served_mode: str | None
    served_here: bool


class MealNeedPage(Schema):
    day: date
    needed: int
    served: int
    other_diners: int
    items: list[MealNeedOut]
    next_cursor: str | None


class ServeIn(_CareIn):
    visit: Id
    mode: str = Field("", max_length=10)


class MealOut(Schema):
    id: int
    canteen_id: int
    person_id: int
    visit_id: int | None
    day: date
    meal: str
    mode: str
    served_at: datetime


@router.get("/canteens", response=CanteenPage, summary="Canteens (幸福食堂) in scope")
def list_canteens(request, unit: Id | None = None, cursor: Cursor | None = None, limit: Limit = 50):
    qs = selectors.canteens(request.user, unit=_unit(request.user, unit, "care.canteen.view"))
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/canteens", response={201: CanteenOut}, summary="Open a canteen at a village or community")
def create_canteen(request, payload: CanteenIn):
    d = payload.dict()
    unit = _unit(request.user, d.pop("unit"), "care.canteen.manage")
    return Status(201, services.create_canteen(request.user, unit=unit, **d))


@router.get("/canteens/{canteen_id}/meals", response=MealNeedPage,
            summary="A day's meals needed by care plans under the canteen's unit, with what was served")
def canteen_meals(request, canteen_id: Id, date: Day | None = None, cursor: Cursor | None = None,
                  limit: Limit = 50):
    c = services.get_canteen(request.user, canteen_id)
    day = date or selectors.today(timezone.now())
    page = cursor_page(selectors.canteen_day(c, day), order=["id"], cursor=cursor, limit=limit)
    counts = selectors.canteen_day_counts(c, day)
    items = [{"visit_id": v.pk, "person_id": v.person_id, "person_name": v.person.name, "day": v.day,
              "meal": v.meal, "window_start": v.service.window_start, "window_end": v.service.window_end,
              "served": v.served_id is not None, "served_mode": v.served_mode,
              "served_here": v.served_canteen == c.pk} for v in page.items]
    return {"day": day, "needed": counts["needed"], "served": counts["served"], "other_diners": counts["others"],
            "items": items, "next_cursor": page.next_cursor}


@router.post("/canteens/{canteen_id}/meals", response={200: MealOut, 201: MealOut},
             summary="Tick a resident's meal as served (once per resident, day and meal: again → 200, the same)")
def serve_meal(request, canteen_id: Id, payload: ServeIn):
    m, created = services.serve_meal(request.user, canteen_id, payload.visit, mode=payload.mode)
    return Status(201 if created else 200, m)


# --- /api/v1/volunteers -------------------------------------------------------------------------

volunteers_router = Router(tags=["care"])


class VolunteerTeamIn(_CareIn):
    unit: Id
    name: str = Field(..., min_length=1, max_length=60)
    lead: Id  # a user id


class VolunteerTeamOut(Schema):
    id: int
    unit_id: int
    name: str
    lead_id: int


class VolunteerTeamPage(Schema):
    items: list[VolunteerTeamOut]
    next_cursor: str | None


class RecordIn(_CareIn):
    team: Id
    member: Id
    day: date
    hours: float = Field(..., gt=0, le=24)
    description: str = Field(..., min_length=1, max_length=200)


class RecordOut(Schema):
    id: int
    team_id: int
    member_id: int
    day: date
    hours: float
    description: str
    status: str
    visit_id: int | None


class RecordPage(Schema):
    items: list[RecordOut]
    next_cursor: str | None


class DecideIn(_CareIn):
    approve: bool | None = None  # required; checked after the record is found (out of scope → 404)


@volunteers_router.get("/teams", response=VolunteerTeamPage, summary="Volunteer teams (志愿服务队) in scope")
def list_teams(request, unit: Id | None = None, cursor: Cursor | None = None, limit: Limit = 50):
    qs = selectors.teams(request.user, unit=_unit(request.user, unit, "care.team.view"))
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@volunteers_router.post("/teams", response={201: VolunteerTeamOut}, summary="Make a volunteer team under a unit")
def create_team(request, payload: VolunteerTeamIn):
    from bihuan.accounts.models import User

    unit = _unit(request.user, payload.unit, "care.team.manage")
    lead = User.objects.filter(pk=payload.lead, is_active=True).first()
    return Status(201, services.create_team(request.user, unit=unit, name=payload.name, lead=lead))


@volunteers_router.get("/records", response=RecordPage, summary="Service records in scope (team, status)")
def list_records(request, team: Id | None = None, status: ShortText | None = None, cursor: Cursor | None = None,
                 limit: Limit = 50):
    from .models import RecordStatus, ServiceRecord

    qs = ServiceRecord.objects.restrict(request.user, "view")
    if team is not None:
        qs = qs.filter(team=services.get_team(request.user, team))
    if status:
        if status not in RecordStatus.values:
            raise ServiceError("Unknown status.", {"status": "One of: " + ", ".join(RecordStatus.values)})
        qs = qs.filter(status=status)
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@volunteers_router.post("/records", response={201: RecordOut},
                        summary="Record other service with hours (pending until the team lead approves)")
def create_record(request, payload: RecordIn):
    r = services.record_service(request.user, payload.team, member=payload.member, day=payload.day,
                                hours=str(payload.hours), description=payload.description)
    return Status(201, r)


@volunteers_router.post("/records/{record_id}/decide", response=RecordOut,
                        summary="The team lead approves or rejects a pending record")
def decide_record(request, record_id: Id, payload: DecideIn):
    services.get_record(request.user, record_id)
    if payload.approve is None:
        raise ServiceError("Say approve: true or false.", {"approve": "This field is required."})
    return services.decide_record(request.user, record_id, approve=payload.approve)
