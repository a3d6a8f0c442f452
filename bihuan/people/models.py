"""Persons, households and vulnerability records (人员 / 户 / 摸排).

ID and phone numbers are never stored in clear: each has an authenticated ciphertext
(``*_enc``), a keyed blind index (``*_bidx``) for exact lookup and uniqueness, and the
masked form (``*_masked``) that lists show without decrypting anything.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager
from bihuan.orgs.models import OrgUnit, PartyOrg

from .choices import Education, Gender, GridRole, PartyStatus, Relation


class Household(models.Model):
    """户: an address in a grid (or village), its members, and the party member who looks after it."""

    code = models.CharField(_("household number"), max_length=32, unique=True)
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="households",
                             verbose_name=_("unit or grid"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("head of household"))
    # 划片定岗联户: the party member linked to this household.
    carer = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="cared_households", verbose_name=_("linked party member"))
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_resource = "people.household"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None

    objects = ScopedManager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["unit", "id"], name="household_unit_id")]
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.address or self.code

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class Person(models.Model):
    # No single-column FK indexes: person_unit_id and person_household below cover them, and at
    # 8.3M rows every index costs the bulk import (see docs/performance.md, People).
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="persons", db_index=False,
                             verbose_name=_("unit or grid"))
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, db_index=False,
                                  related_name="members", verbose_name=_("household"))
    relation = models.CharField(_("relation to head"), max_length=12, choices=Relation.choices, blank=True,
                                default="")
    name = models.CharField(_("name"), max_length=50)
    name_initials = models.CharField(max_length=20, editable=False, default="")
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_number_enc = models.TextField(editable=False, blank=True, default="")
    id_number_bidx = models.CharField(max_length=64, null=True, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, default="", editable=False)
    phone_enc = models.TextField(editable=False, blank=True, default="")
    phone_bidx = models.CharField(max_length=64, null=True, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=24, blank=True, default="", editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True, default="")
    # Roles held at once.
    is_resident = models.BooleanField(_("resident"), default=True)
    party_status = models.CharField(_("party status"), max_length=12, choices=PartyStatus.choices, blank=True,
                                    default="")
    party_joined = models.DateField(_("joined the party"), null=True, blank=True)
    party_branch = models.ForeignKey(PartyOrg, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="members", verbose_name=_("party branch"))
    is_volunteer = models.BooleanField(_("volunteer"), default=False)
    is_lecturer = models.BooleanField(_("lecturer"), default=False)
    is_reserve = models.BooleanField(_("reserve talent"), default=False)
    education = models.CharField(_("education"), max_length=12, choices=Education.choices, blank=True, default="")
    skills = models.CharField(_("skills"), max_length=200, blank=True, default="")
    grid_role = models.CharField(_("grid role"), max_length=12, choices=GridRole.choices, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_resource = "people.person"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None

    objects = ScopedManager()

    class Meta:
        ordering = ["id"]
        indexes = [
            # Lists of a unit or grid, newest last, keyset by id.
            models.Index(fields=["unit", "id"], name="person_unit_id"),
            # Prefix search (LIKE 'x%'): pattern ops so PostgreSQL uses them under any collation.
            models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name_initials"], name="person_initials_prefix",
                         opclasses=["varchar_pattern_ops"]),
            # Roles are sparse: partial indexes stay small at 8.3M rows.
            models.Index(fields=["unit", "id"], name="person_party_unit",
                         condition=~Q(party_status="")),
            models.Index(fields=["unit", "id"], name="person_reserve_unit", condition=Q(is_reserve=True)),
            models.Index(fields=["unit", "id"], name="person_volunteer_unit", condition=Q(is_volunteer=True)),
            models.Index(fields=["unit", "id"], name="person_lecturer_unit", condition=Q(is_lecturer=True)),
            models.Index(fields=["unit", "id"], name="person_grid_role_unit", condition=~Q(grid_role="")),
            models.Index(fields=["household"], name="person_household"),
            # Blind indexes are matched exactly, never by prefix: plain b-trees, no _like twins.
            models.Index(fields=["phone_bidx"], name="person_phone_bidx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_number_bidx"], name="person_id_number_unique"),
        ]
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit

    @property
    def is_party_member(self) -> bool:
        return self.party_status in (PartyStatus.PROBATIONARY, PartyStatus.FORMAL)


class Vulnerability(models.Model):
    """What the survey (细致摸排) found about one person. Only ~1% of residents have one."""

    person = models.OneToOneField(Person, primary_key=True, on_delete=models.CASCADE,
                                  related_name="vulnerability")
    living_alone = models.BooleanField(_("living alone"), default=False)
    elderly = models.BooleanField(_("elderly"), default=False)
    hardship = models.BooleanField(_("hardship"), default=False)
    disability = models.BooleanField(_("disability"), default=False)
    chronic_illness = models.BooleanField(_("chronic illness"), default=False)
    left_behind_child = models.BooleanField(_("left-behind child"), default=False)
    # Needs notes are health and family details: encrypted, and readable only with people.person.needs.
    needs_enc = models.TextField(blank=True, default="", editable=False)
    surveyed_on = models.DateField(_("surveyed on"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_resource = "people.person"
    scope_path_field = "person__unit__path"
    scope_unit_field = "person__unit_id"
    scope_owner_field = None

    objects = ScopedManager()

    class Meta:
        verbose_name = _("vulnerability")
        verbose_name_plural = _("vulnerabilities")

    def __str__(self) -> str:
        return f"{self.person_id}"

    @property
    def any(self) -> bool:
        return any(getattr(self, f) for f in FLAG_FIELDS)


FLAG_FIELDS = ("living_alone", "elderly", "hardship", "disability", "chronic_illness", "left_behind_child")
