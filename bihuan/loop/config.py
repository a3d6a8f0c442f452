"""Configuration of the loop by the city: categories (kind, time limits, warning point) and routing
rules (category × location subtree → handling unit). The working-day calendar's overrides live in
``core.calendar`` (``set_override`` / ``delete_override``).

Every function here is a service: it checks ``loop.category.manage``, validates everything before
writing, writes in one transaction and records one audit entry. ``user=None`` is the system.

* Categories apply to the whole city, so changing them needs the permission with a city-wide scope.
* A routing rule belongs to the place it covers: its location and its handling unit must both lie
  inside the actor's scope for ``loop.category.manage`` (out of scope: ``NotFound``, like absent).
* A category that matters refer to is never deleted; it is deactivated (no new matters, existing
  ones keep it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import audit
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import covers, require, require_city_wide
from bihuan.orgs.models import OrgUnit

from .models import Category, Kind, Matter, RoutingRule

MANAGE = "loop.category.manage"

# Bounds a user can be told about, checked before anything is written.
LIMITS = {
    "accept_hours": (Decimal("0.5"), Decimal("750")),  # up to 100 working days
    "handle_days": (1, 365),
    "warn_percent": (1, 99),
    "max_extensions": (0, 10),
    "max_extension_days": (1, 365),
}
TEXT_LIMITS = {"code": 40, "name": 60, "open311_code": 40, "description": 200}
FIELDS = ("name", "kind", "accept_hours", "handle_days", "warn_percent", "max_extensions", "max_extension_days",
          "open311_code", "description")


# Said when someone with a smaller area tries to change a category (core.scope.require_city_wide).
CITY_WIDE = gettext_lazy("Categories apply to the whole city; only a city-wide administrator can change them.")


def _snapshot(c: Category) -> dict:
    return {"code": c.code, "name": c.name, "kind": c.kind, "accept_hours": str(c.accept_hours),
            "handle_days": c.handle_days, "warn_percent": c.warn_percent, "max_extensions": c.max_extensions,
            "max_extension_days": c.max_extension_days, "active": c.active, "open311_code": c.open311_code,
            "description": c.description}


def _clean_category(values: dict, *, instance: Category | None) -> dict:
    """Every field checked; all problems reported at once, nothing written."""
    errors: dict[str, str] = {}
    out: dict = {}
    for name, limit in TEXT_LIMITS.items():
        if name == "code" and instance is not None:
            continue
        if name not in values and instance is not None:
            continue
        v = str(values.get(name) or "").strip()
        if len(v) > limit:
            errors[name] = _("At most %(max)d characters.") % {"max": limit}
        out[name] = v
    if instance is None:
        if not out.get("code"):
            errors["code"] = _("This field is required.")
        elif slugify(out["code"]) != out["code"]:
            errors["code"] = _("Use lower-case letters, digits, '-' and '_' only.")
        elif Category.objects.filter(code=out["code"]).exists():
            errors["code"] = _("Another category already has the code %(code)s.") % {"code": out["code"]}
    if out.get("open311_code") and Category.objects.filter(open311_code=out["open311_code"]).exclude(
            pk=getattr(instance, "pk", None)).exists():
        errors["open311_code"] = _("Another category already offers the Open311 code %(code)s.") % {
            "code": out["open311_code"]}
    if (instance is None or "name" in values) and not out.get("name"):
        errors["name"] = _("This field is required.")
    if "kind" in values or instance is None:
        kind = values.get("kind") or ""
        if kind not in Kind.values:
            errors["kind"] = _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(str(k.label) for k in Kind)}
        out["kind"] = kind
    for name, (lo, hi) in LIMITS.items():
        if name not in values:
            if instance is None:
                out[name] = Category._meta.get_field(name).default
            continue
        raw = values.get(name)
        try:
            v = Decimal(str(raw)) if name == "accept_hours" else int(str(raw))
            if name == "accept_hours" and (not v.is_finite() or v != v.quantize(Decimal("0.1"))):
                raise InvalidOperation
        except (InvalidOperation, ValueError, TypeError):
            errors[name] = _("Enter a number.") if name != "accept_hours" else _("Enter a number with at most "
                                                                                  "one decimal.")
            continue
        if not lo <= v <= hi:
            errors[name] = _("Between %(lo)s and %(hi)s.") % {"lo": lo, "hi": hi}
            continue
        out[name] = v
    if errors:
        first = next(iter(errors))
        raise ServiceError(_("The category was not saved: %(field)s — %(msg)s")
                           % {"field": Category._meta.get_field(first).verbose_name, "msg": errors[first]},
                           errors, code="invalid_category")
    return out


@transaction.atomic
def create_category(user, *, now: datetime | None = None, **values) -> Category:
    """A new category (active). ``values``: code, name, kind, accept_hours, handle_days, warn_percent,
    max_extensions, max_extension_days, open311_code, description."""
    require_city_wide(user, MANAGE, CITY_WIDE)
    clean = _clean_category(values, instance=None)
    c = Category.objects.create(**clean, active=True)
    audit.record("loop.category.create", c, after=_snapshot(c), now=now)
    return c


@transaction.atomic
def update_category(user, category_id, *, now: datetime | None = None, **values) -> Category:
    """Change a category's fields (not its code, which API clients and exports use). New limits apply
    to matters dispatched from now on; running deadlines stay as they were computed."""
    require_city_wide(user, MANAGE, CITY_WIDE)
    c = _get_category(category_id, lock=True)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ServiceError(_("These fields cannot be changed: %(f)s.") % {"f": ", ".join(sorted(unknown))},
                           {f: _("Cannot be changed.") for f in unknown})
    clean = _clean_category(values, instance=c)
    before = _snapshot(c)
    for k, v in clean.items():
        setattr(c, k, v)
    c.save()
    audit.record("loop.category.update", c, before=before, after=_snapshot(c), now=now)
    return c


@transaction.atomic
def set_category_active(user, category_id, active: bool, *, now: datetime | None = None) -> Category:
    """Deactivate (no new matters in it; existing ones are untouched) or reactivate a category."""
    require_city_wide(user, MANAGE, CITY_WIDE)
    c = _get_category(category_id, lock=True)
    if c.active == bool(active):
        return c
    before = _snapshot(c)
    c.active = bool(active)
    c.save(update_fields=["active"])
    audit.record("loop.category.activate" if active else "loop.category.deactivate", c, before=before,
                 after=_snapshot(c), now=now)
    return c


@transaction.atomic
def delete_category(user, category_id, *, now: datetime | None = None) -> None:
    """Delete a category no matter refers to (a mistake); otherwise refuse and point to deactivation."""
    require_city_wide(user, MANAGE, CITY_WIDE)
    c = _get_category(category_id, lock=True)
    used = Matter.objects.filter(category=c).count()
    if used:
        raise ServiceError(_("%(name)s is used by %(n)d matters and cannot be deleted; deactivate it instead.")
                           % {"name": c.name, "n": used}, code="category_in_use")
    before = _snapshot(c)
    audit.record("loop.category.delete", c, before=before, now=now)
    c.delete()


def _get_category(category_id, *, lock: bool = False) -> Category:
    qs = Category.objects.select_for_update() if lock else Category.objects
    try:
        return qs.get(pk=int(getattr(category_id, "pk", category_id)))
    except (Category.DoesNotExist, ValueError, TypeError):
        raise NotFound()


# --- routing rules --------------------------------------------------------------------------------

def _routable_unit(user, unit: OrgUnit | None, field: str) -> OrgUnit:
    if unit is None:
        raise ServiceError(_("Choose a unit."), {field: _("This field is required.")})
    if unit.valid_to is not None:
        raise ServiceError(_("%(unit)s no longer exists; choose a current unit.") % {"unit": unit.name},
                           {field: _("Not a current unit.")})
    if not covers(user, MANAGE, unit):
        raise ServiceError(_("%(unit)s is outside your area; you can route only within it.")
                           % {"unit": unit.name}, {field: _("Outside your area.")}, code="unit_out_of_scope")
    return unit


def _rule_snapshot(r: RoutingRule) -> dict:
    return {"category": r.category.code if r.category_id else None, "location_id": r.location_id,
            "location": r.location.name, "handling_unit_id": r.handling_unit_id,
            "handling_unit": r.handling_unit.name, "note": r.note}


@transaction.atomic
def create_rule(user, *, category: Category | None, location: OrgUnit | None, handling_unit: OrgUnit | None,
                note: str = "", now: datetime | None = None) -> RoutingRule:
    """Matters of ``category`` (None: any category) at ``location`` or below go to ``handling_unit``.
    The deepest matching location wins; a category's own rule beats a catch-all one at the same place."""
    require(user, MANAGE)
    note = (note or "").strip()
    if len(note) > 100:
        raise ServiceError(_("The note is too long: at most %(max)d characters.") % {"max": 100},
                           {"note": _("At most %(max)d characters.") % {"max": 100}})
    if category is not None:
        category = _get_category(category)
    location = _routable_unit(user, location, "location")
    handling_unit = _routable_unit(user, handling_unit, "handling_unit")
    # NULL categories are distinct in a unique constraint, so catch-all duplicates are checked here.
    clash = (RoutingRule.objects.select_for_update().select_related("handling_unit")
             .filter(location=location).filter(Q(category=category) if category else Q(category__isnull=True))
             .first())
    if clash is not None:
        raise ServiceError(
            _("There is already a rule for %(place)s (→ %(unit)s); delete it first to route elsewhere.")
            % {"place": location.name, "unit": clash.handling_unit.name},
            {"location": _("A rule for this place exists.")}, code="rule_exists")
    r = RoutingRule.objects.create(category=category, location=location, handling_unit=handling_unit, note=note)
    audit.record("loop.routing.create", r, unit=location, after=_rule_snapshot(r), now=now)
    return r


@transaction.atomic
def delete_rule(user, rule_id, *, now: datetime | None = None) -> None:
    """Remove a rule the actor may manage (its place in their scope; otherwise ``NotFound``)."""
    require(user, MANAGE)
    qs = RoutingRule.objects.select_related("category", "location", "handling_unit")
    if user is not None:
        qs = qs.restrict(user, "manage")
    try:
        r = qs.get(pk=int(rule_id))
    except (RoutingRule.DoesNotExist, ValueError, TypeError):
        raise NotFound()
    audit.record("loop.routing.delete", r, unit=r.location, before=_rule_snapshot(r), now=now)
    r.delete()
