"""Assessment runs: compute every target's score in one run, publish (公示), objections, freeze,
corrections; manual scores (entered by an assessor, approved by another person).

Scores come from ``core.registry`` sources picked by name: one ``registry.compute`` per
indicator over all targets (each source groups its SQL by parent unit), never a query per target.
Ranks and previous ranks are one windowed query (``RANK() OVER (PARTITION BY peer_group …)``).
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, Window
from django.db.models.functions import Rank
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit, registry
from bihuan.core.calendar import CalendarUnknownYear, add_working_days
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import require
from bihuan.orgs.models import Level, OrgUnit, PartyOrg, PartyOrgKind

from ..models import (
    PENALTY_KINDS,
    PUBLIC_STATES,
    Incident,
    IndicatorKind,
    IndicatorSet,
    Line,
    ManualScore,
    Objection,
    PeerGroup,
    Result,
    Run,
    RunState,
    ScoreState,
    ScoringRule,
    StarMode,
    TargetKind,
)
from .common import day_of, decimal, local_midnight, now_or, period_of, period_range, text
from .sets import snapshot

RUN = "evaluation.run.manage"
ENTER = "evaluation.score.enter"
APPROVE = "evaluation.score.approve"
OBJECT = "evaluation.result.object"
CENT = Decimal("0.01")


# --- targets ---------------------------------------------------------------------------------------

def peer_group_of(unit: OrgUnit) -> str:
    """Villages with villages, communities with communities: the division code says which
    (村民委员会 2xx–3xx, 居民委员会 0xx–1xx, GB/T 10114)."""
    if unit.level == Level.TOWNSHIP:
        return PeerGroup.TOWNSHIP
    return PeerGroup.VILLAGE if unit.code[-3:] >= "200" else PeerGroup.COMMUNITY


def targets_of(s: IndicatorSet) -> list[tuple[OrgUnit, PartyOrg | None, str, str]]:
    """(unit, party organisation, name, peer group) of every current target under the set's unit."""
    below = OrgUnit.objects.filter(path__startswith=s.unit.path, valid_to__isnull=True).select_related("parent")
    if s.target_kind == TargetKind.PARTY_ORG:
        orgs = (PartyOrg.objects.filter(unit__in=below, kind=PartyOrgKind.BRANCH)
                .select_related("unit", "unit__parent").order_by("unit__path", "id"))
        return [(o.unit, o, o.name, PeerGroup.PARTY_ORG) for o in orgs]
    level = Level.TOWNSHIP if s.target_kind == TargetKind.TOWNSHIP else Level.VILLAGE
    return [(u, None, u.name, peer_group_of(u)) for u in below.filter(level=level).order_by("path")]


# --- scoring rules ---------------------------------------------------------------------------------

def points_for(ind: dict, value) -> tuple[Decimal | None, str]:
    """Points of one automatic indicator: linear between floor (0) and target (full weight).
    A source without a basis this period (None) gives full points: nothing to answer for."""
    weight = Decimal(ind["weight"])
    if value is None:
        return weight, "no_basis"
    v, floor, target = Decimal(str(value)), Decimal(ind["floor"]), Decimal(ind["target"])
    share = (v - floor) / (target - floor)  # the sign of (target - floor) carries the direction
    share = min(Decimal(1), max(Decimal(0), share))
    return (weight * share).quantize(CENT, ROUND_HALF_UP), ""


# --- h-eval2: rank within the peer group (issue 13 item 1) ---

def rank_points(ind: dict, values: dict[int, object], groups: dict[int, str]) -> dict[int, Decimal]:
    """Points of a rank-rule indicator for every unit with a value: the best of its peer group gets
    the full weight, the worst 0, linearly by place between; tied units share the places they take
    (the mean of them). Ranked in SQL with window functions over the run's values (rounded to the
    cent, as the lines show them), so the same values always give the same points. A peer group of
    one gets the full weight."""
    weight = Decimal(ind["weight"])
    rows = [(u, groups[u], str(Decimal(str(v)).quantize(CENT, ROUND_HALF_UP)))
            for u, v in values.items() if v is not None and u in groups]
    if not rows:
        return {}
    best, worst = ("ASC", "DESC") if ind.get("direction") == "lower" else ("DESC", "ASC")
    one = "(CAST(%s AS integer), CAST(%s AS varchar(10)), CAST(%s AS numeric))"
    out: dict[int, Decimal] = {}
    with connection.cursor() as cur:
        for i in range(0, len(rows), 2000):
            chunk = rows[i:i + 2000]
            cur.execute(f"WITH v(u, g, x) AS (VALUES {', '.join([one] * len(chunk))}) "
                        f"SELECT u, RANK() OVER (PARTITION BY g ORDER BY x {best}), "
                        f"RANK() OVER (PARTITION BY g ORDER BY x {worst}), COUNT(*) OVER (PARTITION BY g) FROM v",
                        [x for row in chunk for x in row])
            for u, first, from_end, n in cur.fetchall():
                if n <= 1:
                    out[u] = weight
                    continue
                place = Decimal(first + (n + 1 - from_end)) / 2  # the mean of the places the tie takes
                out[u] = (weight * (n - place) / (n - 1)).quantize(CENT, ROUND_HALF_UP)
    return out
# --- end h-eval2 ---


def penalty_for(ind: dict, incidents: int) -> tuple[Decimal, str]:
    """A deduction: minus ``penalty`` per approved incident, at most ``max_penalty``. A veto takes
    no points (it caps the stars)."""
    if not incidents:
        return Decimal(0), ""
    if ind["kind"] == IndicatorKind.VETO:
        return Decimal(0), "veto"
    off = Decimal(ind["penalty"]) * incidents
    if ind.get("max_penalty") is not None:
        off = min(off, Decimal(ind["max_penalty"]))
    return -off.quantize(CENT, ROUND_HALF_UP), "deduction"


def stars_for(score: Decimal, rank: int, peers: int, rules: dict) -> int:
    t = rules["star_thresholds"]
    stars = 1
    for n, least in zip((5, 4, 3, 2), t, strict=False):
        if score >= Decimal(str(least)):
            stars = n
            break
    if stars == 5 and rules["star_mode"] == StarMode.QUOTA:
        quota = max(1, math.floor(peers * rules["five_star_quota"] / 100))
        if rank > quota:
            stars = 4
    return stars


# --- runs ------------------------------------------------------------------------------------------

def _previous_run(run: Run) -> Run | None:
    s = run.set
    return (Run.objects.filter(set__unit=s.unit, set__target_kind=s.target_kind, state__in=PUBLIC_STATES,
                               end__lte=run.start)
            .order_by("-end", "-version").first())


def _compute(run: Run, now: datetime) -> None:
    """(Re)fill ``run``'s results: one ``registry.compute`` per automatic indicator over all
    targets, one query for manual scores, bulk inserts, one windowed ranking query."""
    s = run.set
    inputs = snapshot(s)
    inds = inputs["indicators"]
    targets = targets_of(s)
    units = list({u.pk: u for u, *_ in targets}.values())
    start, end = local_midnight(run.start), local_midnight(run.end)
    values: dict[int, dict] = {}
    auto = [ind for ind in inds if ind["kind"] == IndicatorKind.AUTO]
    try:  # one computation per source (sources sharing their rows compute them once)
        raw = registry.compute_many([ind["source"] for ind in auto], units, start=start, end=end, now=now)
    except KeyError:
        missing_src = next(ind for ind in auto if ind["source"] not in registry.SOURCES)
        raise ServiceError(_("The source %(s)s of indicator %(i)s is not available.")
                           % {"s": missing_src["source"], "i": missing_src["name"]}, code="source")
    for ind in auto:
        # Rates ("%") come as shares (0.75); indicators state floors and targets in percent (75).
        scale = 100 if registry.SOURCES[ind["source"]].unit == "%" else 1
        values[ind["id"]] = {u: (None if v is None else float(v) * scale) for u, v in raw[ind["source"]].items()}
    # h-eval2: rank-rule indicators, ranked per peer group over all targets at once.
    groups = {u.pk: group for u, _o, _n, group in targets}
    ranked = {ind["id"]: rank_points(ind, values[ind["id"]], groups) for ind in auto
              if ind.get("rule") == ScoringRule.RANK}
    manual = {(m["indicator_id"], m["unit_id"]): m for m in ManualScore.objects.filter(
        indicator__set=s, period=run.period, unit__in=[u.pk for u in units]).values(
        "indicator_id", "unit_id", "value", "state")}
    # Deductions and vetoes: incidents counted in SQL per (indicator, unit, state), one query.
    incidents: dict[tuple[int, int], dict[str, int]] = {}
    if any(ind["kind"] in PENALTY_KINDS for ind in inds):
        for row in (Incident.objects.filter(indicator__set=s, period=run.period, unit__in=[u.pk for u in units])
                    .values("indicator_id", "unit_id", "state").annotate(n=Count("id")).order_by()):
            incidents.setdefault((row["indicator_id"], row["unit_id"]), {})[row["state"]] = row["n"]
    counted: dict[int, dict[int, int]] = {}
    Result.objects.filter(run=run).delete()
    results, lines_for, missing = [], [], 0
    for unit, org, name, group in targets:
        lines, total, complete, cap = [], Decimal(0), True, None
        for ind in inds:
            if ind["kind"] == IndicatorKind.AUTO:
                value = values[ind["id"]].get(unit.pk)
                if ind["id"] in ranked:  # h-eval2: rank rule
                    points, note = (ranked[ind["id"]][unit.pk], "") if value is not None else \
                        (Decimal(ind["weight"]), "no_basis")
                else:
                    points, note = points_for(ind, value)
            elif ind["kind"] in PENALTY_KINDS:
                n = incidents.get((ind["id"], unit.pk), {})
                approved, pending = n.get(ScoreState.APPROVED, 0), n.get(ScoreState.ENTERED, 0)
                value = approved
                if approved:
                    counted.setdefault(ind["id"], {})[unit.pk] = approved
                points, note = penalty_for(ind, approved)
                if ind["kind"] == IndicatorKind.VETO and approved:
                    cap = min(cap or 5, int(ind["star_cap"] or 1))
                if pending:
                    note, complete = "awaiting_approval", False
            else:
                m = manual.get((ind["id"], unit.pk))
                value = m["value"] if m else None
                if m is None or m["state"] != ScoreState.APPROVED:
                    points, note = None, ("missing" if m is None else "awaiting_approval")
                    complete = False
                else:
                    points = (Decimal(ind["weight"]) * m["value"] / 100).quantize(CENT, ROUND_HALF_UP)
                    note = ""
            if points is not None:
                total += points
            lines.append(Line(indicator_id=ind["id"], note=note, points=points,
                              value=None if value is None else Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)))
        missing += not complete
        results.append(Result(run=run, unit=unit, party_org=org, name=name[:120], peer_group=group,
                              score=max(Decimal(0), total).quantize(CENT) if complete else None, star_cap=cap))
        lines_for.append(lines)
    Result.objects.bulk_create(results, batch_size=2000)
    batch = []
    for r, lines in zip(results, lines_for, strict=True):
        for ln in lines:
            ln.result_id = r.pk
            batch.append(ln)
    Line.objects.bulk_create(batch, batch_size=5000)
    inputs["values"] = {str(k): {str(u): (None if v is None else float(v)) for u, v in vals.items()}
                        for k, vals in values.items()}
    # Approved incidents per deduction/veto indicator and unit (only where there were any).
    inputs["incidents"] = {str(k): {str(u): n for u, n in by_unit.items()} for k, by_unit in counted.items()}
    run.inputs, run.targets, run.missing, run.computed_at = inputs, len(results), missing, now
    run.save(update_fields=["inputs", "targets", "missing", "computed_at"])
    _rank(run, inputs)


def _rank(run: Run, rules: dict) -> None:
    """Ranks within each peer group in SQL (a window), stars from them, the rank of the last period."""
    prev = _previous_run(run)
    qs = Result.objects.filter(run=run, score__isnull=False).annotate(
        rk=Window(Rank(), partition_by=[F("peer_group")], order_by=F("score").desc()),
        n=Window(Count("id"), partition_by=[F("peer_group")]))
    if prev is not None:
        key = "party_org_id" if run.set.target_kind == TargetKind.PARTY_ORG else "unit_id"
        qs = qs.annotate(prev=Subquery(Result.objects.filter(run=prev, **{key: OuterRef(key)}).values("rank")[:1]))
    rows = []
    for r in qs.only("id", "score", "star_cap"):
        stars = stars_for(r.score, r.rk, r.n, rules)
        if r.star_cap is not None:  # 一票否决: the stars are capped whatever the score
            stars = min(stars, r.star_cap)
        rows.append((r.pk, r.rk, r.n, getattr(r, "prev", None), stars))
    _write_ranks(rows)


def _write_ranks(rows: list[tuple], batch: int = 2000) -> None:
    """One ``UPDATE … FROM (VALUES …)`` per batch (PostgreSQL and SQLite ≥ 3.33): ``bulk_update``'s
    CASE per row cost more than the whole computation of a run."""
    table = Result._meta.db_table
    one = "(CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS integer))"
    with connection.cursor() as cur:
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            cur.execute(f"UPDATE {table} SET rank = v.column2, peers = v.column3, previous_rank = v.column4, "
                        f"stars = v.column5 FROM (VALUES {', '.join([one] * len(chunk))}) AS v "
                        f"WHERE {table}.id = v.column1", [x for row in chunk for x in row])


def _get_set(user, s, perm) -> IndicatorSet:
    if not isinstance(s, IndicatorSet):
        s = IndicatorSet.objects.filter(pk=s).select_related("unit").first()
        if s is None:
            raise NotFound()
    require(user, perm, s.unit)
    return s


def compute_run(user, indicator_set, period, *, now: datetime | None = None) -> Run:
    """The run of ``indicator_set`` for ``period`` (``2026H1``): a new one, or the unpublished one
    computed again. A published or frozen run is never recomputed: correct it (a new version)."""
    now = now_or(now)
    s = _get_set(user, indicator_set, RUN)
    label, start, end = period_range(period, s.period_kind)
    with transaction.atomic():
        current = Run.objects.select_for_update().filter(set=s, period=label).order_by("-version").first()
        if current is not None and current.state != RunState.COMPUTED:
            raise Conflict(_("The results of %(p)s are published; a change is a correction with a reason.")
                           % {"p": label})
        if current is None:
            current = Run.objects.create(set=s, period=label, start=start, end=end, computed_at=now,
                                         computed_by=user)
        else:
            current.computed_by = user
            current.save(update_fields=["computed_by"])
        _compute(current, now)
        audit.record("evaluation.run.compute", current, after={
            "set_id": s.pk, "period": label, "version": current.version, "targets": current.targets,
            "missing": current.missing, "now": now}, now=now)
    return current


def correct(user, run, *, reason: str, now: datetime | None = None) -> Run:
    """A correction of published results: a new version, computed now, with the reason; it
    replaces the old one when it is published."""
    now = now_or(now)
    run = get_run(user, run, "manage")
    reason = text(reason, "reason", limit=500, required=True)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.state not in PUBLIC_STATES:
            raise Conflict(_("Only published results are corrected; compute this run again instead."))
        if Run.objects.filter(supersedes=run).exists():
            raise Conflict(_("A correction of this version exists already."))
        new = Run.objects.create(set=run.set, period=run.period, start=run.start, end=run.end,
                                 version=run.version + 1, supersedes=run, reason=reason, computed_at=now,
                                 computed_by=user)
        _compute(new, now)
        audit.record("evaluation.run.correct", new, before={"run_id": run.pk, "version": run.version},
                     after={"version": new.version, "reason": reason, "missing": new.missing}, now=now)
    return new


def get_run(user, run, action: str = "view") -> Run:
    pk = getattr(run, "pk", run)
    obj = Run.objects.filter(pk=pk).select_related("set", "set__unit").first() if pk is not None else None
    if obj is None:
        raise NotFound()
    if action == "view":
        if not Run.objects.restrict(user, "view").filter(pk=obj.pk).exists():
            raise NotFound()
        return obj
    require(user, f"evaluation.run.{action}", obj)
    return obj


def missing_list(run: Run, limit: int | None = None) -> list[dict]:
    """What keeps ``run`` from being complete: per target and manual indicator, the state and who must act."""
    qs = (Line.objects.filter(result__run=run, note__in=["missing", "awaiting_approval"])
          .select_related("result", "result__unit__parent", "indicator", "indicator__assessor_unit")
          .order_by("result__unit__path", "indicator__seq"))
    if limit:
        qs = qs[:limit]
    out = []
    for ln in qs:
        assessor = ln.indicator.assessor_unit or ln.result.unit.parent or run.set.unit
        out.append({"result_id": ln.result_id, "target": ln.result.name, "unit_id": ln.result.unit_id,
                    "indicator_id": ln.indicator_id, "indicator": ln.indicator.name, "state": ln.note,
                    "who": assessor.name, "who_unit_id": assessor.pk,
                    "action": (_("enter the score") if ln.note == "missing"
                               else _("approve the incidents") if ln.indicator.kind in PENALTY_KINDS
                               else _("approve the score"))})
    return out


def publish(user, run, *, now: datetime | None = None) -> Run:
    """全覆盖: refused while any target lacks a score (the refusal names who must act); then the
    public notice (公示) runs for the set's working days."""
    now = now_or(now)
    run = get_run(user, run, "manage")
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("set", "set__unit").get(pk=run.pk)
        if run.state != RunState.COMPUTED:
            raise Conflict(_("These results are published already."))
        if run.missing or not run.targets:
            if not run.targets:
                raise ServiceError(_("The run has no targets; nothing to publish."), code="empty")
            rows = missing_list(run, limit=6)
            who = "; ".join(_("%(who)s: %(action)s “%(ind)s” for %(target)s") % {
                "who": r["who"], "action": r["action"], "ind": r["indicator"], "target": r["target"]} for r in rows)
            raise ServiceError(_("%(n)d of %(total)d targets lack a score, so the results cannot be published. "
                                 "Who must act: %(who)s%(more)s. Then compute the run again.")
                               % {"n": run.missing, "total": run.targets, "who": who,
                                  "more": "…" if run.missing > len(rows) else ""}, code="incomplete")
        try:
            until = add_working_days(timezone.localtime(now).date(), run.set.notice_days).date()
        except CalendarUnknownYear:
            raise ServiceError(_("The working-day calendar of this year is not entered; enter it first."),
                               code="calendar")
        run.state, run.published_at, run.notice_until = RunState.PUBLISHED, now, until
        run.save(update_fields=["state", "published_at", "notice_until"])
        if run.supersedes_id:
            Run.objects.filter(pk=run.supersedes_id).update(state=RunState.SUPERSEDED)
        audit.record("evaluation.run.publish", run, after={"period": run.period, "version": run.version,
                                                           "notice_until": until, "targets": run.targets}, now=now)
    return run


def freeze_due(now: datetime | None = None) -> int:
    """The ``evaluation.freeze`` job: published runs whose notice ended before today are frozen."""
    now = now_or(now)
    today = timezone.localtime(now).date()
    n = 0
    for run in Run.objects.filter(state=RunState.PUBLISHED, notice_until__lt=today).select_related("set__unit"):
        with transaction.atomic():
            if Run.objects.filter(pk=run.pk, state=RunState.PUBLISHED).update(state=RunState.FROZEN, frozen_at=now):
                audit.record("evaluation.run.freeze", run, after={"period": run.period, "version": run.version},
                             now=now)
                n += 1
    return n


# --- manual scores ---------------------------------------------------------------------------------

def _assessor(ind, unit: OrgUnit) -> OrgUnit:
    return ind.assessor_unit or unit.parent or ind.set.unit


def enter_score(user, *, indicator, unit: OrgUnit, period, value, comment: str = "", evidence: str = "",
                now: datetime | None = None) -> ManualScore:
    """An assessor of the indicator's assessor unit enters a manual score (0–100) for a target;
    entering again replaces an unapproved score."""
    from ..models import Indicator

    now = now_or(now)
    ind = indicator if isinstance(indicator, Indicator) else Indicator.objects.filter(pk=indicator).select_related(
        "set", "set__unit", "assessor_unit").first()
    if ind is None or unit is None:
        raise NotFound()
    require(user, ENTER, unit)
    if ind.kind != IndicatorKind.MANUAL:
        raise ServiceError(_("%(i)s is computed from its source; it takes no manual score.") % {"i": ind.name},
                           {"indicator": _("Not a manual indicator.")})
    if not ind.set.unit.path or not (unit.pk == ind.set.unit_id or ind.set.unit.is_ancestor_of(unit)):
        raise NotFound()
    assessor = _assessor(ind, unit)
    require(user, ENTER, assessor, message=_("Only an assessor of %(u)s enters this score.") % {"u": assessor.name})
    label, *_r = period_range(period, ind.set.period_kind)
    value = decimal(value, "value", low=0, high=100)
    comment = text(comment, "comment", limit=500)
    evidence = text(evidence, "evidence", limit=200)
    with transaction.atomic():
        existing = ManualScore.objects.select_for_update().filter(indicator=ind, unit=unit, period=label).first()
        if existing and existing.state == ScoreState.APPROVED:
            raise Conflict(_("This score is approved already; it cannot be changed."))
        _locked_run(ind.set, label)
        before = None
        if existing:
            before = {"value": existing.value, "comment": existing.comment}
            existing.value, existing.comment, existing.evidence = value, comment, evidence
            existing.entered_at, existing.entered_by = now, user
            existing.save(update_fields=["value", "comment", "evidence", "entered_at", "entered_by"])
            score = existing
        else:
            score = ManualScore.objects.create(indicator=ind, unit=unit, period=label, value=value, comment=comment,
                                               evidence=evidence, entered_at=now, entered_by=user)
        audit.record("evaluation.score.enter", score, before=before, after={
            "indicator_id": ind.pk, "period": label, "value": value, "comment": comment, "evidence": evidence},
            now=now)
    return score


def _locked_run(s: IndicatorSet, label: str) -> None:
    if Run.objects.filter(set=s, period=label, state__in=PUBLIC_STATES).exists():
        raise Conflict(_("The results of %(p)s are published; a change is a correction with a reason.") % {"p": label})


def approve_record(user, model, ref, *, action: str, who: str, done: str, lock_run: bool, after, now) -> object:
    """A second person (not the one who entered it) approves a manual score or an incident
    (``models.TwoPersonRecord``): scope on the record and on its assessor unit, one state change
    under a guard (twice → Conflict), one audit entry. ``lock_run`` refuses it once the period's
    results are published."""
    now = now_or(now)
    pk = getattr(ref, "pk", ref)
    rec = model.objects.filter(pk=pk).select_related("indicator__set__unit", "unit__parent").first() \
        if pk is not None else None
    if rec is None:
        raise NotFound()
    require(user, APPROVE, rec)
    require(user, APPROVE, _assessor(rec.indicator, rec.unit))
    if user is not None and rec.entered_by_id == getattr(user, "pk", None):
        raise PermissionDenied(who)
    with transaction.atomic():
        if lock_run:
            _locked_run(rec.indicator.set, rec.period)
        if not model.objects.filter(pk=rec.pk, state=ScoreState.ENTERED).update(
                state=ScoreState.APPROVED, approved_at=now, approved_by=user):
            raise Conflict(done)
        rec.refresh_from_db()
        audit.record(action, rec, after=after(rec), now=now)
    return rec


def approve_score(user, score, *, now: datetime | None = None) -> ManualScore:
    """A second person (not the one who entered it) approves a manual score."""
    return approve_record(user, ManualScore, score, action="evaluation.score.approve", lock_run=False,
                          who=_("A score is approved by another person than the one who entered it."),
                          done=_("This score is approved already."),
                          after=lambda r: {"value": r.value, "period": r.period}, now=now)


# --- incidents (deductions and vetoes) -------------------------------------------------------------

def record_incident(user, *, indicator, unit: OrgUnit, occurred_on, description: str, evidence: str,
                    now: datetime | None = None) -> Incident:
    """An assessor of the indicator's assessor unit records an incident behind a deduction or a veto
    (一票否决), with evidence; it counts once another person approves it. The period is the one of
    the day it occurred."""
    from ..models import Indicator

    now = now_or(now)
    pk = getattr(indicator, "pk", indicator)
    ind = Indicator.objects.filter(pk=pk).select_related("set", "set__unit", "assessor_unit").first() \
        if pk is not None else None
    if ind is None or unit is None:
        raise NotFound()
    require(user, ENTER, unit)
    if ind.kind not in PENALTY_KINDS:
        raise ServiceError(_("%(i)s is not a deduction or a veto; it takes no incidents.") % {"i": ind.name},
                           {"indicator": _("Not a deduction or a veto.")})
    if not (unit.pk == ind.set.unit_id or ind.set.unit.is_ancestor_of(unit)):
        raise NotFound()
    assessor = _assessor(ind, unit)
    require(user, ENTER, assessor, message=_("Only an assessor of %(u)s records this incident.")
            % {"u": assessor.name})
    day = day_of(occurred_on, "occurred_on")
    if day > timezone.localtime(now).date():
        raise ServiceError(_("The incident cannot lie in the future."), {"occurred_on": _("Not after today.")})
    label = period_of(day, ind.set.period_kind)
    description = text(description, "description", limit=500, required=True)
    evidence = text(evidence, "evidence", limit=200, required=True)
    with transaction.atomic():
        _locked_run(ind.set, label)
        inc = Incident.objects.create(indicator=ind, unit=unit, period=label, occurred_on=day,
                                      description=description, evidence=evidence, entered_at=now, entered_by=user)
        audit.record("evaluation.incident.record", inc, after={
            "indicator_id": ind.pk, "kind": ind.kind, "period": label, "occurred_on": day,
            "description": description, "evidence": evidence}, now=now)
    return inc


def approve_incident(user, incident, *, now: datetime | None = None) -> Incident:
    """A second person (not the one who recorded it) approves an incident: then it counts."""
    return approve_record(user, Incident, incident, action="evaluation.incident.approve", lock_run=True,
                          who=_("An incident is approved by another person than the one who recorded it."),
                          done=_("This incident is approved already."),
                          after=lambda r: {"period": r.period, "kind": r.indicator.kind}, now=now)


# --- objections ------------------------------------------------------------------------------------

def _objection_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = Category.objects.filter(code="evaluation_objection").first()
    if cat is None:
        cat = loop_config.create_category(None, code="evaluation_objection", name="考核结果异议", kind=Kind.DEMAND,
                                          handle_days=10)
    return cat


def lodge_objection(user, result, *, reason: str, now: datetime | None = None) -> Objection:
    """A unit objects to its own published result during the notice period: one loop matter for
    the assessing unit (the set's unit), once per result."""
    from bihuan.loop import services as loop_services

    now = now_or(now)
    pk = getattr(result, "pk", result)
    result = Result.objects.filter(pk=pk).select_related("run__set__unit", "unit").first()
    if result is None or (user is not None
                          and not Result.objects.restrict(user, "view").filter(pk=result.pk).exists()):
        raise NotFound()
    require(user, OBJECT, result.unit, message=_("Only the assessed unit objects to its result."))
    reason = text(reason, "reason", limit=1000, required=True)
    run = result.run
    today = timezone.localtime(now).date()
    if run.state != RunState.PUBLISHED or run.notice_until is None:
        raise ServiceError(_("Objections are taken only while published results are on notice."), code="closed")
    if today > run.notice_until:
        raise ServiceError(_("The public notice ended on %(d)s; objections are no longer taken.")
                           % {"d": run.notice_until.isoformat()}, code="closed")
    assessing = run.set.unit
    try:
        with transaction.atomic():
            obj = Objection.objects.create(result=result, reason=reason, lodged_at=now, lodged_by=user)
            title = (_("考核异议: %(unit)s %(period)s") % {"unit": result.name, "period": run.period})[:120]
            detail = _("%(unit)s objects to its result (%(score)s points, rank %(rank)s) of %(set)s %(period)s:\n"
                       "%(reason)s") % {"unit": result.name, "score": result.score, "rank": result.rank,
                                        "set": run.set.name, "period": run.period, "reason": reason}
            matter = loop_services.create_matter(None, category=_objection_category(), location_unit=result.unit,
                                                 title=title, description=detail[:5000], dispatch_unit=assessing,
                                                 now=now)
            matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=assessing, now=now)
            Objection.objects.filter(pk=obj.pk).update(matter_id=matter.pk)
            obj.matter_id = matter.pk
            audit.record("evaluation.objection.lodge", obj, after={"result_id": result.pk, "reason": reason,
                                                                   "matter_id": matter.pk}, now=now)
            return obj
    except IntegrityError:
        raise Conflict(_("An objection to this result was lodged already."))
