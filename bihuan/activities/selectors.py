"""Reads for the pages and the API: always from ``restrict`` or ``units_q`` (the one gate).

* ``coverage`` — 全覆盖: every village and community of a district (or township) with its
  sessions and attendance in a period, gaps first; one grouped query (``Session.covered_unit``).
* ``candidates`` — lecturers who may take an order: active, in a team at the ordering unit or
  above it; those with the topic first, then those with the fewest sessions in the last 90 days.
* ``unit_figures`` — coverage and attendance for each child of a unit, in two queries (sources).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from bihuan.core.scope import require, units_q
from bihuan.orgs.models import Level, OrgUnit

from .models import LectureOrder, Lecturer, LectureTeam, OrderState, Session
from .services import RECENT_DAYS, get_order, get_team  # noqa: F401 (re-exported reads)

SESSION_VIEW = "activities.session.view"


def teams(user):
    return (LectureTeam.objects.restrict(user, "view").select_related("unit")
            .annotate(n_lecturers=Count("lecturers", distinct=True)).order_by("unit__path", "name", "id"))


def lecturers(user, *, team: LectureTeam | None = None, q: str = ""):
    qs = Lecturer.objects.restrict(user, "view").select_related("team__unit", "person")
    if team is not None:
        qs = qs.filter(team=team)
    if q:
        qs = qs.filter(Q(person__name__startswith=q) | Q(topics__contains=q))
    return qs.order_by("team_id", "id")


def sessions(user, *, unit: OrgUnit | None = None, start: date | None = None, end: date | None = None,
             lecturer: Lecturer | None = None):
    qs = Session.objects.restrict(user, "view").select_related("place", "lecturer__person", "team")
    if unit is not None:
        qs = qs.filter(place__path__startswith=unit.path)
    if start is not None:
        qs = qs.filter(held_on__gte=start)
    if end is not None:
        qs = qs.filter(held_on__lte=end)
    if lecturer is not None:
        qs = qs.filter(lecturer=lecturer)
    return qs.order_by("-held_on", "-id")


def get_session(user, session_id) -> Session:
    from bihuan.core.errors import NotFound

    try:
        s = (Session.objects.select_related("place", "covered_unit", "lecturer__person", "team__unit", "order")
             .get(pk=session_id))
    except (Session.DoesNotExist, ValueError, TypeError):
        raise NotFound()
    require(user, SESSION_VIEW, s)
    return s


def orders(user, *, state: str = ""):
    qs = LectureOrder.objects.restrict(user, "view").select_related("unit", "team", "lecturer__person")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def my_lecturer_profiles(user):
    if user is None or not user.is_authenticated:
        return Lecturer.objects.none()
    return Lecturer.objects.filter(user=user, active=True).select_related("team__unit", "person")


def candidates(order: LectureOrder, *, now: datetime):
    """Lecturers for ``order``: those with its topic first, then the fewest recent sessions."""
    today = timezone.localtime(now).date()
    recent = (Session.objects.filter(lecturer=OuterRef("pk"), held_on__gte=today - timedelta(days=RECENT_DAYS))
              .order_by().values("lecturer").annotate(c=Count("id")).values("c"))
    has_topic = Q(topics__contains=order.topic) | Q(team__topics__contains=order.topic)
    return (Lecturer.objects.filter(active=True, team__unit_id__in=order.unit.ancestor_ids())
            .select_related("team", "person")
            .annotate(has_topic=Case(When(has_topic, then=Value(1)), default=Value(0), output_field=IntegerField()),
                      recent=Coalesce(Subquery(recent, output_field=IntegerField()), Value(0)))
            .order_by("-has_topic", "recent", "id"))


def coverage(user, unit: OrgUnit, *, start: date, end: date):
    """全覆盖: villages and communities under ``unit`` with their sessions in [start, end],
    the ones without a session first. The user must see sessions at ``unit`` (404/403 otherwise)."""
    require(user, SESSION_VIEW, unit)
    # Per village two index-only scans of (covered_unit, held_on) INCLUDE (attendance): no GROUP BY
    # over the joined rows (which sorted every session of the district at city scale).
    per = (Session.objects.filter(covered_unit=OuterRef("pk"), held_on__gte=start, held_on__lte=end)
           .order_by().values("covered_unit"))
    township = OrgUnit.objects.filter(pk=OuterRef("parent_id")).order_by().values("name")[:1]
    return (OrgUnit.objects.filter(units_q(user, SESSION_VIEW), path__startswith=unit.path, level=Level.VILLAGE,
                                   valid_to__isnull=True)
            .annotate(sessions=Coalesce(Subquery(per.annotate(c=Count("covered_unit")).values("c"),
                                                 output_field=IntegerField()), Value(0)),
                      attendance=Coalesce(Subquery(per.annotate(a=Sum("attendance")).values("a"),
                                                   output_field=IntegerField()), Value(0)),
                      township=Subquery(township))
            .order_by(Case(When(sessions=0, then=Value(0)), default=Value(1)), "path"))


def coverage_summary(user, unit: OrgUnit, *, start: date, end: date) -> dict:
    """The totals of ``coverage``: villages, covered, gaps, sessions, attendance and the rate."""
    villages = OrgUnit.objects.filter(units_q(user, SESSION_VIEW), path__startswith=unit.path, level=Level.VILLAGE,
                                      valid_to__isnull=True)
    agg = (Session.objects.filter(covered_unit__in=villages.values("pk"), held_on__gte=start, held_on__lte=end)
           .aggregate(sessions=Count("id"), attendance=Coalesce(Sum("attendance"), 0),
                      covered=Count("covered_unit", distinct=True)))
    agg["units"] = villages.count()
    agg["gaps"] = agg["units"] - agg["covered"]
    agg["rate"] = round(100 * agg["covered"] / agg["units"], 1) if agg["units"] else None
    return agg


def shade(n: int) -> str:
    """The grid's colour class for a number of sessions."""
    return "none" if n == 0 else "one" if n == 1 else "few" if n <= 3 else "many"


def unit_figures(parent: OrgUnit, *, start: date, end: date) -> dict[int, dict]:
    """For each current child of ``parent``: villages, villages covered, sessions and attendance in
    [start, end) at places under it. Two queries with one conditional aggregate per child."""
    children = list(parent.children.filter(valid_to__isnull=True).order_by("sort", "code"))
    if not children:
        return {}
    covered = Session.objects.filter(covered_unit=OuterRef("pk"), held_on__gte=start, held_on__lt=end)
    from django.db.models import Exists

    villages = (OrgUnit.objects.filter(path__startswith=parent.path, level=Level.VILLAGE, valid_to__isnull=True)
                .annotate(has=Exists(covered)))
    v = villages.aggregate(**{f"u{c.pk}": Count("id", filter=Q(path__startswith=c.path)) for c in children},
                           **{f"c{c.pk}": Count("id", filter=Q(path__startswith=c.path, has=True))
                              for c in children})
    s = (Session.objects.filter(place__path__startswith=parent.path, held_on__gte=start, held_on__lt=end)
         .aggregate(**{f"s{c.pk}": Count("id", filter=Q(place__path__startswith=c.path)) for c in children},
                    **{f"a{c.pk}": Sum("attendance", filter=Q(place__path__startswith=c.path)) for c in children}))
    out = {}
    for c in children:
        units, cov = v[f"u{c.pk}"], v[f"c{c.pk}"]
        out[c.pk] = {"unit": c, "villages": units, "covered": cov, "sessions": s[f"s{c.pk}"],
                     "attendance": s[f"a{c.pk}"] or 0,
                     "coverage_rate": round(100 * cov / units, 1) if units else None}
    return out


def unit_total(unit: OrgUnit, *, start: date, end: date) -> dict:
    covered = Session.objects.filter(covered_unit=OuterRef("pk"), held_on__gte=start, held_on__lt=end)
    from django.db.models import Exists

    v = (OrgUnit.objects.filter(path__startswith=unit.path, level=Level.VILLAGE, valid_to__isnull=True)
         .annotate(has=Exists(covered)).aggregate(units=Count("id"), cov=Count("id", filter=Q(has=True))))
    s = (Session.objects.filter(place__path__startswith=unit.path, held_on__gte=start, held_on__lt=end)
         .aggregate(n=Count("id"), a=Sum("attendance")))
    return {"villages": v["units"], "covered": v["cov"], "sessions": s["n"], "attendance": s["a"] or 0,
            "coverage_rate": round(100 * v["cov"] / v["units"], 1) if v["units"] else None}


OPEN_ORDER_STATES = (OrderState.OPEN, OrderState.MATCHED, OrderState.ACCEPTED)


# --- party life: re-election (换届), contact points (联系点), on-site reviews (观摩评比) ------------

ELECTION_VIEW = "activities.election.view"


def parse_due_within(value) -> int | None:
    """``due_within``: days (``180``, ``180d``) or months (``6m``, counted as 30.5 days); None if bad."""
    raw = str(value or "").strip().lower()
    if not raw or len(raw) > 6:
        return None
    unit = raw[-1] if raw[-1] in "dm" else "d"
    digits = raw[:-1] if raw[-1] in "dm" else raw
    if not digits.isdigit():
        return None
    n = int(digits)
    days = round(n * 30.5) if unit == "m" else n
    return days if 0 <= days <= 3660 else None


def elections(user, *, now: datetime, due_within: int | None = None, state: str = "", unit=None):
    """Current terms in scope, soonest due first, with ``status``: overdue, due (within
    ``DUE_SOON_DAYS``) or current — derived from ``due_on`` and today."""
    from .models import PartyTerm
    from .services import DUE_SOON_DAYS

    today = timezone.localtime(now).date()
    soon = today + timedelta(days=DUE_SOON_DAYS)
    qs = (PartyTerm.objects.restrict(user, "view").filter(ended_on__isnull=True)
          .select_related("party_org__unit")
          .annotate(status=Case(When(due_on__lt=today, then=Value("overdue")),
                                When(due_on__lte=soon, then=Value("due")), default=Value("current"))))
    if unit is not None:
        qs = qs.filter(party_org__unit__path__startswith=unit.path)
    if due_within is not None:
        qs = qs.filter(due_on__lte=today + timedelta(days=due_within))
    if state == "overdue":
        qs = qs.filter(due_on__lt=today)
    elif state == "due":
        qs = qs.filter(due_on__gte=today, due_on__lte=soon)
    return qs.order_by("due_on", "id")


def election_summary(user, *, now: datetime) -> dict:
    """Counts for the list's head: overdue, due within six months, current terms, and party
    organisations in scope without a recorded term."""
    from bihuan.orgs.models import PartyOrg

    from .models import PartyTerm
    from .services import DUE_SOON_DAYS

    today = timezone.localtime(now).date()
    soon = today + timedelta(days=DUE_SOON_DAYS)
    c = PartyTerm.objects.restrict(user, "view").filter(ended_on__isnull=True).aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        due=Count("id", filter=Q(due_on__gte=today, due_on__lte=soon)), terms=Count("id"))
    with_term = PartyTerm.objects.filter(ended_on__isnull=True).values("party_org_id")
    c["without_term"] = (PartyOrg.objects.filter(units_q(user, ELECTION_VIEW, prefix="unit__"))
                         .exclude(pk__in=with_term).count())
    return c


def party_orgs_without_term(user):
    from bihuan.orgs.models import PartyOrg

    from .models import PartyTerm

    with_term = PartyTerm.objects.filter(ended_on__isnull=True).values("party_org_id")
    return (PartyOrg.objects.filter(units_q(user, ELECTION_VIEW, prefix="unit__")).exclude(pk__in=with_term)
            .select_related("unit").order_by("unit__path", "id"))


def party_org_in_scope(user, party_org_id, perm: str = ELECTION_VIEW):
    from bihuan.core.errors import NotFound
    from bihuan.orgs.models import PartyOrg

    po = (PartyOrg.objects.filter(units_q(user, perm, prefix="unit__"), pk=party_org_id)
          .select_related("unit").first())
    if po is None:
        raise NotFound()
    return po


def terms_of(user, party_org):
    from .models import PartyTerm

    return PartyTerm.objects.restrict(user, "view").filter(party_org=party_org).order_by("-started_on", "-id")


def contacts(user, *, member=None, party_org=None):
    from .models import ContactPoint

    qs = ContactPoint.objects.restrict(user, "view").select_related("party_org__unit", "member")
    if member is not None:
        qs = qs.filter(member=member)
    if party_org is not None:
        qs = qs.filter(party_org=party_org)
    return qs.annotate(n_visits=Count("visits"), n_matters=Count("visits", filter=Q(visits__matter_id__isnull=False))
                       ).order_by("party_org__unit__path", "id")


def visits(user, *, contact=None, party_org=None, member=None):
    from .models import ContactVisit

    qs = ContactVisit.objects.restrict(user, "view").select_related("contact_point__party_org", "contact_point__member")
    if contact is not None:
        qs = qs.filter(contact_point=contact)
    if party_org is not None:
        qs = qs.filter(contact_point__party_org=party_org)
    if member is not None:
        qs = qs.filter(contact_point__member=member)
    return qs.order_by("-visited_on", "-id")


def reviews(user):
    from .models import Review

    return (Review.objects.restrict(user, "view").select_related("unit")
            .annotate(n_units=Count("units", distinct=True)).order_by("-held_on", "-id"))


def _trimmed(qs, drop_extremes_field="review__drop_extremes"):
    """Each unit visited with its scores' count, and the mean — the highest and lowest dropped
    when the review says so and there are at least three scores — in SQL."""
    from django.db.models import ExpressionWrapper, F, FloatField, Max, Min
    from django.db.models.functions import Cast

    total = Cast(Sum("scores__score"), FloatField())
    hi, lo = Cast(Max("scores__score"), FloatField()), Cast(Min("scores__score"), FloatField())
    n = Count("scores")
    qs = qs.annotate(n_scores=n, s_total=total, s_hi=hi, s_lo=lo)
    trimmed = Case(
        When(Q(**{drop_extremes_field: True}) & Q(n_scores__gte=3),
             then=ExpressionWrapper((F("s_total") - F("s_hi") - F("s_lo")) / Cast(F("n_scores") - 2, FloatField()),
                                    output_field=FloatField())),
        When(n_scores__gte=1, then=ExpressionWrapper(F("s_total") / Cast(F("n_scores"), FloatField()),
                                                     output_field=FloatField())),
        default=Value(None, output_field=FloatField()), output_field=FloatField())
    return qs.annotate(mean=trimmed)


def ranking(review) -> list:
    """The units visited, best mean first (units without scores last), each with ``rank``."""
    from .models import ReviewUnit

    rows = list(_trimmed(ReviewUnit.objects.filter(review=review).select_related("unit")).order_by("unit__path"))
    rows.sort(key=lambda r: (r.mean is None, -(r.mean or 0), r.unit.path))
    rank = 0
    for i, r in enumerate(rows, 1):
        r.mean = None if r.mean is None else round(r.mean, 2)
        if r.mean is not None:
            rank = i if i == 1 or rows[i - 2].mean != r.mean else rank
        r.rank = rank if r.mean is not None else None
    return rows


def my_scores(user, review) -> dict[int, object]:
    from .models import ReviewScore

    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    return dict(ReviewScore.objects.filter(review_unit__review=review, reviewer=user)
                .values_list("review_unit__unit_id", "score"))


def review_means(units, *, start, end) -> dict[int, float | None]:
    """The ``activities.review_score`` source: for each unit, the mean of the (trimmed) review
    scores of the units visited at or under it in reviews held in ``[start, end)``. The scored
    units of a period are a small set: one grouped query, then grouped by path here."""
    from .models import ReviewUnit

    rows = list(_trimmed(ReviewUnit.objects.filter(review__held_on__gte=start, review__held_on__lt=end))
                .filter(n_scores__gte=1).values_list("unit__path", "mean"))
    out: dict[int, float | None] = {}
    for u in units:
        vals = [m for path, m in rows if path.startswith(u.path) and m is not None]
        out[u.pk] = round(sum(vals) / len(vals), 2) if vals else None
    return out
