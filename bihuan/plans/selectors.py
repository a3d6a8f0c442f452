"""Reads for the plans pages, the API and the sources — always through ``restrict`` / ``require``.

The progress map (``progress_map``) is one grouped query: assignments of the plan (or one key
action) in the chosen unit's subtree and the user's scope, keyed by the row unit they fall under
(the child of the chosen unit on their path, computed in SQL), by task and by derived status
(``plans.status``), counted in the database. Python only arranges the (rows × tasks × statuses)
groups into the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Max, Q, Value
from django.db.models.functions import StrIndex, Substr
from django.utils import timezone

from bihuan.accounts.models import Binding
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import require, units_q
from bihuan.orgs.models import Level, OrgUnit

from . import status as st
from .models import Assignment, CheckIn, Escalation, KeyAction, Plan, PlanState, Status, Task
from .services import get_assignment, get_plan  # noqa: F401 - the one lookup, re-exported for views

SEVERITY = [Status.LATE, Status.AT_RISK, Status.NOT_STARTED, Status.ON_TRACK, Status.DONE]


def plans(user):
    return Plan.objects.restrict(user, "view").select_related("unit")


def tasks_of(plan: Plan, action: KeyAction | None = None):
    qs = Task.objects.filter(plan=plan).select_related("action__system").prefetch_related("milestones")
    return qs.filter(action=action) if action is not None else qs


def assignments(user, *, now: datetime, plan: Plan | None = None, task: Task | None = None,
                unit: OrgUnit | None = None, status: str = "", action: str = "view"):
    """Assignments the user may see, with ``status``; ``unit`` means its whole subtree."""
    qs = Assignment.objects.restrict(user, action).filter(plan__state=PlanState.PUBLISHED)
    tasks = None
    if plan is not None:
        qs = qs.filter(plan=plan)
        tasks = tasks_of(plan)
    if task is not None:
        qs = qs.filter(task=task)
        tasks = [task]
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    qs = st.with_status(qs, now, tasks)
    if status:
        if status not in Status.values:
            raise ServiceError("Unknown status.", {"status": "Choose one of: " + ", ".join(Status.values)})
        qs = qs.filter(status=status)
    return qs.select_related("unit", "task", "plan")


def own_unit_ids(user):
    """The units the user is bound to (their own), for "my tasks" (a subquery: no round trip)."""
    return Binding.objects.filter(user=user).values("unit_id")


def my_assignments(user, *, now: datetime, cal=None) -> list[Assignment]:
    """The assignments of the user's own units on published plans, in order of due date.

    The tasks (with milestones) are read once and serve both the status clocks and the page."""
    today = timezone.localtime(now).date()
    own = own_unit_ids(user)
    tasks = {t.pk: t for t in Task.objects.filter(
        plan__state=PlanState.PUBLISHED, starts_on__lte=today, assignments__unit_id__in=own)
        .distinct().select_related("plan").prefetch_related("milestones")}
    qs = Assignment.objects.restrict(user, "checkin").filter(task_id__in=list(tasks), unit_id__in=own)
    rows = list(st.with_status(qs, now, tasks.values(), cal).select_related("unit"))
    for a in rows:
        a.task = tasks[a.task_id]
        a.plan = a.task.plan
    rows.sort(key=lambda a: (a.task.due_on, a.task_id, a.unit_id))
    return rows


def checkins(user, assignment: Assignment):
    return (CheckIn.objects.restrict(user, "view").filter(assignment=assignment)
            .select_related("milestone").prefetch_related("evidence"))


def escalations(user, assignment: Assignment):
    return Escalation.objects.restrict(user, "view").filter(assignment=assignment)


def evidence_file(user, evidence_id: int):
    from .models import Evidence

    ev = Evidence.objects.select_related("checkin__assignment__unit").filter(pk=evidence_id).first()
    if ev is None:
        raise NotFound()
    require(user, "plans.assignment.view", ev.checkin.assignment)
    return ev


# --- the progress map ---------------------------------------------------------------------------

def _child_key(unit: OrgUnit, path_field: str = "unit__path", depth: int = 1):
    """The id (as text) of the unit ``depth`` levels below ``unit`` on a path under it, in SQL."""
    rest = Substr(path_field, len(unit.path) + 1)
    for _i in range(depth - 1):
        rest = Substr(rest, StrIndex(rest, Value("/")) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)


@dataclass
class Cell:
    counts: dict = field(default_factory=dict)
    value: object = None
    assignment_id: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts.get(Status.DONE, 0)

    @property
    def status(self) -> str:
        """The most common status; ties go to the more severe one."""
        if not self.counts:
            return ""
        return max(self.counts, key=lambda s: (self.counts[s], -SEVERITY.index(s)))

    def as_dict(self) -> dict:
        return {"status": self.status, "total": self.total, "counts": dict(self.counts),
                "value": None if self.value is None else str(self.value), "assignment_id": self.assignment_id}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * float(part) / float(whole), 1) if whole else None


def home_unit(user, plan: Plan) -> OrgUnit:
    """Where the map opens: the plan's unit when the user sees it, else their own top unit."""
    if user is None or Assignment.objects.restrict(user, "view").filter(unit=plan.unit).exists() \
            or OrgUnit.objects.filter(units_q(user, "plans.assignment.view"), pk=plan.unit_id).exists():
        return plan.unit
    top = OrgUnit.objects.filter(units_q(user, "plans.assignment.view")).order_by("depth", "path").first()
    if top is None:
        raise NotFound()
    return top


def progress_map(user, plan: Plan, *, now: datetime, unit: OrgUnit | None = None,
                 action: KeyAction | None = None, level: int | None = None, sort: str = "") -> dict:
    """Units × tasks of ``plan`` (or one key ``action``) under ``unit`` (rows: its children, or its
    descendants at ``level``), cells by derived status. Out of scope → 404, as everywhere."""
    unit = unit or home_unit(user, plan)
    require(user, "plans.assignment.view", unit)
    tasks = list(tasks_of(plan, action))
    clocks = st.clocks_for(tasks, now)
    status = st.status_expr(clocks)
    base = Assignment.objects.restrict(user, "view").filter(plan=plan).order_by()
    if action is not None:
        base = base.filter(task__action=action)
    row_level = level or (unit.level + 1)
    if not unit.level < row_level <= Level.GRID:
        raise ServiceError("The level must be below the unit's.", {"level": "Choose a level below the unit's."})
    rows = list(OrgUnit.objects.filter(path__startswith=unit.path, level=row_level, valid_to__isnull=True)
                .filter(units_q(user, "plans.assignment.view")).order_by("sort", "code")
                .values("id", "name", "level", "code"))
    key = _child_key(unit, depth=row_level - unit.level)
    # Units between ``unit`` and the rows' level have no row (they show on their own level's map).
    below = (base.filter(unit__path__startswith=unit.path, unit__level__gte=row_level).exclude(unit=unit)
             .annotate(row=key, status=status).values("row", "task_id", "status")
             .annotate(n=Count("id"), value=Max("last_value"), aid=Max("id")))
    own = (base.filter(unit=unit).annotate(row=Value(""), status=status).values("row", "task_id", "status")
           .annotate(n=Count("id"), value=Max("last_value"), aid=Max("id")))
    cells: dict[tuple[str, int], Cell] = {}
    for g in [*own, *below]:
        c = cells.setdefault((str(g["row"]), g["task_id"]), Cell())
        c.counts[g["status"]] = c.counts.get(g["status"], 0) + g["n"]
        c.value, c.assignment_id = g["value"], g["aid"]
    for c in cells.values():
        if c.total != 1:
            c.value, c.assignment_id = None, None
    row_list = []
    if any(k[0] == "" for k in cells):
        row_list.append({"id": unit.pk, "key": "", "name": unit.name, "level": unit.level, "self": True})
    row_list += [{"id": r["id"], "key": str(r["id"]), "name": r["name"], "level": r["level"], "self": False}
                 for r in rows]
    columns = [{"id": t.pk, "title": t.title, "action": t.action.name, "system": t.action.system.name,
                "target": None if t.target_value is None else str(t.target_value), "unit": t.target_unit,
                "due_on": t.due_on.isoformat()} for t in tasks]
    col_tot = {t.pk: Cell() for t in tasks}
    out_rows = []
    for r in row_list:
        rc = Cell()
        r_cells = []
        for t in tasks:
            c = cells.get((r["key"], t.pk), Cell())
            r_cells.append(c)
            for s, n in c.counts.items():
                rc.counts[s] = rc.counts.get(s, 0) + n
                col_tot[t.pk].counts[s] = col_tot[t.pk].counts.get(s, 0) + n
        out_rows.append({**r, "cells": r_cells, "total": rc.total,
                         "done_pct": _pct(rc.done, rc.total),
                         "on_track_pct": _pct(rc.counts.get(Status.ON_TRACK, 0) + rc.done, rc.total)})
    if sort in ("done", "-done"):
        out_rows.sort(key=lambda r: (r["done_pct"] is None, r["done_pct"] or 0), reverse=sort == "-done")
    totals = []
    grand = Cell()
    for t in tasks:
        c = col_tot[t.pk]
        for s, n in c.counts.items():
            grand.counts[s] = grand.counts.get(s, 0) + n
        totals.append({"task_id": t.pk, "total": c.total, "done_pct": _pct(c.done, c.total),
                       "on_track_pct": _pct(c.counts.get(Status.ON_TRACK, 0) + c.done, c.total),
                       "status": c.status})
    return {"plan": plan, "unit": unit, "action": action, "level": row_level, "tasks": tasks, "columns": columns,
            "rows": out_rows, "totals": totals, "grand": {"total": grand.total, "counts": dict(grand.counts),
                                                          "done_pct": _pct(grand.done, grand.total)},
            "now": now}


def map_as_json(m: dict) -> dict:
    return {"plan_id": m["plan"].pk, "unit": {"id": m["unit"].pk, "name": m["unit"].name}, "level": m["level"],
            "action_id": m["action"].pk if m["action"] else None, "columns": m["columns"],
            "rows": [{"unit_id": r["id"], "name": r["name"], "level": r["level"], "self": r["self"],
                      "total": r["total"], "done_pct": r["done_pct"], "on_track_pct": r["on_track_pct"],
                      "cells": [c.as_dict() for c in r["cells"]]} for r in m["rows"]],
            "totals": m["totals"], "grand": m["grand"]}


# --- figures by unit (sources) ------------------------------------------------------------------

def unit_figures(parent: OrgUnit, *, start, end, now: datetime) -> dict[str, dict]:
    """Per child of ``parent`` (and ``""`` for the parent itself): assignments of tasks due in
    [start, end) and how many are done; check-ins made in [start, end) and how many on time."""
    d0, d1 = timezone.localtime(start).date(), timezone.localtime(end).date()
    due = Assignment.objects.filter(plan__state=PlanState.PUBLISHED, task__due_on__gte=d0, task__due_on__lt=d1)
    tasks = Task.objects.filter(pk__in=due.values("task_id")).prefetch_related("milestones")
    status = st.status_expr(st.clocks_for(tasks, now))
    out: dict[str, dict] = {}

    def grouped(qs, key_expr, **aggs):
        return qs.order_by().annotate(row=key_expr).values("row").annotate(**aggs)

    for qs, key in ((due.filter(unit=parent), Value("")),
                    (due.filter(unit__path__startswith=parent.path).exclude(unit=parent), _child_key(parent))):
        for g in grouped(qs.annotate(status=status), key, n=Count("id"), done=Count("id", filter=Q(status=Status.DONE))):
            o = out.setdefault(str(g["row"]), {"assignments": 0, "done": 0, "checkins": 0, "on_time": 0})
            o["assignments"] += g["n"]
            o["done"] += g["done"]
    made = CheckIn.objects.filter(at__gte=start, at__lt=end)
    for qs, key in ((made.filter(assignment__unit=parent), Value("")),
                    (made.filter(assignment__unit__path__startswith=parent.path).exclude(assignment__unit=parent),
                     _child_key(parent, "assignment__unit__path"))):
        for g in grouped(qs, key, n=Count("id"), on_time=Count("id", filter=Q(late=False))):
            o = out.setdefault(str(g["row"]), {"assignments": 0, "done": 0, "checkins": 0, "on_time": 0})
            o["checkins"] += g["n"]
            o["on_time"] += g["on_time"]
    return out


def _bucket(field: str, bounds: list):
    """Which of the consecutive periods ``[bounds[i], bounds[i+1])`` a row's ``field`` lies in."""
    from django.db.models import Case, IntegerField, When

    return Case(*(When(**{f"{field}__lt": b}, then=Value(i)) for i, b in enumerate(bounds[1:])),
                output_field=IntegerField())


def done_rate_series(units, *, starts, end, now: datetime) -> dict[int, list]:
    """``done_rate`` of each unit's subtree for consecutive periods ``[starts[i], starts[i+1])``
    (the last up to ``end``), as ``unit_figures`` counts it period by period: the status rule
    evaluated once for the tasks due in all the periods, then one query per unit grouped by period
    (``core.registry.compute_series``; the dashboard's trend)."""
    bounds = [timezone.localtime(b).date() for b in [*starts, end]]
    due = Assignment.objects.filter(plan__state=PlanState.PUBLISHED, task__due_on__gte=bounds[0],
                                    task__due_on__lt=bounds[-1])
    tasks = Task.objects.filter(pk__in=due.values("task_id")).prefetch_related("milestones")
    status = st.status_expr(st.clocks_for(tasks, now))
    out = {}
    for u in units:
        rows = (due.filter(unit__path__startswith=u.path).order_by().annotate(status=status, b=_bucket("task__due_on", bounds))
                .values("b").annotate(n=Count("id"), done=Count("id", filter=Q(status=Status.DONE))))
        got = {r["b"]: r for r in rows}
        out[u.pk] = [_pct(got[i]["done"], got[i]["n"]) if i in got else None for i in range(len(starts))]
    return out


def rates(fig: dict) -> dict:
    return {"done_rate": _pct(fig["done"], fig["assignments"]),
            "checkin_on_time_rate": _pct(fig["on_time"], fig["checkins"]),
            "assignments": fig["assignments"], "checkins": fig["checkins"]}



# --- campaigns ------------------------------------------------------------------------------------

def campaigns(user):
    from .models import Campaign

    return Campaign.objects.restrict(user, "view").select_related("unit")


def campaign_targets(user, campaign, *, now: datetime, status: str = "", clock=None):
    """The campaign's targets in the user's scope, with ``pct`` (value / target, in SQL) and the
    derived ``status``, best first: the leaderboard. ``clock``: ``status.campaign_clock`` at now,
    when the caller has it (one calendar read per page)."""
    from django.db.models import DecimalField, ExpressionWrapper
    from django.db.models.functions import Coalesce

    from .models import CampaignTarget

    qs = (CampaignTarget.objects.restrict(user, "view").filter(campaign=campaign)
          .annotate(pct=ExpressionWrapper(Coalesce(F("last_value"), Value(0)) * 100 / F("target"),
                                          output_field=DecimalField(max_digits=20, decimal_places=2)),
                    status=st.campaign_status_expr(clock or st.campaign_clock(campaign, now)))
          .select_related("unit").order_by("-pct", "unit__path"))
    if status:
        if status not in Status.values:
            raise ServiceError("Unknown status.", {"status": "Choose one of: " + ", ".join(Status.values)})
        qs = qs.filter(status=status)
    return qs


def campaign_summary(user, campaign, *, now: datetime, clock=None) -> dict:
    """Day N of M, the days left, and the totals of the targets in scope (one aggregate query)."""
    from django.db.models import Sum

    from .models import CampaignTarget

    today = timezone.localtime(now).date()
    day = min(max((today - campaign.starts_on).days + 1, 0), campaign.days_total)
    left = max((campaign.ends_on - today).days, 0) if today >= campaign.starts_on else campaign.days_total
    agg = (CampaignTarget.objects.restrict(user, "view").filter(campaign=campaign)
           .annotate(status=st.campaign_status_expr(clock or st.campaign_clock(campaign, now)))
           .aggregate(n=Count("id"), target=Sum("target"), value=Sum("last_value"),
                      done=Count("id", filter=Q(status=Status.DONE)),
                      late=Count("id", filter=Q(status=Status.LATE))))
    return {"day": day, "days_total": campaign.days_total, "days_left": left,
            "started": today >= campaign.starts_on, "over": today > campaign.ends_on,
            "units": agg["n"], "target": agg["target"], "value": agg["value"] or 0, "done": agg["done"],
            "late": agg["late"], "pct": _pct(agg["value"] or 0, agg["target"] or 0)}


def own_targets(user, campaign):
    """The targets of the user's own units in this campaign (their check-in forms)."""
    from .models import CampaignTarget

    return list(CampaignTarget.objects.restrict(user, "checkin").filter(campaign=campaign,
                                                                         unit_id__in=own_unit_ids(user))
                .select_related("unit", "campaign"))


def campaign_checkins(user, target):
    from .models import CampaignCheckIn

    return CampaignCheckIn.objects.restrict(user, "view").filter(target=target)


# --- key projects and enterprises -----------------------------------------------------------------

def project_progress(qs, *, now: datetime):
    """``qs`` of key projects annotated with the plan and the actual to date (the months before
    the current one, in SQL), the rate, and ``behind``: actual short of plan, or a milestone's
    planned date passed without it being reached."""
    from django.db.models import BooleanField, Case, DecimalField, OuterRef, Subquery, Sum, When
    from django.db.models.functions import Coalesce

    from .models import ProjectMonth

    today = timezone.localtime(now).date()
    first = today.replace(day=1)
    money = DecimalField(max_digits=16, decimal_places=2)

    def total(field):
        sub = (ProjectMonth.objects.filter(project=OuterRef("pk"), month__lt=first).order_by()
               .values("project").annotate(s=Sum(field)).values("s"))
        return Coalesce(Subquery(sub, output_field=money), Value(0), output_field=money)

    missed = Q()
    for m in ("start", "production", "completion"):
        missed |= Q(**{f"{m}_planned__lt": today, f"{m}_actual__isnull": True})
    return (qs.annotate(plan_to_date=total("planned"), actual_to_date=total("actual"))
            .annotate(behind=Case(When(Q(actual_to_date__lt=F("plan_to_date")) | missed, then=Value(True)),
                                  default=Value(False), output_field=BooleanField())))


def projects(user, *, now: datetime, year: int | None = None, unit: OrgUnit | None = None, level: str = "",
             behind: bool = False):
    from .models import KeyProject

    qs = KeyProject.objects.restrict(user, "view").select_related("unit")
    if year:
        qs = qs.filter(year=year)
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    if level:
        qs = qs.filter(level=level)
    qs = project_progress(qs, now=now)
    if behind:
        qs = qs.filter(behind=True)
    return qs.order_by("-behind", "unit__path", "name")


def projects_by_county(user, *, now: datetime, year: int | None = None) -> list[dict]:
    """Plan vs actual to date rolled up per county (one grouped query; the county is cut from the
    lead unit's path in SQL). Projects led by the city itself form a row of their own."""
    from django.db.models import Sum

    city = OrgUnit.objects.filter(level=Level.CITY, valid_to__isnull=True).order_by("pk").first()
    if city is None:
        return []
    qs = projects(user, now=now, year=year).order_by()
    groups = (qs.annotate(row=_child_key(city)).values("row")
              .annotate(n=Count("id"), behind_n=Count("id", filter=Q(behind=True)), plan=Sum("plan_to_date"),
                        actual=Sum("actual_to_date")))
    names = {str(u["id"]): u["name"] for u in OrgUnit.objects.filter(parent=city).values("id", "name")}
    out = []
    for g in groups:
        out.append({"unit_id": g["row"] or city.pk, "name": names.get(str(g["row"]), city.name), "projects": g["n"],
                    "behind": g["behind_n"], "plan": g["plan"], "actual": g["actual"],
                    "rate": _pct(g["actual"] or 0, g["plan"] or 0)})
    return sorted(out, key=lambda r: r["name"])


def enterprises(user, *, group=None, unit: OrgUnit | None = None, q: str = ""):
    from .models import KeyEnterprise

    qs = KeyEnterprise.objects.restrict(user, "view").select_related("unit", "group")
    if group is not None:
        qs = qs.filter(group=group)
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(credit_code__icontains=q) | Q(industry__icontains=q))
    return qs


def enterprise_groups(user):
    """The lists with how many of their enterprises are in the user's scope (one grouped query)."""
    from .models import EnterpriseGroup, KeyEnterprise

    counts = dict(KeyEnterprise.objects.restrict(user, "view").order_by().values("group_id")
                  .annotate(n=Count("id")).values_list("group_id", "n"))
    return [(g, counts.get(g.pk, 0)) for g in EnterpriseGroup.objects.all()]


def campaign_unit_figures(parent: OrgUnit, *, start, end) -> dict[str, dict]:
    """Per child of ``parent`` (``""``: the parent itself): over campaigns running in [start, end),
    the targets (summed) and what was reached toward them (each unit's value capped at its target)."""
    from django.db.models import Case, DecimalField, Sum, When

    from .models import CampaignTarget

    d0, d1 = timezone.localtime(start).date(), timezone.localtime(end).date()
    base = CampaignTarget.objects.filter(campaign__starts_on__lt=d1, campaign__ends_on__gte=d0).order_by()
    reached = Case(When(last_value__gt=F("target"), then=F("target")), When(last_value__isnull=True, then=Value(0)),
                   default=F("last_value"), output_field=DecimalField(max_digits=16, decimal_places=2))
    out: dict[str, dict] = {}
    for qs, key in ((base.filter(unit=parent), Value("")),
                    (base.filter(unit__path__startswith=parent.path).exclude(unit=parent), _child_key(parent))):
        for g in qs.annotate(row=key).values("row").annotate(t_sum=Sum("target"), r_sum=Sum(reached)):
            o = out.setdefault(str(g["row"]), {"target": 0, "reached": 0})
            o["target"] += g["t_sum"] or 0
            o["reached"] += g["r_sum"] or 0
    return out
