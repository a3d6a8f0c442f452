"""Key projects (重点项目) and key enterprises (重点企业): the registers' every write.

* A key project has a lead unit, a level, a responsible official, an investment plan by month
  and the actual investment reported month by month, and three milestones (开工, 投产, 竣工),
  planned and actual. Progress against the plan is derived at read time (``selectors``).
* A key enterprise is on one of the city's lists (十强产业, 四新经济, 规上服务业 …) and linked to a
  unit and its officials (包保); its demand becomes a loop matter addressed to that unit.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import ServiceError
from bihuan.core.scope import get_required, require, require_city_wide

from ..models import EnterpriseDemand, EnterpriseGroup, KeyEnterprise, KeyProject, ProjectLevel, ProjectMonth
from . import _date, _decimal, _now, _text

MILESTONES = ("start", "production", "completion")
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def get_project(user, project, action: str = "view") -> KeyProject:
    return get_required(user, f"plans.project.{action}", KeyProject.objects.select_related("unit"), project)


def _money(value, field: str, *, required: bool = False) -> Decimal | None:
    v = _decimal(value, field, required=required)
    if v is not None and v < 0:
        raise ServiceError(_("An amount must not be negative."), {field: _("At least 0.")})
    return v


def _clean_project(values: dict, year: int) -> dict:
    out = {}
    if "name" in values:
        out["name"] = _text(values["name"], "name", limit=120, required=True)
    if "level" in values:
        if values["level"] not in ProjectLevel.values:
            raise ServiceError(_("Unknown project level."), {"level": _("provincial, city or county.")})
        out["level"] = values["level"]
    if "official" in values:
        out["official"] = _text(values["official"], "official", limit=60)
    if "total_investment" in values:
        out["total_investment"] = _money(values["total_investment"], "total_investment")
    for m in MILESTONES:
        for k in (f"{m}_planned", f"{m}_actual"):
            if k in values:
                out[k] = None if values[k] in (None, "") else _date(values[k], k)
    return out


def _clean_months(months, year: int, field: str) -> dict[int, Decimal]:
    out = {}
    for month, amount in (months or {}).items():
        try:
            month = int(month)
        except (TypeError, ValueError):
            month = 0
        if not 1 <= month <= 12:
            raise ServiceError(_("A month is 1 to 12."), {field: _("1 to 12.")})
        v = _money(amount, f"{field}.{month}")
        if v is not None:
            out[month] = v
    return out


def _project_snapshot(p: KeyProject) -> dict:
    return {"name": p.name, "year": p.year, "unit_id": p.unit_id, "level": p.level, "official": p.official,
            "total_investment": p.total_investment, "version": p.version,
            **{f"{m}_{k}": getattr(p, f"{m}_{k}") for m in MILESTONES for k in ("planned", "actual")},
            "plan": {r.month.month: r.planned for r in p.months.all()}}


@transaction.atomic
def save_project(user, *, unit, year, name: str, plan=None, actual=None, now: datetime | None = None,
                 **values) -> tuple[KeyProject, str]:
    """Create the project (year, name) or bring it up to the given values; ``plan`` and ``actual``
    map month (1–12) to 万元. Returns (project, "created" | "updated" | "unchanged")."""
    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the lead unit."), {"unit": _("This field is required.")})
    require(user, "plans.project.manage", unit)
    try:
        year = int(year)
    except (TypeError, ValueError):
        year = 0
    if not 2000 <= year <= 2100:
        raise ServiceError(_("The year must be 2000 to 2100."), {"year": _("2000 to 2100.")})
    clean = _clean_project({"name": name, **values}, year)
    plan = _clean_months(plan, year, "plan")
    actual = _clean_months(actual, year, "actual")
    today = timezone.localtime(now).date()
    if any(date(year, m, 1) > today for m in actual):
        raise ServiceError(_("Actual investment can be reported only for months that have begun."),
                           {"actual": _("Not a future month.")}, code="future_month")
    p = KeyProject.objects.select_for_update().filter(year=year, name=clean["name"]).first()
    if p is not None:
        require(user, "plans.project.manage", p)
    outcome = "unchanged"
    before = _project_snapshot(p) if p else None
    if p is None:
        p = KeyProject.objects.create(unit=unit, year=year, created_at=now, **clean)
        outcome = "created"
    else:
        changed = {k: v for k, v in clean.items() if getattr(p, k) != v}
        if p.unit_id != unit.pk:
            changed["unit"] = unit
        if changed:
            KeyProject.objects.filter(pk=p.pk).update(version=p.version + 1, **changed)
            outcome = "updated"
    rows = {r.month.month: r for r in p.months.all()}
    for m in sorted(set(plan) | set(actual)):
        r = rows.get(m)
        want = {"planned": plan.get(m, r.planned if r else Decimal("0"))}
        if m in actual:
            want["actual"] = actual[m]
        if r is None:
            ProjectMonth.objects.create(project=p, month=date(year, m, 1), reported_at=now if m in actual else None,
                                        **want)
            outcome = "updated" if outcome == "unchanged" else outcome
        elif any(getattr(r, k) != v for k, v in want.items()):
            if m in actual and r.actual != actual[m]:
                want["reported_at"] = now
            ProjectMonth.objects.filter(pk=r.pk).update(**want)
            outcome = "updated" if outcome == "unchanged" else outcome
    if outcome != "unchanged":
        p = KeyProject.objects.select_related("unit").get(pk=p.pk)
        audit.record(f"plans.project.{'create' if outcome == 'created' else 'update'}", p, before=before,
                     after=_project_snapshot(p), now=now)
    return p, outcome


@transaction.atomic
def report_progress(user, project, *, month=None, actual=None, milestone: str = "", on=None,
                    now: datetime | None = None) -> KeyProject:
    """The lead unit reports a month's actual investment and/or a milestone reached (开工 …)."""
    now = _now(now)
    p = get_project(user, project, "report")
    today = timezone.localtime(now).date()
    after = {}
    if month not in (None, ""):
        try:
            m = int(month)
        except (TypeError, ValueError):
            m = 0
        if not 1 <= m <= 12:
            raise ServiceError(_("A month is 1 to 12."), {"month": _("1 to 12.")})
        first = date(p.year, m, 1)
        if first > today:
            raise ServiceError(_("Actual investment can be reported only for months that have begun."),
                               {"month": _("Not a future month.")}, code="future_month")
        amount = _money(actual, "actual", required=True)
        updated = ProjectMonth.objects.filter(project=p, month=first).update(actual=amount, reported_at=now)
        if not updated:
            ProjectMonth.objects.create(project=p, month=first, planned=0, actual=amount, reported_at=now)
        after["month"], after["actual"] = first, amount
    if milestone:
        if milestone not in MILESTONES:
            raise ServiceError(_("Unknown milestone."), {"milestone": _("start, production or completion.")})
        d = _date(on or today, "on")
        if d > today:
            raise ServiceError(_("A milestone is reported when it is reached, not before."), {"on": _("Not a future day.")})
        KeyProject.objects.filter(pk=p.pk).update(**{f"{milestone}_actual": d})
        after[f"{milestone}_actual"] = d
    if not after:
        raise ServiceError(_("Report a month's actual investment or a milestone reached."),
                           {"actual": _("Nothing to report.")})
    audit.record("plans.project.report", p, after=after, now=now)
    return p


# --- key enterprises ------------------------------------------------------------------------------

def get_enterprise(user, enterprise, action: str = "view") -> KeyEnterprise:
    return get_required(user, f"plans.enterprise.{action}",
                        KeyEnterprise.objects.select_related("unit", "group"), enterprise)


@transaction.atomic
def ensure_group(user, name: str, now: datetime | None = None) -> EnterpriseGroup:
    """One of the city's lists; a new list is the city's to define (city-wide scope)."""
    name = _text(name, "group", limit=40, required=True)
    g = EnterpriseGroup.objects.filter(name=name).first()
    if g is not None:
        return g
    require_city_wide(user, "plans.enterprise.manage",
                      _("Only the city defines a new list of key enterprises (%(n)s).") % {"n": name})
    g = EnterpriseGroup.objects.create(name=name, seq=EnterpriseGroup.objects.count() + 1)
    audit.record("plans.enterprise_group.create", g, after={"name": name}, now=now)
    return g


def _enterprise_snapshot(e: KeyEnterprise) -> dict:
    return {"name": e.name, "credit_code": e.credit_code, "group": e.group.name, "unit_id": e.unit_id,
            "industry": e.industry, "officials": e.officials}


@transaction.atomic
def save_enterprise(user, *, unit, group: str, name: str, credit_code: str, industry: str = "",
                    officials: str = "", now: datetime | None = None) -> tuple[KeyEnterprise, str]:
    """Create the enterprise (by its credit code) or bring it up to these values."""
    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the linked unit."), {"unit": _("This field is required.")})
    require(user, "plans.enterprise.manage", unit)
    name = _text(name, "name", limit=120, required=True)
    code = _text(credit_code, "credit_code", limit=18, required=True).upper()
    if not CREDIT_CODE.match(code):
        raise ServiceError(_("%(c)s is not a unified social credit code (18 characters).") % {"c": code},
                           {"credit_code": _("18 characters: digits and capital letters.")})
    values = {"name": name, "industry": _text(industry, "industry", limit=60),
              "officials": _text(officials, "officials", limit=200)}
    g = ensure_group(user, group, now=now)
    e = KeyEnterprise.objects.select_for_update().filter(credit_code=code).select_related("group").first()
    if e is None:
        e = KeyEnterprise.objects.create(unit=unit, group=g, credit_code=code, created_at=now, **values)
        audit.record("plans.enterprise.create", e, after=_enterprise_snapshot(e), now=now)
        return e, "created"
    require(user, "plans.enterprise.manage", e)
    changed = {k: v for k, v in values.items() if getattr(e, k) != v}
    if e.group_id != g.pk:
        changed["group"] = g
    if e.unit_id != unit.pk:
        changed["unit"] = unit
    if not changed:
        return e, "unchanged"
    before = _enterprise_snapshot(e)
    KeyEnterprise.objects.filter(pk=e.pk).update(**changed)
    e = KeyEnterprise.objects.select_related("group", "unit").get(pk=e.pk)
    audit.record("plans.enterprise.update", e, before=before, after=_enterprise_snapshot(e), now=now)
    return e, "updated"


def _demand_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.DEMAND, active=True, code="enterprise_demand").first()
           or Category.objects.filter(kind=Kind.DEMAND, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="enterprise_demand", name="企业诉求", kind=Kind.DEMAND,
                                          handle_days=15)
    return cat


@transaction.atomic
def raise_demand(user, enterprise, *, title: str, description: str, now: datetime | None = None) -> int:
    """An enterprise's demand (企业诉求): one loop matter (kind demand) sent to its linked unit."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    now = _now(now)
    e = get_enterprise(user, enterprise, "demand")
    title = _text(title, "title", limit=100, required=True)
    description = _text(description, "description", limit=4000, required=True)
    matter = loop_services.create_matter(None, category=_demand_category(), location_unit=e.unit,
                                         title=f"{e.name}: {title}"[:120], description=description,
                                         kind=Kind.DEMAND, now=now)
    matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=e.unit, now=now)
    d = EnterpriseDemand.objects.create(enterprise=e, title=title, matter_id=matter.pk, created_at=now,
                                        created_by=user)
    audit.record("plans.enterprise.demand", e, after={"demand_id": d.pk, "matter_id": matter.pk, "title": title},
                 now=now)
    return matter.pk
