"""Care on the command dashboard (``core.registry.register_dashboard_panel``).

* **Dashboard panel** ``care.visits`` — today's care visits in the unit's subtree: done, due,
  missed (``care.status``) and the kept rate, and the child units with the most missed visits
  (link to the care board). One aggregate and one grouped count; none when no visit is planned
  today below the unit.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import DashboardPanel, register_dashboard_panel
from bihuan.orgs.models import OrgUnit

TOP = 5


def visits_panel(unit, now: datetime) -> dict | None:
    from . import selectors
    from . import status as st
    from .models import Visit

    day = selectors.today(now)
    qs = Visit.objects.filter(day=day, unit__path__startswith=unit.path)
    c = qs.aggregate(total=Count("id"), done=Count("id", filter=~Q(outcome="")),
                     due=Count("id", filter=st.due_q(now)), missed=Count("id", filter=st.missed_q(now)))
    if not c["total"]:
        return None
    kept = round(c["done"] * 100 / (c["done"] + c["missed"]), 1) if c["done"] + c["missed"] else None
    children = {pk: name for pk, name in OrgUnit.objects.filter(parent=unit, valid_to__isnull=True)
                .values_list("pk", "name")}
    top = []
    if children:
        rows = (qs.filter(st.missed_q(now), unit__depth__gt=unit.depth)
                .values("unit__path").annotate(n=Count("id")).order_by())
        per: dict[int, int] = {}
        for r in rows:  # grouped by unit: only the units with a missed visit today; each to its child of ``unit``
            pk = int(r["unit__path"][len(unit.path):].split("/", 1)[0])
            per[pk] = per.get(pk, 0) + r["n"]
        top = sorted(({"unit_id": pk, "unit_name": children[pk], "missed": n} for pk, n in per.items()
                      if pk in children), key=lambda r: (-r["missed"], r["unit_id"]))[:TOP]
    return {"day": day.isoformat(), "unit_id": unit.pk, **c, "kept_rate": kept, "top_missed": top,
            "summary": [{"label": "今日关爱", "value": c["total"]}, {"label": "已完成", "value": c["done"]},
                        {"label": "漏访", "value": c["missed"], "tone": "red" if c["missed"] else ""}]}


def register() -> None:
    register_dashboard_panel(DashboardPanel("care.visits", _("Care visits today"), "care/_dashboard_visits.html",
                                            visits_panel, order=40, app="care"))
