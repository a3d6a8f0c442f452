"""Evaluation on the command dashboard (``core.registry.register_dashboard_panel``) — h-reports2 block.

* **Dashboard panel** ``evaluation.stars`` — the star distribution (1–5 ★, and not rated) of the
  latest public (published or frozen) run that rated units below the dashboard's unit, counting
  those units only, with a link to that run's ranking. Two queries (the run, then one grouped
  count); none when no public run rated a unit below.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import DashboardPanel, register_dashboard_panel

STARS = (5, 4, 3, 2, 1)


def stars_panel(unit, now: datetime) -> dict | None:
    from .models import PUBLIC_STATES, Result

    below = Result.objects.filter(unit__path__startswith=unit.path, unit__depth__gt=unit.depth,
                                  party_org__isnull=True, run__state__in=PUBLIC_STATES,
                                  run__published_at__lte=now)
    run = (below.order_by("-run__end", "-run__published_at", "-run_id")
           .values("run_id", "run__period", "run__set__name", "run__state").first())
    if run is None:
        return None
    counts = {r["stars"]: r["n"] for r in below.filter(run_id=run["run_id"]).values("stars")
              .annotate(n=Count("id")).order_by()}
    rated = sum(n for s, n in counts.items() if s is not None)
    dist = [{"stars": s, "label": "★" * s, "count": counts.get(s, 0)} for s in STARS]
    return {"run_id": run["run_id"], "set_name": run["run__set__name"], "period": run["run__period"],
            "frozen": run["run__state"] == "frozen", "rated": rated, "unrated": counts.get(None, 0),
            "distribution": dist, "url": reverse("evaluation:run_detail", args=[run["run_id"]]),
            "summary": [{"label": f"{s}★", "value": counts.get(s, 0)} for s in (5, 4, 3)],
            "charts": [{"id": "stars", "kind": "bar", "categories": [d["label"] for d in dist],
                        "series": [{"name": "单位数", "color": "#f59f00", "values": [d["count"] for d in dist]}]}]}


def register() -> None:
    register_dashboard_panel(DashboardPanel("evaluation.stars", _("Star ratings"), "evaluation/_dashboard_stars.html",
                                            stars_panel, order=30, app="evaluation"))
