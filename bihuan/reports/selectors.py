"""Reads for the pages and the API: bulletins through ``restrict``, the dashboard's figures from the
registered sections (``core.registry``), with a short cache for wall screens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import translation

from bihuan.core.errors import NotFound
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import figures, kinds
from .models import Bulletin, BulletinRead

VIEW = "reports.bulletin.view"
DASHBOARD = "reports.dashboard.view"
DASHBOARD_SECONDS = 60
TREND_WEEKS = 12


def bulletins(user, *, state: str = "", template: str = ""):
    qs = Bulletin.objects.restrict(user, "view").select_related("unit")
    if state:
        qs = qs.filter(state=state)
    if template:
        qs = qs.filter(template=template)
    return qs.order_by("-created_at", "-id")


def get_bulletin(user, bulletin_id: int, action: str = "view") -> Bulletin:
    b = Bulletin.objects.restrict(user, action).select_related("unit", "corrects").filter(pk=bulletin_id).first()
    if b is None:
        raise NotFound()
    return b


def reads(bulletin: Bulletin) -> list[dict]:
    """Each receiving unit (a child of the issuing unit) with its first reader, if any."""
    got = {r.unit_id: r for r in BulletinRead.objects.filter(bulletin=bulletin).select_related("user")}
    return [{"unit": u, "read": got.get(u.pk)}
            for u in OrgUnit.objects.filter(parent=bulletin.unit, valid_to__isnull=True).order_by("sort", "code")]


def unit_for(user, unit_id, perm: str = DASHBOARD) -> OrgUnit:
    """``unit_id`` if in the user's scope for ``perm`` (else 404); None → the user's top unit."""
    qs = OrgUnit.objects.filter(units_q(user, perm))
    if unit_id in (None, ""):
        unit = user.scope_units(perm).order_by("depth", "path").first()
    else:
        try:
            unit = qs.filter(pk=int(unit_id)).first()
        except (TypeError, ValueError, OverflowError):
            unit = None
    if unit is None:
        raise NotFound()
    return unit


def sections_for(unit, *, start: datetime, end: datetime, now: datetime, names=None) -> list[dict]:
    """Every registered section (or ``names``) for ``unit``'s children over the period (ranked)."""
    from bihuan.core import registry

    names = names or sorted(registry.SECTIONS)
    with translation.override("zh-hans"):
        return [figures.section_rows(s, unit, start=start, end=end, now=now) for s in figures.registered(names)]


def _light(child_id: int, sections: list[dict]) -> str:
    """A child's colour: red when named behind in any section, yellow when in the lower half of a
    ranked section, else green (grey: no figures)."""
    colour, any_value = "green", False
    for s in sections:
        ranked = [r for r in s["rows"] if "rank" in r]
        for r in s["rows"]:
            if r["unit_id"] != child_id:
                continue
            if "rank" in r:
                any_value = True
                if any(u["id"] == child_id for u in s["behind"]):
                    return "red"
                if r["rank"] > (len(ranked) + 1) // 2 and len(ranked) > 2:
                    colour = "yellow"
    return colour if any_value else "grey"


def dashboard(unit: OrgUnit, now: datetime) -> dict:
    """The dashboard of ``unit`` (JSON-ready): headline figures of this month against last month,
    each child's ranked figures and colour, the 12-week trend of each headline. Cached a minute."""
    key = f"reports:dash:{unit.pk}:{now.astimezone(kinds.TZ).strftime('%Y%m%d%H%M')}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    this_key = kinds.current("month", now)
    start, end, label = kinds.period_bounds("month", this_key)
    pstart, pend, plabel = kinds.period_bounds("month", kinds.previous("month", this_key))
    secs = sections_for(unit, start=start, end=min(end, now), now=now)
    prev = {h["section"]: h for h in figures.headline(sections_for(unit, start=pstart, end=pend, now=now))}
    heads = []
    for h in figures.headline(secs):
        h["previous"] = prev.get(h["section"], {}).get("value")
        heads.append(h)
    children = []
    for c in OrgUnit.objects.filter(parent=unit, valid_to__isnull=True).order_by("sort", "code"):
        vals = {s["name"]: next((r["values"].get(s["rank_by"]) for r in s["rows"] if r["unit_id"] == c.pk), None)
                for s in secs}
        children.append({"unit_id": c.pk, "unit_name": c.name, "light": _light(c.pk, secs), "values": vals})
    week0 = kinds.period_bounds("week", kinds.current("week", now))[0]
    weeks = [week0 - timedelta(weeks=i) for i in range(TREND_WEEKS, 0, -1)]
    trend = {"weeks": [w.astimezone(kinds.TZ).strftime("%m-%d") for w in weeks], "series": []}
    per_week = [figures.headline(sections_for(unit, start=w, end=w + timedelta(weeks=1), now=now)) for w in weeks]
    for i, h in enumerate(heads):
        trend["series"].append({"label": h["label"], "unit": h["unit"],
                                "values": [pw[i]["value"] if i < len(pw) else None for pw in per_week]})
    data = {"unit": {"id": unit.pk, "name": unit.name}, "period": label, "previous_period": plabel,
            "headline": heads, "children": children, "trend": trend,
            "sections": [{"name": s["name"], "label": s["label"], "rank_label": s["rank_label"],
                          "ahead": s["ahead"], "behind": s["behind"]} for s in secs],
            "generated_at": now.isoformat()}
    cache.set(key, data, DASHBOARD_SECONDS)
    return data


def draft_units(user, perm: str = "reports.bulletin.draft"):
    """Units a user may issue bulletins for: in scope, township level or above (a bulletin ranks
    the unit's children), top first."""
    from bihuan.orgs.models import Level

    return (OrgUnit.objects.filter(units_q(user, perm), level__lte=Level.TOWNSHIP, valid_to__isnull=True)
            .order_by("depth", "sort", "code"))


def schedules(user):
    from .models import BulletinSchedule

    return BulletinSchedule.objects.restrict(user, "draft").select_related("unit")
