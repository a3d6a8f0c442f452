"""The loop on the command dashboard and the home page (``core.registry``): reports knows no loop
table, the loop registers what it shows.

* **Dashboard panel** ``loop.matters`` — for a unit's subtree (在办 as the board counts it,
  ``selectors.in_work_q``): open / yellow / red, the backlog by age (days since registration:
  <3, 3–7, 7–15, 15–30, >30) × light, the top categories and the top child units by open matters,
  and each child's worst light (red: any overdue; yellow: any due soon; else green). Three grouped
  queries (the running matters by the lead unit's path, those awaiting dispatch by their
  location's, the categories); reports caches the whole dashboard for a minute.
* **Home card** ``loop.work`` — for users below the township (a village secretary, a grid
  worker): the inbox counts by tab and the most urgent open matters with their lights.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, CharField, Count, Value, When
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import DashboardPanel, HomeCard, register_dashboard_panel, register_home_card
from bihuan.orgs.models import OrgUnit

from . import selectors
from .models import RUNNING_STATES, Matter, State

# (key, label, lower bound in days, upper bound in days or None)
AGES = (("<3", "<3天", 0, 3), ("3-7", "3–7天", 3, 7), ("7-15", "7–15天", 7, 15), ("15-30", "15–30天", 15, 30),
        (">30", ">30天", 30, None))
LIGHTS = ("red", "yellow", "green")
LIGHT_COLOURS = {"red": "#d63939", "yellow": "#f59f00", "green": "#2fb344"}
LIGHT_NAMES = {"red": "超期", "yellow": "临期", "green": "正常"}
TOP = 5


def _age_expr(now: datetime) -> Case:
    whens = [When(created_at__lte=now - timedelta(days=lo), then=Value(key)) for key, _l, lo, _h in reversed(AGES)
             if lo]
    return Case(*whens, default=Value(AGES[0][0]), output_field=CharField())


def _child_expr(unit: OrgUnit, field: str) -> Case:
    """The child of ``unit`` whose subtree holds the matter's ``field`` unit (its id as text), "" for
    the unit itself (a CASE, so the path is never cut at a negative length)."""
    return Case(When(**{field: unit}, then=Value("")), default=selectors._child_key(unit, field),
                output_field=CharField())


def _parts(unit: OrgUnit):
    """在办 of the subtree as two querysets, each on its own index (as ``supervision_board``)."""
    running = Matter.objects.filter(handling_unit__path__startswith=unit.path, state__in=RUNNING_STATES)
    waiting = Matter.objects.filter(handling_unit__isnull=True, location_unit__path__startswith=unit.path,
                                    state=State.NEW)
    return ((running, "handling_unit"), (waiting, "location_unit"))


def panel(unit: OrgUnit, now: datetime) -> dict:
    ages = {key: dict.fromkeys(LIGHTS, 0) for key, *_ in AGES}
    per_child: dict[str, dict] = {}
    for qs, field in _parts(unit):
        rows = (qs.annotate(child=_child_expr(unit, field), age=_age_expr(now), light=selectors.light_expr(now))
                .values("child", "age", "light").annotate(n=Count("id")).order_by())
        for r in rows:
            light = r["light"] if r["light"] in LIGHTS else "green"
            ages[r["age"]][light] += r["n"]
            c = per_child.setdefault(r["child"], dict.fromkeys(("open", *LIGHTS), 0))
            c["open"] += r["n"]
            c[light] += r["n"]
    totals = {k: sum(a[k] for a in ages.values()) for k in LIGHTS}
    totals["open"] = sum(totals.values())
    children = {str(pk): name for pk, name in
                OrgUnit.objects.filter(parent=unit, valid_to__isnull=True).values_list("pk", "name")}
    child_lights = {}
    for pk in children:
        c = per_child.get(pk)
        child_lights[pk] = "red" if c and c["red"] else "yellow" if c and c["yellow"] else "green"
    top_units = sorted(({"unit_id": int(pk), "unit_name": children[pk], **c} for pk, c in per_child.items()
                        if pk in children and c["open"]), key=lambda r: (-r["open"], -r["red"], r["unit_id"]))[:TOP]
    cats: dict[int, dict] = {}
    for qs, _field in _parts(unit):
        for r in (qs.values("category_id", "category__name")
                  .annotate(n=Count("id"), red=Count("id", filter=selectors.overdue_q(now))).order_by()):
            c = cats.setdefault(r["category_id"], {"category_id": r["category_id"],
                                                    "category": r["category__name"] or "—", "open": 0, "red": 0})
            c["open"] += r["n"]
            c["red"] += r["red"]
    top_categories = sorted(cats.values(), key=lambda c: (-c["open"], -c["red"], c["category_id"] or 0))[:TOP]
    return {
        "open": totals["open"], "red": totals["red"], "yellow": totals["yellow"], "green": totals["green"],
        "backlog": [{"age": key, "label": label, **ages[key]} for key, label, *_ in AGES],
        "summary": [{"label": "在办", "value": totals["open"]},
                    {"label": "临期", "value": totals["yellow"], "tone": "yellow" if totals["yellow"] else ""},
                    {"label": "超期", "value": totals["red"], "tone": "red" if totals["red"] else ""}],
        "top_categories": top_categories, "top_units": top_units, "child_lights": child_lights,
        "charts": [
            {"id": "backlog", "kind": "bar", "categories": [label for _k, label, *_ in AGES],
             "series": [{"name": LIGHT_NAMES[lt], "color": LIGHT_COLOURS[lt], "stack": "age",
                         "values": [ages[key][lt] for key, *_ in AGES]} for lt in LIGHTS]},
            {"id": "hotspots", "kind": "bar", "horizontal": True,
             "categories": [c["category"] for c in reversed(top_categories)],
             "series": [{"name": "在办", "color": "#206bc4", "values": [c["open"] for c in reversed(top_categories)]}]},
        ],
    }


# --- home card ----------------------------------------------------------------------------------

HOME_MATTERS = 5
TODO_TABS = ("to_dispatch", "to_accept", "in_progress", "due_soon", "overdue", "to_evaluate")


def _below_township(user, perm: str) -> bool:
    from bihuan.orgs.models import Level

    top = user.scope_units(perm).order_by("depth", "path").first()
    return top is not None and top.level > Level.TOWNSHIP


def work_card(request, now: datetime) -> dict | None:
    """A village or grid user's loop work: the inbox counts by tab, and the open matters most
    urgent first (red, then yellow, by deadline) with their lights."""
    from django.db.models.functions import Coalesce

    from .views.matters import TAB_LABELS, visible_tabs

    user = request.user
    if not user.has_perm_anywhere("loop.matter.view") or not _below_township(user, "loop.matter.view"):
        return None
    open_base = selectors.open_matters(user)
    counts = selectors.inbox_counts(user, now=now, closed_cap=selectors.CLOSED_COUNT_CAP, open_base=open_base)
    tabs = [(t, TAB_LABELS[t], counts[t]) for t in visible_tabs(user) if t in TODO_TABS]
    urgency = Case(When(selectors.overdue_q(now), then=Value(0)), When(selectors.due_soon_q(now), then=Value(1)),
                   default=Value(2))
    matters = list(selectors.with_light(open_base, now)
                   .annotate(urgency=urgency, due_order=Coalesce("due_at", "dispatch_due_at"))
                   .select_related("location_unit", "handling_unit")
                   .order_by("urgency", "due_order", "id")[:HOME_MATTERS])
    return {"tabs": tabs, "overdue": counts["overdue"], "due_soon": counts["due_soon"], "matters": matters}


def register() -> None:
    register_dashboard_panel(DashboardPanel("loop.matters", _("Matters in work"), "loop/_dashboard_panel.html",
                                            panel, order=10, app="loop"))
    register_home_card(HomeCard("loop.work", "loop/_home_work.html", work_card, order=20))
