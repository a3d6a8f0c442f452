"""Registers (台账): one engine for every register the city defines, not a model per register.

* ``Register`` — a definition: code, name, the level of unit that fills it, and its fields
  (``fields``: a list of field dicts, ``ledgers.fields`` says what a field may hold). Versioned:
  every change bumps ``version`` and keeps a ``RegisterVersion`` snapshot; a removed field stays
  in the list with ``removed: true`` so old entries keep their history.
* ``Entry`` — one row of a register, filled by one unit: the values as JSON (``data``), validated
  by the one validator built from the definition (``ledgers.fields.validate``); personal-data
  fields are kept masked in ``data`` and encrypted in ``protected`` (``core.protect``).
* ``EntryChange`` — the history of an entry: who changed what, when.
* ``Round`` / ``Submission`` / ``RoundEscalation`` — collection rounds (填报): every unit of a level
  reports by a date; late units get one loop matter each (``RoundEscalation`` is the link).

Models are thin; every change goes through ``ledgers.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager, ScopedQuerySet, scope_for, unit_scope_q
from bihuan.orgs.models import OrgUnit


class Register(models.Model):
    """A register definition (data, with an audit trail), owned by the unit that defined it (the
    city for the built-in ones; a county may define its own). Its units fill it: units of
    ``level`` in the owner's subtree. It is visible to whoever may view entries at the owner or
    anywhere below it (``selectors.registers``); changing it needs ``ledgers.register.manage`` at
    the owner."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("defined by"))
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    level = models.PositiveSmallIntegerField(_("filled by units of level"))
    fields = models.JSONField(_("fields"), default=list)
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        verbose_name = _("register")
        verbose_name_plural = _("registers")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    def live_fields(self) -> list[dict]:
        return [f for f in self.fields if not f.get("removed")]

    def listed_fields(self) -> list[dict]:
        return [f for f in self.live_fields() if f.get("listed")]

    def field(self, key: str) -> dict | None:
        return next((f for f in self.fields if f["key"] == key), None)


class RegisterVersion(models.Model):
    """A snapshot of a definition at each version (what it was when an entry was written)."""

    register = models.ForeignKey(Register, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    fields = models.JSONField(default=list)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    class Meta:
        ordering = ["register_id", "version"]
        constraints = [models.UniqueConstraint(fields=["register", "version"], name="ledgers_regver_unique")]

    def __str__(self) -> str:
        return f"{self.register_id} v{self.version}"


class Entry(models.Model):
    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="entries")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    data = models.JSONField(default=dict)
    protected = models.JSONField(default=dict)  # key → ciphertext (core.protect) of personal fields
    blind = models.JSONField(default=dict)  # key → blind index, for uniqueness of personal fields
    search = models.TextField(blank=True)  # listed text values, for search (masked values only)
    register_version = models.PositiveIntegerField(default=1)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "ledgers.entry"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["register", "unit"], name="ledgers_entry_reg_unit")]
        verbose_name = _("entry")
        verbose_name_plural = _("entries")

    def __str__(self) -> str:
        return f"{self.register_id}:{self.pk}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class EntryChange(models.Model):
    """One change to an entry: created, updated (the changed fields, before → after), deleted."""

    entry_id_ref = models.BigIntegerField(db_index=True)  # kept when the entry is deleted
    register = models.ForeignKey(Register, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    verb = models.CharField(max_length=10)  # create | update | delete
    changes = models.JSONField(default=dict)  # key → [before, after] (masked values)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    by_name = models.CharField(max_length=150, blank=True)

    scope_resource = "ledgers.entry"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.entry_id_ref} {self.verb}"


class RoundQuerySet(ScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """A round is visible where its ``within`` unit is in scope, or where a unit in scope lies
        under it (a village sees the county's round it reports in). Managing it needs ``within``."""
        if user is None:
            return self.none()
        scope = scope_for(user, f"ledgers.round.{action}")
        if scope.empty:
            return self.none()
        own = unit_scope_q(scope, "within__path", "within_id")
        if own is None:
            return self
        if action != "view":
            return self.filter(own)
        below = OrgUnit.objects.filter(unit_scope_q(scope, "path", "id"), path__startswith=OuterRef("within__path"))
        return self.filter(own | Exists(below))


class Round(models.Model):
    """A collection round (填报): every unit of ``level`` under ``within`` reports by ``due_on``."""

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="rounds")
    within = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("within"))
    title = models.CharField(_("title"), max_length=120)
    due_on = models.DateField(_("due on"))
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    scope_resource = "ledgers.round"
    scope_path_field = "within__path"
    scope_unit_field = "within_id"
    scope_owner_field = None
    objects = ScopedManager.from_queryset(RoundQuerySet)()

    class Meta:
        ordering = ["-due_on", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_unit(self) -> OrgUnit:
        return self.within


class SubmissionState(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    RETURNED = "returned", _("returned")


class Submission(models.Model):
    """One unit's submission in a round (one row per round and unit; a returned one is resubmitted)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="submissions")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=SubmissionState.choices, default=SubmissionState.SUBMITTED)
    submitted_at = models.DateTimeField()
    on_time = models.BooleanField(default=True)
    entries = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    return_reason = models.CharField(max_length=500, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    scope_resource = "ledgers.round"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path"]
        constraints = [models.UniqueConstraint(fields=["round", "unit"], name="ledgers_submission_unique")]

    def __str__(self) -> str:
        return f"{self.round_id}:{self.unit_id} {self.state}"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class RoundEscalation(models.Model):
    """The loop matter opened for a unit late in a round: once per (round, unit)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="escalations")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    matter_id = models.IntegerField(null=True, blank=True)
    opened_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "unit"], name="ledgers_escalation_unique")]

    def __str__(self) -> str:
        return f"{self.round_id}:{self.unit_id} → {self.matter_id}"


class OfficeProposal(models.Model):
    """A proposal received at a party-representative office (党代表工作室, an entry of the
    ``rep_offices`` register) and the loop matter (kind proposal) opened for it."""

    office_ref = models.BigIntegerField(db_index=True)  # the office's Entry id (kept if it is deleted)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    representative = models.CharField(_("representative"), max_length=40)
    matter_id = models.IntegerField()  # loop.Matter, by id (the loop owns it)
    received_at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    scope_resource = "ledgers.entry"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.office_ref} → {self.matter_id}"


class EntryFile(models.Model):
    """A file held by a file field of an entry (stored through Django's storage). The entry's
    ``data`` holds the file's name; a replaced file stays here (its name stays in the history).
    Downloaded only through the entry, in scope (``views.entry_file``), audited."""

    entry_ref = models.BigIntegerField()  # the Entry's id (kept when the entry is deleted)
    key = models.CharField(max_length=30)
    register = models.ForeignKey(Register, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="ledgers/files/%Y/%m/", max_length=200)
    uploaded_at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    scope_resource = "ledgers.entry"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None
    objects = ScopedManager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["entry_ref", "key"], name="ledgers_file_entry_key")]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


# --- shared dictionaries (字典): choices defined once, referenced by fields (block of h-ledgers2) ---

class Dictionary(models.Model):
    """A named list of choices (字典) defined once by the city; a choice or multi field that names it
    (``"dictionary": code``) takes its choices from it, and a change of the dictionary is a new
    version of every register using it (``services.change_dictionary``)."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("defined by"))
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    choices = models.JSONField(_("choices"), default=list)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        verbose_name = _("dictionary")
        verbose_name_plural = _("dictionaries")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class DictionaryVersion(models.Model):
    dictionary = models.ForeignKey(Dictionary, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    choices = models.JSONField(default=list)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    class Meta:
        ordering = ["dictionary_id", "version"]
        constraints = [models.UniqueConstraint(fields=["dictionary", "version"], name="ledgers_dictver_unique")]

    def __str__(self) -> str:
        return f"{self.dictionary_id} v{self.version}"
