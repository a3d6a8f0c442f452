"""Dispatch bulletins (调度通报) and their schedules.

A ``Bulletin`` belongs to its issuing unit. Its figures are a snapshot (``snapshot``, JSON) taken
from the registered report sections (``core.registry``) when it is drafted; an issued bulletin is
never recomputed, so its downloads stay the same after the data moves on. The number (第N期) is
given when it is issued, counted per template, unit and year (``BulletinCounter``, locked), so a
refused second issue or a discarded draft never skips a number.

Visibility: a bulletin is seen where its issuing unit is in the user's scope (``reports.bulletin.*``);
an *issued* bulletin is also read by every unit below it (it is sent down the tree).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, units_q
from bihuan.orgs.models import OrgUnit


class BulletinState(models.TextChoices):
    DRAFT = "draft", _("draft")
    ISSUED = "issued", _("issued")


class BulletinQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Own scope (the issuing unit in scope); for ``view`` also issued bulletins of the units
        above the user's units (a township reads its county's bulletin). Default deny."""
        if user is None:
            return self.none()
        perm = f"reports.bulletin.{action}"
        if scope_for(user, perm).empty:
            return self.none()
        own = units_q(user, perm, prefix="unit__")
        if action != "view":
            return self.filter(own)
        above: set[int] = set()
        for top in user.scope_units(perm):
            above.update(top.ancestor_ids())
        return self.filter(own | Q(state=BulletinState.ISSUED, unit_id__in=sorted(above)))


class Bulletin(models.Model):
    template = models.CharField(_("template"), max_length=40)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("issuing unit"))
    period_key = models.CharField(_("period"), max_length=12)  # 2026-W48, 2026-11, 2026-Q4, 2026-11-30
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    title = models.CharField(_("title"), max_length=120)
    state = models.CharField(_("state"), max_length=10, choices=BulletinState.choices, default=BulletinState.DRAFT)
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField(null=True, blank=True)
    snapshot = models.JSONField(default=dict)
    paragraphs = models.JSONField(default=list)  # the user's text: 要求, next steps
    version = models.PositiveIntegerField(default=1)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    schedule = models.ForeignKey("BulletinSchedule", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="bulletins")
    slot = models.DateTimeField(null=True, blank=True)  # the scheduled time it was produced for
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    scope_resource = "reports.bulletin"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(BulletinQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")
        constraints = [
            models.UniqueConstraint(fields=["template", "unit", "year", "number"], name="reports_bulletin_number_unique",
                                    condition=Q(number__isnull=False)),
            models.UniqueConstraint(fields=["schedule", "slot"], name="reports_bulletin_slot_unique",
                                    condition=Q(schedule__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def issued(self) -> bool:
        return self.state == BulletinState.ISSUED


class BulletinCounter(models.Model):
    """The last number issued per template, unit and year; locked while a bulletin is issued."""

    template = models.CharField(max_length=40)
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "unit", "year"], name="reports_counter_unique")]

    def __str__(self) -> str:
        return f"{self.template} {self.unit_id} {self.year}: {self.last}"


class BulletinRead(models.Model):
    """Read receipt: the first reader of each receiving unit (a child of the issuing unit)."""

    bulletin = models.ForeignKey(Bulletin, on_delete=models.CASCADE, related_name="reads")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bulletin", "unit"], name="reports_read_unique")]

    def __str__(self) -> str:
        return f"{self.bulletin_id} read by {self.unit_id}"


class BulletinSchedule(models.Model):
    """Draft ``template`` for ``unit`` every week on ``weekday`` (0 = Monday) at ``hour:minute``
    (Asia/Shanghai), or every day when ``weekday`` is null; the draft covers the last whole period."""

    template = models.CharField(_("template"), max_length=40)
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+", verbose_name=_("unit"))
    weekday = models.PositiveSmallIntegerField(_("weekday"), null=True, blank=True)
    hour = models.PositiveSmallIntegerField(_("hour"), default=8)
    minute = models.PositiveSmallIntegerField(_("minute"), default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "reports.bulletin"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path", "template", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "unit"], name="reports_schedule_unique")]

    def __str__(self) -> str:
        return f"{self.template} {self.unit_id}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit
