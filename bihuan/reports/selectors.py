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
PAST_SECONDS = 3600  # figures of whole past periods (last month, the 12 past weeks)
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

    # by default the period sections only: a snapshot section (``meta["snapshot"]``, counts as of
    # now) is asked for by name (the figures page)
    names = names or sorted(n for n, s in registry.SECTIONS.items() if not s.meta.get("snapshot"))
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


def _minute_key(unit, now: datetime) -> str:
    return f"reports:dash:{unit.pk}:{now.astimezone(kinds.TZ).strftime('%Y%m%d%H%M')}"


def forget_dashboard(unit, now: datetime) -> None:
    """Drop the minute's cached dashboard (past periods stay cached): the next call recomputes
    this month's figures, as after the cache minute runs out."""
    cache.delete(_minute_key(unit, now))


def dashboard(unit: OrgUnit, now: datetime) -> dict:
    """The dashboard of ``unit`` (JSON-ready): headline figures of this month against last month,
    each child's ranked figures and colour, the 12-week trend of each headline. Cached a minute."""
    key = _minute_key(unit, now)
    hit = cache.get(key)
    if hit is not None:
        return hit
    this_key = kinds.current("month", now)
    start, end, label = kinds.period_bounds("month", this_key)
    pstart, pend, plabel = kinds.period_bounds("month", kinds.previous("month", this_key))
    secs = sections_for(unit, start=start, end=min(end, now), now=now)
    prev_key = f"reports:dash-prev:{unit.pk}:{pstart.date()}"
    prev = cache.get(prev_key)
    if prev is None:  # last month's figures move little: kept an hour
        prev = {h["section"]: h for h in figures.headline(sections_for(unit, start=pstart, end=pend, now=now))}
        cache.set(prev_key, prev, PAST_SECONDS)
    heads = []
    for h in figures.headline(secs):
        h["previous"] = prev.get(h["section"], {}).get("value")
        heads.append(h)
    children = []
    for c in OrgUnit.objects.filter(parent=unit, valid_to__isnull=True).order_by("sort", "code"):
        vals = {s["name"]: next((r["values"].get(s["rank_by"]) for r in s["rows"] if r["unit_id"] == c.pk), None)
                for s in secs}
        children.append({"unit_id": c.pk, "unit_name": c.name, "light": _light(c.pk, secs), "values": vals})
    panels = _panels(unit, now)
    worse = {"grey": 0, "green": 1, "yellow": 2, "red": 3}
    for c in children:  # the grid shows each child's worst light (ranking or the panels' lights)
        for p in panels:
            light = (p.get("child_lights") or {}).get(str(c["unit_id"]))
            if light in worse and worse[light] > worse[c["light"]]:
                c["light"] = light
    trend = _trend(unit, secs, now)
    data = {"unit": {"id": unit.pk, "name": unit.name}, "period": label, "previous_period": plabel,
            "headline": heads, "children": children, "trend": trend,
            "sections": [{"name": s["name"], "label": s["label"], "rank_label": s["rank_label"],
                          "ahead": s["ahead"], "behind": s["behind"]} for s in secs],
            "panels": panels, "generated_at": now.isoformat()}
    cache.set(key, data, DASHBOARD_SECONDS)
    return data


def _panels(unit: OrgUnit, now: datetime) -> list[dict]:
    """The registered dashboard panels (``core.registry.register_dashboard_panel``) for ``unit``:
    each app computes its own in SQL; reports only places them. A panel with nothing to show
    (None) is left out."""
    from bihuan.core import registry

    out = []
    with translation.override("zh-hans"):
        for p in registry.dashboard_panels():
            got = p.compute(unit, now)
            if got is not None:
                out.append({"name": p.name, "label": str(p.label), **got})
    return out


def panel_templates(data: dict) -> list[tuple[str, dict]]:
    """(template, panel) for the page, in the dashboard's order (panels no longer registered skipped)."""
    from bihuan.core import registry

    return [(registry.DASHBOARD_PANELS[p["name"]].template, p) for p in data.get("panels", [])
            if p["name"] in registry.DASHBOARD_PANELS]


def draft_units(user, perm: str = "reports.bulletin.draft"):
    """Units a user may issue bulletins for: in scope, township level or above (a bulletin ranks
    the unit's children), top first."""
    from bihuan.orgs.models import Level

    return (OrgUnit.objects.filter(units_q(user, perm), level__lte=Level.TOWNSHIP, valid_to__isnull=True)
            .order_by("depth", "sort", "code"))


def schedules(user):
    from .models import BulletinSchedule

    return BulletinSchedule.objects.restrict(user, "draft").select_related("unit")


def _trend(unit: OrgUnit, secs: list[dict], now: datetime) -> dict:
    """Each headline's value for ``unit`` itself in each of the last 12 whole weeks: from the
    evaluation source of the section's ranked column (``<app>.<column>``, one figure for the unit's
    subtree), cached an hour per unit and week (past weeks do not change)."""
    from bihuan.core import registry

    week0 = kinds.period_bounds("week", kinds.current("week", now))[0]
    key = f"reports:dash-trend:{unit.pk}:{week0.date()}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    weeks = [week0 - timedelta(weeks=i) for i in range(TREND_WEEKS, 0, -1)]
    trend = {"weeks": [w.astimezone(kinds.TZ).strftime("%m-%d") for w in weeks], "series": []}
    for s in secs:
        name = f"{s['name'].split('.', 1)[0]}.{s['rank_by']}"
        if not s["rank_by"] or name not in registry.SOURCES:
            continue
        values = registry.compute_series(name, [unit], starts=weeks, end=week0, now=now)[unit.pk]
        nums = [v for v in values if v is not None]
        if registry.SOURCES[name].unit == "%" and nums and max(abs(v) for v in nums) <= 1:
            # Sources do not all state their scale: a rate never above 1 is a fraction (loop's).
            values = [None if v is None else round(100 * v, 1) for v in values]
        trend["series"].append({"label": s["rank_label"], "unit": s["rank_unit"], "values": values})
    cache.set(key, trend, PAST_SECONDS)
    return trend
