"""Reads for evaluation's pages and API, always through ``restrict`` or ``units_q`` (the one gate)."""

from __future__ import annotations

from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import Rank

from bihuan.core.errors import NotFound
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from .models import (
    Incident,
    IndicatorSet,
    ManualScore,
    Nomination,
    NominationState,
    PointAccount,
    PointEntry,
    Redemption,
    Result,
    Run,
    ScoreState,
    SelectionRound,
    SelectionState,
    StoreItem,
)


def sets(user):
    return IndicatorSet.objects.restrict(user, "view").select_related("unit").annotate(n=Count("indicators"))


def get_set(user, set_id) -> IndicatorSet:
    s = sets(user).filter(pk=set_id).first()
    if s is None:
        raise NotFound()
    return s


def runs(user):
    return Run.objects.restrict(user, "view").select_related("set", "set__unit")


def get_run(user, run_id) -> Run:
    run = runs(user).filter(pk=run_id).first()
    if run is None:
        raise NotFound()
    return run


def results(user, run, *, unit=None, peer_group: str = ""):
    qs = (Result.objects.restrict(user, "view").filter(run=run).select_related("unit", "unit__parent")
          .order_by("peer_group", "rank", "unit__path", "id"))
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__parent=unit))
    if peer_group:
        qs = qs.filter(peer_group=peer_group)
    return qs


def run_progress(run) -> dict:
    """How far the run is: targets scored completely, by peer group (one grouped query)."""
    rows = (Result.objects.filter(run=run).order_by().values("peer_group")
            .annotate(n=Count("id"), scored=Count("id", filter=Q(score__isnull=False))))
    total = sum(r["n"] for r in rows)
    scored = sum(r["scored"] for r in rows)
    return {"groups": list(rows), "total": total, "scored": scored,
            "percent": round(100 * scored / total) if total else 0}


def get_result(user, result_id) -> Result:
    r = (Result.objects.restrict(user, "view").filter(pk=result_id)
         .select_related("run", "run__set", "run__set__unit", "unit", "unit__parent").first())
    if r is None:
        raise NotFound()
    return r


def unit_history(user, unit_id):
    """A unit's results over time (its stars history), newest first."""
    return (Result.objects.restrict(user, "view").filter(unit_id=unit_id)
            .exclude(run__state="superseded").select_related("run", "run__set")
            .order_by("-run__start", "-run__version", "id"))


def visible_unit(user, unit_id, perm: str = "evaluation.result.view") -> OrgUnit:
    unit = OrgUnit.objects.filter(units_q(user, perm), pk=unit_id).first()
    if unit is None:
        raise NotFound()
    return unit


def scores_to_approve(user):
    return (ManualScore.objects.restrict(user, "approve").filter(state=ScoreState.ENTERED)
            .exclude(entered_by=user).select_related("indicator", "indicator__set", "unit", "entered_by"))


def incidents_to_approve(user):
    return (Incident.objects.restrict(user, "approve").filter(state=ScoreState.ENTERED)
            .exclude(entered_by=user).select_related("indicator", "indicator__set", "unit", "entered_by"))


def scores(user):
    return ManualScore.objects.restrict(user, "view").select_related("indicator", "indicator__set", "unit")


# --- points ----------------------------------------------------------------------------------------

def mask_name(name: str) -> str:
    """张三丰 → 张**: household rankings show names masked."""
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "—"


def household(user, household_id):
    from bihuan.people.models import Household

    h = Household.objects.restrict(user, "view").filter(pk=household_id).select_related("unit", "head").first()
    if h is None or not OrgUnit.objects.filter(units_q(user, "evaluation.points.view"), pk=h.unit_id).exists():
        raise NotFound()
    return h


def balance(household_id) -> int:
    return PointAccount.objects.filter(household_id=household_id).values_list("balance", flat=True).first() or 0


def entries(user, household_id):
    return (PointEntry.objects.restrict(user, "view").filter(household_id=household_id)
            .select_related("rule", "by"))


def ranking(user, unit):
    """Households of a village (its grids included) by balance, ranked in SQL; names masked by the page."""
    return (PointAccount.objects.restrict(user, "view").filter(unit__path__startswith=unit.path)
            .select_related("household", "household__head", "unit")
            .annotate(rank=Window(Rank(), order_by=F("balance").desc()))
            .order_by("-balance", "household_id"))


def store_items(user, unit=None):
    qs = StoreItem.objects.restrict(user, "view").select_related("unit").filter(active=True)
    return qs.filter(unit=unit) if unit is not None else qs


def redemptions(user, household_id=None):
    qs = Redemption.objects.restrict(user, "view").select_related("item", "household")
    return qs.filter(household_id=household_id) if household_id else qs


def points_summary(user, unit) -> dict:
    agg = PointAccount.objects.restrict(user, "view").filter(unit__path__startswith=unit.path).aggregate(
        households=Count("household_id"), points=Sum("balance"))
    return {"households": agg["households"] or 0, "points": agg["points"] or 0}


# --- selections (评选) ------------------------------------------------------------------------------

def selection_rounds(user):
    return SelectionRound.objects.restrict(user, "view").select_related("unit").annotate(
        n=Count("nominations"),
        accepted=Count("nominations", filter=Q(nominations__state__in=[NominationState.ACCEPTED,
                                                                       NominationState.NAMED]))
    ).order_by("-created_at", "-id")


def get_selection_round(user, round_id) -> SelectionRound:
    r = selection_rounds(user).filter(pk=round_id).first()
    if r is None:
        raise NotFound()
    return r


def nominations(user, rnd: SelectionRound, *, state: str = ""):
    """A round's nominations the user may see: all of them for the selecting unit's managers, one's
    own subtree's, and — once publicised (公示) — the accepted and named of every unit."""
    qs = Nomination.objects.filter(round=rnd).select_related("unit", "party_org")
    if not SelectionRound.objects.restrict(user, "manage").filter(pk=rnd.pk).exists():
        mine = Nomination.objects.restrict(user, "view").filter(round=rnd).values("pk")
        public = Q(state__in=[NominationState.ACCEPTED, NominationState.NAMED]) if rnd.state in (
            SelectionState.PUBLICISED, SelectionState.NAMED) else Q(pk__in=[])
        qs = qs.filter(Q(pk__in=mine) | public)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("unit__path", "id")


# --- points2: the resident's balance link ---------------------------------------------------------

def point_link(household_id):
    """The household's current balance link (None: none made yet). Callers have checked scope."""
    from .models import PointLink

    return PointLink.objects.filter(household_id=household_id).first()


def by_points_token(token: str):
    """(household, balance, recent entries) for a balance link; an unknown token is a 404."""
    from .models import PointLink

    token = (token or "")[:32]
    link = PointLink.objects.filter(token=token).select_related("household", "household__head", "unit").first() \
        if len(token) >= 20 else None
    if link is None:
        raise NotFound()
    recent = (PointEntry.objects.filter(household_id=link.household_id, state="posted")
              .select_related("rule").order_by("-at", "-id")[:20])
    return link, balance(link.household_id), list(recent)


# --- h-eval2: the ranking page's charts (ECharts, data via json_script) ---

def ranking_chart(user, run, township_id=None) -> dict:
    """Scores per peer group (average, lowest, highest: one grouped query) and the stars of every
    target of one township (a grid; at most 200 cells), all within the user's view of the run."""
    from django.db.models import Avg, Max, Min

    from .models import PeerGroup, Result, TargetKind

    qs = Result.objects.restrict(user, "view").filter(run=run)
    labels = dict(PeerGroup.choices)
    rows = list(qs.filter(score__isnull=False).order_by().values("peer_group")
                .annotate(n=Count("id"), avg=Avg("score"), lo=Min("score"), hi=Max("score")).order_by("peer_group"))
    bar = {"groups": [str(labels.get(r["peer_group"], r["peer_group"])) for r in rows],
           "n": [r["n"] for r in rows], "avg": [round(float(r["avg"]), 2) for r in rows],
           "min": [float(r["lo"]) for r in rows], "max": [float(r["hi"]) for r in rows]}
    out = {"bar": bar, "townships": [], "township_id": None, "grid": None}
    if run.set.target_kind == TargetKind.TOWNSHIP:
        return out
    towns = list(qs.order_by().values("unit__parent_id", "unit__parent__name", "unit__parent__path").distinct()
                 .order_by("unit__parent__path")[:500])
    out["townships"] = [(t["unit__parent_id"], t["unit__parent__name"]) for t in towns if t["unit__parent_id"]]
    ids = [t for t, _n in out["townships"]]
    if not ids:
        return out
    chosen = township_id if township_id in ids else ids[0]
    cells = list(qs.filter(unit__parent_id=chosen).order_by("unit__path", "id")
                 .values("name", "stars", "score", "rank", "peers")[:200])
    out["township_id"] = chosen
    out["grid"] = {"township": dict(out["townships"])[chosen],
                   "cells": [{"name": c["name"], "stars": c["stars"] or 0,
                              "score": None if c["score"] is None else float(c["score"]),
                              "rank": c["rank"], "peers": c["peers"]} for c in cells]}
    return out
# --- end h-eval2 ---
