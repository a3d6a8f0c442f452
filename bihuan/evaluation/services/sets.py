"""Indicator sets: define (weights sum to 100, sources known by name in ``core.registry``), copy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from bihuan.core import audit, registry
from bihuan.core.errors import Conflict, ServiceError
from bihuan.core.scope import require

from ..models import (
    PENALTY_KINDS,
    Direction,
    Indicator,
    IndicatorKind,
    IndicatorSet,
    PeriodKind,
    ScoringRule,
    StarMode,
    TargetKind,
)
from .common import decimal, integer, now_or, text

MANAGE = "evaluation.set.manage"
MAX_INDICATORS = 40
DEFAULT_THRESHOLDS = [90, 80, 70, 60]


def _thresholds(value) -> list[float]:
    if value in (None, "", []):
        return list(DEFAULT_THRESHOLDS)
    if isinstance(value, str):
        value = [v for v in value.replace("，", ",").split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ServiceError(_("Give four thresholds: the least score for 5, 4, 3 and 2 stars."),
                           {"star_thresholds": _("Four numbers, e.g. 90,80,70,60.")})
    out = [float(decimal(v, "star_thresholds", low=0, high=100)) for v in value]
    if any(a <= b for a, b in zip(out, out[1:], strict=False)):
        raise ServiceError(_("The star thresholds must fall from 5 stars to 2 stars."),
                           {"star_thresholds": _("Each below the one before, e.g. 90,80,70,60.")})
    return out


def _indicator(spec: dict, i: int, set_unit) -> dict:
    """One indicator's fields, validated; refusals name ``indicators.<i>.<field>``."""
    where = f"indicators.{i}"
    try:
        if not isinstance(spec, dict):
            raise ServiceError(_("Each indicator is an object."), {"": _("Not an indicator.")})
        name = text(spec.get("name"), "name", limit=80, required=True)
        kind = spec.get("kind") or IndicatorKind.AUTO
        if kind not in IndicatorKind.values:
            raise ServiceError(_("Unknown indicator kind."),
                               {"kind": _("automatic, manual, deduction or veto.")})
        out = {"seq": i, "name": name, "kind": kind, "weight": Decimal(0), "source": "", "floor": None,
               "target": None, "direction": Direction.HIGHER, "assessor_unit": None, "penalty": None,
               "max_penalty": None, "star_cap": None,
               "rule": ScoringRule.LINEAR}
        if kind in PENALTY_KINDS:
            # No weight: a deduction takes points off per incident, a veto caps the stars.
            if decimal(spec.get("weight"), "weight", low=0, high=0, required=False):
                raise ServiceError(_("A deduction or a veto carries no weight."), {"weight": _("0 or empty.")})
            if kind == IndicatorKind.DEDUCT:
                out["penalty"] = decimal(spec.get("penalty"), "penalty", low="0.01", high=100)
                out["max_penalty"] = decimal(spec.get("max_penalty"), "max_penalty", low="0.01", high=100,
                                             required=False)
            else:
                out["star_cap"] = integer(spec.get("star_cap") or 1, "star_cap", low=1, high=4)
        else:
            weight = decimal(spec.get("weight"), "weight", low=0, high=100)
            if weight <= 0:
                raise ServiceError(_("A weight must be more than 0."), {"weight": _("More than 0.")})
            out["weight"] = weight
        if kind == IndicatorKind.AUTO:
            source = text(spec.get("source"), "source", limit=60, required=True)
            if source not in registry.SOURCES:
                raise ServiceError(_("There is no source named %(s)s.") % {"s": source},
                                   {"source": _("Known: %(names)s") % {"names": ", ".join(sorted(registry.SOURCES))}})
            src = registry.SOURCES[source]
            # h-eval2: a rank rule needs no floor or target (best of the peer group: full points).
            rule = spec.get("rule") or ScoringRule.LINEAR
            if rule not in ScoringRule.values:
                raise ServiceError(_("Unknown scoring rule."), {"rule": _("linear or rank.")})
            if rule == ScoringRule.RANK:
                direction = spec.get("direction") or (Direction.HIGHER if src.higher_is_better else Direction.LOWER)
                if direction not in Direction.values:
                    raise ServiceError(_("Unknown direction."), {"direction": _("higher or lower.")})
                out.update(source=source, direction=direction, rule=rule)
                return out
            floor = decimal(spec.get("floor"), "floor")
            target = decimal(spec.get("target"), "target")
            direction = spec.get("direction") or (Direction.HIGHER if src.higher_is_better else Direction.LOWER)
            if direction not in Direction.values:
                raise ServiceError(_("Unknown direction."), {"direction": _("higher or lower.")})
            if (direction == Direction.HIGHER and target <= floor) or (direction == Direction.LOWER and target >= floor):
                raise ServiceError(_("The target must be better than the floor (%(d)s is better).")
                                   % {"d": Direction(direction).label}, {"target": _("Better than the floor.")})
            out.update(source=source, floor=floor, target=target, direction=direction)
        elif kind != IndicatorKind.AUTO:
            assessor = spec.get("assessor_unit")
            if assessor is not None:
                if not (assessor.pk == set_unit.pk or set_unit.is_ancestor_of(assessor)):
                    raise ServiceError(_("The assessor unit must be the set's unit or below it."),
                                       {"assessor_unit": _("Not under the assessing unit.")})
                out["assessor_unit"] = assessor
        return out
    except ServiceError as exc:
        if type(exc) is not ServiceError:
            raise
        raise ServiceError(f"{where}: {exc.message}", {f"{where}.{f}": m for f, m in exc.field_errors.items()},
                           code=exc.code) from exc


def validate_indicators(indicators, set_unit) -> list[dict]:
    if not isinstance(indicators, (list, tuple)) or not indicators:
        raise ServiceError(_("An indicator set needs at least one indicator."), {"indicators": _("Add indicators.")})
    if len(indicators) > MAX_INDICATORS:
        raise ServiceError(_("At most %(n)d indicators.") % {"n": MAX_INDICATORS}, {"indicators": _("Too many.")})
    rows = [_indicator(spec, i, set_unit) for i, spec in enumerate(indicators, start=1)]
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        raise ServiceError(_("Two indicators have the same name."), {"indicators": _("Names must differ.")})
    if all(r["kind"] in PENALTY_KINDS for r in rows):
        raise ServiceError(_("An indicator set needs at least one weighted indicator."),
                           {"indicators": _("Add an automatic or a manual indicator.")}, code="weights")
    total = sum((r["weight"] for r in rows), Decimal(0))
    if total != Decimal(100):
        raise ServiceError(_("The weights sum to %(sum)s; they must sum to 100.") % {"sum": f"{total:f}".rstrip("0").rstrip(".")},
                           {"indicators": _("Weights must sum to 100.")}, code="weights")
    return rows


@transaction.atomic
def create_set(user, *, unit, name, period_kind, target_kind, indicators, star_mode=StarMode.THRESHOLDS,
               star_thresholds=None, five_star_quota=10, notice_days=5, now: datetime | None = None) -> IndicatorSet:
    now = now_or(now)
    if unit is None:
        raise ServiceError(_("Choose the assessing unit."), {"unit": _("This field is required.")})
    require(user, MANAGE, unit)
    name = text(name, "name", limit=120, required=True)
    if period_kind not in PeriodKind.values:
        raise ServiceError(_("Choose a period: quarter, half-year or year."), {"period_kind": _("Unknown period.")})
    if target_kind not in TargetKind.values:
        raise ServiceError(_("Choose whom the set assesses."), {"target_kind": _("Unknown target kind.")})
    if star_mode not in StarMode.values:
        raise ServiceError(_("Unknown star rule."), {"star_mode": _("Unknown star rule.")})
    thresholds = _thresholds(star_thresholds)
    quota = integer(five_star_quota, "five_star_quota", low=1, high=100)
    notice = integer(notice_days, "notice_days", low=1, high=30)
    rows = validate_indicators(indicators, unit)
    if IndicatorSet.objects.filter(unit=unit, name=name).exists():
        raise Conflict(_("%(unit)s already has an indicator set named %(name)s.") % {"unit": unit.name, "name": name})
    s = IndicatorSet.objects.create(unit=unit, name=name, period_kind=period_kind, target_kind=target_kind,
                                    star_mode=star_mode, star_thresholds=thresholds, five_star_quota=quota,
                                    notice_days=notice, created_at=now)
    Indicator.objects.bulk_create([Indicator(set=s, **r) for r in rows])
    audit.record("evaluation.set.create", s, after={
        "name": name, "period_kind": period_kind, "target_kind": target_kind, "star_mode": star_mode,
        "star_thresholds": thresholds, "five_star_quota": quota, "notice_days": notice,
        "indicators": [{**r, "assessor_unit": getattr(r["assessor_unit"], "pk", None)} for r in rows]}, now=now)
    return s


def snapshot(s: IndicatorSet) -> dict:
    """The set as a run records it (its inputs): enough to explain every line later."""
    return {
        "set_id": s.pk, "name": s.name, "unit_id": s.unit_id, "period_kind": s.period_kind,
        "target_kind": s.target_kind, "star_mode": s.star_mode, "star_thresholds": s.star_thresholds,
        "five_star_quota": s.five_star_quota, "notice_days": s.notice_days, "version": s.version,
        "indicators": [{"id": i.pk, "seq": i.seq, "name": i.name, "kind": i.kind, "weight": str(i.weight),
                        "source": i.source, "direction": i.direction,
                        "floor": None if i.floor is None else str(i.floor),
                        "target": None if i.target is None else str(i.target),
                        "assessor_unit_id": i.assessor_unit_id,
                        "penalty": None if i.penalty is None else str(i.penalty),
                        "max_penalty": None if i.max_penalty is None else str(i.max_penalty),
                        "star_cap": i.star_cap, "rule": i.rule} for i in s.indicators.all()],
    }
