"""Evaluation's own figures for others (``core.registry``):

* source ``evaluation.score`` — a unit's score in the latest published (or frozen) assessment
  that ended inside the period (for a report or a set that weighs another set's result);
* section ``evaluation.stars`` — one row per child unit: score, stars, rank and change in its peer
  group, from the latest public run ending inside the period.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from bihuan.core.registry import Column, Section, Source, register_section, register_source


def _score(units, *, start, end, now):
    from .models import PUBLIC_STATES, Result

    ids = [u.pk for u in units]
    d0, d1 = start.date(), end.date()
    best = Result.objects.filter(unit_id=OuterRef("unit_id"), party_org__isnull=True, run__state__in=PUBLIC_STATES,
                                 run__end__gt=d0, run__end__lte=d1).order_by("-run__end", "-run__version")
    rows = (Result.objects.filter(unit_id__in=ids, pk=Subquery(best.values("pk")[:1]))
            .values_list("unit_id", "score"))
    return {uid: (None if score is None else float(score)) for uid, score in rows}


def _score_series(units, *, starts, end, now) -> dict[int, list]:
    """``evaluation.score`` for consecutive periods ``[starts[i], starts[i+1])`` (the last up to
    ``end``), as ``_score`` picks it period by period (the latest run ending inside the period, then
    the latest version): the units' results of all periods in one query, at most one row per run."""
    from .models import PUBLIC_STATES, Result

    days = [b.date() for b in [*starts, end]]
    rows = (Result.objects.filter(unit_id__in=[u.pk for u in units], party_org__isnull=True,
                                  run__state__in=PUBLIC_STATES, run__end__gt=days[0], run__end__lte=days[-1])
            .values_list("unit_id", "run__end", "run__version", "score"))
    best: dict[tuple[int, int], tuple] = {}
    for uid, run_end, version, score in rows:
        i = next(i for i in range(len(starts)) if days[i] < run_end <= days[i + 1])
        if (uid, i) not in best or (run_end, version) > best[uid, i][:2]:
            best[uid, i] = (run_end, version, score)
    return {u.pk: [None if (u.pk, i) not in best or best[u.pk, i][2] is None else float(best[u.pk, i][2])
                   for i in range(len(starts))] for u in units}


_score.series = _score_series  # several periods at once (core.registry.compute_series)


def _section(parent, *, start, end, now) -> list[dict]:
    from bihuan.orgs.models import OrgUnit

    from .models import PUBLIC_STATES, Result

    d0, d1 = start.date(), end.date()
    best = Result.objects.filter(unit_id=OuterRef("pk"), party_org__isnull=True, run__state__in=PUBLIC_STATES,
                                 run__end__gt=d0, run__end__lte=d1).order_by("-run__end", "-run__version")
    children = (OrgUnit.objects.filter(parent=parent, valid_to__isnull=True).order_by("sort", "code")
                .annotate(score=Subquery(best.values("score")[:1]), stars=Subquery(best.values("stars")[:1]),
                          rank=Subquery(best.values("rank")[:1]), prev=Subquery(best.values("previous_rank")[:1])))
    return [{"unit_id": c.pk, "unit_name": c.name, "score": None if c.score is None else float(c.score),
             "stars": c.stars, "rank": c.rank,
             "change": None if c.rank is None or c.prev is None else c.prev - c.rank} for c in children]


def register() -> None:
    register_source(Source(name="evaluation.score", label=_("Assessment score (考核得分)"), unit="分",
                           higher_is_better=True, compute=_score, app="evaluation"))
    register_section(Section(
        name="evaluation.stars", label=_("Evaluation: stars and ranking by unit"), figures=_section,
        columns=(Column("score", _("Score"), "分", True), Column("stars", _("Stars"), "★", True),
                 Column("rank", _("Rank"), "", False), Column("change", _("Change in rank"), "", None)),
        rank_by="score", app="evaluation"))
