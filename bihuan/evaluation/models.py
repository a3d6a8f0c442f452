"""Evaluation (结果评估): indicator sets, assessment runs, stars and rankings; household credit
points (信用积分) and the points store (积分超市).

* ``IndicatorSet`` — per period kind (quarter, half-year, year) and target kind (township,
  village/community, party organisation), owned by the unit that assesses; its ``Indicator`` rows
  are weighted (weights sum to 100): automatic (a ``core.registry`` source by name, scored
  linearly between a floor and a target) or manual (scored 0–100 by an assessor, approved by a
  second person).
* ``Run`` — one assessment of a set over one period (a date range): one ``Result`` per target
  with one ``Line`` per indicator, the inputs recorded (set snapshot, ``now``, source values), so a
  result can be explained line by line. Published → notice period (公示) → frozen; a correction is
  a new version (``supersedes``) with a reason, never a silent recomputation.
* Points: ``PointRule`` (catalogue), ``PointEntry`` (append-only ledger), ``PointAccount`` (the
  balance, changed only together with a ledger entry, ``CHECK balance >= 0``), ``StoreItem`` and
  ``Redemption``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q, Subquery
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q, units_q
from bihuan.orgs.models import OrgUnit, PartyOrg


class PeriodKind(models.TextChoices):
    QUARTER = "quarter", _("quarter")
    HALF = "half", _("half-year")
    YEAR = "year", _("year")


class TargetKind(models.TextChoices):
    TOWNSHIP = "township", _("townships")
    VILLAGE = "village", _("villages and communities")
    PARTY_ORG = "party_org", _("party branches")


class PeerGroup(models.TextChoices):
    TOWNSHIP = "township", _("townships")
    VILLAGE = "village", _("villages")
    COMMUNITY = "community", _("communities")
    PARTY_ORG = "party_org", _("party branches")


class IndicatorKind(models.TextChoices):
    AUTO = "auto", _("automatic (source)")
    MANUAL = "manual", _("manual (assessor)")
    DEDUCT = "deduct", _("deduction per incident")
    VETO = "veto", _("veto (一票否决)")


# Kinds that carry no weight: they only take points away (deduct) or cap the stars (veto).
PENALTY_KINDS = (IndicatorKind.DEDUCT, IndicatorKind.VETO)


class Direction(models.TextChoices):
    HIGHER = "higher", _("higher is better")
    LOWER = "lower", _("lower is better")


# --- h-eval2: rank-based scoring rule (issue 13 item 1) ---
class ScoringRule(models.TextChoices):
    LINEAR = "linear", _("linear from floor to target")
    RANK = "rank", _("rank within the peer group")
# --- end h-eval2 ---


class StarMode(models.TextChoices):
    THRESHOLDS = "thresholds", _("score thresholds")
    QUOTA = "quota", _("thresholds with a quota for five stars")


class RunState(models.TextChoices):
    COMPUTED = "computed", _("computed (not published)")
    PUBLISHED = "published", _("published (public notice)")
    FROZEN = "frozen", _("frozen")
    SUPERSEDED = "superseded", _("superseded by a correction")


PUBLIC_STATES = (RunState.PUBLISHED, RunState.FROZEN)


class ScoreState(models.TextChoices):
    ENTERED = "entered", _("entered, awaiting approval")
    APPROVED = "approved", _("approved")


class IndicatorSetQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Sets of units in scope (``evaluation.set.<action>``), and, to view, the sets of units above
        that assess one's subtree (a township's assessors see the city's set for villages)."""
        if user is None:
            return self.none()
        perm = f"evaluation.set.{action}"
        scope = scope_for(user, perm)
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "unit__path", "unit_id")
        if own is None:
            return self
        if action != "view":
            return self.filter(own)
        below = OrgUnit.objects.filter(units_q(user, perm)).filter(path__startswith=models.OuterRef("unit__path"))
        return self.filter(own | models.Exists(below))


class IndicatorSet(models.Model):
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("assessing unit"))
    name = models.CharField(_("name"), max_length=120)
    period_kind = models.CharField(_("period"), max_length=8, choices=PeriodKind.choices)
    target_kind = models.CharField(_("targets"), max_length=10, choices=TargetKind.choices)
    star_mode = models.CharField(_("stars"), max_length=10, choices=StarMode.choices, default=StarMode.THRESHOLDS)
    # Minimum score for 5, 4, 3 and 2 stars (below the last: 1 star).
    star_thresholds = models.JSONField(default=list)
    five_star_quota = models.PositiveSmallIntegerField(_("five-star quota (% of the peer group)"), default=10)
    notice_days = models.PositiveSmallIntegerField(_("public notice (working days)"), default=5)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()

    scope_resource = "evaluation.set"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(IndicatorSetQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="evaluation_set_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class Indicator(models.Model):
    set = models.ForeignKey(IndicatorSet, on_delete=models.CASCADE, related_name="indicators")
    seq = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=6, choices=IndicatorKind.choices)
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2)
    source = models.CharField(_("source"), max_length=60, blank=True)
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices, default=Direction.HIGHER)
    floor = models.DecimalField(_("floor (no points)"), max_digits=12, decimal_places=2, null=True, blank=True)
    target = models.DecimalField(_("target (full points)"), max_digits=12, decimal_places=2, null=True, blank=True)
    # h-eval2: automatic indicators score linearly (floor → target) or by rank within the peer group.
    rule = models.CharField(_("scoring rule"), max_length=6, choices=ScoringRule.choices, default=ScoringRule.LINEAR)
    # Manual indicators: the unit whose assessor enters the score (empty: the target's parent unit).
    assessor_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("assessor unit"))
    # Deductions: points off per approved incident, at most ``max_penalty`` (empty: no cap).
    penalty = models.DecimalField(_("points off per incident"), max_digits=6, decimal_places=2, null=True,
                                  blank=True)
    max_penalty = models.DecimalField(_("at most (points off)"), max_digits=6, decimal_places=2, null=True,
                                      blank=True)
    # Vetoes (一票否决): one approved incident caps the target's stars at this many.
    star_cap = models.PositiveSmallIntegerField(_("stars at most after a veto"), null=True, blank=True)

    class Meta:
        ordering = ["set_id", "seq", "id"]
        constraints = [models.UniqueConstraint(fields=["set", "name"], name="evaluation_indicator_name_unique")]

    def __str__(self) -> str:
        return self.name


class RunQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A run is seen where its set's unit is in scope (``evaluation.run.<action>``); a unit
        below sees the published runs that have a result in its scope (``evaluation.result.view``)."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"evaluation.run.{action}")
        own = None if scope.empty else unit_scope_q(scope, "set__unit__path", "set__unit_id")
        if own is None and not scope.empty:
            return self
        if action != "view":
            return self.filter(own) if own is not None else self.none()
        mine = Result.objects.restrict(user, "view").filter(run=models.OuterRef("pk"))
        public = Q(state__in=PUBLIC_STATES) & models.Exists(mine)
        return self.filter(public | own) if own is not None else self.filter(public)


class Run(models.Model):
    set = models.ForeignKey(IndicatorSet, on_delete=models.PROTECT, related_name="runs")
    period = models.CharField(_("period"), max_length=8)  # 2026H1, 2026Q3, 2026
    start = models.DateField(_("from"))
    end = models.DateField(_("until (exclusive)"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="superseded_by")
    reason = models.CharField(_("reason for the correction"), max_length=500, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=RunState.choices, default=RunState.COMPUTED)
    computed_at = models.DateTimeField(_("computed at"))  # the run's "now": sources are read as of it
    computed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    inputs = models.JSONField(default=dict)  # the set as it was (indicators, rules, stars)
    targets = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)  # targets without a complete score
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    notice_until = models.DateField(_("public notice until"), null=True, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)

    scope_resource = "evaluation.run"
    scope_path_field = "set__unit__path"
    scope_unit_field = "set__unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(RunQuerySet)()

    class Meta:
        ordering = ["-start", "-version", "-id"]
        constraints = [models.UniqueConstraint(fields=["set", "period", "version"], name="evaluation_run_unique")]

    def __str__(self) -> str:
        return f"{self.set.name} {self.period} v{self.version}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.set.unit

    @property
    def public(self) -> bool:
        return self.state in PUBLIC_STATES


class ResultQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Results of units in scope (``evaluation.result.<action>``), and, to view, the published
        results of the peers of a unit in scope (the same parent): a village sees its own result
        and its peer group's published ranking, never others' unpublished ones."""
        if user is None:
            return self.none()
        perm = f"evaluation.result.{action}"
        scope = scope_for(user, perm)
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "unit__path", "unit_id")
        if own is None:
            return self
        if action != "view":
            return self.filter(own)
        parents = OrgUnit.objects.filter(units_q(user, perm)).values("parent_id")
        return self.filter(own | Q(run__state__in=PUBLIC_STATES, unit__parent_id__in=Subquery(parents)))


class Result(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    party_org = models.ForeignKey(PartyOrg, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("target"), max_length=120)
    peer_group = models.CharField(_("peer group"), max_length=10, choices=PeerGroup.choices)
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2, null=True, blank=True)
    stars = models.PositiveSmallIntegerField(_("stars"), null=True, blank=True)
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    peers = models.PositiveIntegerField(default=0)
    previous_rank = models.PositiveIntegerField(null=True, blank=True)
    star_cap = models.PositiveSmallIntegerField(_("stars at most (veto)"), null=True, blank=True)

    scope_resource = "evaluation.result"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(ResultQuerySet)()

    class Meta:
        ordering = ["run_id", "peer_group", "rank", "unit__path"]
        constraints = [models.UniqueConstraint(fields=["run", "unit", "party_org"], name="evaluation_result_unique")]
        indexes = [models.Index(fields=["unit", "run"], name="evaluation_result_unit")]

    def __str__(self) -> str:
        return f"{self.name}: {self.score}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def change(self) -> int | None:
        """Places gained since the last period (+3 is ↑3), None when not ranked then."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


class Line(models.Model):
    """One indicator of one result: the source value (or manual score) and the points it gave."""

    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="lines")
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="+")
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    note = models.CharField(max_length=20, blank=True)  # no_basis | missing | awaiting_approval

    class Meta:
        ordering = ["result_id", "indicator__seq"]
        constraints = [models.UniqueConstraint(fields=["result", "indicator"], name="evaluation_line_unique")]

    def __str__(self) -> str:
        return f"{self.result_id}:{self.indicator_id} = {self.points}"



class TwoPersonRecord(models.Model):
    """What a manual score and an incident share: a unit and a period, entered by one assessor and
    approved by another (``services.runs.approve_record``), in the score permissions' scope."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    period = models.CharField(max_length=8)
    state = models.CharField(max_length=8, choices=ScoreState.choices, default=ScoreState.ENTERED)
    entered_at = models.DateTimeField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    scope_resource = "evaluation.score"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        abstract = True

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class ManualScore(TwoPersonRecord):
    """A manual indicator's score (0–100) for one target and period: entered, then approved by another."""

    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="scores")
    value = models.DecimalField(_("score"), max_digits=5, decimal_places=2)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    evidence = models.CharField(_("evidence"), max_length=200, blank=True)

    class Meta:
        ordering = ["indicator_id", "unit__path"]
        constraints = [models.UniqueConstraint(fields=["indicator", "unit", "period"], name="evaluation_score_unique")]

    def __str__(self) -> str:
        return f"{self.indicator_id}@{self.unit_id} {self.period}: {self.value}"


class Incident(TwoPersonRecord):
    """An incident behind a deduction or a veto (一票否决): recorded by an assessor with evidence,
    approved by another person (like a manual score); only approved incidents count."""

    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="incidents")
    occurred_on = models.DateField(_("occurred on"))
    description = models.CharField(_("what happened"), max_length=500)
    evidence = models.CharField(_("evidence"), max_length=200)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["indicator", "period", "unit"], name="evaluation_incident_period")]

    def __str__(self) -> str:
        return f"{self.indicator_id}@{self.unit_id} {self.occurred_on}"


class Objection(models.Model):
    """A unit's objection to its published result: one loop matter for the assessing unit (once per result)."""

    result = models.OneToOneField(Result, on_delete=models.CASCADE, related_name="objection")
    reason = models.CharField(_("reason"), max_length=1000)
    lodged_at = models.DateTimeField()
    lodged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    matter_id = models.IntegerField(null=True, blank=True)  # loop.Matter, by id (the loop owns it)

    scope_resource = "evaluation.result"
    scope_path_field = "result__unit__path"
    scope_unit_field = "result__unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-lodged_at", "-id"]

    def __str__(self) -> str:
        return f"objection to {self.result_id}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.result.unit


# --- household credit points (信用积分) and the points store (积分超市) -------------------------

class PointRule(models.Model):
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("defined by"))
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("behaviour"), max_length=80)
    points = models.IntegerField(_("points"))
    cap_per_year = models.PositiveIntegerField(_("cap per household and year (points)"), null=True, blank=True)
    approval_above = models.PositiveIntegerField(_("approval needed above (points)"), null=True, blank=True)
    active = models.BooleanField(default=True)
    # points2: awarded automatically by the job evaluation.points_auto from this source (blank: manual).
    auto = models.CharField(_("automatic"), max_length=20, blank=True, default="",
                            choices=[("", _("manual")),
                                     ("care.hours", _("automatic: approved volunteer hours (points per hour)"))])

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path", "code"]
        constraints = [models.UniqueConstraint(fields=["unit", "code"], name="evaluation_rule_code_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class EntryKind(models.TextChoices):
    AWARD = "award", _("award")
    DEDUCT = "deduct", _("deduction")
    REDEEM = "redeem", _("redemption")
    REVERSAL = "reversal", _("reversal")
    EXPIRE = "expire", _("expiry")


class EntryState(models.TextChoices):
    PENDING = "pending", _("awaiting approval")
    POSTED = "posted", _("posted")


class PointAccount(models.Model):
    """A household's balance: written only with a ledger entry, in the same transaction."""

    household = models.OneToOneField("people.Household", on_delete=models.PROTECT, related_name="+", primary_key=True)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")  # the household's unit
    balance = models.IntegerField(default=0)

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="evaluation_balance_not_negative")]
        indexes = [models.Index(fields=["unit", "balance"], name="evaluation_account_rank")]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.balance}"



class PointEntry(models.Model):
    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    state = models.CharField(max_length=8, choices=EntryState.choices, default=EntryState.POSTED)
    points = models.IntegerField(_("points"))
    rule = models.ForeignKey(PointRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    note = models.CharField(_("note"), max_length=200, blank=True)
    evidence = models.CharField(_("evidence"), max_length=200, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # An expiry entry: the year whose unspent points it takes (once per household and year).
    expiry_of = models.PositiveSmallIntegerField(null=True, blank=True)

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["household", "at"], name="evaluation_entry_household")]
        constraints = [models.UniqueConstraint(fields=["household", "expiry_of"], condition=Q(expiry_of__isnull=False),
                                               name="evaluation_expiry_once")]

    def __str__(self) -> str:
        return f"{self.household_id} {self.points:+d}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class StoreItem(models.Model):
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("village"))
    name = models.CharField(_("item"), max_length=80)
    price = models.PositiveIntegerField(_("price (points)"))
    stock = models.IntegerField(_("stock"), default=0)
    active = models.BooleanField(default=True)

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path", "name"]
        constraints = [models.CheckConstraint(condition=Q(stock__gte=0), name="evaluation_stock_not_negative"),
                       models.UniqueConstraint(fields=["unit", "name"], name="evaluation_item_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class Redemption(models.Model):
    receipt = models.CharField(_("receipt"), max_length=20, unique=True)
    item = models.ForeignKey(StoreItem, on_delete=models.PROTECT, related_name="redemptions")
    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(default=1)
    points = models.PositiveIntegerField()
    entry = models.OneToOneField(PointEntry, on_delete=models.PROTECT, related_name="redemption")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.receipt

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


# --- selections (评选): 先锋, 优秀书记, 先进党组织 ------------------------------------------------

class SelectionKind(models.TextChoices):
    VANGUARD = "vanguard", _("vanguard party members (先锋)")
    SECRETARY = "secretary", _("excellent secretaries (优秀书记)")
    ORGANISATION = "org", _("advanced party organisations (先进党组织)")


class SelectionState(models.TextChoices):
    NOMINATING = "nominating", _("taking nominations")
    PUBLICISED = "publicised", _("public notice (公示)")
    NAMED = "named", _("named")


class NominationState(models.TextChoices):
    NOMINATED = "nominated", _("nominated, awaiting review")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("not accepted")
    NAMED = "named", _("named")


class SelectionRoundQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Rounds of units in scope (``evaluation.selection.<action>``) and, to view or nominate, the
        rounds of units above one's subtree (a village sees the city's round and nominates to it)."""
        if user is None:
            return self.none()
        perm = f"evaluation.selection.{action}"
        scope = scope_for(user, perm)
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "unit__path", "unit_id")
        if own is None:
            return self
        if action == "manage":
            return self.filter(own)
        below = OrgUnit.objects.filter(units_q(user, perm)).filter(path__startswith=models.OuterRef("unit__path"))
        return self.filter(own | models.Exists(below))


class SelectionRound(models.Model):
    """A selection round (评选) of a unit: a kind, a quota, nominations until a day, review, a public
    notice (公示) of the accepted, then those named with their citation."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("selecting unit"))
    kind = models.CharField(_("kind"), max_length=10, choices=SelectionKind.choices)
    name = models.CharField(_("name"), max_length=120)
    quota = models.PositiveIntegerField(_("quota"))
    nominate_until = models.DateField(_("nominations until"))
    notice_days = models.PositiveSmallIntegerField(_("public notice (working days)"), default=5)
    state = models.CharField(_("state"), max_length=10, choices=SelectionState.choices,
                             default=SelectionState.NOMINATING)
    created_at = models.DateTimeField()
    publicised_at = models.DateTimeField(null=True, blank=True)
    notice_until = models.DateField(_("public notice until"), null=True, blank=True)
    named_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    scope_resource = "evaluation.selection"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(SelectionRoundQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["unit", "name"], name="evaluation_selection_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class Nomination(models.Model):
    """A unit's nominee for a round: a party member (先锋, 优秀书记, by name) or a party organisation."""

    round = models.ForeignKey(SelectionRound, on_delete=models.PROTECT, related_name="nominations")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("nominating unit"))
    nominee = models.CharField(_("nominee"), max_length=120)
    party_org = models.ForeignKey(PartyOrg, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("party organisation"))
    deeds = models.CharField(_("deeds"), max_length=1000)
    state = models.CharField(_("state"), max_length=10, choices=NominationState.choices,
                             default=NominationState.NOMINATED)
    citation = models.CharField(_("citation"), max_length=500, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    nominated_at = models.DateTimeField()
    nominated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    scope_resource = "evaluation.selection"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["round_id", "unit__path", "id"]
        constraints = [models.UniqueConstraint(fields=["round", "unit", "nominee"],
                                               name="evaluation_nomination_unique")]
        indexes = [models.Index(fields=["round", "state"], name="evaluation_nomination_state")]

    def __str__(self) -> str:
        return f"{self.nominee} ({self.round_id})"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


# --- points2: automatic awards and the resident's balance link (issue 13 item 6) ------------------

class PointAutoAward(models.Model):
    """One row per source record (e.g. an approved volunteer service record) that an automatic rule
    has handled: the unique key makes the award happen once, also under concurrent job runs."""

    source = models.CharField(max_length=20)
    source_id = models.BigIntegerField()
    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(PointRule, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(PointEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=10)  # awarded / capped (nothing left under the cap)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="evaluation_auto_award_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id} {self.outcome}"


def new_points_token() -> str:
    return secrets.token_urlsafe(18)


class PointLink(models.Model):
    """A household's shareable balance link (/evaluation/points/my/<token>/), no account needed."""

    household = models.OneToOneField("people.Household", on_delete=models.CASCADE, related_name="+",
                                     primary_key=True)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=32, unique=True, default=new_points_token)
    created_at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    scope_resource = "evaluation.points"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    def __str__(self) -> str:
        return f"{self.household_id}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit
