from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import ScopedManager


class Level(models.IntegerChoices):
    CITY = 1, _("city")
    COUNTY = 2, _("county")
    TOWNSHIP = 3, _("township")
    VILLAGE = 4, _("village")
    GRID = 5, _("grid")


class OrgUnit(models.Model):
    """A unit of the organisation tree: 市 → 县区 → 乡镇街道 → 村社区 → 网格.

    ``path`` is the materialized path of ids (``/1/12/345/``): a subtree is one indexed
    prefix scan, and a move rewrites the prefix of the whole subtree in one UPDATE.
    """

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("parent unit"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, db_index=True)
    code = models.CharField(_("division code"), max_length=15, db_index=True)
    name = models.CharField(_("name"), max_length=100, db_index=True)
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    sort = models.IntegerField(default=0)
    # A centre point (WGS-84), set for grids: a report's coordinates suggest the nearest grid (loop.geo).
    centre_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    centre_lon = models.FloatField(_("centre longitude"), null=True, blank=True)

    scope_resource = "orgs.unit"
    scope_path_field = "path"
    scope_unit_field = "id"
    scope_owner_field = None

    objects = ScopedManager()

    class Meta:
        ordering = ["path"]
        constraints = [
            # Codes are reused across years; only one *current* unit may hold a code.
            models.UniqueConstraint(fields=["code"], condition=Q(valid_to__isnull=True),
                                    name="orgunit_current_code_unique"),
        ]
        indexes = [models.Index(fields=["parent", "sort", "code"])]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self

    def ancestor_ids(self) -> list[int]:
        return [int(x) for x in self.path.strip("/").split("/") if x]

    def ancestors(self):
        """Root first, excluding self."""
        ids = self.ancestor_ids()[:-1]
        return OrgUnit.objects.filter(id__in=ids).order_by("depth")

    def descendants(self, include_self: bool = False):
        qs = OrgUnit.objects.filter(path__startswith=self.path)
        return qs if include_self else qs.exclude(pk=self.pk)

    def is_ancestor_of(self, other: OrgUnit) -> bool:
        return other.path.startswith(self.path) and other.pk != self.pk


class PartyOrgKind(models.TextChoices):
    COMMITTEE = "committee", _("party committee")
    GENERAL_BRANCH = "general_branch", _("general party branch")
    BRANCH = "branch", _("party branch")


class PartyOrg(models.Model):
    """党委 / 党总支 / 党支部 attached to a unit of the tree."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="party_orgs",
                             verbose_name=_("unit"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("parent party organisation"))
    kind = models.CharField(_("kind"), max_length=20, choices=PartyOrgKind.choices)
    name = models.CharField(_("name"), max_length=120)
    established = models.DateField(_("established"), null=True, blank=True)

    scope_resource = "orgs.unit"
    scope_path_field = "unit__path"
    scope_unit_field = "unit_id"
    scope_owner_field = None

    objects = ScopedManager()

    class Meta:
        ordering = ["unit__path", "kind", "name"]
        verbose_name = _("party organisation")
        verbose_name_plural = _("party organisations")

    def __str__(self) -> str:
        return self.name

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit
