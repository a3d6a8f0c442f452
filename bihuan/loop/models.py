"""The loop (闭环): matters, their categories and routing, events, reminders, ratings.

Models are thin. Every change of a matter goes through ``loop.services``; every derived value
(light, overdue, remaining working time) is computed by ``loop.selectors`` from the deadlines
stored here and ``now``.

Deadlines (``accept_due_at``, ``warn_at``, ``due_at``) and milestone times (``dispatched_at``,
``accepted_at``, ``reported_at``, ``closed_at``) are written by the service that performs the
event they come from, in the same transaction as the event, so they are facts, not flags.
"""

from __future__ import annotations

import secrets
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.protect import mask_phone
from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q
from bihuan.orgs.models import OrgUnit


class Kind(models.TextChoices):
    PROBLEM = "problem", _("problem")
    DEMAND = "demand", _("demand")
    TASK = "task", _("task")
    PROPOSAL = "proposal", _("proposal")
    CARE_MISS = "care_miss", _("missed care visit")


class State(models.TextChoices):
    NEW = "new", _("awaiting dispatch")
    DISPATCHED = "dispatched", _("awaiting acceptance")
    IN_PROGRESS = "in_progress", _("in progress")
    REPORTED = "reported", _("awaiting evaluation")
    CLOSED = "closed", _("closed")
    MERGED = "merged", _("merged")


OPEN_STATES = (State.NEW, State.DISPATCHED, State.IN_PROGRESS, State.REPORTED)
# States in which a handling deadline runs (the matter is with a handling unit).
RUNNING_STATES = (State.DISPATCHED, State.IN_PROGRESS, State.REPORTED)
FINAL_STATES = (State.CLOSED, State.MERGED)


class Source(models.TextChoices):
    STAFF = "staff", _("registered by staff")
    PUBLIC = "public", _("public web form")
    OPEN311 = "open311", _("Open311 client")
    PROACTIVE = "proactive", _("proactive (未诉先办)")
    SIMILAR = "similar", _("similar-case sweep (举一反三)")
    API = "api", _("API")


class Category(models.Model):
    """A kind of matter configured by the city, with its time limits and warning point."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.PROBLEM)
    # From registration (or a send-back) until the dispatching unit must have dispatched it.
    dispatch_hours = models.DecimalField(_("dispatch limit (working hours)"), max_digits=6, decimal_places=1,
                                         default=8)
    accept_hours = models.DecimalField(_("acceptance limit (working hours)"), max_digits=6, decimal_places=1,
                                       default=4)
    handle_days = models.PositiveSmallIntegerField(_("handling limit (working days)"), default=5)
    warn_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("warning point (% of handling time used)"), default=80,
        help_text=_("The light turns yellow and a reminder goes out when this share of the working time is used."))
    max_extensions = models.PositiveSmallIntegerField(_("extension cap"), default=1)
    max_extension_days = models.PositiveSmallIntegerField(_("longest extension (working days)"), default=10)
    active = models.BooleanField(_("active"), default=True)
    open311_code = models.CharField(_("Open311 service code"), max_length=40, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """category (or any) × location subtree → suggested handling unit. Deepest location wins."""

    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="routing_rules", verbose_name=_("category"))
    location = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("location subtree"))
    handling_unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+",
                                      verbose_name=_("handling unit"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    # Configured by holders of loop.category.manage for the place the rule covers.
    scope_resource = "loop.category"
    scope_path_field = "location__path"
    scope_unit_field = "location_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["category_id", "location_id"]
        constraints = [models.UniqueConstraint(fields=["category", "location"], name="routing_rule_unique")]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.category or '*'} @ {self.location} → {self.handling_unit}"


class MatterQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A matter is in scope when its location, lead unit, dispatching unit or an assisting
        unit is in the user's scope for ``loop.matter.<action>``. Default deny (``None`` too:
        the system reads matters without ``restrict``)."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"loop.matter.{action}")
        if scope.empty:
            return self.none()
        if scope.all:
            return self
        # One filter per unit relation, from the one gate (core.scope.unit_scope_q).
        q = reduce(or_, (unit_scope_q(scope, f"{f}__path", f"{f}_id")
                         for f in ("location_unit", "handling_unit", "dispatch_unit")))
        assist = MatterAssist.objects.filter(matter=OuterRef("pk")).filter(
            unit_scope_q(scope, "unit__path", "unit_id"))
        return self.filter(q | Exists(assist))

    def open(self):
        return self.filter(state__in=OPEN_STATES)


def new_public_token() -> str:
    return secrets.token_urlsafe(18)


class Matter(models.Model):
    """事项: one problem, demand, task, proposal or missed care visit running the loop."""

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, db_index=True)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="matters",
                                 verbose_name=_("category"))
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.STAFF)
    location_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("location"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    # The unit that dispatches, decides extensions and evaluates (the township by default).
    dispatch_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("dispatching unit"))
    # 首接负责制: one lead unit answers for the matter; assisting units help.
    handling_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", verbose_name=_("lead unit"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.NEW)
    version = models.PositiveIntegerField(default=1)

    reporter_name = models.CharField(_("reporter"), max_length=60, blank=True)
    reporter_phone_enc = models.TextField(blank=True)
    reporter_phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    reporter_phone_masked = models.CharField(_("reporter phone"), max_length=20, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    public_token = models.CharField(max_length=32, unique=True, default=new_public_token, editable=False)

    created_at = models.DateTimeField(_("registered at"), db_index=True)
    # While awaiting dispatch (待交办): the warning point and the limit, from registration or the last
    # send-back (category.dispatch_hours). Null once dispatched.
    dispatch_warn_at = models.DateTimeField(null=True, blank=True)
    dispatch_due_at = models.DateTimeField(_("dispatch by"), null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accept_due_at = models.DateTimeField(_("accept by"), null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True, db_index=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Working hours from the last dispatch to the accepted report, set when the matter closes.
    handling_hours = models.FloatField(null=True, blank=True)
    # Shown wherever the deadline is: the calendar had no data for a year it spans.
    calendar_warning = models.CharField(max_length=200, blank=True)

    flagged = models.BooleanField(_("flagged supervision"), default=False)
    flagged_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("flagged by"))
    flagged_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="duplicates", verbose_name=_("merged into"))
    origin = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="derived", verbose_name=_("created from"))
    extensions_used = models.PositiveSmallIntegerField(default=0)
    rounds = models.PositiveSmallIntegerField(default=1, help_text="1 + number of reopenings")

    objects = MatterQuerySet.as_manager()
    scope_resource = "loop.matter"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["state", "dispatch_due_at"], name="loop_matter_state_disp_due"),
            # A scope's matters by unit and state, answered from the index alone (``id`` is part of
            # the key): the inbox finds a township's matters through these (selectors.scope_ids).
            models.Index(fields=["handling_unit", "state", "id"], name="loop_matter_lead_state"),
            models.Index(fields=["dispatch_unit", "state", "id"], name="loop_matter_disp_state"),
            models.Index(fields=["location_unit", "state", "id"], name="loop_matter_loc_state"),
            # Open flagged matters (the supervision board's list): a handful, found without a scan.
            models.Index(fields=["due_at"], condition=models.Q(flagged=True, state__in=OPEN_STATES),
                         name="loop_matter_open_flagged"),
            models.Index(fields=["location_unit", "category", "created_at"]),
            models.Index(fields=["category", "created_at"]),
        ]
        verbose_name = _("matter")
        verbose_name_plural = _("matters")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.handling_unit or self.dispatch_unit

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def scope_covered_by(self, scope) -> bool:
        """``MatterQuerySet.restrict``'s rule for this one loaded matter: its location, lead or
        dispatching unit (by path or id) in ``scope``, else an assisting unit (one small query,
        only then). The services check a matter loaded by id so, instead of asking the database
        to plan the four-way scope filter for one row (docs/performance.md, issue 18)."""
        if scope.empty:
            return False
        if scope.all:
            return True
        for unit in (self.location_unit, self.handling_unit, self.dispatch_unit):
            if unit is not None and scope.contains(unit.path, unit.pk):
                return True
        cached = self.assists_known()
        if cached is not None:
            return any(scope.contains(a.unit.path, a.unit_id) for a in cached)
        q = unit_scope_q(scope, "unit__path", "unit_id")
        return MatterAssist.objects.filter(matter_id=self.pk).filter(q).exists()

    def assists_known(self):
        """The assisting units the service just wrote and left on the matter, or None (read them)."""
        return getattr(self, "_prefetched_objects_cache", {}).get("assists")

    def set_reporter_phone(self, phone: str) -> None:
        from bihuan.core.protect import blind_index, encrypt

        phone = (phone or "").strip()
        self.reporter_phone_enc = encrypt(phone) if phone else ""
        self.reporter_phone_index = blind_index(phone, "phone") if phone else ""
        self.reporter_phone_masked = mask_phone(phone)


class MatterAssist(models.Model):
    """An assisting unit (协办单位) of a matter."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="assists")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["matter", "unit"], name="matter_assist_unique")]

    def __str__(self) -> str:
        return f"{self.matter_id} + {self.unit_id}"



class MatterEvent(models.Model):
    """One entry of a matter's timeline. ``seq`` equals the matter version it produced,
    so the timeline of a matter is 1, 2, 3 … with no gap and no duplicate (unique constraint)."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    actor_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=24)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["matter_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["matter", "seq"], name="matter_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.matter_id}#{self.seq} {self.action}"


def attachment_path(instance, filename: str) -> str:
    return f"loop/{instance.matter_id}/{secrets.token_hex(8)}-{filename[-80:]}"


class Attachment(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(MatterEvent, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="attachments")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name



class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REFUSED = "refused", _("refused")


class ExtensionRequest(models.Model):
    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="extensions")
    days = models.PositiveSmallIntegerField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decision_comment = models.TextField(blank=True)
    old_due_at = models.DateTimeField(null=True, blank=True)
    new_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["matter"], condition=Q(status="pending"),
                                               name="one_pending_extension")]

    def __str__(self) -> str:
        return f"{self.matter_id} +{self.days} ({self.status})"



class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("satisfied")
    BASIC = "basic", _("basically satisfied")
    DISSATISFIED = "dissatisfied", _("dissatisfied")


class Rating(models.Model):
    """The return-visit rating (回访) of one closure round of a matter."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="ratings")
    round = models.PositiveSmallIntegerField()
    satisfaction = models.CharField(max_length=14, choices=Satisfaction.choices)
    resolved = models.BooleanField()
    comment = models.TextField(blank=True)
    by_resident = models.BooleanField(default=False)
    rated_at = models.DateTimeField(db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["matter", "round"], name="rating_once_per_round")]

    def __str__(self) -> str:
        return f"{self.matter_id}: {self.satisfaction}"



class ReminderKind(models.TextChoices):
    REMIND = "remind", _("reminder (催办)")
    ESCALATE = "escalate", _("flagged supervision (挂牌督办)")


class Reminder(models.Model):
    """A reminder or escalation emitted for a matter. Automatic ones are unique per
    (matter, kind, point), which is what makes ``bihuan sweep`` idempotent."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    point = models.CharField(max_length=60)  # "accept@<deadline>", "warn@…", "overdue@…", "manual:v<n>"
    deadline = models.DateTimeField(null=True, blank=True)  # the deadline an automatic point belongs to
    automatic = models.BooleanField(default=True)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["matter", "kind", "point"], name="reminder_point_unique")]

    def __str__(self) -> str:
        return f"{self.matter_id} {self.kind} {self.point}"



class Notification(models.Model):
    """In-app notification centre: addressed to a unit (everyone bound to it) or one user."""

    unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="loop_notifications")
    matter = models.ForeignKey(Matter, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["unit", "created_at"])]

    def __str__(self) -> str:
        return self.title


class NotificationRead(models.Model):
    """One user has read one notification. Read state is per person: a notification to a unit
    stays unread for every colleague who has not opened it (``loop.notify``)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "notification"], name="notification_read_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notification_id}"


class NotificationMark(models.Model):
    """"Mark all read": every notification up to ``read_through`` (an id) counts as read for the user,
    so marking all read is one row, however many notifications a unit has received."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="+")
    read_through = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id} ≤ {self.read_through}"



class IdempotencyKey(models.Model):
    """A client's retry key: the first response is stored and replayed (``services.idempotency``)."""

    user_id = models.BigIntegerField(default=0)  # 0: no account (public form, Open311)
    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()  # before 0006: the answer as a JSON value (replayed re-serialised)
    body = models.TextField(blank=True, default="")  # the exact response body sent the first time
    matter = models.ForeignKey(Matter, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "scope", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key



# --- public intake (web form, Open311) ----------------------------------------------------------

class Open311Key(models.Model):
    """An Open311 client's ``api_key``. Only its SHA-256 is stored; the key is printed once
    by ``bihuan open311 key create NAME``."""

    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class PublicThrottle(models.Model):
    """A per-client counter for one time window (public form, rating, Open311 POST)."""

    bucket = models.CharField(max_length=100)  # "<what>:<client ip or key>"
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "window_start"], name="public_throttle_unique")]

    def __str__(self) -> str:
        return f"{self.bucket} @ {self.window_start}: {self.count}"
