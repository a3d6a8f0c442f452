"""``/api/v1/lectures``: teams, sessions, orders and coverage — the same scope and rules as the pages.

Input is bounded here (``core.schema``) and validated again by the services; refusals are
problem+json (400/403/404/409/422) through the one handler in ``api/urls.py``.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from bihuan.core.errors import ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Cursor, Day, Id, Text
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import selectors, services

router = Router(tags=["lectures"])
FROM_OPT, TO_OPT = Query(None, alias="from"), Query(None, alias="to")
FROM_REQ, TO_REQ = Query(..., alias="from"), Query(..., alias="to")
SESSION_VIEW = "activities.session.view"


class TeamOut(Schema):
    id: int
    name: str
    kind: str
    unit_id: int
    unit_name: str
    topics: list[str]

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name

    @staticmethod
    def resolve_topics(obj):
        return obj.topic_list


class LecturerOut(Schema):
    id: int
    team_id: int
    name: str
    phone: str
    topics: str
    audiences: list[str]
    excellent: bool
    active: bool

    @staticmethod
    def resolve_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_phone(obj):
        return obj.person.phone_masked

    @staticmethod
    def resolve_audiences(obj):
        return [a for a in obj.audiences.split(",") if a]


class TeamDetail(TeamOut):
    lecturers: list[LecturerOut]

    @staticmethod
    def resolve_lecturers(obj):
        return obj.scoped_lecturers


class SessionOut(Schema):
    id: int
    team_id: int
    lecturer_id: int
    lecturer_name: str
    place_id: int
    place_name: str
    held_on: date
    audience: str
    topic: str
    attendance: int
    feedback_count: int
    rating: float | None
    order_id: int | None

    @staticmethod
    def resolve_lecturer_name(obj):
        return obj.lecturer.person.name

    @staticmethod
    def resolve_place_name(obj):
        return obj.place.name


class SessionIn(CleanIn):
    lecturer_id: Id
    place: Text(20, min_length=1)  # division code or id
    held_on: date
    audience: Text(12, min_length=1)
    topic: Text(80, min_length=1)
    attendance: int = Field(..., ge=1, le=services.MAX_ATTENDANCE)
    note: Text(2000) = ""
    order_id: Id | None = None


class OrderOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    topic: str
    audience: str
    expected: int
    wanted_from: date
    wanted_to: date
    match_by: date
    state: str
    team_id: int | None
    lecturer_id: int | None
    matter_id: int | None
    version: int

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class OrderIn(CleanIn):
    unit: Text(20, min_length=1)
    topic: Text(80, min_length=1)
    audience: Text(12, min_length=1)
    wanted_from: date
    wanted_to: date
    expected: int = Field(0, ge=0, le=services.MAX_ATTENDANCE)
    note: Text(300) = ""


class MatchIn(CleanIn):
    # Both required; checked after the order is found (404 before 400), as plans' publish.
    lecturer_id: Id | None = None
    version: int | None = Field(None, ge=0, le=2**31 - 1)


class AcceptIn(CleanIn):
    version: int | None = Field(None, ge=0, le=2**31 - 1)


def _page(qs, cursor, limit):
    page = cursor_page(qs, order=["-id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


def _unit(user, ref: str, *, perm: str, field: str) -> OrgUnit:
    ref = (ref or "").strip()
    qs = OrgUnit.objects.filter(valid_to__isnull=True).filter(units_q(user, perm))
    unit = qs.filter(code=ref).first() or (qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 10
                                           else None)
    if unit is None:
        raise ServiceError(f"Unknown unit {ref[:20]}.", {field: "No current unit with this code in your scope."},
                           code="unknown_unit")
    return unit


class TeamPage(Schema):
    items: list[TeamOut]
    next_cursor: str | None


class SessionPage(Schema):
    items: list[SessionOut]
    next_cursor: str | None


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


@router.get("/teams", response=TeamPage, summary="Lecture teams in scope (cursor pages)")
def list_teams(request, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=200)):
    return _page(selectors.teams(request.user), cursor, limit)


@router.get("/teams/{team_id}", response=TeamDetail, summary="One team with its lecturers (phones masked)")
def get_team(request, team_id: Id):
    team = services.get_team(request.user, team_id)
    team.scoped_lecturers = list(selectors.lecturers(request.user, team=team)[:500])
    return team


@router.get("/sessions", response=SessionPage, summary="Sessions (微课堂) in scope, newest first")
def list_sessions(request, unit: str = Query("", max_length=20), start: Day | None = FROM_OPT,
                  end: Day | None = TO_OPT, cursor: Cursor | None = None,
                  limit: int = Query(50, ge=1, le=200)):
    u = _unit(request.user, unit, perm=SESSION_VIEW, field="unit") if unit else None
    return _page(selectors.sessions(request.user, unit=u, start=start, end=end), cursor, limit)


@router.post("/sessions", response={201: SessionOut}, summary="Record a session (the lecturer's own, or at a "
                                                              "place in scope)")
def record_session(request, payload: SessionIn):
    from .models import Lecturer

    lec = Lecturer.objects.filter(pk=payload.lecturer_id).first()
    place = OrgUnit.objects.filter(valid_to__isnull=True, code=payload.place).first() or (
        OrgUnit.objects.filter(pk=int(payload.place)).first() if payload.place.isdigit() and len(payload.place) < 10
        else None)
    if lec is None:
        raise ServiceError("Unknown lecturer.", {"lecturer_id": "No such lecturer."})
    if place is None:
        raise ServiceError("Unknown place.", {"place": "No current unit with this code."})
    s = services.record_session(request.user, lecturer=lec, place=place, held_on=payload.held_on,
                                audience=payload.audience, topic=payload.topic, attendance=payload.attendance,
                                note=payload.note, order=payload.order_id)
    return Status(201, selectors.get_session(request.user, s.pk))


@router.get("/sessions/{session_id}", response=SessionOut, summary="One session")
def get_session(request, session_id: Id):
    return selectors.get_session(request.user, session_id)


@router.get("/orders", response=OrderPage, summary="Lecture orders (点单) in scope")
def list_orders(request, state: str = Query("", max_length=10), cursor: Cursor | None = None,
                limit: int = Query(50, ge=1, le=200)):
    return _page(selectors.orders(request.user, state=state), cursor, limit)


@router.post("/orders", response={201: OrderOut}, summary="Order a lecture for one's unit")
def create_order(request, payload: OrderIn):
    unit = _unit(request.user, payload.unit, perm=services.ORDER, field="unit")
    o = services.create_order(request.user, unit=unit, topic=payload.topic, audience=payload.audience,
                              wanted_from=payload.wanted_from, wanted_to=payload.wanted_to,
                              expected=payload.expected, note=payload.note)
    return Status(201, o)


@router.get("/orders/{order_id}", response=OrderOut, summary="One order")
def get_order(request, order_id: Id):
    return services.get_order(request.user, order_id)


@router.get("/orders/{order_id}/candidates", response=list[LecturerOut],
            summary="Suggested lecturers: with the topic first, then the fewest sessions in 90 days")
def order_candidates(request, order_id: Id):
    o = services.get_order(request.user, order_id, "match")
    return list(selectors.candidates(o, now=timezone.now())[:20])


@router.post("/orders/{order_id}/match", response=OrderOut, summary="Match the order to a lecturer (district)")
def match_order(request, order_id: Id, payload: MatchIn):
    return services.match_order(request.user, order_id, lecturer=payload.lecturer_id, version=payload.version)


@router.post("/orders/{order_id}/accept", response=OrderOut, summary="Accept the order (the matched lecturer)")
def accept_order(request, order_id: Id, payload: AcceptIn):
    return services.accept_order(request.user, order_id, version=payload.version)


@router.get("/coverage", summary="全覆盖: villages and communities under a unit with their sessions, gaps first")
def coverage(request, unit: str = Query(..., max_length=20), start: date = FROM_REQ,
             end: date = TO_REQ, cursor: Cursor | None = None, limit: int = Query(500, ge=1, le=5000)):
    u = _unit(request.user, unit, perm=SESSION_VIEW, field="unit")
    if end < start:
        raise ServiceError("The period ends before it starts.", {"to": "Not before from."})
    rows = selectors.coverage(request.user, u, start=start, end=end)
    summary = selectors.coverage_summary(request.user, u, start=start, end=end)
    return {"unit_id": u.pk, "unit_name": u.name, "from": start, "to": end, "rate": summary["rate"],
            "covered": summary["covered"], "gaps": summary["gaps"], "sessions": summary["sessions"],
            "attendance": summary["attendance"], "unit_count": summary["units"],
            "units": [{"id": r.pk, "code": r.code, "name": r.name, "township": r.township or "",
                       "sessions": r.sessions, "attendance": r.attendance} for r in rows[:limit]]}


# --- /api/v1/party: re-election (换届), contact points (联系点), on-site reviews (观摩评比) ----------
# Issue 15 items 7–9; mounted at /party beside the meetings' and applicants' routes.

party_life_router = Router(tags=["party life"])
ELECTION_VIEW = "activities.election.view"


class PartyTermOut(Schema):
    id: int
    party_org_id: int
    party_org_name: str
    party_org_kind: str
    unit_id: int
    unit_name: str
    started_on: date
    years: int
    due_on: date
    status: str
    matter_id: int | None

    @staticmethod
    def resolve_party_org_name(obj):
        return obj.party_org.name

    @staticmethod
    def resolve_party_org_kind(obj):
        return obj.party_org.kind

    @staticmethod
    def resolve_unit_id(obj):
        return obj.party_org.unit_id

    @staticmethod
    def resolve_unit_name(obj):
        return obj.party_org.unit.name

    @staticmethod
    def resolve_status(obj):
        return getattr(obj, "status", "") or ("ended" if obj.ended_on else "current")


class PartyTermPage(Schema):
    items: list[PartyTermOut]
    next_cursor: str | None


class PartyElectionIn(CleanIn):
    party_org_id: Id
    held_on: Day
    years: int | None = Field(None, ge=1, le=5)
    note: Text(300) = ""


@party_life_router.get("/elections", response=PartyTermPage,
                       summary="换届: current terms in scope, soonest due first (due_within: days, 180d or 6m)")
def list_elections(request, due_within: str = Query("", max_length=6), state: str = Query("", max_length=10),
                   unit: str = Query("", max_length=20), cursor: Cursor | None = None,
                   limit: int = Query(50, ge=1, le=200)):
    days = None
    if due_within:
        days = selectors.parse_due_within(due_within)
        if days is None:
            raise ServiceError("due_within is days (180, 180d) or months (6m), at most ten years.",
                               {"due_within": "Days or months."})
    if state not in ("", "overdue", "due"):
        raise ServiceError("state is overdue or due.", {"state": "overdue or due."})
    u = _unit(request.user, unit, perm=ELECTION_VIEW, field="unit") if unit else None
    qs = selectors.elections(request.user, now=timezone.now(), due_within=days, state=state, unit=u)
    page = cursor_page(qs, order=["due_on", "id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@party_life_router.post("/elections", response={201: PartyTermOut},
                        summary="Record a completed (re-)election: the organisation's next term starts")
def record_election(request, payload: PartyElectionIn):
    po = selectors.party_org_in_scope(request.user, payload.party_org_id, services.ELECTION_RECORD)
    t = services.record_election(request.user, po, held_on=payload.held_on, years=payload.years, note=payload.note)
    return Status(201, selectors.elections(request.user, now=timezone.now()).get(pk=t.pk))


class PartyContactOut(Schema):
    id: int
    member_id: int
    member_name: str
    party_org_id: int
    party_org_name: str
    unit_name: str
    since: date
    ended_on: date | None
    visits: int

    @staticmethod
    def resolve_member_name(obj):
        return str(obj.member)

    @staticmethod
    def resolve_party_org_name(obj):
        return obj.party_org.name

    @staticmethod
    def resolve_unit_name(obj):
        return obj.party_org.unit.name

    @staticmethod
    def resolve_visits(obj):
        return getattr(obj, "n_visits", 0)


class PartyContactPage(Schema):
    items: list[PartyContactOut]
    next_cursor: str | None


class PartyContactIn(CleanIn):
    member_id: Id
    party_org_id: Id
    since: Day


class PartyVisitOut(Schema):
    id: int
    contact_point_id: int
    visited_on: date
    topic: str
    problems: str
    matter_id: int | None

    @staticmethod
    def resolve_problems(obj):
        from bihuan.core.protect import mask_text

        return mask_text(obj.problems)


class PartyVisitPage(Schema):
    items: list[PartyVisitOut]
    next_cursor: str | None


class PartyVisitIn(CleanIn):
    visited_on: Day
    topic: Text(80, min_length=1)
    problems: Text(2000) = ""


@party_life_router.get("/contact-points", response=PartyContactPage,
                       summary="联系点: committee members linked to branches, in scope")
def list_contacts(request, member_id: Id | None = None, party_org_id: Id | None = None,
                  cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=200)):
    qs = selectors.contacts(request.user)
    if member_id:
        qs = qs.filter(member_id=member_id)
    if party_org_id:
        qs = qs.filter(party_org_id=party_org_id)
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@party_life_router.post("/contact-points", response={201: PartyContactOut},
                        summary="Link a committee member to a branch as its contact point")
def link_contact(request, payload: PartyContactIn):
    from django.contrib.auth import get_user_model

    po = selectors.party_org_in_scope(request.user, payload.party_org_id, services.CONTACT_MANAGE)
    member = get_user_model().objects.filter(pk=payload.member_id, is_active=True).first()
    if member is None:
        raise ServiceError("Unknown member.", {"member_id": "No active login with this id."})
    c = services.link_contact(request.user, member=member, party_org=po, since=payload.since)
    return Status(201, selectors.contacts(request.user).get(pk=c.pk))


@party_life_router.get("/contact-points/{contact_id}", response=PartyContactOut, summary="One contact point")
def get_contact(request, contact_id: Id):
    c = services.get_contact(request.user, contact_id)
    return selectors.contacts(request.user).get(pk=c.pk)


@party_life_router.get("/contact-points/{contact_id}/visits", response=PartyVisitPage,
                       summary="A contact point's visits, newest first")
def list_visits(request, contact_id: Id, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=200)):
    c = services.get_contact(request.user, contact_id)
    page = cursor_page(selectors.visits(request.user, contact=c), order=["-id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@party_life_router.post("/contact-points/{contact_id}/visits", response={201: PartyVisitOut},
                        summary="Record a visit (date, topic, problems found)")
def record_visit(request, contact_id: Id, payload: PartyVisitIn):
    v = services.record_visit(request.user, contact_id, visited_on=payload.visited_on, topic=payload.topic,
                              problems=payload.problems)
    return Status(201, v)


@party_life_router.post("/visits/{visit_id}/matter", response={201: PartyVisitOut},
                        summary="Turn the problems a visit found into a loop matter (once)")
def visit_to_matter(request, visit_id: Id):
    return Status(201, services.visit_to_matter(request.user, visit_id))


class PartyReviewOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    year: int
    quarter: int
    theme: str
    held_on: date
    drop_extremes: bool

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class PartyReviewPage(Schema):
    items: list[PartyReviewOut]
    next_cursor: str | None


class PartyRankOut(Schema):
    unit_id: int
    unit_name: str
    scores: int
    mean: float | None
    rank: int | None


class PartyReviewDetail(PartyReviewOut):
    ranking: list[PartyRankOut]


class PartyScoreIn(CleanIn):
    # Both required; checked after the review is found (404 before 400), as the orders' match.
    unit_id: Id | None = None
    score: float | None = Field(None, ge=0, le=100)


@party_life_router.get("/reviews", response=PartyReviewPage, summary="观摩评比: on-site reviews in scope")
def list_reviews(request, cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=200)):
    page = cursor_page(selectors.reviews(request.user), order=["-id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


def _review_detail(user, review_id):
    r = services.get_review(user, review_id)
    r.ranking = [{"unit_id": x.unit_id, "unit_name": x.unit.name, "scores": x.n_scores, "mean": x.mean,
                  "rank": x.rank} for x in selectors.ranking(r)]
    return r


@party_life_router.get("/reviews/{review_id}", response=PartyReviewDetail,
                       summary="One review with its ranking (trimmed mean when configured)")
def get_review(request, review_id: Id):
    return _review_detail(request.user, review_id)


@party_life_router.post("/reviews/{review_id}/scores", response={201: PartyReviewDetail},
                        summary="Score a unit visited (each reviewer once per unit)")
def score_unit(request, review_id: Id, payload: PartyScoreIn):
    services.get_review(request.user, review_id, "score")
    if payload.unit_id is None or payload.score is None:
        raise ServiceError("unit_id and score are required.", {"unit_id" if payload.unit_id is None else "score":
                                                                "This field is required."})
    services.score_unit(request.user, review_id, unit=payload.unit_id, score=payload.score)
    return Status(201, _review_detail(request.user, review_id))


# --- /api/v1/party: meetings (三会一课), compliance, applicants (发展党员), issue 15 items 5–6 --------
# Party organisations by id; persons by id. Phones and ID numbers never leave (masked phone only);
# political review notes only for the organisation's committee and above (``services.may_read_review``).

party_router = Router(tags=["party"])
MEETING_VIEW = "activities.meeting.view"
APPLICANT_VIEW = "activities.applicant.view"


class PartyMeetingOut(Schema):
    id: int
    org_id: int
    org_name: str
    kind: str
    held_on: date
    topic: str
    attendees: int
    absentees: int

    @staticmethod
    def resolve_org_name(obj):
        return obj.org.name


class PartyAttendanceOut(Schema):
    person_id: int
    name: str
    present: bool
    reason: str

    @staticmethod
    def resolve_name(obj):
        return obj.person.name


class PartyMeetingDetail(PartyMeetingOut):
    minutes: str
    attendance: list[PartyAttendanceOut]
    photos: int

    @staticmethod
    def resolve_attendance(obj):
        return list(obj.attendance.all())

    @staticmethod
    def resolve_photos(obj):
        return len(obj.photos.all())


class PartyAbsentIn(CleanIn):
    person_id: Id
    reason: Text(120, min_length=1)


class PartyMeetingIn(CleanIn):
    org_id: Id
    kind: Text(12, min_length=1)
    held_on: Day
    topic: Text(120, min_length=1)
    minutes: Text(20000) = ""
    attendee_ids: list[Id] = Field(..., min_length=1, max_length=services.MAX_MEETING_PEOPLE)
    absentees: list[PartyAbsentIn] = Field([], max_length=services.MAX_MEETING_PEOPLE)


class PartyMeetingPage(Schema):
    items: list[PartyMeetingOut]
    next_cursor: str | None


class PartyComplianceKind(Schema):
    kind: str
    every_months: int
    required: int
    due_so_far: int
    held: int
    periods_met: int
    status: str


class PartyComplianceOrg(Schema):
    org_id: int
    org_name: str
    unit_id: int
    status: str
    kinds: list[PartyComplianceKind]


class PartyCompliancePage(Schema):
    quarter: str
    items: list[PartyComplianceOrg]
    next_cursor: str | None


class PartyStepOut(Schema):
    step: str
    taken_on: date
    note: str


class PartyApplicantOut(Schema):
    id: int
    person_id: int
    name: str
    phone: str
    org_id: int
    org_name: str
    stage: str
    applied_on: date
    stage_since: date
    version: int

    @staticmethod
    def resolve_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_phone(obj):
        return obj.person.phone_masked

    @staticmethod
    def resolve_org_name(obj):
        return obj.org.name


class PartyApplicantDetail(PartyApplicantOut):
    steps: list[PartyStepOut]
    next_step: str
    earliest: date | None
    review_notes: str | None  # null: not the reader's to see

    @staticmethod
    def resolve_steps(obj):
        return obj.steps_list

    @staticmethod
    def resolve_next_step(obj):
        return obj.next_step

    @staticmethod
    def resolve_review_notes(obj):
        return obj.review_notes_out


class PartyApplicantPage(Schema):
    items: list[PartyApplicantOut]
    next_cursor: str | None


class PartyApplicantIn(CleanIn):
    person_id: Id
    org_id: Id
    applied_on: Day


class PartyStepIn(CleanIn):
    # Checked after the applicant is found (404 before 400), as the lectures' MatchIn.
    step: Text(12) | None = None
    taken_on: Day | None = None
    note: Text(2000) = ""
    version: int | None = Field(None, ge=0, le=2**31 - 1)


def _org_param(user, org_id, perm):
    return selectors.get_party_org(user, org_id, perm) if org_id else None


@party_router.get("/meetings", response=PartyMeetingPage, summary="Party meetings (三会一课, 主题党日) in scope")
def list_meetings(request, org: Id | None = None, kind: str = Query("", max_length=12),
                  start: Day | None = FROM_OPT, end: Day | None = TO_OPT, cursor: Cursor | None = None,
                  limit: int = Query(50, ge=1, le=200)):
    o = _org_param(request.user, org, MEETING_VIEW)
    return _page(selectors.meetings(request.user, org=o, kind=kind, start=start, end=end), cursor, limit)


@party_router.post("/meetings", response={201: PartyMeetingDetail},
                   summary="Record a meeting: attendees and absentees must be members of the organisation")
def record_meeting(request, payload: PartyMeetingIn):
    org = selectors.get_party_org(request.user, payload.org_id, "activities.meeting.record")
    m = services.record_meeting(request.user, org=org, kind=payload.kind, held_on=payload.held_on,
                                topic=payload.topic, minutes=payload.minutes, attendees=payload.attendee_ids,
                                absentees=[(a.person_id, a.reason) for a in payload.absentees])
    return Status(201, selectors.get_meeting(request.user, m.pk))


@party_router.get("/meetings/{meeting_id}", response=PartyMeetingDetail, summary="One meeting with attendance")
def get_meeting(request, meeting_id: Id):
    return selectors.get_meeting(request.user, meeting_id)


@party_router.get("/compliance", response=PartyCompliancePage,
                  summary="Each branch's compliance with the meeting rules in a quarter (default: this one)")
def compliance(request, org: Id | None = None, quarter: str = Query("", max_length=6),
               cursor: Cursor | None = None, limit: int = Query(100, ge=1, le=200)):
    from .party_rules import quarter_of

    o = _org_param(request.user, org, MEETING_VIEW)
    quarter = (quarter or quarter_of(timezone.localdate())).upper()
    try:
        from .party_rules import quarter_bounds

        quarter_bounds(quarter)
    except ValueError:
        raise ServiceError("Unknown quarter.", {"quarter": "A quarter like 2026Q3."})
    page = cursor_page(selectors.party_orgs(request.user, under=o), order=["id"], cursor=cursor, limit=limit)
    rows = selectors.compliance_rows(page.items, quarter, now=timezone.now())
    return {"quarter": quarter, "next_cursor": page.next_cursor,
            "items": [{"org_id": r["org"].pk, "org_name": r["org"].name, "unit_id": r["org"].unit_id,
                       "status": r["status"], "kinds": r["kinds"]} for r in rows.values()]}


@party_router.get("/applicants", response=PartyApplicantPage,
                  summary="Applicants (发展党员) in scope; due=true: those due for their next step")
def list_applicants(request, stage: str = Query("", max_length=12), org: Id | None = None, due: bool = False,
                    cursor: Cursor | None = None, limit: int = Query(50, ge=1, le=200)):
    o = _org_param(request.user, org, APPLICANT_VIEW)
    qs = (selectors.due_applicants(request.user, now=timezone.now(), org=o) if due
          else selectors.applicants(request.user, stage=stage, org=o))
    if due and stage:
        qs = qs.filter(stage=stage)
    return _page(qs, cursor, limit)


@party_router.post("/applicants", response={201: PartyApplicantDetail}, summary="Register an application")
def register_applicant(request, payload: PartyApplicantIn):
    org = selectors.get_party_org(request.user, payload.org_id, "activities.applicant.manage")
    a = services.register_applicant(request.user, person=payload.person_id, org=org, applied_on=payload.applied_on)
    return Status(201, _applicant_detail(request.user, a.pk))


def _applicant_detail(user, applicant_id):
    a = services.get_applicant(user, applicant_id)
    (a,) = selectors.with_next_steps([a])
    a.steps_list = list(a.steps.all())
    a.review_notes_out = a.review_notes if services.may_read_review(user, a) else None
    return a


@party_router.get("/applicants/counts", summary="Applicants per stage under a unit and each of its children")
def applicant_counts(request, unit: str = Query(..., max_length=20)):
    u = _unit(request.user, unit, perm=APPLICANT_VIEW, field="unit")
    c = selectors.stage_counts(request.user, u)
    return {"unit_id": u.pk, "unit_name": u.name, "total": c["total"],
            "children": [{"unit_id": r["unit"].pk, "unit_name": r["unit"].name, "stages": r["stages"]}
                         for r in c["children"]]}


@party_router.get("/applicants/{applicant_id}", response=PartyApplicantDetail, summary="One applicant with the full record")
def get_applicant(request, applicant_id: Id):
    return _applicant_detail(request.user, applicant_id)


@party_router.post("/applicants/{applicant_id}/steps", response=PartyApplicantDetail,
                   summary="Record a step; refused before its earliest date or out of order")
def take_step(request, applicant_id: Id, payload: PartyStepIn):
    a = services.take_step(request.user, applicant_id, step=payload.step, taken_on=payload.taken_on,
                           note=payload.note, version=payload.version)
    return _applicant_detail(request.user, a.pk)
