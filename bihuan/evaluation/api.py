"""``/api/v1/evaluation`` and ``/api/v1/points``: the same scope and rules as the pages.

Inputs are bounded here (``core.schema`` types, lengths, ranges, control characters) and checked
again by the services; refusals are problem+json through the one handler in ``api/urls.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Query, Router, Schema, Status

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Cursor, Day, Id, Limit, Text
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import selectors, services
from .models import Incident, Indicator, Objection, PeerGroup
from .selectors import mask_name

router = Router(tags=["evaluation"])
points_router = Router(tags=["points"])


class _EvaluationIn(CleanIn):
    pass


def _unit(user, ref: str | None, *, field: str, perm: str, required: bool = False) -> OrgUnit | None:
    """A current unit by division code or id, inside ``perm``'s scope; unknown → refused; none given
    → None, or refused when ``required`` (blank counts as none)."""
    ref = (ref or "").strip()
    if not ref:
        if required:
            raise ServiceError("A unit is required.", {field: "Give a division code or unit id."}, code="required")
        return None
    qs = OrgUnit.objects.filter(valid_to__isnull=True).filter(units_q(user, perm))
    unit = qs.filter(code=ref).first() or (qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 10
                                            else None)
    if unit is None:
        raise ServiceError(f"Unknown unit {ref}.", {field: "No current unit with this code in your scope."},
                           code="unknown_unit")
    return unit


# --- sets ------------------------------------------------------------------------------------------

class IndicatorIn(_EvaluationIn):
    name: str = Field(..., min_length=1, max_length=80)
    kind: str = Field("auto", max_length=6)
    weight: Decimal = Field(..., ge=0, le=100, decimal_places=2)
    source: str = Field("", max_length=60)
    direction: str = Field("", max_length=6)
    floor: Decimal | None = Field(None, ge=-999999, le=999999, decimal_places=2)
    target: Decimal | None = Field(None, ge=-999999, le=999999, decimal_places=2)
    assessor_unit: str | None = Field(None, max_length=20)
    penalty: Decimal | None = Field(None, ge=0, le=100, decimal_places=2)
    max_penalty: Decimal | None = Field(None, ge=0, le=100, decimal_places=2)
    star_cap: int | None = Field(None, ge=1, le=4)
    rule: str = Field("", max_length=6)  # h-eval2: "linear" (default) or "rank" (within the peer group)


class SetIn(_EvaluationIn):
    unit: str = Field(..., min_length=1, max_length=20)
    name: str = Field(..., min_length=1, max_length=120)
    period_kind: str = Field(..., max_length=8)
    target_kind: str = Field(..., max_length=10)
    star_mode: str = Field("thresholds", max_length=10)
    star_thresholds: list[Decimal] = Field(default_factory=lambda: [90, 80, 70, 60], min_length=4, max_length=4)
    five_star_quota: int = Field(10, ge=1, le=100)
    notice_days: int = Field(5, ge=1, le=30)
    indicators: list[IndicatorIn] = Field(..., min_length=1, max_length=40)


class IndicatorOut(Schema):
    id: int
    seq: int
    name: str
    kind: str
    weight: Decimal
    source: str
    direction: str
    floor: Decimal | None
    target: Decimal | None
    assessor_unit_id: int | None
    penalty: Decimal | None
    max_penalty: Decimal | None
    star_cap: int | None
    rule: str  # h-eval2


class SetOut(Schema):
    id: int
    unit_id: int
    name: str
    period_kind: str
    target_kind: str
    star_mode: str
    star_thresholds: list
    five_star_quota: int
    notice_days: int
    indicators: list[IndicatorOut]

    @staticmethod
    def resolve_indicators(obj):
        return list(obj.indicators.all())


class SetPage(Schema):
    items: list[SetOut]
    next_cursor: str | None


@router.get("/sets", response=SetPage, summary="Indicator sets the user may see")
def list_sets(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(selectors.sets(request.user).prefetch_related("indicators"), order=["id"], cursor=cursor,
                       limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/sets", response={201: SetOut}, summary="Define an indicator set (weights sum to 100)")
def create_set(request, payload: SetIn):
    user = request.user
    unit = _unit(user, payload.unit, field="unit", perm="evaluation.set.manage")
    inds = []
    for i, ind in enumerate(payload.indicators, start=1):
        d = ind.dict()
        d["assessor_unit"] = _unit(user, d.pop("assessor_unit"), field=f"indicators.{i}.assessor_unit",
                                   perm="orgs.unit.view")
        if not d["direction"]:
            d.pop("direction")
        inds.append(d)
    s = services.create_set(user, unit=unit, name=payload.name, period_kind=payload.period_kind,
                            target_kind=payload.target_kind, star_mode=payload.star_mode,
                            star_thresholds=[str(t) for t in payload.star_thresholds],
                            five_star_quota=payload.five_star_quota, notice_days=payload.notice_days,
                            indicators=inds)
    return Status(201, s)


# --- runs ------------------------------------------------------------------------------------------

class RunIn(_EvaluationIn):
    set: Id
    period: str = Field(..., min_length=4, max_length=8)


class RunOut(Schema):
    id: int
    set_id: int
    set_name: str
    period: str
    start: date
    end: date
    version: int
    state: str
    reason: str
    computed_at: datetime
    targets: int
    missing: int
    published_at: datetime | None
    notice_until: date | None
    frozen_at: datetime | None

    @staticmethod
    def resolve_set_name(obj):
        return obj.set.name


class RunPage(Schema):
    items: list[RunOut]
    next_cursor: str | None


class LineOut(Schema):
    indicator_id: int
    indicator: str
    value: Decimal | None
    points: Decimal | None
    note: str

    @staticmethod
    def resolve_indicator(obj):
        return obj.indicator.name


class ResultOut(Schema):
    id: int
    unit_id: int
    unit_code: str
    party_org_id: int | None
    name: str
    peer_group: str
    score: Decimal | None
    stars: int | None
    rank: int | None
    peers: int
    previous_rank: int | None
    change: int | None
    star_cap: int | None
    lines: list[LineOut]

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.all())


class ResultPage(Schema):
    items: list[ResultOut]
    next_cursor: str | None


class MissingOut(Schema):
    target: str
    unit_id: int
    indicator: str
    state: str
    who: str
    who_unit_id: int


@router.get("/runs", response=RunPage, summary="Assessment runs the user may see")
def list_runs(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(selectors.runs(request.user), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/runs", response={201: RunOut}, summary="Compute (or compute again) the run of a set for a period")
def create_run(request, payload: RunIn):
    s = selectors.get_set(request.user, payload.set)
    return Status(201, services.compute_run(request.user, s, payload.period))


@router.get("/runs/{run_id}", response=RunOut, summary="One run")
def get_run(request, run_id: Id):
    return selectors.get_run(request.user, run_id)


@router.get("/runs/{run_id}/missing", response=list[MissingOut], summary="Who must act before publishing")
def run_missing(request, run_id: Id):
    run = services.get_run(request.user, run_id, "manage")
    return services.missing_list(run, limit=1000)


@router.get("/runs/{run_id}/results", response=ResultPage, summary="Results with breakdown (unit, peer group)")
def run_results(request, run_id: Id, unit: Text(20) = "", peer_group: Text(10) = "", cursor: Cursor | None = None,
                limit: Limit = 50):
    run = selectors.get_run(request.user, run_id)
    if peer_group and peer_group not in PeerGroup.values:
        raise ServiceError("Unknown peer group.", {"peer_group": ", ".join(PeerGroup.values)}, code="invalid")
    u = _unit(request.user, unit, field="unit", perm="evaluation.result.view")
    qs = selectors.results(request.user, run, unit=u, peer_group=peer_group).prefetch_related("lines__indicator")
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/runs/{run_id}/publish", response=RunOut, summary="Publish (全覆盖: refused while scores are missing)")
def publish(request, run_id: Id):
    return services.publish(request.user, run_id)


class CorrectIn(_EvaluationIn):
    reason: str = Field("", max_length=500)  # required: the service says so after the scope check (404 first)


@router.post("/runs/{run_id}/corrections", response={201: RunOut}, summary="Correct published results (new version)")
def correct(request, run_id: Id, payload: CorrectIn):
    return Status(201, services.correct(request.user, run_id, reason=payload.reason))


# --- manual scores and objections ------------------------------------------------------------------

class ScoreIn(_EvaluationIn):
    indicator: Id
    unit: str = Field(..., min_length=1, max_length=20)
    period: str = Field(..., min_length=4, max_length=8)
    value: Decimal = Field(..., ge=-1000, le=1000, decimal_places=2)
    comment: str = Field("", max_length=500)
    evidence: str = Field("", max_length=200)


class ScoreOut(Schema):
    id: int
    indicator_id: int
    unit_id: int
    period: str
    value: Decimal
    comment: str
    state: str


@router.post("/scores", response={201: ScoreOut}, summary="Enter a manual score (0–100)")
def enter_score(request, payload: ScoreIn):
    ind = Indicator.objects.filter(pk=payload.indicator, set__in=selectors.sets(request.user).values("pk")).first()
    if ind is None:
        raise NotFound()
    unit = _unit(request.user, payload.unit, field="unit", perm="evaluation.score.enter")
    return Status(201, services.enter_score(request.user, indicator=ind, unit=unit, period=payload.period,
                                            value=payload.value, comment=payload.comment, evidence=payload.evidence))


@router.post("/scores/{score_id}/approve", response=ScoreOut, summary="Approve a manual score (another person)")
def approve_score(request, score_id: Id):
    return services.approve_score(request.user, score_id)


class IncidentIn(_EvaluationIn):
    indicator: Id
    unit: str = Field(..., min_length=1, max_length=20)
    occurred_on: Day
    description: str = Field(..., min_length=1, max_length=500)
    evidence: str = Field(..., min_length=1, max_length=200)


class IncidentOut(Schema):
    id: int
    indicator_id: int
    unit_id: int
    period: str
    occurred_on: date
    description: str
    evidence: str
    state: str


class IncidentPage(Schema):
    items: list[IncidentOut]
    next_cursor: str | None


@router.get("/incidents", response=IncidentPage, summary="Incidents (deductions, vetoes) in scope")
def list_incidents(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(Incident.objects.restrict(request.user, "view"), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/incidents", response={201: IncidentOut}, summary="Record an incident behind a deduction or a veto")
def record_incident(request, payload: IncidentIn):
    ind = Indicator.objects.filter(pk=payload.indicator, set__in=selectors.sets(request.user).values("pk")).first()
    if ind is None:
        raise NotFound()
    unit = _unit(request.user, payload.unit, field="unit", perm="evaluation.score.enter")
    return Status(201, services.record_incident(request.user, indicator=ind, unit=unit,
                                                occurred_on=payload.occurred_on, description=payload.description,
                                                evidence=payload.evidence))


@router.post("/incidents/{incident_id}/approve", response=IncidentOut, summary="Approve an incident (another person)")
def approve_incident(request, incident_id: Id):
    return services.approve_incident(request.user, incident_id)


class ObjectionIn(_EvaluationIn):
    result: Id
    reason: str = Field(..., min_length=1, max_length=1000)


class ObjectionOut(Schema):
    id: int
    result_id: int
    reason: str
    lodged_at: datetime
    matter_id: int | None


class ObjectionPage(Schema):
    items: list[ObjectionOut]
    next_cursor: str | None


@router.get("/objections", response=ObjectionPage, summary="Objections to results in scope")
def list_objections(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(Objection.objects.restrict(request.user, "view"), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/objections", response={201: ObjectionOut}, summary="Object to one's published result (notice period)")
def lodge_objection(request, payload: ObjectionIn):
    return Status(201, services.lodge_objection(request.user, payload.result, reason=payload.reason))


# --- selections (评选) ------------------------------------------------------------------------------

class SelectionIn(_EvaluationIn):
    unit: str = Field(..., min_length=1, max_length=20)
    kind: str = Field(..., max_length=10)
    name: str = Field(..., min_length=1, max_length=120)
    quota: int | None = Field(None, ge=1, le=10000)
    nominate_until: Day
    notice_days: int = Field(5, ge=1, le=30)


class SelectionOut(Schema):
    id: int
    unit_id: int
    kind: str
    name: str
    quota: int
    nominate_until: date
    notice_days: int
    state: str
    notice_until: date | None
    publicised_at: datetime | None
    named_at: datetime | None


class SelectionPage(Schema):
    items: list[SelectionOut]
    next_cursor: str | None


class NominationIn(_EvaluationIn):
    unit: str = Field(..., min_length=1, max_length=20)
    nominee: str = Field("", max_length=120)
    party_org: Id | None = None
    deeds: str = Field(..., min_length=1, max_length=1000)


class NominationOut(Schema):
    id: int
    round_id: int
    unit_id: int
    nominee: str
    party_org_id: int | None
    deeds: str
    state: str
    citation: str
    review_note: str


class NominationPage(Schema):
    items: list[NominationOut]
    next_cursor: str | None


class ReviewIn(_EvaluationIn):
    accept: bool = False
    citation: str = Field("", max_length=500)
    note: str = Field("", max_length=500)


@router.get("/selections", response=SelectionPage, summary="Selection rounds (先锋, 优秀书记, 先进党组织) in scope")
def list_selections(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(selectors.selection_rounds(request.user), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/selections", response={201: SelectionOut}, summary="Open a selection round with a quota")
def create_selection(request, payload: SelectionIn):
    unit = _unit(request.user, payload.unit, field="unit", perm="evaluation.selection.manage")
    return Status(201, services.create_round(request.user, unit=unit, kind=payload.kind, name=payload.name,
                                             quota=payload.quota, nominate_until=payload.nominate_until,
                                             notice_days=payload.notice_days))


@router.get("/selections/{round_id}", response=SelectionOut, summary="One selection round")
def get_selection(request, round_id: Id):
    return selectors.get_selection_round(request.user, round_id)


@router.get("/selections/{round_id}/nominations", response=NominationPage, summary="A round's nominations in scope")
def list_nominations(request, round_id: Id, state: str = Query("", max_length=10), cursor: Cursor | None = None,
                     limit: Limit = 50):
    r = selectors.get_selection_round(request.user, round_id)
    page = cursor_page(selectors.nominations(request.user, r, state=state), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/selections/{round_id}/nominations", response={201: NominationOut}, summary="Nominate (until the closing day)")
def nominate(request, round_id: Id, payload: NominationIn):
    r = selectors.get_selection_round(request.user, round_id)
    unit = _unit(request.user, payload.unit, field="unit", perm="evaluation.selection.nominate")
    return Status(201, services.nominate(request.user, r, unit=unit, nominee=payload.nominee,
                                         party_org=payload.party_org, deeds=payload.deeds))


@router.post("/selections/nominations/{nomination_id}/review", response=NominationOut,
             summary="Accept (with a citation, within the quota) or not (with a note)")
def review_nomination(request, nomination_id: Id, payload: ReviewIn):
    return services.review(request.user, nomination_id, accept=payload.accept, citation=payload.citation,
                           note=payload.note)


@router.post("/selections/{round_id}/publicise", response=SelectionOut, summary="Publicise the accepted (公示)")
def publicise_selection(request, round_id: Id):
    return services.publicise(request.user, round_id)


@router.post("/selections/{round_id}/name", response=SelectionOut, summary="Name the selection after the notice")
def name_selection(request, round_id: Id):
    return services.name_selection(request.user, round_id)


# --- points ----------------------------------------------------------------------------------------

class PointsEntryOut(Schema):
    id: int
    kind: str
    state: str
    points: int
    note: str
    at: datetime
    rule_id: int | None


class HouseholdPointsOut(Schema):
    household_id: int
    code: str
    unit_id: int
    balance: int
    entries: list[PointsEntryOut]


@points_router.get("/households/{household_id}", response=HouseholdPointsOut,
                   summary="A household's balance and latest ledger entries")
def household_points(request, household_id: Id):
    h = selectors.household(request.user, household_id)
    return {"household_id": h.pk, "code": h.code, "unit_id": h.unit_id, "balance": selectors.balance(h.pk),
            "entries": list(selectors.entries(request.user, h.pk)[:100])}


class AwardIn(_EvaluationIn):
    household: Id
    rule: Id
    quantity: int = Field(1, ge=1, le=100)
    note: str = Field("", max_length=200)
    evidence: str = Field("", max_length=200)


@points_router.post("/entries", response={201: PointsEntryOut}, summary="Award (or deduct) points by a rule")
def award(request, payload: AwardIn):
    return Status(201, services.award(request.user, household=payload.household, rule=payload.rule,
                                      quantity=payload.quantity, note=payload.note, evidence=payload.evidence))


class RedeemIn(_EvaluationIn):
    household: Id
    item: Id
    quantity: int = Field(1, ge=1, le=100)


class RedemptionOut(Schema):
    id: int
    receipt: str
    item_id: int
    household_id: int
    quantity: int
    points: int
    at: datetime
    balance: int

    @staticmethod
    def resolve_balance(obj):
        return selectors.balance(obj.household_id)


@points_router.post("/redemptions", response={201: RedemptionOut}, summary="Redeem points in the points store")
def redeem(request, payload: RedeemIn):
    return Status(201, services.redeem(request.user, household=payload.household, item=payload.item,
                                       quantity=payload.quantity))


class RankOut(Schema):
    rank: int
    household_id: int
    code: str
    head: str
    balance: int


class RankPage(Schema):
    unit_id: int
    items: list[RankOut]


@points_router.get("/rankings", response=RankPage, summary="A village's households by balance (names masked)")
def rankings(request, unit: str = Query(..., min_length=1, max_length=20), limit: Limit = 50):
    u = _unit(request.user, unit, field="unit", perm="evaluation.points.view", required=True)
    rows = selectors.ranking(request.user, u)[: min(limit, 200)]
    return {"unit_id": u.pk, "items": [{"rank": a.rank, "household_id": a.household_id, "code": a.household.code,
                                        "head": mask_name(a.household.head.name if a.household.head else ""),
                                        "balance": a.balance} for a in rows]}
