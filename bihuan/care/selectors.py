"""Reads for the care pages and the API, always through ``restrict(user, action)`` or ``units_q``.

Counts are made in SQL (one aggregate for the board, one grouped query per parent for reports);
lists are querysets the caller paginates.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import StrIndex, Substr, TruncMonth
from django.utils import timezone

from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit
from bihuan.people.models import FLAG_FIELDS, Person

from . import status as st
from .models import (
    CarePlan,
    CareService,
    Helper,
    Outcome,
    RecordStatus,
    ServiceRecord,
    Survey,
    TeamMember,
    Visit,
    VolunteerTeam,
)


def today(now: datetime) -> date:
    return timezone.localtime(now).date()


# --- the round and the board --------------------------------------------------------------------

def my_round(user, day: date):
    """The visits ``user`` is helper or backup of on ``day``, in time order, with the resident."""
    return (Visit.objects.restrict(user, "view").filter(day=day)
            .filter(Q(helper_id=user.pk) | Q(backup_id=user.pk))
            # What the round shows: the resident (and household address), the service's label, the
            # helper's name, the unit; the backup is not shown, so not joined (EXPLAIN: the plan is
            # two index scans, 0.6 ms; the rest is planning the joins and building wide rows).
            .select_related("person", "person__household", "service", "helper", "unit")
            .order_by("starts_at", "id"))


def visits(user, *, day: date | None = None, unit: OrgUnit | None = None, helper_id: int | None = None,
           status: str = "", now: datetime):
    qs = Visit.objects.restrict(user, "view").select_related("person", "service", "helper", "backup", "unit")
    if day is not None:
        qs = qs.filter(day=day)
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    if helper_id:
        qs = qs.filter(Q(helper_id=helper_id) | Q(backup_id=helper_id))
    if status == st.DUE:
        qs = qs.filter(st.due_q(now))
    elif status == st.MISSED:
        qs = qs.filter(st.missed_q(now))
    elif status in Outcome.values:
        qs = qs.filter(outcome=status)
    return qs.order_by("starts_at", "id")


def board(user, unit: OrgUnit, day: date, now: datetime) -> dict:
    """Today's visits under ``unit``: done / due / missed and each outcome, in one aggregate."""
    qs = Visit.objects.restrict(user, "view").filter(day=day, unit__path__startswith=unit.path)
    counts = qs.aggregate(
        total=Count("id"), due=Count("id", filter=st.due_q(now)), missed=Count("id", filter=st.missed_q(now)),
        checked=Count("id", filter=~Q(outcome="")), late=Count("id", filter=Q(late=True)),
        **{o: Count("id", filter=Q(outcome=o)) for o in Outcome.values})
    counts["kept_rate"] = _pct(counts["checked"], counts["checked"] + counts["missed"])
    return counts


def board_attention(user, unit: OrgUnit, day: date, now: datetime):
    """Today's visits that need someone: missed, or the resident unwell / not home / refused."""
    return (Visit.objects.restrict(user, "view").filter(day=day, unit__path__startswith=unit.path)
            .filter(st.missed_q(now) | Q(outcome__in=[Outcome.UNWELL, Outcome.NOT_HOME, Outcome.REFUSED]))
            .select_related("person", "helper", "backup").order_by("starts_at", "id"))


def board_units(user):
    """Villages and grids the user may see the board of (for the unit chooser)."""
    return OrgUnit.objects.filter(units_q(user, "care.visit.view"), valid_to__isnull=True).order_by("path")


# --- surveys ------------------------------------------------------------------------------------

def surveys(user, *, unit: OrgUnit | None = None, q: str = ""):
    qs = Survey.objects.restrict(user, "view").select_related("person", "unit")
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    if q:
        qs = qs.filter(person__name__startswith=q)
    return qs.order_by("-surveyed_on", "-id")


def vulnerable_q() -> Q:
    q = Q()
    for f in FLAG_FIELDS:
        q |= Q(**{f"vulnerability__{f}": True})
    return q


def unsurveyed(user, unit: OrgUnit, year: int):
    """Residents of ``unit``'s subtree flagged vulnerable (people's 摸排 flags) with no care
    survey dated in ``year``: who the grid workers still have to see."""
    done = Survey.objects.filter(person=OuterRef("pk"), surveyed_on__gte=date(year, 1, 1),
                                 surveyed_on__lte=date(year, 12, 31))
    return (Person.objects.filter(units_q(user, "care.survey.view", prefix="unit__"))
            .filter(unit__path__startswith=unit.path).filter(vulnerable_q())
            .exclude(Exists(done)).select_related("unit", "household").order_by("unit__path", "id"))


# --- plans --------------------------------------------------------------------------------------

def plans(user, *, unit: OrgUnit | None = None):
    qs = CarePlan.objects.restrict(user, "view").select_related("person", "unit").annotate(
        n_services=Count("services"))
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs.order_by("unit__path", "id")


def plan_services(plan: CarePlan):
    return CareService.objects.filter(plan=plan).select_related("helper", "backup").order_by("window_start", "id")


def helpers_for(user, unit: OrgUnit):
    """Helpers the user may pair at ``unit`` (the unit's village and below)."""
    return (Helper.objects.restrict(user, "manage").filter(unit__path__startswith=_village_path(unit))
            .select_related("person", "user").order_by("person__name", "id"))


def helper_candidates(user, unit: OrgUnit, q: str):
    """Persons of ``unit``'s village whose name starts with ``q`` and who are not helpers yet."""
    return (Person.objects.filter(units_q(user, "care.plan.manage", prefix="unit__"))
            .filter(unit__path__startswith=_village_path(unit), name__startswith=q)
            .exclude(Exists(Helper.objects.filter(person=OuterRef("pk")))).select_related("unit").order_by("name", "id"))


def _village_path(unit: OrgUnit) -> str:
    from .services import village_of

    return village_of(unit).path


# --- figures for sources and reports ------------------------------------------------------------

def _child_key(unit: OrgUnit, path_field: str = "unit__path"):
    """The id (as text) of the child of ``unit`` on a path under it, in SQL."""
    rest = Substr(path_field, len(unit.path) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)


def _child_of(unit: OrgUnit, path: str) -> str:
    """The id (as text) of the child of ``unit`` on ``path`` (a path under it); ``""``: ``unit`` itself."""
    return path[len(unit.path):].split("/", 1)[0]


def _empty() -> dict:
    return {"visits": 0, "kept": 0, "missed": 0, "surveyed": 0, "hours": 0, "meals": 0}


def unit_figures(parent: OrgUnit, *, start, end, now: datetime) -> dict[str, dict]:
    """Per child of ``parent`` (and ``""`` for the parent itself): visits of days in [start, end),
    how many were checked in and how many missed at ``now``; residents surveyed in the period."""
    d0, d1 = timezone.localtime(start).date(), timezone.localtime(end).date()
    out: dict[str, dict] = {}
    vis = Visit.objects.filter(day__gte=d0, day__lt=d1)
    sur = Survey.objects.filter(surveyed_on__gte=d0, surveyed_on__lt=d1)

    def grouped(qs, key_expr, **aggs):
        return qs.order_by().annotate(row=key_expr).values("row").annotate(**aggs)

    # Visits are the many rows (tens of thousands a month): grouped by their unit's path (no path
    # expression per row; at most one row per unit), each unit's counts added to its child's.
    for g in (vis.filter(unit__path__startswith=parent.path).order_by().values("unit__path")
              .annotate(n=Count("id"), kept=Count("id", filter=~Q(outcome="")),
                        missed=Count("id", filter=st.missed_q(now)))):
        o = out.setdefault(_child_of(parent, g["unit__path"]), _empty())
        o["visits"] += g["n"]
        o["kept"] += g["kept"]
        o["missed"] += g["missed"]
    for qs, key in ((sur.filter(unit=parent), Value("")),
                    (sur.filter(unit__path__startswith=parent.path).exclude(unit=parent), _child_key(parent))):
        for g in grouped(qs, key, n=Count("person_id", distinct=True)):
            out.setdefault(str(g["row"]), _empty())["surveyed"] += g["n"]
    rec = ServiceRecord.objects.filter(day__gte=d0, day__lt=d1, status=RecordStatus.APPROVED)
    for qs, key in ((rec.filter(team__unit=parent), Value("")),
                    (rec.filter(team__unit__path__startswith=parent.path).exclude(team__unit=parent),
                     _child_key(parent, "team__unit__path"))):
        for g in grouped(qs, key, h=Sum("hours")):
            out.setdefault(str(g["row"]), _empty())["hours"] += float(g["h"] or 0)
    from .models import MealServed

    meals = MealServed.objects.filter(day__gte=d0, day__lt=d1)
    for qs, key in ((meals.filter(canteen__unit=parent), Value("")),
                    (meals.filter(canteen__unit__path__startswith=parent.path).exclude(canteen__unit=parent),
                     _child_key(parent, "canteen__unit__path"))):
        for g in grouped(qs, key, n=Count("id")):
            out.setdefault(str(g["row"]), _empty())["meals"] += g["n"]
    return out


def kept_rate_series(units, *, starts, end, now: datetime) -> dict[int, list]:
    """``visits_kept_rate`` of each unit's subtree for consecutive periods ``[starts[i], starts[i+1])``
    (the last up to ``end``), as ``unit_figures`` counts it period by period: one query per unit
    grouped by period (``core.registry.compute_series``; the dashboard's trend)."""
    from django.db.models import Case, IntegerField, When

    bounds = [timezone.localtime(b).date() for b in [*starts, end]]
    bucket = Case(*(When(day__lt=b, then=Value(i)) for i, b in enumerate(bounds[1:])), output_field=IntegerField())
    vis = Visit.objects.filter(day__gte=bounds[0], day__lt=bounds[-1])
    out = {}
    for u in units:
        rows = (vis.filter(unit__path__startswith=u.path).order_by().annotate(b=bucket).values("b")
                .annotate(kept=Count("id", filter=~Q(outcome="")), missed=Count("id", filter=st.missed_q(now))))
        got = {r["b"]: r for r in rows}
        out[u.pk] = [_pct(got[i]["kept"], got[i]["kept"] + got[i]["missed"]) if i in got else None
                     for i in range(len(starts))]
    return out


def total(figs: dict) -> dict:
    out = _empty()
    for f in figs.values():
        for k in out:
            out[k] += f[k]
    return out


def _pct(part: int, whole: int):
    return None if not whole else round(100.0 * part / whole, 1)


def rates(fig: dict | None) -> dict:
    fig = fig or _empty()
    return {"visits_kept_rate": _pct(fig["kept"], fig["kept"] + fig["missed"]), "surveyed": fig["surveyed"],
            "visits": fig["visits"], "missed": fig["missed"], "volunteer_hours": round(fig["hours"], 2),
            "meals_served": fig["meals"]}


# --- volunteer teams ----------------------------------------------------------------------------

def teams(user, *, unit: OrgUnit | None = None):
    qs = VolunteerTeam.objects.restrict(user, "view").select_related("unit", "lead").annotate(
        n_members=Count("members", distinct=True))
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs.order_by("unit__path", "name", "id")


def team_members(team: VolunteerTeam):
    """Members with their approved and pending hours (SQL sums)."""
    return (TeamMember.objects.filter(team=team).select_related("person").annotate(
        approved=Sum("records__hours", filter=Q(records__status=RecordStatus.APPROVED)),
        pending=Sum("records__hours", filter=Q(records__status=RecordStatus.PENDING))).order_by("person__name", "id"))


def team_months(team: VolunteerTeam):
    """Approved hours by month (SQL)."""
    return (ServiceRecord.objects.filter(team=team, status=RecordStatus.APPROVED).order_by()
            .annotate(month=TruncMonth("day")).values("month").annotate(hours=Sum("hours"), n=Count("id"))
            .order_by("-month"))


def pending_records(team: VolunteerTeam):
    return (ServiceRecord.objects.filter(team=team, status=RecordStatus.PENDING)
            .select_related("member__person").order_by("day", "id"))


def approved_hours(member: TeamMember):
    return ServiceRecord.objects.filter(member=member, status=RecordStatus.APPROVED).aggregate(
        h=Sum("hours"))["h"] or 0


def member_months(member: TeamMember):
    return (ServiceRecord.objects.filter(member=member, status=RecordStatus.APPROVED).order_by()
            .annotate(month=TruncMonth("day")).values("month").annotate(hours=Sum("hours")).order_by("month"))


# --- canteens (幸福食堂) ---------------------------------------------------------------------------

def canteens(user, *, unit: OrgUnit | None = None):
    from .models import Canteen

    qs = Canteen.objects.restrict(user, "view").select_related("unit")
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs.order_by("unit__path", "name", "id")


def meal_expr(field: str = "service__window_start"):
    """The meal of a meal service in SQL (``services.meal_of``): by the start of its window."""
    from django.db.models import Case, CharField, When

    from .models import Meal
    from .services import BREAKFAST_BEFORE, LUNCH_BEFORE

    return Case(When(**{f"{field}__lt": BREAKFAST_BEFORE}, then=Value(Meal.BREAKFAST)),
                When(**{f"{field}__lt": LUNCH_BEFORE}, then=Value(Meal.LUNCH)),
                default=Value(Meal.DINNER), output_field=CharField())


def _meal_visits(canteen, day: date):
    return Visit.objects.filter(kind="meal", day=day, unit__path__startswith=canteen.unit.path)


def canteen_day(canteen, day: date):
    """The meals residents need on ``day`` under the canteen's unit (their care plans' meal
    services, as generated visits), in time order, each with the meal served (if ticked)."""
    from django.db.models import Subquery

    from .models import MealServed

    served = MealServed.objects.filter(person_id=OuterRef("person_id"), day=day, meal=OuterRef("meal"))
    return (_meal_visits(canteen, day).annotate(meal=meal_expr())
            .annotate(served_id=Subquery(served.values("pk")[:1]), served_mode=Subquery(served.values("mode")[:1]),
                      served_canteen=Subquery(served.values("canteen_id")[:1]))
            .select_related("person", "service").order_by("service__window_start", "person__name", "id"))


def canteen_day_counts(canteen, day: date) -> dict:
    from .models import CanteenDay, MealServed

    needed = _meal_visits(canteen, day).count()
    served = MealServed.objects.filter(canteen=canteen, day=day).aggregate(
        n=Count("id"), eat_in=Count("id", filter=Q(mode="eat_in")), delivered=Count("id", filter=Q(mode="delivered")))
    others = CanteenDay.objects.filter(canteen=canteen, day=day).values_list("other_diners", flat=True).first() or 0
    return {"needed": needed, "served": served["n"], "eat_in": served["eat_in"], "delivered": served["delivered"],
            "others": others}


def canteen_month(canteen, year: int, month: int) -> dict:
    """Per day of the month: meals needed by care plans (meal visits under the canteen's unit),
    meals served by the canteen (by meal and mode), other diners; and the totals. Three grouped
    queries."""
    import calendar
    from datetime import timedelta

    from .models import CanteenDay, MealServed

    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    needed = dict(Visit.objects.filter(kind="meal", day__gte=first, day__lte=last,
                                       unit__path__startswith=canteen.unit.path)
                  .order_by().values("day").annotate(n=Count("id")).values_list("day", "n"))
    served = {r["day"]: r for r in MealServed.objects.filter(canteen=canteen, day__gte=first, day__lte=last)
              .order_by().values("day").annotate(
                  n=Count("id"), breakfast=Count("id", filter=Q(meal="breakfast")),
                  lunch=Count("id", filter=Q(meal="lunch")), dinner=Count("id", filter=Q(meal="dinner")),
                  eat_in=Count("id", filter=Q(mode="eat_in")), delivered=Count("id", filter=Q(mode="delivered")))}
    others = dict(CanteenDay.objects.filter(canteen=canteen, day__gte=first, day__lte=last)
                  .values_list("day", "other_diners"))
    keys = ("needed", "served", "breakfast", "lunch", "dinner", "eat_in", "delivered", "others")
    days, totals = [], dict.fromkeys(keys, 0)
    d = first
    while d <= last:
        s = served.get(d, {})
        row = {"day": d, "needed": needed.get(d, 0), "served": s.get("n", 0), "others": others.get(d, 0),
               **{k: s.get(k, 0) for k in ("breakfast", "lunch", "dinner", "eat_in", "delivered")}}
        row["rate"] = _pct(row["served"], row["needed"])
        for k in keys:
            totals[k] += row[k]
        days.append(row)
        d += timedelta(days=1)
    totals["rate"] = _pct(totals["served"], totals["needed"])
    return {"first": first, "last": last, "days": days, "totals": totals}
