from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from .scope import ScopedManager


class AuditEntry(models.Model):
    """One append-only record of something someone did.

    Written without any shared lock: each row carries its own keyed MAC (``mac``).
    A short sealing step later assigns ``seq`` in order and chains ``chain_hash``;
    see docs/audit.md for why.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ts = models.DateTimeField(_("time"), db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(_("actor"), max_length=150, db_index=True)
    ip = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    unit_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    unit_path = models.CharField(max_length=255, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    extra = models.JSONField(null=True, blank=True)
    algo = models.CharField(max_length=16)
    # Which audit key made ``mac`` (``audit.key_id``): entries stay verifiable after a rotation.
    # Empty for entries written before key ids existed (checked against every known key).
    key_id = models.CharField(max_length=16, blank=True)
    mac = models.CharField(max_length=64)
    # Filled by the sealer; NULL means "not yet sealed".
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    chain_hash = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    # Readers see entries about units in their scope (and, with "self" scope, their own acts).
    scope_resource = "core.audit"
    scope_path_field = "unit_path"
    scope_unit_field = "unit_id"
    scope_owner_field = "actor_id"

    objects = ScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"


class ChainHead(models.Model):
    """The single row the sealer locks; writers never touch it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, default="")
    algo = models.CharField(max_length=16, default="")
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"head {self.seq}"


class CalendarOverride(models.Model):
    """An admin's correction to the statutory working-day calendar (see ``core.calendar``).

    A local holiday, an adjusted workday (调休) the package does not know, or the whole
    holiday arrangement of a year the package has no data for. Any override in a year
    marks that year as known to the calendar.
    """

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'rest day'}"


class ImportJob(models.Model):
    """One web import (or its preview) handed to the worker: who, which file, how far, what came of it.

    Created by ``core.imports.start``; only its owner ever sees it. The upload itself stays in
    ``MEDIA_ROOT/imports/<token>``; ``result`` keeps the counts and the first errors.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=32)
    token = models.CharField(max_length=80)  # <sha256>.<ext>, the stored upload
    filename = models.CharField(_("file name"), max_length=255)
    mode = models.CharField(max_length=16)
    dry_run = models.BooleanField(default=False)
    # The owner (accounts.User id; core keeps no foreign key to later apps, as AuditEntry).
    user_id = models.BigIntegerField(db_index=True)
    # The request that started it, for the audit entry the worker writes on the owner's behalf.
    ip = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=16, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.IntegerField(default=0)
    rows_total = models.IntegerField(null=True, blank=True)  # an estimate until done
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.filename} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
