"""Manual scores as a table (``bihuan export evaluation_score``, ``bihuan import evaluation_score FILE``).

The export is the assessor's **template**: one row per manual indicator × target the user may
score (``evaluation.score.enter`` over the target's assessor unit), for the period being assessed
(the set's open run, else the period of today), with the score already entered (if any). The
assessor fills 得分, 说明 and 证据 and imports it: each row goes through
``services.enter_score`` (range, assessor scope, audit), in a savepoint so every bad row is
reported; all-or-nothing by default (``core.tabular.run_import``). Scores go in as entered: a
second person still approves them. A row left without a score is skipped; a row equal to what is
stored (an approved score re-imported) is "unchanged".
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import services
from .models import Indicator, IndicatorKind, IndicatorSet, ManualScore, Run, RunState, ScoreState
from .services.common import period_of

ENTER = "evaluation.score.enter"

SPEC = tb.Spec(
    columns=(
        tb.Column("indicator_id", "指标编号", tb.integer(min_value=1, max_value=2_000_000_000), required=True,
                  aliases=("indicator",)),
        tb.Column("set", "指标集", tb.text(120), optional_header=True, width=28),
        tb.Column("indicator", "指标", tb.text(80), optional_header=True, width=16),
        tb.Column("period", "期间", tb.text(8), required=True, aliases=("period",)),
        tb.Column("unit", "区划代码", tb.text(20), required=True, aliases=("unit", "code")),
        tb.Column("unit_name", "单位", tb.text(120), optional_header=True, width=20),
        tb.Column("value", "得分", tb.decimal(2), aliases=("score", "value")),
        tb.Column("comment", "说明", tb.text(500), free_text=True, width=30, aliases=("comment",)),
        tb.Column("evidence", "证据", tb.text(200), free_text=True, width=24, aliases=("evidence",)),
        tb.Column("state", "状态", tb.text(20), optional_header=True, width=10),
    ),
    unique=("indicator_id", "period", "unit"),
    sheet_title="手工评分",
)
HEADER = {c.key: c.header for c in SPEC.columns}
STATE_ZH = {ScoreState.ENTERED: "待审核", ScoreState.APPROVED: "已审核"}


def _period(s: IndicatorSet, today) -> str:
    run = Run.objects.filter(set=s, state=RunState.COMPUTED).order_by("-start", "-version").first()
    return run.period if run is not None else period_of(today, s.period_kind)


def export_rows(user, unit: OrgUnit | None = None):
    """The template: manual indicators × targets the user may score (under ``unit`` if given)."""
    from .selectors import sets

    today = timezone.localdate()
    inds = (Indicator.objects.filter(kind=IndicatorKind.MANUAL, set__in=sets(user).values("pk") if user else
                                     IndicatorSet.objects.values("pk"))
            .select_related("set__unit", "assessor_unit").order_by("set_id", "seq"))
    for ind in inds.iterator(chunk_size=200):
        s = ind.set
        period = _period(s, today)
        targets = services.targets_of(s)
        scores = {m.unit_id: m for m in ManualScore.objects.filter(indicator=ind, period=period)}
        allowed = None
        if user is not None:
            allowed = set(OrgUnit.objects.filter(units_q(user, ENTER)).filter(
                pk__in=[(ind.assessor_unit or u.parent or s.unit).pk for u, *_r in targets]).values_list("pk", flat=True))
        seen = set()
        for u, _org, _name, _group in targets:
            if u.pk in seen or (unit is not None and u.pk != unit.pk and not unit.is_ancestor_of(u)):
                continue
            seen.add(u.pk)
            if allowed is not None and (ind.assessor_unit or u.parent or s.unit).pk not in allowed:
                continue
            m = scores.get(u.pk)
            yield {"indicator_id": ind.pk, "set": s.name, "indicator": ind.name, "period": period, "unit": u.code,
                   "unit_name": u.name, "value": None if m is None else m.value,
                   "comment": "" if m is None else m.comment, "evidence": "" if m is None else m.evidence,
                   "state": "" if m is None else STATE_ZH.get(m.state, m.state)}


class ScoreImport(tb.ImportHandler):
    spec = SPEC

    def feed(self, rows: list[tb.Row]) -> None:
        from .selectors import sets

        user = self.ctx.user
        ok = [r for r in rows if r.ok]
        ind_qs = Indicator.objects.filter(pk__in={r.values["indicator_id"] for r in ok}).select_related(
            "set", "set__unit", "assessor_unit")
        if user is not None:
            ind_qs = ind_qs.filter(set__in=sets(user).values("pk"))
        inds = {i.pk: i for i in ind_qs}
        unit_qs = OrgUnit.objects.filter(code__in={r.values["unit"] for r in ok}, valid_to__isnull=True)
        if user is not None:
            unit_qs = unit_qs.filter(units_q(user, ENTER))
        units = {u.code: u for u in unit_qs.select_related("parent")}
        existing = {(m.indicator_id, m.unit.code, m.period): m for m in ManualScore.objects.filter(
            indicator_id__in=list(inds), unit__code__in=list(units)).select_related("unit")}
        for r in ok:
            v = r.values
            ind, unit = inds.get(v["indicator_id"]), units.get(v["unit"])
            if ind is None or ind.kind != IndicatorKind.MANUAL:
                self.ctx.error(r, HEADER["indicator_id"], _("No manual indicator %(i)s in your scope.")
                               % {"i": v["indicator_id"]})
                continue
            if unit is None:
                self.ctx.error(r, HEADER["unit"], _("No current unit with code %(c)s in your scope.") % {"c": v["unit"]})
                continue
            if v.get("value") is None:  # left blank: not scored in this file
                self.ctx.count(r, "unchanged")
                continue
            label = str(v["period"]).strip().upper()
            m = existing.get((ind.pk, unit.code, label))
            if m is not None and m.value == Decimal(v["value"]) and m.comment == (v.get("comment") or "") \
                    and m.evidence == (v.get("evidence") or ""):
                self.ctx.count(r, "unchanged")
                continue
            try:
                with transaction.atomic():
                    services.enter_score(user, indicator=ind, unit=unit, period=label, value=v["value"],
                                         comment=v.get("comment") or "", evidence=v.get("evidence") or "",
                                         now=self.ctx.now)
            except ServiceError as exc:
                field = next(iter(exc.field_errors), "")
                self.ctx.error(r, HEADER.get(field, HEADER["value"]), str(exc.message))
                continue
            self.ctx.count(r, "created" if m is None else "updated")


def _find_unit(user, code: str) -> OrgUnit:
    from bihuan.core.errors import NotFound

    qs = OrgUnit.objects.filter(code=(code or "").strip(), valid_to__isnull=True)
    if user is not None:
        qs = qs.filter(units_q(user, ENTER))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


SCORES = tb.register(tb.Kind(
    name="evaluation_score", label=gettext_lazy("Manual scores (evaluation)"), spec=SPEC, handler=ScoreImport,
    export_rows=export_rows, permission_prefix="evaluation.score", find_unit=_find_unit,
))


# h-eval2: indicator sets as a table (registers the kind ``evaluation_set``).
from . import tabular_sets  # noqa: E402,F401
