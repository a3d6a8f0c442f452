"""Every change to plans, tasks, assignments and check-ins (the only module here that writes).

Each function checks permission and scope through the gate (``core.scope.require``), validates
(refusing with a ``ServiceError`` naming the field, nothing written), writes in one transaction
and records one audit entry. Anything that depends on now takes ``now``.

* Drafting: ``create_plan``, ``add_system``, ``add_action``, ``add_task``.
* ``publish`` assigns each task to every unit it names in one ``INSERT … SELECT`` per task,
  skipping (task, unit) pairs that exist: publishing twice assigns nothing twice.
* ``update_task`` — versioned (stale version → ``Conflict``, 409); on a published plan newly
  named units are assigned at once; check-ins already made are kept.
* ``check_in`` — 调度: value, note, evidence; which period it counts for and whether it is late
  follow ``plans.status``.
* ``open_overdue_matters`` (the ``plans.supervise`` job) and ``supervise`` (督办 by hand) open a
  loop matter through ``loop.services`` — once per assignment and due point (``Escalation``).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import Conflict, ServiceError
from bihuan.core.scope import get_required, require
from bihuan.orgs.models import Level, OrgUnit

from .. import status as st
from ..models import (
    Assignment,
    Cadence,
    CheckIn,
    Direction,
    Escalation,
    Evidence,
    KeyAction,
    Milestone,
    Plan,
    PlanState,
    Role,
    System,
    Task,
    TaskUnit,
)

MAX_TITLE = 120
MAX_NOTE = 2000
MAX_VALUE = Decimal("999999999999")
MANAGE = "plans.plan.manage"
CHECKIN = "plans.assignment.checkin"
SUPERVISE = "plans.assignment.supervise"


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, limit: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(field)s is too long (at most %(max)d characters).") % {"field": field, "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ServiceError(_("%(field)s contains control characters.") % {"field": field},
                           {field: _("Control characters are not allowed.")})
    return value


def _decimal(value, field: str, *, required: bool = False) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
        return None
    if isinstance(value, bool):
        raise ServiceError(_("%(field)s must be a number.") % {"field": field}, {field: _("Enter a number.")})
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ServiceError(_("%(field)s must be a number.") % {"field": field}, {field: _("Enter a number.")})
    if not d.is_finite() or abs(d) > MAX_VALUE:
        raise ServiceError(_("%(field)s is out of range.") % {"field": field}, {field: _("Enter a smaller number.")})
    return d.quantize(Decimal("0.01"))


def _date(value, field: str) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ServiceError(_("%(field)s must be a date (YYYY-MM-DD).") % {"field": field},
                           {field: _("Enter a date.")})


def _within(unit: OrgUnit, top: OrgUnit) -> bool:
    return unit.pk == top.pk or top.is_ancestor_of(unit)


def _bump(model, obj, version) -> None:
    """Compare-and-set on ``version``: exactly one writer of version n wins (else 409)."""
    if version is None:
        raise ServiceError(_("The version is required."), {"version": _("This field is required.")})
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The version must be a whole number."), {"version": _("Enter a whole number.")})
    if not model.objects.filter(pk=obj.pk, version=version).update(version=F("version") + 1):
        current = model.objects.filter(pk=obj.pk).values_list("version", flat=True).first()
        raise Conflict(_("It was changed by someone else (version %(cur)s, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": current, "sent": version})
    obj.version = version + 1


# --- drafting -----------------------------------------------------------------------------------

def _plan_snapshot(p: Plan) -> dict:
    return {"title": p.title, "unit_id": p.unit_id, "starts_on": p.starts_on, "ends_on": p.ends_on,
            "state": p.state, "version": p.version}


@transaction.atomic
def create_plan(user, *, unit: OrgUnit, title: str, starts_on, ends_on, description: str = "",
                now: datetime | None = None) -> Plan:
    """A draft plan issued by ``unit`` (the city for the year's plan)."""
    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the issuing unit."), {"unit": _("This field is required.")})
    require(user, MANAGE, unit)
    title = _text(title, "title", limit=MAX_TITLE, required=True)
    description = _text(description, "description", limit=5000)
    starts_on, ends_on = _date(starts_on, "starts_on"), _date(ends_on, "ends_on")
    if ends_on < starts_on:
        raise ServiceError(_("The plan ends before it starts."), {"ends_on": _("Must not be before the start.")})
    plan = Plan.objects.create(unit=unit, title=title, description=description, starts_on=starts_on,
                               ends_on=ends_on, created_at=now, created_by=user)
    audit.record("plans.plan.create", plan, after=_plan_snapshot(plan), now=now)
    return plan


def _editable_plan(user, plan) -> Plan:
    plan = get_plan(user, plan, action="manage")
    return plan


def get_plan(user, plan, *, action: str = "view") -> Plan:
    """One plan the user may ``action`` (404 otherwise; 403 when they see it but may not)."""
    return get_required(user, f"plans.plan.{action}", Plan.objects.select_related("unit"), plan)


@transaction.atomic
def add_system(user, plan, *, name: str, now: datetime | None = None) -> System:
    plan = _editable_plan(user, plan)
    name = _text(name, "name", limit=120, required=True)
    if plan.systems.filter(name=name).exists():
        raise ServiceError(_("The plan already has a system named %(n)s.") % {"n": name}, {"name": _("Taken.")})
    seq = plan.systems.count() + 1
    system = System.objects.create(plan=plan, seq=seq, name=name)
    audit.record("plans.system.create", system, unit=plan.unit, after={"plan_id": plan.pk, "name": name}, now=now)
    return system


@transaction.atomic
def add_action(user, plan, *, system: System, name: str, now: datetime | None = None) -> KeyAction:
    plan = _editable_plan(user, plan)
    if system is None or system.plan_id != plan.pk:
        raise ServiceError(_("Choose a system of this plan."), {"system": _("Unknown system.")})
    name = _text(name, "name", limit=120, required=True)
    if plan.actions.filter(name=name).exists():
        raise ServiceError(_("The plan already has a key action named %(n)s.") % {"n": name}, {"name": _("Taken.")})
    action = KeyAction.objects.create(plan=plan, system=system, seq=system.actions.count() + 1, name=name)
    audit.record("plans.action.create", action, unit=plan.unit, after={"plan_id": plan.pk, "name": name}, now=now)
    return action


def _clean_milestones(plan: Plan, milestones, direction: str) -> list[tuple[str, date, Decimal | None]]:
    out = []
    for i, m in enumerate(milestones or [], start=1):
        if isinstance(m, dict):
            name, due, value = m.get("name"), m.get("due_on"), m.get("value")
        else:
            name, due, value = (list(m) + [None, None, None])[:3]
        name = _text(name, f"milestones.{i}.name", limit=80, required=True)
        due = _date(due, f"milestones.{i}.due_on")
        if due > plan.ends_on or due < plan.starts_on:
            raise ServiceError(_("Milestone %(n)s (%(d)s) is outside the plan (%(s)s – %(e)s).")
                               % {"n": name, "d": due, "s": plan.starts_on, "e": plan.ends_on},
                               {"milestones": _("A milestone must fall within the plan's dates.")},
                               code="milestone_outside_plan")
        out.append((name, due, _decimal(value, f"milestones.{i}.value")))
    return out


def _clean_task(plan: Plan, values: dict, *, instance: Task | None = None) -> dict:
    """Validate the task fields present in ``values`` (all of them for a new task)."""
    out: dict = {}

    def has(k):
        return instance is None or k in values

    if has("title"):
        out["title"] = _text(values.get("title"), "title", limit=MAX_TITLE, required=True)
    if has("description"):
        out["description"] = _text(values.get("description"), "description", limit=5000)
    if has("responsible_role"):
        out["responsible_role"] = _text(values.get("responsible_role"), "responsible_role", limit=60)
    if has("evidence"):
        out["evidence"] = _text(values.get("evidence"), "evidence", limit=200)
    if has("evidence_mandatory"):
        out["evidence_mandatory"] = bool(values.get("evidence_mandatory"))
    if has("target_unit"):
        out["target_unit"] = _text(values.get("target_unit"), "target_unit", limit=20)
    if has("direction"):
        d = values.get("direction") or Direction.HIGHER
        if d not in Direction.values:
            raise ServiceError(_("Unknown direction."), {"direction": _("higher or lower.")})
        out["direction"] = d
    if has("cadence"):
        c = values.get("cadence") or Cadence.MONTHLY
        if c not in Cadence.values:
            raise ServiceError(_("Unknown check-in cadence."), {"cadence": _("weekly, fortnightly, monthly or "
                                                                               "quarterly.")})
        out["cadence"] = c
    if has("grace_days"):
        try:
            g = int(values.get("grace_days", 3) if values.get("grace_days") is not None else 3)
        except (TypeError, ValueError):
            raise ServiceError(_("The grace period must be a whole number."), {"grace_days": _("0 to 20.")})
        if not 0 <= g <= 20:
            raise ServiceError(_("The grace period must be 0 to 20 working days."), {"grace_days": _("0 to 20.")})
        out["grace_days"] = g
    for k in ("target_value", "baseline_value"):
        if has(k):
            v = _decimal(values.get(k), k)
            out[k] = v if (v is not None or k == "target_value") else Decimal("0")
    for k, default in (("starts_on", plan.starts_on), ("due_on", plan.ends_on)):
        if has(k):
            out[k] = _date(values.get(k) or default, k)
    if has("lead_level"):
        lvl = values.get("lead_level")
        if lvl in ("", None):
            out["lead_level"] = None
        else:
            try:
                lvl = int(lvl)
            except (TypeError, ValueError):
                lvl = -1
            if lvl not in Level.values or lvl <= plan.unit.level:
                raise ServiceError(_("The lead level must be below the issuing unit's level."),
                                   {"lead_level": _("Choose a level below %(u)s.") % {"u": plan.unit.name}})
            out["lead_level"] = lvl
    if has("lead_within"):
        w = values.get("lead_within")
        if w is not None and not _within(w, plan.unit):
            raise ServiceError(_("%(u)s is not under %(p)s, which issues the plan.") % {"u": w.name, "p": plan.unit.name},
                               {"lead_within": _("Choose a unit under the issuing unit.")})
        out["lead_within"] = w
    merged = {f: out.get(f, getattr(instance, f, None)) for f in
              ("target_value", "target_unit", "starts_on", "due_on", "lead_level", "direction")}
    if merged["target_value"] is not None and not merged["target_unit"]:
        raise ServiceError(_("A target needs its unit of measure (个, 户, 项 …)."),
                           {"target_unit": _("Give the unit of the target.")}, code="target_without_unit")
    if merged["starts_on"] > merged["due_on"]:
        raise ServiceError(_("The task is due before it starts."), {"due_on": _("Must not be before the start.")})
    if merged["due_on"] > plan.ends_on or merged["starts_on"] < plan.starts_on:
        raise ServiceError(_("The task's dates must fall within the plan (%(s)s – %(e)s).")
                           % {"s": plan.starts_on, "e": plan.ends_on}, {"due_on": _("Within the plan's dates.")})
    return out


def _clean_units(plan: Plan, units, field: str) -> list[OrgUnit]:
    out = []
    for u in units or []:
        if u is None or not _within(u, plan.unit) or u.valid_to is not None:
            name = getattr(u, "name", "?")
            raise ServiceError(_("%(u)s is not a current unit under %(p)s.") % {"u": name, "p": plan.unit.name},
                               {field: _("Choose units under the issuing unit.")}, code="unit_outside_plan")
        if u not in out:
            out.append(u)
    return out


def _task_snapshot(t: Task) -> dict:
    return {"title": t.title, "target_value": t.target_value, "target_unit": t.target_unit,
            "direction": t.direction, "starts_on": t.starts_on, "due_on": t.due_on, "cadence": t.cadence,
            "lead_level": t.lead_level, "lead_within_id": t.lead_within_id, "version": t.version,
            "milestones": [[m.name, m.due_on, m.value] for m in t.milestones.all()],
            "units": sorted([tu.unit_id, tu.role] for tu in t.named_units.all())}


@transaction.atomic
def add_task(user, plan, *, action: KeyAction, lead_units=(), assist_units=(), milestones=(),
             now: datetime | None = None, **values) -> Task:
    """A task of ``action``: to every unit of ``lead_level`` (under ``lead_within``) and/or the named
    ``lead_units``, helped by ``assist_units``. On a published plan it is assigned at once."""
    now = _now(now)
    plan = _editable_plan(user, plan)
    if action is None or action.plan_id != plan.pk:
        raise ServiceError(_("Choose a key action of this plan."), {"action": _("Unknown key action.")})
    clean = _clean_task(plan, values)
    lead = _clean_units(plan, lead_units, "lead_units")
    assist = [u for u in _clean_units(plan, assist_units, "assist_units") if u not in lead]
    if clean["lead_level"] is None and not lead:
        raise ServiceError(_("Name the lead units or a lead level."), {"lead_units": _("Who carries the task?")})
    ms = _clean_milestones(plan, milestones, clean["direction"])
    if action.tasks.filter(title=clean["title"]).exists():
        raise ServiceError(_("The key action already has a task %(t)s.") % {"t": clean["title"]},
                           {"title": _("Taken.")})
    task = Task.objects.create(plan=plan, action=action, seq=action.tasks.count() + 1, **clean)
    Milestone.objects.bulk_create([Milestone(task=task, seq=i, name=n, due_on=d, value=v)
                                   for i, (n, d, v) in enumerate(ms, start=1)])
    TaskUnit.objects.bulk_create([TaskUnit(task=task, unit=u, role=Role.LEAD) for u in lead]
                                 + [TaskUnit(task=task, unit=u, role=Role.ASSIST) for u in assist])
    assigned = _assign(plan, [task], now) if plan.state == PlanState.PUBLISHED else 0
    audit.record("plans.task.create", task, unit=plan.unit, after={**_task_snapshot(task), "assigned": assigned},
                 now=now)
    return task


# --- publishing ---------------------------------------------------------------------------------

def _assign(plan: Plan, tasks, now: datetime) -> int:
    """Insert the missing assignment rows of ``tasks`` (one INSERT … SELECT per task and role)."""
    made = 0
    assigned_on = timezone.localtime(now).date()
    for task in tasks:
        first = st.period_of(task, max(assigned_on, task.starts_on))
        named = {tu.unit_id: tu.role for tu in task.named_units.all()}
        sources = []
        if task.lead_level is not None:
            within = task.lead_within or plan.unit
            sources.append((OrgUnit.objects.filter(path__startswith=within.path, level=task.lead_level,
                                                   valid_to__isnull=True), Role.LEAD))
        for role in (Role.LEAD, Role.ASSIST):
            ids = [uid for uid, r in named.items() if r == role]
            if ids:
                sources.append((OrgUnit.objects.filter(pk__in=ids), role))
        for units, role in sources:
            missing = (units.exclude(Exists(Assignment.objects.filter(task_id=task.pk, unit_id=OuterRef("pk"))))
                       .order_by()
                       .annotate(a_plan=Value(plan.pk), a_task=Value(task.pk), a_unit=F("id"),
                                 a_role=Value(role), a_at=Value(now), a_first=Value(first), a_zero=Value(0))
                       # Django 5.2 keeps this order in the SELECT (the INSERT's columns).
                       .values_list("a_plan", "a_task", "a_unit", "a_role", "a_at", "a_first", "a_zero",
                                    "a_zero", "a_zero"))
            sql, params = missing.query.sql_with_params()
            with connection.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {Assignment._meta.db_table} (plan_id, task_id, unit_id, role, assigned_at, "
                    f"first_period_start, reached_seq, checkins, late_checkins) {sql}", params)
                made += max(cur.rowcount, 0)
    return made


@transaction.atomic
def publish(user, plan, *, version: int, now: datetime | None = None) -> dict:
    """Publish (or re-publish) the plan: assign every task to every unit it names, in one
    transaction; pairs already assigned are skipped, so publishing twice assigns nothing twice."""
    now = _now(now)
    plan = _editable_plan(user, plan)
    tasks = list(plan.tasks.prefetch_related("named_units"))
    if not tasks:
        raise ServiceError(_("The plan has no tasks to publish."), code="empty_plan")
    _bump(Plan, plan, version)
    first = plan.state != PlanState.PUBLISHED
    if first:
        Plan.objects.filter(pk=plan.pk).update(state=PlanState.PUBLISHED, published_at=now)
        plan.state, plan.published_at = PlanState.PUBLISHED, now
    assigned = _assign(plan, tasks, now)
    audit.record("plans.plan.publish", plan, after={"version": plan.version, "assigned": assigned,
                                                    "tasks": len(tasks), "first": first}, now=now)
    return {"plan": plan, "assigned": assigned}


@transaction.atomic
def update_task(user, task, *, version: int, add_lead_units=(), add_assist_units=(), milestones=None,
                now: datetime | None = None, **values) -> Task:
    """Change a task (target, milestones, dates, units …). Versioned: a stale ``version`` is a 409.
    Check-ins are kept; on a published plan newly named units are assigned at once."""
    now = _now(now)
    task = _get_task(user, task)
    plan = _editable_plan(user, task.plan)
    allowed = {"title", "description", "responsible_role", "evidence", "evidence_mandatory", "target_unit",
               "direction", "cadence", "grace_days", "target_value", "baseline_value", "starts_on", "due_on",
               "lead_level", "lead_within"}
    unknown = set(values) - allowed
    if unknown:
        raise ServiceError(_("Unknown fields: %(f)s.") % {"f": ", ".join(sorted(unknown))})
    clean = _clean_task(plan, values, instance=task)
    lead = _clean_units(plan, add_lead_units, "add_lead_units")
    assist = _clean_units(plan, add_assist_units, "add_assist_units")
    ms = _clean_milestones(plan, milestones, clean.get("direction", task.direction)) if milestones is not None else None
    before = _task_snapshot(task)
    _bump(Task, task, version)
    if clean:
        Task.objects.filter(pk=task.pk).update(**clean)
    if ms is not None:
        task.milestones.all().delete()
        Milestone.objects.bulk_create([Milestone(task=task, seq=i, name=n, due_on=d, value=v)
                                       for i, (n, d, v) in enumerate(ms, start=1)])
    have = set(task.named_units.values_list("unit_id", flat=True))
    TaskUnit.objects.bulk_create([TaskUnit(task=task, unit=u, role=Role.LEAD) for u in lead if u.pk not in have]
                                 + [TaskUnit(task=task, unit=u, role=Role.ASSIST) for u in assist
                                    if u.pk not in have and u not in lead])
    task = Task.objects.select_related("plan__unit").get(pk=task.pk)
    assigned = _assign(plan, [task], now) if plan.state == PlanState.PUBLISHED else 0
    if plan.state == PlanState.PUBLISHED:
        Plan.objects.filter(pk=plan.pk).update(version=F("version") + 1)
    audit.record("plans.task.update", task, unit=plan.unit, before=before,
                 after={**_task_snapshot(task), "assigned": assigned}, now=now)
    return task


def _get_task(user, task) -> Task:
    return get_required(user, "plans.plan.view",
                        Task.objects.select_related("plan__unit"), task, on=lambda t: t.plan)


# --- check-ins ----------------------------------------------------------------------------------

def get_assignment(user, assignment, action: str = "view") -> Assignment:
    return get_required(user, f"plans.assignment.{action}",
                        Assignment.objects.select_related("task__plan__unit", "unit", "plan"), assignment)


def covered_period(a: Assignment, now: datetime) -> date:
    """The period a check-in made now counts for: the earliest one not yet reported (catching up),
    or the current one when the unit is up to date (a second report updates it)."""
    return st.covered_period(a.task, a.first_period_start, a.last_period_start, now)


@transaction.atomic
def check_in(user, assignment, *, value=None, note: str = "", milestone: Milestone | int | None = None,
             completed: bool = False, uploads=(), now: datetime | None = None) -> CheckIn:
    """调度: the unit reports on its assignment (value toward the target, note, evidence)."""
    from bihuan.loop.services import validate_uploads  # JPEG/PNG/PDF by content, size limits

    now = _now(now)
    a = get_assignment(user, assignment, "checkin")
    a = Assignment.objects.select_for_update().select_related("task__plan__unit", "unit", "plan").get(pk=a.pk)
    task = a.task
    if a.plan.state != PlanState.PUBLISHED:
        raise ServiceError(_("The plan is not published."), code="not_published")
    value = _decimal(value, "value")
    note = _text(note, "note", limit=MAX_NOTE)
    if value is None and not note and not completed and milestone is None:
        raise ServiceError(_("Report a value, a status note or a reached milestone."),
                           {"value": _("Nothing to report.")})
    if task.target_value is None and value is not None and value < 0:
        raise ServiceError(_("The value must not be negative."), {"value": _("Enter a value of at least 0.")})
    ms = None
    if milestone not in (None, ""):
        ms = task.milestones.filter(pk=getattr(milestone, "pk", milestone)).first()
        if ms is None:
            raise ServiceError(_("Choose a milestone of this task."), {"milestone": _("Unknown milestone.")})
    uploads = validate_uploads(uploads)
    if task.evidence_mandatory and not uploads:
        raise ServiceError(_("This task requires evidence: %(e)s") % {"e": task.evidence or _("an attachment")},
                           {"attachments": _("Attach the evidence.")}, code="evidence_required")
    period = covered_period(a, now)
    due = st.period_due(task, period)
    late = now > due
    c = CheckIn.objects.create(assignment=a, at=now, period_start=period, due_at=due, late=late, value=value,
                               note=note, milestone=ms, completed=bool(completed), by=user,
                               by_name=(user.username if user else "system"))
    for up in uploads:
        ev = Evidence(checkin=c, name=up.name[:120], content_type=up.content_type, size=len(up.content),
                      sha256=hashlib.sha256(up.content).hexdigest())
        ev.file.save(up.name[-80:], ContentFile(up.content), save=False)
        ev.save()
    fields = {"last_checkin_at": now, "checkins": F("checkins") + 1,
              "last_period_start": max(period, a.last_period_start or period)}
    if value is not None:
        fields["last_value"] = value
    if late:
        fields["late_checkins"] = F("late_checkins") + 1
    if ms is not None and ms.seq > a.reached_seq:
        fields["reached_seq"] = ms.seq
    if completed and a.completed_at is None:
        fields["completed_at"] = now
    Assignment.objects.filter(pk=a.pk).update(**fields)
    audit.record("plans.checkin.create", c, unit=a.unit, after={
        "assignment_id": a.pk, "period": period, "late": late, "value": value, "note": note[:200],
        "milestone": ms.seq if ms else None, "completed": bool(completed), "evidence": len(uploads)}, now=now)
    return c


# --- supervision through the loop ----------------------------------------------------------------

def _task_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.TASK, active=True, code="plan_task").first()
           or Category.objects.filter(kind=Kind.TASK, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="plan_task", name="计划任务", kind=Kind.TASK, handle_days=15)
    return cat


def _open_matter(a: Assignment, *, due_key: str, reason: str, detail: str, now: datetime, user=None) -> int | None:
    """One loop matter for ``a`` at ``due_key``, or None when one was opened already (also by a
    concurrent run: the unique (assignment, due_key) row is claimed first, in the same transaction)."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    try:
        with transaction.atomic():
            esc = Escalation.objects.create(assignment=a, due_key=due_key, reason=reason, opened_at=now,
                                            opened_by=user)
            title = (_("督办: %(task)s (%(unit)s)") % {"task": a.task.title, "unit": a.unit.name})[:120]
            matter = loop_services.create_matter(None, category=_task_category(), location_unit=a.unit,
                                                 title=title, description=detail[:5000], kind=Kind.TASK, now=now)
            matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=a.unit, now=now)
            Escalation.objects.filter(pk=esc.pk).update(matter_id=matter.pk)
            audit.record("plans.assignment.escalate", a, after={"due_key": due_key, "reason": reason,
                                                                "matter_id": matter.pk}, now=now)
            return matter.pk
    except IntegrityError:
        return None


def checkin_owed(matter):
    """Precondition of the loop's 报告办结 (``report_done``) on a matter opened for a missed check-in:
    the overdue check-in must have been made first (registered with the loop in ``apps.ready``).
    Matters the plans app did not open, or opened for a milestone or by hand, are not concerned."""
    from bihuan.loop import transitions

    esc = (Escalation.objects.filter(matter_id=matter.pk, reason="checkin")
           .select_related("assignment").only("due_key", "assignment__id").first())
    if esc is None or not esc.due_key.startswith("p"):
        return transitions.ALLOWED
    try:
        period = date.fromisoformat(esc.due_key[1:])
    except ValueError:
        return transitions.ALLOWED
    if CheckIn.objects.filter(assignment_id=esc.assignment_id, period_start__gte=period).exists():
        return transitions.ALLOWED
    return transitions.refuse(
        _("Make the overdue check-in for the period from %(p)s first (my tasks); then report this matter done.")
        % {"p": period.isoformat()}, "checkin_owed")


def open_overdue_matters(now: datetime | None = None, *, plan: Plan | None = None) -> dict:
    """The ``plans.supervise`` job: for every published task, each assignment whose last due
    check-in is missing past its grace period, or whose last past milestone is not reached, gets
    one loop matter (kind task) for its unit. Candidates are found in SQL; done ones are skipped."""
    now = _now(now)
    opened = {"checkin": 0, "milestone": 0}
    tasks = Task.objects.filter(plan__state=PlanState.PUBLISHED).prefetch_related("milestones")
    if plan is not None:
        tasks = tasks.filter(plan=plan)
    for c, task in zip(st.clocks_for(list(tasks), now), tasks, strict=True):
        done_sql, done_params = st.done_sql(c)
        base = st.where(Assignment.objects.filter(task_id=task.pk).select_related("unit", "task"),
                        (f"NOT {done_sql}", done_params))
        for reason, cond, key in (("checkin", st.missing_sql(c), f"p{c.cutoff}"),
                                  ("milestone", st.milestone_missed_sql(c), f"m{c.milestone_id}")):
            if cond is None:
                continue
            pending = st.where(base, cond).exclude(Exists(Escalation.objects.filter(assignment=OuterRef("pk"),
                                                                                      due_key=key)))
            for a in pending.iterator(chunk_size=500):
                if reason == "checkin":
                    detail = _("The check-in for the period from %(p)s (due %(d)s) is missing.") % {
                        "p": c.cutoff, "d": timezone.localtime(st.period_due(task, c.cutoff)).strftime("%Y-%m-%d")}
                else:
                    detail = _("Milestone %(n)d of the task is not reached.") % {"n": c.milestone_seq}
                if _open_matter(a, due_key=key, reason=reason, detail=f"{task.title}: {detail}", now=now):
                    opened[reason] += 1
    return opened


def supervise(user, assignment, *, comment: str = "", now: datetime | None = None) -> int:
    """督办 by hand from a map cell: one loop matter for the unit (once per check-in period)."""
    now = _now(now)
    a = get_assignment(user, assignment, "supervise")
    comment = _text(comment, "comment", limit=MAX_NOTE)
    key = f"s{st.period_of(a.task, min(max(timezone.localtime(now).date(), a.task.starts_on), a.task.due_on))}"
    detail = _("Supervision (督办) of %(task)s.") % {"task": a.task.title} + (f"\n{comment}" if comment else "")
    matter_id = _open_matter(a, due_key=key, reason="manual", detail=detail, now=now, user=user)
    if matter_id is None:
        existing = Escalation.objects.filter(assignment=a, due_key=key).values_list("matter_id", flat=True).first()
        raise Conflict(_("A supervision matter was already opened for this unit and period (matter %(m)s).")
                       % {"m": existing})
    return matter_id


@transaction.atomic
def create_plan_with_tasks(user, *, unit: OrgUnit, title: str, starts_on, ends_on, description: str = "",
                           systems=(), now: datetime | None = None) -> Plan:
    """A draft plan with its systems → key actions → tasks in one transaction (API, import):
    ``systems = [{"name", "actions": [{"name", "tasks": [add_task keyword arguments]}]}]``.
    The first refusal names where it is (``systems.1.actions.2.tasks.3``) and nothing is kept."""
    plan = create_plan(user, unit=unit, title=title, starts_on=starts_on, ends_on=ends_on,
                       description=description, now=now)
    for i, s in enumerate(systems or [], start=1):
        where = f"systems.{i}"
        try:
            system = add_system(user, plan, name=s.get("name"), now=now)
            for j, a in enumerate(s.get("actions") or [], start=1):
                where = f"systems.{i}.actions.{j}"
                action = add_action(user, plan, system=system, name=a.get("name"), now=now)
                for k, t in enumerate(a.get("tasks") or [], start=1):
                    where = f"systems.{i}.actions.{j}.tasks.{k}"
                    add_task(user, plan, action=action, now=now, **t)
        except ServiceError as exc:
            if type(exc) is not ServiceError:  # 403/404/409 keep their meaning
                raise
            raise ServiceError(f"{where}: {exc.message}",
                               {f"{where}.{f}": m for f, m in exc.field_errors.items()}, code=exc.code) from exc
    return plan

from . import campaigns, registers  # noqa: E402,F401 - campaigns, key projects and enterprises
