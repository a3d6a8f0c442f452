"""Care for vulnerable residents (一对一帮扶): needs surveys, care plans, paired helpers, visits.

* ``Survey`` — 摸排: what a grid worker found about one resident (living situation, a self-care
  checklist with a derived level, income support, needs, an emergency contact, a risk level).
  Health notes and the contact's phone are personal data: encrypted (``core.protect``), the
  phone also kept masked for lists.
* ``CarePlan`` → ``CareService`` — a resident's plan and its services, each with an RFC 5545
  recurrence (``care.recurrence``), a time window and a named helper with a backup.
* ``Visit`` — one occurrence of a service on one day, generated for that day only
  (``care.services.generate``, idempotent: unique (service, starts_at)). Whether it is due, late
  or missed is derived from its window, its check-in and ``now`` (``care.status``); the sweep only
  opens loop matters and notifies.

Scope: surveys and plans belong to the resident's unit; a visit also to its helper and backup —
a volunteer bound with "self" scope sees only the visits they are paired to.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q
from bihuan.orgs.models import OrgUnit
from bihuan.people.models import Person


class Living(models.TextChoices):
    ALONE = "alone", _("living alone (独居)")
    EMPTY_NEST = "empty_nest", _("empty nest (空巢)")
    LEFT_BEHIND = "left_behind", _("left behind (留守)")
    CHILDLESS = "childless", _("widowed and childless (孤寡)")
    FAMILY = "family", _("with family")


class Support(models.TextChoices):
    NONE = "none", _("none")
    DIBAO = "dibao", _("minimum living allowance (低保)")
    TEKUN = "tekun", _("extreme hardship support (特困)")


class Risk(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")


class SelfCare(models.TextChoices):
    """Derived from the checklist (``Survey.self_care``), never stored."""

    ABLE = "able", _("self-reliant")
    PARTIAL = "partial", _("partly dependent")
    DEPENDENT = "dependent", _("dependent")


# The self-care checklist: "needs help with …" (a short ADL list).
CHECKLIST = (
    ("help_eating", _("eating")),
    ("help_dressing", _("dressing")),
    ("help_bathing", _("bathing")),
    ("help_toilet", _("using the toilet")),
    ("help_moving", _("moving about")),
    ("help_medicine", _("taking medicine")),
)
NEEDS = (
    ("need_meals", _("meals")),
    ("need_visits", _("visits")),
    ("need_cleaning", _("cleaning")),
    ("need_medicine", _("medicine")),
    ("need_repairs", _("repairs")),
)


def self_care_level(help_count: int) -> str:
    """0 items → self-reliant, 1–2 → partly dependent, 3 or more → dependent."""
    if help_count <= 0:
        return SelfCare.ABLE
    return SelfCare.PARTIAL if help_count <= 2 else SelfCare.DEPENDENT


class Survey(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    surveyed_on = models.DateField(_("surveyed on"))
    living = models.CharField(_("living situation"), max_length=12, choices=Living.choices)
    help_eating = models.BooleanField(default=False)
    help_dressing = models.BooleanField(default=False)
    help_bathing = models.BooleanField(default=False)
    help_toilet = models.BooleanField(default=False)
    help_moving = models.BooleanField(default=False)
    help_medicine = models.BooleanField(default=False)
    income_support = models.CharField(_("income support"), max_length=8, choices=Support.choices,
                                      default=Support.NONE)
    need_meals = models.BooleanField(default=False)
    need_visits = models.BooleanField(default=False)
    need_cleaning = models.BooleanField(default=False)
    need_medicine = models.BooleanField(default=False)
    need_repairs = models.BooleanField(default=False)
    # Health notes identify a condition (PIPL art. 28): encrypted, read with care.survey.health.
    health_enc = models.TextField(blank=True, default="", editable=False)
    contact_name = models.CharField(_("emergency contact"), max_length=50, blank=True, default="")
    contact_relation = models.CharField(_("relation"), max_length=20, blank=True, default="")
    contact_phone_enc = models.TextField(blank=True, default="", editable=False)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=24, blank=True, default="",
                                            editable=False)
    risk = models.CharField(_("risk level"), max_length=8, choices=Risk.choices, default=Risk.LOW)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "care.survey"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-surveyed_on", "-id"]
        indexes = [models.Index(fields=["person", "surveyed_on"], name="care_survey_person_on"),
                   models.Index(fields=["unit", "surveyed_on"], name="care_survey_unit_on")]
        verbose_name = _("needs survey")
        verbose_name_plural = _("needs surveys")

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.surveyed_on}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def help_count(self) -> int:
        return sum(1 for f, _label in CHECKLIST if getattr(self, f))

    @property
    def self_care(self) -> str:
        return self_care_level(self.help_count)

    def get_self_care_display(self) -> str:
        return str(SelfCare(self.self_care).label)

    @property
    def needs_list(self) -> list[str]:
        return [str(label) for f, label in NEEDS if getattr(self, f)]

    @property
    def help_list(self) -> list[str]:
        return [str(label) for f, label in CHECKLIST if getattr(self, f)]


class CarePlan(models.Model):
    """A resident's care plan: the services below, from a start date (until an end date)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "care.plan"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["person"], name="care_plan_person")]
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")

    def __str__(self) -> str:
        return f"{self.person_id}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class ServiceKind(models.TextChoices):
    MEAL = "meal", _("meal delivery")
    VISIT = "visit", _("visit")
    CLEANING = "cleaning", _("cleaning")
    HEALTH = "health", _("health check")
    REPAIR = "repair", _("repairs")


class CareService(models.Model):
    """One recurring service of a plan (lunch 11:00–12:30 every day), paired one-to-one."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="services")
    kind = models.CharField(_("service"), max_length=10, choices=ServiceKind.choices)
    label = models.CharField(_("label"), max_length=40, blank=True, default="")
    rrule = models.CharField(_("recurrence (RFC 5545)"), max_length=300)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    window_start = models.TimeField(_("from"))
    window_end = models.TimeField(_("until"))
    # Users are deactivated, not deleted; if one is deleted, the service waits for a new pairing.
    helper = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("helper"))
    backup = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("backup helper"))
    version = models.PositiveIntegerField(default=1)

    scope_resource = "care.plan"
    scope_path_field = "plan__unit__path"
    scope_unit_field = "plan__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["plan_id", "window_start", "id"]
        verbose_name = _("care service")
        verbose_name_plural = _("care services")

    def __str__(self) -> str:
        return self.label or self.get_kind_display()

    @property
    def audit_unit(self) -> OrgUnit:
        return self.plan.unit


class Outcome(models.TextChoices):
    DONE = "done", _("done")
    NOT_HOME = "not_home", _("resident not home")
    UNWELL = "unwell", _("resident unwell")
    REFUSED = "refused", _("refused")


class VisitQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Visits in the user's units, or — for a "self" binding (a volunteer) — the visits the
        user is the helper or the backup of. Default deny."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"care.visit.{action}")
        if scope.empty:
            return self.none()
        if scope.user_id is None:
            q = unit_scope_q(scope, "unit__path", "unit_id")
            return self if q is None else self.filter(q)
        # A "self" binding also puts its own unit in ``unit_ids`` (one sees the unit one is bound
        # to); for visits that would be the whole village's round, so here it means own visits only.
        units = unit_scope_q(replace(scope, unit_ids=frozenset(), user_id=None), "unit__path", "unit_id")
        if units is None:
            return self
        return self.filter(units | Q(helper_id=scope.user_id) | Q(backup_id=scope.user_id))


def photo_path(instance, filename: str) -> str:
    return f"care/{instance.day:%Y/%m}/{secrets.token_hex(8)}-{filename[-60:]}"


class Visit(models.Model):
    """One occurrence of a service on ``day``: its window, its helpers, and (once) its check-in."""

    service = models.ForeignKey(CareService, on_delete=models.CASCADE, related_name="visits", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", db_index=False)
    helper = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                               db_index=False)
    backup = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", db_index=False)
    kind = models.CharField(max_length=10, choices=ServiceKind.choices)
    day = models.DateField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    late = models.BooleanField(default=False)
    note = models.CharField(max_length=500, blank=True, default="")
    photo = models.FileField(upload_to=photo_path, max_length=255, blank=True, default="")
    photo_type = models.CharField(max_length=40, blank=True, default="")
    # Set once by the sweep (missed) or the check-in (unwell): the loop matter opened for it.
    escalated_at = models.DateTimeField(null=True, blank=True)
    matter_id = models.IntegerField(null=True, blank=True)

    scope_resource = "care.visit"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = "helper_id"
    objects = ScopedManager.from_queryset(VisitQuerySet)()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.UniqueConstraint(fields=["service", "starts_at"], name="care_visit_unique")]
        indexes = [
            models.Index(fields=["unit", "day"], name="care_visit_unit_day"),
            models.Index(fields=["helper", "day", "starts_at"], name="care_visit_helper_day"),
            models.Index(fields=["backup", "day"], name="care_visit_backup_day"),
            models.Index(fields=["day", "ends_at"], name="care_visit_open",
                         condition=Q(outcome="", escalated_at__isnull=True)),
        ]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"{self.service_id} @ {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class HelperKind(models.TextChoices):
    VOLUNTEER = "volunteer", _("volunteer")
    PARTY_MEMBER = "party_member", _("party member")
    GRID_WORKER = "grid_worker", _("grid worker")


class Helper(models.Model):
    """A named helper: a person of the unit with a user account, who can be paired to services."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_helper")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("helper"), max_length=12, choices=HelperKind.choices)
    created_at = models.DateTimeField()

    scope_resource = "care.plan"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit_id", "id"]
        verbose_name = _("helper")
        verbose_name_plural = _("helpers")

    def __str__(self) -> str:
        return self.person.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class VolunteerTeam(models.Model):
    """志愿服务队: a team under a unit (平时服务、战时应急), led by a user who approves its hours."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    name = models.CharField(_("team name"), max_length=60)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("team lead"))
    created_at = models.DateTimeField()

    scope_resource = "care.team"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="care_team_name_unique")]
        verbose_name = _("volunteer team")
        verbose_name_plural = _("volunteer teams")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class TeamMember(models.Model):
    team = models.ForeignKey(VolunteerTeam, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    joined_on = models.DateField()

    class Meta:
        ordering = ["team_id", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "person"], name="care_member_unique")]

    def __str__(self) -> str:
        return f"{self.team_id}:{self.person_id}"


class RecordStatus(models.TextChoices):
    PENDING = "pending", _("pending approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class ServiceRecord(models.Model):
    """Hours of service by one member: a care check-in (counted automatically, one per visit) or
    other service entered with hours; pending until the team lead approves it."""

    team = models.ForeignKey(VolunteerTeam, on_delete=models.CASCADE, related_name="records")
    member = models.ForeignKey(TeamMember, on_delete=models.CASCADE, related_name="records")
    day = models.DateField(_("date"))
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=2)
    description = models.CharField(_("service"), max_length=200)
    visit = models.OneToOneField(Visit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.PENDING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "care.team"
    scope_path_field = "team__unit__path"
    scope_unit_field = "team__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-day", "-id"]
        indexes = [models.Index(fields=["member", "status"], name="care_record_member"),
                   models.Index(fields=["team", "day"], name="care_record_team_day")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day} {self.hours}h"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.team.unit


# --- canteens (幸福食堂) ---------------------------------------------------------------------------

class Meal(models.TextChoices):
    BREAKFAST = "breakfast", _("breakfast")
    LUNCH = "lunch", _("lunch")
    DINNER = "dinner", _("dinner")


class MealMode(models.TextChoices):
    EAT_IN = "eat_in", _("eat in")
    DELIVERED = "delivered", _("delivered")


class Canteen(models.Model):
    """幸福食堂: a canteen for the elderly at a village or community; it serves the residents of
    that unit's subtree whose care plan has a meal service (and other diners, counted)."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    name = models.CharField(_("canteen name"), max_length=60)
    address = models.CharField(_("address"), max_length=200, blank=True, default="")
    seats = models.PositiveSmallIntegerField(_("seats"), default=0)
    eat_in = models.BooleanField(_("eat in"), default=True)
    delivery = models.BooleanField(_("delivery"), default=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "care.canteen"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="care_canteen_name_unique")]
        verbose_name = _("canteen")
        verbose_name_plural = _("canteens")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def modes(self) -> list[str]:
        return [m for m, on in ((MealMode.EAT_IN, self.eat_in), (MealMode.DELIVERED, self.delivery)) if on]


class MealServed(models.Model):
    """One meal served to a resident under a care plan: once per resident, day and meal."""

    canteen = models.ForeignKey(Canteen, on_delete=models.CASCADE, related_name="meals", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    visit = models.ForeignKey(Visit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    day = models.DateField()
    meal = models.CharField(max_length=10, choices=Meal.choices)
    mode = models.CharField(max_length=10, choices=MealMode.choices)
    served_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", db_index=False)

    scope_resource = "care.canteen"
    scope_path_field = "canteen__unit__path"
    scope_unit_field = "canteen__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["day", "meal", "id"]
        constraints = [models.UniqueConstraint(fields=["person", "day", "meal"], name="care_meal_once")]
        indexes = [models.Index(fields=["canteen", "day"], name="care_meal_canteen_day")]
        verbose_name = _("meal served")
        verbose_name_plural = _("meals served")

    def __str__(self) -> str:
        return f"{self.person_id} {self.day} {self.meal}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.canteen.unit


class CanteenDay(models.Model):
    """Diners of a day who are not under a care plan (a count, no names)."""

    canteen = models.ForeignKey(Canteen, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    other_diners = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)

    class Meta:
        ordering = ["canteen_id", "day"]
        constraints = [models.UniqueConstraint(fields=["canteen", "day"], name="care_canteen_day_unique")]

    def __str__(self) -> str:
        return f"{self.canteen_id} {self.day}: {self.other_diners}"
