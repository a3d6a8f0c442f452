"""Plans and the progress map (任务推进图, 挂图作战): plan → systems → key actions → tasks.

A published task is *assigned* to every unit it names: one ``Assignment`` row per (task, unit),
the unit of responsibility, scoped like everything else (``plans.assignment.<verb>``).
Units report on the task's cadence (``CheckIn``, 调度).

Models are thin; every change goes through ``plans.services``. Status (not started, on track,
at risk, late, done) is never stored: ``plans.status`` derives it from the task's milestones,
target and cadence, the assignment's check-in roll-up and ``now``. The roll-up columns on
``Assignment`` (``last_value``, ``last_period_start`` …) are facts written by the check-in
service in the check-in's own transaction, not by a job.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q
from bihuan.orgs.models import OrgUnit


class PlanState(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("weekly")
    FORTNIGHTLY = "fortnightly", _("fortnightly")
    MONTHLY = "monthly", _("monthly")
    QUARTERLY = "quarterly", _("quarterly")


class Direction(models.TextChoices):
    HIGHER = "higher", _("higher is better")
    LOWER = "lower", _("lower is better")


class Role(models.TextChoices):
    LEAD = "lead", _("lead unit")
    ASSIST = "assist", _("assisting unit")


class Status(models.TextChoices):
    """Derived (``plans.status``), never stored. Order = severity for the map's legend."""

    NOT_STARTED = "not_started", _("not started")
    ON_TRACK = "on_track", _("on track")
    AT_RISK = "at_risk", _("at risk")
    LATE = "late", _("late")
    DONE = "done", _("done")


class PlanQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A plan is visible where its issuing unit is in scope, or where it has an assignment in
        the user's scope (a village sees the city's plan it works on). Changing it needs the
        issuing unit. Default deny."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"plans.plan.{action}")
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "unit__path", "unit_id")
        if own is None:
            return self
        if action != "view":
            return self.filter(own)
        assigned = Assignment.objects.filter(plan=OuterRef("pk")).filter(
            unit_scope_q(scope, "unit__path", "unit_id"))
        return self.filter(own | Exists(assigned))


class Plan(models.Model):
    """The year's plan of a unit (the city's "3515" plan), drafted, then published."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("issuing unit"))
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    state = models.CharField(_("state"), max_length=10, choices=PlanState.choices, default=PlanState.DRAFT)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    scope_resource = "plans.plan"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(PlanQuerySet)()

    class Meta:
        ordering = ["-starts_on", "id"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.title

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class System(models.Model):
    """体系: the first level of a plan (the "5" of 3515)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="systems")
    seq = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["plan_id", "seq", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "name"], name="plans_system_name_unique")]

    def __str__(self) -> str:
        return self.name


class KeyAction(models.Model):
    """重点行动: the second level (the "15" of 3515)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="actions")
    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="actions")
    seq = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["plan_id", "system__seq", "seq", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "name"], name="plans_action_name_unique")]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    """A task of a key action, with whom it goes to, its milestones, target and cadence."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tasks")
    action = models.ForeignKey(KeyAction, on_delete=models.CASCADE, related_name="tasks")
    seq = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    # Whom it goes to: every unit of ``lead_level`` under ``lead_within`` (the plan's unit when
    # empty), and/or the units named in TaskUnit (lead or assisting).
    lead_level = models.PositiveSmallIntegerField(_("lead unit level"), null=True, blank=True)
    lead_within = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("within"))
    responsible_role = models.CharField(_("responsible role"), max_length=60, blank=True)
    starts_on = models.DateField(_("starts on"))
    due_on = models.DateField(_("due on"))
    target_value = models.DecimalField(_("target"), max_digits=14, decimal_places=2, null=True, blank=True)
    baseline_value = models.DecimalField(_("baseline"), max_digits=14, decimal_places=2, default=0)
    target_unit = models.CharField(_("unit of measure"), max_length=20, blank=True)
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices, default=Direction.HIGHER)
    cadence = models.CharField(_("check-in cadence"), max_length=12, choices=Cadence.choices,
                               default=Cadence.MONTHLY)
    grace_days = models.PositiveSmallIntegerField(_("grace period (working days)"), default=3)
    evidence = models.CharField(_("evidence required"), max_length=200, blank=True)
    evidence_mandatory = models.BooleanField(_("evidence attachment mandatory"), default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["plan_id", "action__system__seq", "action__seq", "seq", "id"]
        constraints = [models.UniqueConstraint(fields=["action", "title"], name="plans_task_title_unique")]

    def __str__(self) -> str:
        return self.title


class TaskUnit(models.Model):
    """A unit a task names explicitly, as lead or assisting unit."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="named_units")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.LEAD)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "unit"], name="plans_taskunit_unique")]

    def __str__(self) -> str:
        return f"{self.task_id}:{self.unit_id} ({self.role})"


class Milestone(models.Model):
    """A dated step of a task; with a value, it is met when the reported value reaches it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="milestones")
    seq = models.PositiveSmallIntegerField()
    name = models.CharField(_("name"), max_length=80)
    due_on = models.DateField(_("due on"))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["task_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["task", "seq"], name="plans_milestone_seq_unique")]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """One task for one unit: the unit of responsibility (one row per (task, unit))."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="assignments")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    role = models.CharField(_("role"), max_length=6, choices=Role.choices, default=Role.LEAD)
    assigned_at = models.DateTimeField(_("assigned at"))
    # The first period this unit reports for (a unit added later does not owe earlier periods).
    first_period_start = models.DateField()
    # Roll-up of the check-ins, written with each check-in (plans.services.check_in).
    last_period_start = models.DateField(null=True, blank=True)
    last_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    reached_seq = models.PositiveSmallIntegerField(default=0)  # highest milestone reported reached
    completed_at = models.DateTimeField(null=True, blank=True)
    checkins = models.PositiveIntegerField(default=0)
    late_checkins = models.PositiveIntegerField(default=0)

    scope_resource = "plans.assignment"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["task_id", "unit__path"]
        constraints = [models.UniqueConstraint(fields=["task", "unit"], name="plans_assignment_unique")]
        indexes = [models.Index(fields=["plan", "task"], name="plans_asg_plan_task")]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return f"{self.task} @ {self.unit}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class CheckIn(models.Model):
    """调度: one report of a unit on one assignment, for one period of the task's cadence."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="checkin_set")
    at = models.DateTimeField(_("reported at"), db_index=True)
    period_start = models.DateField(_("period"))
    due_at = models.DateTimeField(_("due"))
    late = models.BooleanField(_("late"), default=False)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    note = models.TextField(_("status note"), blank=True)
    milestone = models.ForeignKey(Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name=_("milestone reached"))
    completed = models.BooleanField(_("task completed"), default=False)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    by_name = models.CharField(max_length=150, blank=True)

    scope_resource = "plans.assignment"
    scope_path_field = "assignment__unit__path"
    scope_unit_field = "assignment__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["assignment", "at"], name="plans_checkin_asg_at")]

    def __str__(self) -> str:
        return f"{self.assignment_id} @ {self.at:%Y-%m-%d}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.assignment.unit


def evidence_path(instance, filename: str) -> str:
    return f"plans/{instance.checkin_id}/{secrets.token_hex(8)}-{filename[-80:]}"


class Evidence(models.Model):
    """An attachment of a check-in (photos, minutes as PDF)."""

    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="evidence")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=evidence_path, max_length=255)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Escalation(models.Model):
    """The link from an assignment's missed due point to the loop matter opened for it.

    ``due_key`` names the due point (``p2025-03-01`` a check-in period, ``m12`` milestone 12,
    ``s2025-03-01`` a supervisor's 督办 in that period); the unique key makes opening idempotent,
    also when two runs overlap (the second insert fails and opens nothing)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="escalations")
    due_key = models.CharField(max_length=24)
    reason = models.CharField(max_length=12)  # checkin | milestone | manual
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id (the loop owns it)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    scope_resource = "plans.assignment"
    scope_path_field = "assignment__unit__path"
    scope_unit_field = "assignment__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "due_key"], name="plans_escalation_unique")]

    def __str__(self) -> str:
        return f"{self.assignment_id}:{self.due_key} → {self.matter_id}"


# --- campaigns (大干五十天、冲刺四季度) -----------------------------------------------------------

class CampaignCadence(models.TextChoices):
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")


class CampaignQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """As plans: visible where the issuing unit is in scope or a target's unit is; changing it
        needs the issuing unit (``plans.plan.<action>``). Default deny."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"plans.plan.{action}")
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "unit__path", "unit_id")
        if own is None:
            return self
        if action != "view":
            return self.filter(own)
        targeted = CampaignTarget.objects.filter(campaign=OuterRef("pk")).filter(
            unit_scope_q(scope, "unit__path", "unit_id"))
        return self.filter(own | Exists(targeted))


class Campaign(models.Model):
    """A sprint (大干五十天): a start, an end, a target per unit, daily or weekly check-ins.

    Its schedule follows the plans' check-in rule (``plans.status``): periods of one day or one
    week from ``starts_on``, each due ``grace_days`` working days after its last day."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("issuing unit"))
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    cadence = models.CharField(_("check-in cadence"), max_length=8, choices=CampaignCadence.choices,
                               default=CampaignCadence.DAILY)
    grace_days = models.PositiveSmallIntegerField(_("grace period (working days)"), default=1)
    target_unit = models.CharField(_("unit of measure"), max_length=20)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    scope_resource = "plans.plan"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(CampaignQuerySet)()

    class Meta:
        ordering = ["-starts_on", "id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.title

    @property
    def due_on(self):  # the schedule interface of plans.status (a task's due date)
        return self.ends_on

    @property
    def days_total(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class CampaignTarget(models.Model):
    """One unit's target in a campaign: its unit of responsibility, with the check-ins' roll-up."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=2)
    first_period_start = models.DateField()
    last_period_start = models.DateField(null=True, blank=True)
    last_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    checkins = models.PositiveIntegerField(default=0)
    late_checkins = models.PositiveIntegerField(default=0)

    scope_resource = "plans.assignment"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["campaign_id", "unit__path"]
        constraints = [models.UniqueConstraint(fields=["campaign", "unit"], name="plans_ctarget_unique")]

    def __str__(self) -> str:
        return f"{self.campaign} @ {self.unit}"

    @property
    def task(self):  # plans.status reads the schedule from ``task``
        return self.campaign

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class CampaignCheckIn(models.Model):
    """A unit's report on its campaign target for one day or week: the value reached so far."""

    target = models.ForeignKey(CampaignTarget, on_delete=models.CASCADE, related_name="checkin_set")
    at = models.DateTimeField(_("reported at"))
    period_start = models.DateField(_("period"))
    due_at = models.DateTimeField(_("due"))
    late = models.BooleanField(_("late"), default=False)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    note = models.TextField(_("status note"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    by_name = models.CharField(max_length=150, blank=True)

    scope_resource = "plans.assignment"
    scope_path_field = "target__unit__path"
    scope_unit_field = "target__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target", "at"], name="plans_ccheckin_t_at")]

    def __str__(self) -> str:
        return f"{self.target_id} @ {self.at:%Y-%m-%d}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.target.unit


class CampaignEscalation(models.Model):
    """The loop matter opened for a unit's missing campaign check-in; unique per (target, due_key)
    (``p<period>`` for a weekly campaign, ``w<monday>`` for a daily one: at most one a week)."""

    target = models.ForeignKey(CampaignTarget, on_delete=models.CASCADE, related_name="escalations")
    due_key = models.CharField(max_length=24)
    period_start = models.DateField()
    matter_id = models.IntegerField(null=True, blank=True)
    opened_at = models.DateTimeField()

    scope_resource = "plans.assignment"
    scope_path_field = "target__unit__path"
    scope_unit_field = "target__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["target", "due_key"], name="plans_cesc_unique")]

    def __str__(self) -> str:
        return f"{self.target_id}:{self.due_key} → {self.matter_id}"


# --- key projects and key enterprises (重点项目、重点企业) ------------------------------------------

class ProjectLevel(models.TextChoices):
    PROVINCIAL = "provincial", _("provincial")
    CITY = "city", _("city")
    COUNTY = "county", _("county")


class KeyProject(models.Model):
    """A key project (重点项目) led by a unit: investment plan by month vs. actual, milestones."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("lead unit"))
    year = models.PositiveSmallIntegerField(_("year"))
    name = models.CharField(_("name"), max_length=120)
    level = models.CharField(_("level"), max_length=10, choices=ProjectLevel.choices, default=ProjectLevel.COUNTY)
    official = models.CharField(_("responsible official"), max_length=60, blank=True)
    total_investment = models.DecimalField(_("total investment (10k yuan)"), max_digits=14, decimal_places=2,
                                           null=True, blank=True)
    start_planned = models.DateField(_("construction start (planned)"), null=True, blank=True)
    start_actual = models.DateField(_("construction start (actual)"), null=True, blank=True)
    production_planned = models.DateField(_("production start (planned)"), null=True, blank=True)
    production_actual = models.DateField(_("production start (actual)"), null=True, blank=True)
    completion_planned = models.DateField(_("completion (planned)"), null=True, blank=True)
    completion_actual = models.DateField(_("completion (actual)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    version = models.PositiveIntegerField(default=1)

    scope_resource = "plans.project"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-year", "unit__path", "name"]
        constraints = [models.UniqueConstraint(fields=["year", "name"], name="plans_project_year_name")]
        verbose_name = _("key project")
        verbose_name_plural = _("key projects")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class ProjectMonth(models.Model):
    """A project's planned investment for one month and the actual reported for it (万元)."""

    project = models.ForeignKey(KeyProject, on_delete=models.CASCADE, related_name="months")
    month = models.DateField(_("month"))  # the first day
    planned = models.DecimalField(_("planned"), max_digits=14, decimal_places=2, default=0)
    actual = models.DecimalField(_("actual"), max_digits=14, decimal_places=2, null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "month"]
        constraints = [models.UniqueConstraint(fields=["project", "month"], name="plans_pmonth_unique")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.month:%Y-%m}"


class EnterpriseGroup(models.Model):
    """A list of key enterprises the city keeps (十强产业, 四新经济, 规上服务业 …)."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    seq = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["seq", "id"]

    def __str__(self) -> str:
        return self.name


class KeyEnterprise(models.Model):
    """A key enterprise (重点企业) and the unit and officials linked to it (包保)."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("linked unit"))
    group = models.ForeignKey(EnterpriseGroup, on_delete=models.PROTECT, related_name="enterprises",
                              verbose_name=_("list"))
    name = models.CharField(_("name"), max_length=120)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    industry = models.CharField(_("industry"), max_length=60, blank=True)
    officials = models.CharField(_("linked officials (包保)"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))

    scope_resource = "plans.enterprise"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["group__seq", "unit__path", "name"]
        verbose_name = _("key enterprise")
        verbose_name_plural = _("key enterprises")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class EnterpriseDemand(models.Model):
    """An enterprise's demand sent into the loop as a matter addressed to its linked unit."""

    enterprise = models.ForeignKey(KeyEnterprise, on_delete=models.CASCADE, related_name="demands")
    title = models.CharField(max_length=120)
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id (the loop owns it)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "plans.enterprise"
    scope_path_field = "enterprise__unit__path"
    scope_unit_field = "enterprise__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
