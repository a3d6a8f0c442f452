"""Writes to the organisation tree. Views, API, CLI and imports all come through here."""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.dispatch import Signal
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import ServiceError
from bihuan.core.scope import require, require_city_wide

from .models import Level, OrgUnit, PartyOrg

# Sent inside ``move_subtree``'s transaction with the subtree's new ``path`` (the paths are rewritten
# by one UPDATE, which sends no model signals): accounts gives the users bound there a new
# bindings stamp, so no process keeps their scope under the old paths.
subtree_moved = Signal()

# Digits per level: 市/县区 use GB/T 2260 (6), 乡镇 and 村 the 12-digit statistical
# division code, 网格 extends its village's code by 3 digits.
# How many leading digits a unit's descendants inherit from it.
SIGNIFICANT_DIGITS = {Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12, Level.GRID: 15}
CODE_LENGTH = {Level.CITY: 6, Level.COUNTY: 6, Level.TOWNSHIP: 12, Level.VILLAGE: 12, Level.GRID: 15}


def prefix_for_child(parent: OrgUnit | None, level: int) -> str:
    """The part of a child's code that is fixed by its parent (the new-unit form starts with it)."""
    if parent is None:
        return ""
    return {
        Level.COUNTY: parent.code[:4],
        Level.TOWNSHIP: parent.code[:6],
        Level.VILLAGE: parent.code[:9],
        Level.GRID: parent.code[:12],
    }.get(level, "")


def validate_code(code: str, level: int, parent: OrgUnit | None) -> dict:
    """Field errors for a code at ``level`` under ``parent`` (empty when valid)."""
    errors = {}
    code = (code or "").strip()
    want = CODE_LENGTH.get(level)
    if not re.fullmatch(r"\d+", code or "x") or len(code) != want:
        errors["code"] = _("A %(level)s code must be %(n)d digits.") % {"level": Level(level).label, "n": want}
        return errors
    if level == Level.CITY and not code.endswith("00"):
        errors["code"] = _("A city code ends in 00.")
    elif level == Level.COUNTY and code.endswith("00"):
        errors["code"] = _("A county code cannot end in 00.")
    elif level == Level.TOWNSHIP and (not code.endswith("000") or code[6:9] == "000"):
        errors["code"] = _("A township code has digits 7–9 set and ends in 000.")
    elif level == Level.VILLAGE and code.endswith("000"):
        errors["code"] = _("A village code cannot end in 000.")
    elif level == Level.GRID and code.endswith("000"):
        errors["code"] = _("A grid number cannot be 000.")
    prefix = prefix_for_child(parent, level)
    if prefix and not code.startswith(prefix):
        errors["code"] = _("The code must start with %(prefix)s, from its parent unit.") % {"prefix": prefix}
    return errors


def _check_level(level: int, parent: OrgUnit | None) -> None:
    if parent is None and level != Level.CITY:
        raise ServiceError(_("Only a city can be a root unit."), {"parent": _("A parent unit is required.")})
    if parent is not None and level != parent.level + 1:
        raise ServiceError(
            _("A %(child)s cannot sit directly under a %(parent)s.") % {"child": Level(level).label,
                                                                       "parent": Level(parent.level).label},
            {"level": _("Wrong level for this parent.")},
        )


def _check_code_free(code: str, exclude_pk: int | None = None) -> None:
    qs = OrgUnit.objects.filter(code=code, valid_to__isnull=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ServiceError(_("Division code %(code)s is already used.") % {"code": code},
                           {"code": _("Duplicate code.")}, code="duplicate")


def unit_snapshot(unit: OrgUnit) -> dict:
    return {"code": unit.code, "name": unit.name, "level": unit.level, "parent_id": unit.parent_id,
            "path": unit.path, "valid_from": unit.valid_from, "valid_to": unit.valid_to}


def _require_in_scope(user, unit: OrgUnit | None, action: str) -> None:
    """``action`` on ``unit`` (the one gate's policy); a new root needs a city-wide scope."""
    if unit is None:
        require_city_wide(user, f"orgs.unit.{action}")
    else:
        require(user, f"orgs.unit.{action}", unit)


def _assign_path(unit: OrgUnit) -> None:
    parent_path = unit.parent.path if unit.parent_id else "/"
    unit.path = f"{parent_path}{unit.pk}/"
    unit.depth = (unit.parent.depth + 1) if unit.parent_id else 0
    OrgUnit.objects.filter(pk=unit.pk).update(path=unit.path, depth=unit.depth)


@transaction.atomic
def create_unit(user, *, parent: OrgUnit | None, level: int, code: str, name: str,
                valid_from: date | None = None, sort: int = 0, audit_entry: bool = True) -> OrgUnit:
    code, name = (code or "").strip(), (name or "").strip()
    _require_in_scope(user, parent, "change")
    _check_level(level, parent)
    errors = validate_code(code, level, parent)
    if not name:
        errors["name"] = _("A name is required.")
    elif len(name) > 100:
        errors["name"] = _("The name is too long (100 characters at most).")
    if errors:
        raise ServiceError(_("The unit could not be saved."), errors)
    _check_code_free(code)
    unit = OrgUnit.objects.create(parent=parent, level=level, code=code, name=name,
                                  valid_from=valid_from, sort=sort)
    _assign_path(unit)
    if audit_entry:
        audit.record("orgs.unit.create", unit, after=unit_snapshot(unit))
    return unit


@transaction.atomic
def update_unit(user, unit: OrgUnit, *, name: str | None = None, code: str | None = None,
                valid_from: date | None = None, valid_to: date | None = None, sort: int | None = None) -> OrgUnit:
    _require_in_scope(user, unit, "change")
    unit = OrgUnit.objects.select_for_update().get(pk=unit.pk)
    before = unit_snapshot(unit)
    errors = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors["name"] = _("A name is required.")
        unit.name = name
    if code is not None and code.strip() != unit.code:
        code = code.strip()
        errors.update(validate_code(code, unit.level, unit.parent))
        if not errors:
            if unit.children.exists():
                raise ServiceError(_("Change the code of a unit with children by moving or re-importing it."),
                                   {"code": _("This unit has children.")})
            _check_code_free(code, unit.pk)
        unit.code = code
    if valid_from is not None:
        unit.valid_from = valid_from
    if valid_to is not None:
        unit.valid_to = valid_to
    if unit.valid_from and unit.valid_to and unit.valid_to < unit.valid_from:
        errors["valid_to"] = _("The end date is before the start date.")
    if sort is not None:
        unit.sort = sort
    if errors:
        raise ServiceError(_("The unit could not be saved."), errors)
    unit.save()
    audit.record("orgs.unit.update", unit, before=before, after=unit_snapshot(unit))
    return unit


@transaction.atomic
def move_subtree(user, unit: OrgUnit, new_parent: OrgUnit, *, new_code: str | None = None) -> OrgUnit:
    """Move ``unit`` and everything below it under ``new_parent`` in one transaction.

    Paths are rewritten by one UPDATE over the subtree. When the division code no longer
    fits the new parent, ``new_code`` is required and every descendant's code prefix is
    rewritten the same way.
    """
    _require_in_scope(user, unit, "move")
    _require_in_scope(user, new_parent, "move")
    unit = OrgUnit.objects.select_for_update().get(pk=unit.pk)
    new_parent = OrgUnit.objects.get(pk=new_parent.pk)
    if new_parent.path.startswith(unit.path):
        raise ServiceError(_("A unit cannot be moved into itself or below itself."),
                           {"new_parent": _("This would make a cycle.")}, code="cycle")
    if unit.parent_id is None:
        raise ServiceError(_("The root unit cannot be moved."))
    _check_level(unit.level, new_parent)
    before = unit_snapshot(unit)
    old_code = unit.code
    code = (new_code or "").strip() or old_code
    errors = validate_code(code, unit.level, new_parent)
    if errors:
        if not new_code:
            errors["new_code"] = _("The current code does not fit the new parent; give a new code.")
        raise ServiceError(_("The unit could not be moved."), errors)
    old_path, new_path = unit.path, f"{new_parent.path}{unit.pk}/"
    depth_delta = new_parent.depth + 1 - unit.depth
    subtree = OrgUnit.objects.filter(path__startswith=old_path)
    if code != old_code:
        # Descendant codes extend this unit's significant digits; rewrite that prefix.
        n = SIGNIFICANT_DIGITS[unit.level]
        if OrgUnit.objects.filter(valid_to__isnull=True, code=code).exclude(path__startswith=old_path).exists():
            raise ServiceError(_("Division code %(code)s is already used.") % {"code": code},
                               {"new_code": _("Duplicate code.")}, code="duplicate")
        subtree.filter(code__startswith=old_code[:n]).update(
            code=Concat(Value(code[:n]), Substr(F("code"), n + 1)))
    subtree.update(path=Concat(Value(new_path), Substr(F("path"), Length(Value(old_path)) + 1)),
                   depth=F("depth") + depth_delta)
    OrgUnit.objects.filter(pk=unit.pk).update(parent=new_parent)
    subtree_moved.send(sender=OrgUnit, path=new_path)
    unit.refresh_from_db()
    audit.record("orgs.unit.move", unit, before=before, after=unit_snapshot(unit),
                 extra={"subtree_size": subtree.count()})
    return unit


@transaction.atomic
def create_party_org(user, *, unit: OrgUnit, kind: str, name: str, parent: PartyOrg | None = None,
                     established: date | None = None) -> PartyOrg:
    _require_in_scope(user, unit, "change")
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("The party organisation could not be saved."), {"name": _("A name is required.")})
    if kind not in dict(PartyOrg._meta.get_field("kind").choices):
        raise ServiceError(_("The party organisation could not be saved."), {"kind": _("Unknown kind.")})
    po = PartyOrg.objects.create(unit=unit, kind=kind, name=name, parent=parent, established=established)
    audit.record("orgs.partyorg.create", po, after={"unit_id": unit.pk, "kind": kind, "name": name})
    return po
