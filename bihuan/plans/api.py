"""``/api/v1/plans`` and ``/api/v1/assignments``: same scope, rules and status as the pages.

Input is validated here (lengths, ranges, control characters) and again by the services;
refusals are problem+json (400/403/404/409/422) through the one handler in ``api/urls.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Cursor, Id, Limit, Text, query_word
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import selectors, services
from .models import KeyAction, Task
from .models import Status as TaskStatus

plans_router = Router(tags=["plans"])
assignments_router = Router(tags=["plans"])


class _In(CleanIn):
    pass


class MilestoneIn(_In):
    name: str = Field(..., min_length=1, max_length=80)
    due_on: date
    value: Decimal | None = Field(None, ge=-999999999999, le=999999999999, decimal_places=2)


class TaskIn(_In):
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=5000)
    lead_level: int | None = Field(None, ge=2, le=5)
    lead_within: str | None = Field(None, max_length=20)  # division code or id
    lead_units: list[str] = Field(default_factory=list, max_length=500)
    assist_units: list[str] = Field(default_factory=list, max_length=500)
    responsible_role: str = Field("", max_length=60)
    starts_on: date | None = None
    due_on: date | None = None
    target_value: Decimal | None = Field(None, ge=-999999999999, le=999999999999, decimal_places=2)
    baseline_value: Decimal | None = Field(None, ge=-999999999999, le=999999999999, decimal_places=2)
    target_unit: str = Field("", max_length=20)
    direction: str = Field("higher", max_length=6)
    cadence: str = Field("monthly", max_length=12)
    grace_days: int = Field(3, ge=0, le=20)
    evidence: str = Field("", max_length=200)
    evidence_mandatory: bool = False
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=50)


class KeyActionIn(_In):
    name: str = Field(..., min_length=1, max_length=120)
    tasks: list[TaskIn] = Field(default_factory=list, max_length=500)


class SystemIn(_In):
    name: str = Field(..., min_length=1, max_length=120)
    actions: list[KeyActionIn] = Field(default_factory=list, max_length=100)


class PlanIn(_In):
    unit: str = Field(..., min_length=1, max_length=20)  # issuing unit: division code or id
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=5000)
    starts_on: date
    ends_on: date
    systems: list[SystemIn] = Field(default_factory=list, max_length=50)


class PlanOut(Schema):
    id: int
    title: str
    unit_id: int
    unit_name: str
    starts_on: date
    ends_on: date
    state: str
    version: int
    published_at: datetime | None

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class PlanPage(Schema):
    items: list[PlanOut]
    next_cursor: str | None


class MilestoneOut(Schema):
    id: int
    seq: int
    name: str
    due_on: date
    value: Decimal | None


class TaskOut(Schema):
    id: int
    system: str
    action_id: int
    action: str
    title: str
    lead_level: int | None
    responsible_role: str
    starts_on: date
    due_on: date
    target_value: Decimal | None
    baseline_value: Decimal
    target_unit: str
    direction: str
    cadence: str
    grace_days: int
    evidence: str
    evidence_mandatory: bool
    version: int
    milestones: list[MilestoneOut]

    @staticmethod
    def resolve_system(obj):
        return obj.action.system.name

    @staticmethod
    def resolve_action(obj):
        return obj.action.name

    @staticmethod
    def resolve_milestones(obj):
        return list(obj.milestones.all())


class TaskPatch(_In):
    version: int | None = None  # required (the service refuses without it)
    title: str | None = Field(None, min_length=1, max_length=120)
    target_value: Decimal | None = Field(None, ge=-999999999999, le=999999999999, decimal_places=2)
    target_unit: str | None = Field(None, max_length=20)
    due_on: date | None = None
    add_lead_units: list[str] = Field(default_factory=list, max_length=500)
    milestones: list[MilestoneIn] | None = Field(None, max_length=50)


class PublishIn(Schema):
    version: int | None = None  # required; checked after the plan is found (404 before 400)


class PublishOut(Schema):
    plan: PlanOut
    assigned: int


class AssignmentOut(Schema):
    id: int
    plan_id: int
    task_id: int
    task: str
    unit_id: int
    unit_code: str
    unit_name: str
    role: str
    status: str
    last_value: Decimal | None
    last_checkin_at: datetime | None
    checkins: int
    late_checkins: int

    @staticmethod
    def resolve_task(obj):
        return obj.task.title

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class AssignmentPage(Schema):
    items: list[AssignmentOut]
    next_cursor: str | None


class CheckInIn(_In):
    value: Decimal | None = Field(None, ge=-999999999999, le=999999999999, decimal_places=2)
    note: str = Field("", max_length=2000)
    milestone_id: int | None = Field(None, ge=1, le=2**31 - 1)
    completed: bool = False


class CheckInOut(Schema):
    id: int
    assignment_id: int
    at: datetime
    period_start: date
    due_at: datetime
    late: bool
    value: Decimal | None
    note: str
    milestone_id: int | None
    completed: bool


def _unit(user, ref: str | None, *, field: str, perm: str = "plans.assignment.view") -> OrgUnit | None:
    """A current unit by division code or id, inside ``perm``'s scope; unknown → refused."""
    ref = (ref or "").strip()
    if not ref:
        return None
    qs = OrgUnit.objects.filter(valid_to__isnull=True).filter(units_q(user, perm))
    unit = (qs.filter(code=ref).first() or (qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 10
                                            else None))
    if unit is None:
        raise ServiceError(f"Unknown unit {ref}.", {field: "No current unit with this code in your scope."},
                           code="unknown_unit")
    return unit


def _task_kwargs(user, t: TaskIn, where: str) -> dict:
    d = t.dict()
    d["lead_within"] = _unit(user, d.pop("lead_within"), field=f"{where}.lead_within", perm="plans.plan.manage")
    d["lead_units"] = [_unit(user, u, field=f"{where}.lead_units", perm="plans.plan.manage")
                       for u in d.pop("lead_units")]
    d["assist_units"] = [_unit(user, u, field=f"{where}.assist_units", perm="plans.plan.manage")
                         for u in d.pop("assist_units")]
    d["milestones"] = [(m["name"], m["due_on"], m["value"]) for m in d.pop("milestones")]
    if d.get("baseline_value") is None:
        d.pop("baseline_value")
    return d


@plans_router.get("", response=PlanPage, summary="Plans the user may see (cursor pages)")
def list_plans(request, cursor: str | None = Query(None, max_length=400), limit: int = Query(50, ge=1, le=200)):
    page = cursor_page(selectors.plans(request.user), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@plans_router.post("", response={201: PlanOut}, summary="Create a draft plan with its systems, key actions and tasks")
def create_plan(request, payload: PlanIn):
    unit = _unit(request.user, payload.unit, field="unit", perm="plans.plan.manage")
    systems = [{"name": s.name, "actions": [
        {"name": a.name, "tasks": [_task_kwargs(request.user, t, f"systems.{i}.actions.{j}.tasks.{k}")
                                   for k, t in enumerate(a.tasks, 1)]}
        for j, a in enumerate(s.actions, 1)]} for i, s in enumerate(payload.systems, 1)]
    plan = services.create_plan_with_tasks(request.user, unit=unit, title=payload.title,
                                           description=payload.description, starts_on=payload.starts_on,
                                           ends_on=payload.ends_on, systems=systems)
    return Status(201, plan)


@plans_router.get("/{plan_id}", response=PlanOut, summary="One plan")
def get_plan(request, plan_id: int):
    return selectors.get_plan(request.user, plan_id)


@plans_router.post("/{plan_id}/publish", response=PublishOut,
                   summary="Publish: assign each task to every unit it names (idempotent; send the version)")
def publish(request, plan_id: int, payload: PublishIn):
    r = services.publish(request.user, plan_id, version=payload.version)
    return {"plan": r["plan"], "assigned": r["assigned"]}


@plans_router.get("/{plan_id}/tasks", response=list[TaskOut], summary="The plan's tasks with milestones")
def plan_tasks(request, plan_id: int):
    plan = selectors.get_plan(request.user, plan_id)
    return list(selectors.tasks_of(plan))


def _task(user, plan_id: int, task_id: int) -> Task:
    plan = selectors.get_plan(user, plan_id)
    task = selectors.tasks_of(plan).filter(pk=task_id).first()
    if task is None:
        raise NotFound()
    return task


@plans_router.get("/{plan_id}/tasks/{task_id}", response=TaskOut, summary="One task")
def get_task(request, plan_id: int, task_id: int):
    return _task(request.user, plan_id, task_id)


@plans_router.patch("/{plan_id}/tasks/{task_id}", response=TaskOut,
                    summary="Change a task (versioned: a stale version is 409; check-ins are kept)")
def update_task(request, plan_id: int, task_id: int, payload: TaskPatch):
    task = _task(request.user, plan_id, task_id)
    d = payload.dict(exclude_unset=True)
    version = d.pop("version", None)
    d["add_lead_units"] = [_unit(request.user, u, field="add_lead_units", perm="plans.plan.manage")
                           for u in d.pop("add_lead_units", [])]
    if d.get("milestones") is not None:
        d["milestones"] = [(m["name"], m["due_on"], m["value"]) for m in d["milestones"]]
    services.update_task(request.user, task, version=version, **d)
    return _task(request.user, plan_id, task_id)


@plans_router.get("/{plan_id}/map", summary="The progress map: rows (units), columns (tasks), cells (status, value)")
def plan_map(request, plan_id: int, unit: str = Query("", max_length=20), level: int | None = Query(None, ge=2, le=5),
             action: int | None = Query(None, ge=1, le=2**31 - 1)):
    plan = selectors.get_plan(request.user, plan_id)
    u = _unit(request.user, unit, field="unit") if unit else None
    act = None
    if action is not None:
        act = KeyAction.objects.filter(plan=plan, pk=action).first()
        if act is None:
            raise ServiceError("Unknown key action.", {"action": "Not an action of this plan."})
    m = selectors.progress_map(request.user, plan, now=timezone.now(), unit=u, action=act, level=level)
    return selectors.map_as_json(m)


@assignments_router.get("", response=AssignmentPage, summary="Assignments in scope, with derived status")
def list_assignments(request, unit: str = Query("", max_length=20), plan: int | None = Query(None, ge=1, le=2**31 - 1),
                     status: str = Query("", max_length=12), cursor: str | None = Query(None, max_length=400),
                     limit: int = Query(50, ge=1, le=200)):
    if status and status not in TaskStatus.values:
        raise ServiceError("Unknown status.", {"status": "One of: " + ", ".join(TaskStatus.values)})
    p = selectors.get_plan(request.user, plan) if plan else None
    u = _unit(request.user, unit, field="unit") if unit else None
    qs = selectors.assignments(request.user, now=timezone.now(), plan=p, unit=u, status=status)
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@assignments_router.get("/{assignment_id}", response=AssignmentOut, summary="One assignment with its status")
def get_assignment(request, assignment_id: int):
    a = selectors.get_assignment(request.user, assignment_id)
    return selectors.assignments(request.user, now=timezone.now(), task=a.task).get(pk=a.pk)


@assignments_router.post("/{assignment_id}/checkins", response={201: CheckInOut},
                         summary="Check in (调度): value, note, milestone reached, completed")
def check_in(request, assignment_id: int, payload: CheckInIn):
    c = services.check_in(request.user, assignment_id, value=payload.value, note=payload.note,
                          milestone=payload.milestone_id, completed=payload.completed)
    return Status(201, c)



# --- campaigns, key projects, key enterprises -------------------------------------------------------

campaigns_router = Router(tags=["plans"])
projects_router = Router(tags=["plans"])
enterprises_router = Router(tags=["plans"])


class TargetIn(_In):
    unit: Text(20, min_length=1)  # division code or id
    target: Decimal = Field(..., gt=0, le=999999999999, decimal_places=2)


class CampaignIn(_In):
    unit: Text(20, min_length=1)
    title: Text(120, min_length=1)
    description: Text(5000) = ""
    starts_on: date
    ends_on: date
    cadence: Text(8) = "daily"
    grace_days: int = Field(1, ge=0, le=10)
    target_unit: Text(20, min_length=1)
    targets: list[TargetIn] = Field(default_factory=list, max_length=10000)


class CampaignOut(Schema):
    id: int
    title: str
    unit_id: int
    starts_on: date
    ends_on: date
    cadence: str
    grace_days: int
    target_unit: str
    version: int


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None


class CampaignDetailOut(CampaignOut):
    day: int
    days_total: int
    days_left: int
    units: int
    target: Decimal | None
    value: Decimal
    pct: float | None
    done: int
    late: int


class TargetOut(Schema):
    id: int
    unit_id: int
    unit_code: str
    unit_name: str
    target: Decimal
    last_value: Decimal | None
    last_checkin_at: datetime | None
    pct: Decimal
    status: str
    checkins: int
    late_checkins: int

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class TargetPage(Schema):
    items: list[TargetOut]
    total: int


class CampaignCheckInIn(_In):
    value: Decimal | None = Field(None, ge=0, le=999999999999, decimal_places=2)  # required by the service
    note: Text(2000) = ""


class CampaignCheckInOut(Schema):
    id: int
    target_id: int
    at: datetime
    period_start: date
    due_at: datetime
    late: bool
    value: Decimal
    note: str


@campaigns_router.get("", response=CampaignPage, summary="Campaigns the user may see (cursor pages)")
def list_campaigns(request, cursor: Cursor | None = None, limit: Limit = 50):
    page = cursor_page(selectors.campaigns(request.user), order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@campaigns_router.post("", response={201: CampaignOut}, summary="Create a campaign with a target per unit")
def create_campaign(request, payload: CampaignIn):
    unit = _unit(request.user, payload.unit, field="unit", perm="plans.plan.manage")
    targets = [(_unit(request.user, t.unit, field=f"targets.{i}.unit", perm="plans.plan.manage"), t.target)
               for i, t in enumerate(payload.targets, 1)]
    c = services.campaigns.create_campaign(
        request.user, unit=unit, title=payload.title, description=payload.description, starts_on=payload.starts_on,
        ends_on=payload.ends_on, cadence=payload.cadence, grace_days=payload.grace_days,
        target_unit=payload.target_unit, targets=targets)
    return Status(201, c)


@campaigns_router.get("/{campaign_id}", response=CampaignDetailOut,
                      summary="One campaign: day N of M, days left, totals of the targets in scope")
def get_campaign(request, campaign_id: Id):
    c = services.campaigns.get_campaign(request.user, campaign_id)
    s = selectors.campaign_summary(request.user, c, now=timezone.now())
    return {**{k: getattr(c, k) for k in CampaignOut.model_fields}, **s}


@campaigns_router.get("/{campaign_id}/targets", response=TargetPage,
                      summary="The leaderboard: targets in scope, best first, with progress and status")
def campaign_targets(request, campaign_id: Id, status: Text(12) = "", offset: int = Query(0, ge=0, le=1_000_000),
                     limit: Limit = 50):
    c = services.campaigns.get_campaign(request.user, campaign_id)
    qs = selectors.campaign_targets(request.user, c, now=timezone.now(), status=status)
    limit = min(limit, 200)
    return {"items": list(qs[offset:offset + limit]), "total": qs.count()}


@campaigns_router.post("/targets/{target_id}/checkins", response={201: CampaignCheckInOut},
                       summary="Check in on a campaign target: the value reached so far, a note")
def campaign_check_in(request, target_id: Id, payload: CampaignCheckInIn):
    ci = services.campaigns.check_in(request.user, target_id, value=payload.value, note=payload.note)
    return Status(201, ci)


class ProjectOut(Schema):
    id: int
    year: int
    name: str
    level: str
    unit_id: int
    unit_name: str
    official: str
    total_investment: Decimal | None
    plan_to_date: Decimal
    actual_to_date: Decimal
    behind: bool
    start_planned: date | None
    start_actual: date | None
    production_planned: date | None
    production_actual: date | None
    completion_planned: date | None
    completion_actual: date | None

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class ProjectPage(Schema):
    items: list[ProjectOut]
    next_cursor: str | None


class ProgressIn(_In):
    month: int | None = Field(None, ge=1, le=12)
    actual: Decimal | None = Field(None, ge=0, le=999999999999, decimal_places=2)
    milestone: Text(12) = ""
    on: date | None = None


@projects_router.get("", response=ProjectPage, summary="Key projects in scope with plan vs actual to date")
def list_projects(request, year: int | None = Query(None, ge=2000, le=2100), unit: Text(20) = "",
                  behind: bool = False, cursor: Cursor | None = None, limit: Limit = 50):
    u = _unit(request.user, unit, field="unit", perm="plans.project.view") if unit else None
    qs = selectors.projects(request.user, now=timezone.now(), year=year, unit=u, behind=behind)
    page = cursor_page(qs, order=["id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@projects_router.get("/{project_id}", response=ProjectOut, summary="One key project")
def get_project(request, project_id: Id):
    p = services.registers.get_project(request.user, project_id)
    return selectors.projects(request.user, now=timezone.now()).get(pk=p.pk)


@projects_router.post("/{project_id}/progress", response=ProjectOut,
                      summary="Report a month's actual investment and/or a milestone reached")
def report_progress(request, project_id: Id, payload: ProgressIn):
    p = services.registers.report_progress(request.user, project_id, month=payload.month, actual=payload.actual,
                                           milestone=payload.milestone, on=payload.on)
    return selectors.projects(request.user, now=timezone.now()).get(pk=p.pk)


class EnterpriseOut(Schema):
    id: int
    name: str
    credit_code: str
    group: str
    industry: str
    unit_id: int
    unit_name: str
    officials: str

    @staticmethod
    def resolve_group(obj):
        return obj.group.name

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class EnterprisePage(Schema):
    items: list[EnterpriseOut]
    next_cursor: str | None


class DemandIn(_In):  # both required: refused by the service (after the enterprise is found: 404 first)
    title: Text(100) = ""
    description: Text(4000) = ""


class DemandOut(Schema):
    matter_id: int


@enterprises_router.get("", response=EnterprisePage, summary="Key enterprises in scope")
def list_enterprises(request, group: Text(40) = "", unit: Text(20) = "", q: Text(60) = "",
                     cursor: Cursor | None = None, limit: Limit = 50):
    from .models import EnterpriseGroup

    g = None
    if group:
        g = EnterpriseGroup.objects.filter(name=group).first()
        if g is None:
            raise ServiceError("Unknown list.", {"group": "No list of key enterprises with this name."})
    u = _unit(request.user, unit, field="unit", perm="plans.enterprise.view") if unit else None
    page = cursor_page(selectors.enterprises(request.user, group=g, unit=u, q=query_word(q)), order=["id"],
                       cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@enterprises_router.get("/{enterprise_id}", response=EnterpriseOut, summary="One key enterprise")
def get_enterprise(request, enterprise_id: Id):
    return services.registers.get_enterprise(request.user, enterprise_id)


@enterprises_router.post("/{enterprise_id}/demands", response={201: DemandOut},
                         summary="Send the enterprise's demand into the loop (a matter for its linked unit)")
def raise_demand(request, enterprise_id: Id, payload: DemandIn):
    matter_id = services.registers.raise_demand(request.user, enterprise_id, title=payload.title,
                                                description=payload.description)
    return Status(201, {"matter_id": matter_id})
