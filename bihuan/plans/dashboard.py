"""The plans on the command dashboard and the home page (``core.registry``).

* **Dashboard panel** ``plans.campaigns`` — the campaign countdown (大干五十天): each campaign
  running today with targets in the unit's subtree: day N of M, days left, and the progress of
  those targets (sum of the values reached against the sum of the targets; units reporting).
  One grouped query.
* **Home card** ``plans.checkins`` — the plan tasks of the user's own units (not done) whose
  check-in is due by the end of this week, or that are late (``plans.status``): late first,
  then by due point.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import DashboardPanel, HomeCard, register_dashboard_panel, register_home_card

CAMPAIGNS_SHOWN = 5
CHECKINS_SHOWN = 5


def _pct(part, whole):
    return round(float(part) * 100 / float(whole), 1) if whole else None


def campaign_panel(unit, now: datetime) -> dict | None:
    from .models import CampaignTarget

    today = timezone.localtime(now).date()
    rows = list(CampaignTarget.objects.filter(unit__path__startswith=unit.path, campaign__starts_on__lte=today,
                                              campaign__ends_on__gte=today)
                .values("campaign_id", "campaign__title", "campaign__starts_on", "campaign__ends_on",
                        "campaign__target_unit")
                .annotate(units=Count("id"), reporting=Count("id", filter=Q(last_value__isnull=False)),
                          target=Sum("target"), value=Sum("last_value"))
                .order_by("campaign__ends_on", "campaign_id")[:CAMPAIGNS_SHOWN])
    if not rows:
        return None
    out = []
    for r in rows:
        starts, ends = r["campaign__starts_on"], r["campaign__ends_on"]
        total = (ends - starts).days + 1
        out.append({"id": r["campaign_id"], "title": r["campaign__title"], "unit_of_measure": r["campaign__target_unit"],
                    "day": (today - starts).days + 1, "days_total": total, "days_left": (ends - today).days,
                    "time_pct": _pct((today - starts).days + 1, total), "units": r["units"],
                    "reporting": r["reporting"], "target": float(r["target"] or 0), "value": float(r["value"] or 0),
                    "pct": _pct(r["value"] or 0, r["target"] or 0)})
    return {"campaigns": out,
            "summary": [{"label": c["title"], "value": f"剩{c['days_left']}天 · "
                         f"{'—' if c['pct'] is None else str(c['pct']) + '%'}"} for c in out]}


def checkins_card(request, now: datetime) -> dict | None:
    from bihuan.core.calendar import WorkCalendar

    from . import status as st
    from .models import Status
    from .selectors import my_assignments
    from .services import covered_period

    user = request.user
    if not user.has_perm_anywhere("plans.assignment.checkin"):
        return None
    cal = WorkCalendar(strict=False)
    today = timezone.localtime(now).date()
    monday = today + timedelta(days=7 - today.weekday())  # the week ends when next Monday begins
    week_end = timezone.make_aware(datetime.combine(monday, time.min), timezone.get_current_timezone())
    due = []
    for a in my_assignments(user, now=now, cal=cal)[:100]:  # the user's own units: a short list
        if a.status == Status.DONE:
            continue
        period = covered_period(a, now)
        at = st.period_due(a.task, period, cal)
        late = a.status == Status.LATE  # a missing check-in, a missed milestone or past the due date
        if at <= week_end or late:
            due.append({"a": a, "period": period, "due": at, "overdue": late or at < now})
    if not due:
        return None
    due.sort(key=lambda r: (not r["overdue"], r["due"], r["a"].pk))
    return {"count": len(due), "overdue": sum(1 for r in due if r["overdue"]), "items": due[:CHECKINS_SHOWN]}


def register() -> None:
    register_dashboard_panel(DashboardPanel("plans.campaigns", _("Campaign countdown"),
                                            "plans/_dashboard_campaigns.html", campaign_panel, order=20, app="plans"))
    register_home_card(HomeCard("plans.checkins", "plans/_home_checkins.html", checkins_card, order=25))
