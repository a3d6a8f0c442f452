"""h-eval2 — indicator sets as a table (``bihuan export evaluation_set``, ``bihuan import evaluation_set FILE``).

One row per indicator; the set's own fields (assessing unit, name, period, targets, star rule) are
repeated on each row and taken from the first row of the set. The import groups rows by
(区划代码, 指标集) and creates each set through ``services.create_set`` (weights sum to 100, known
sources, scope ``evaluation.set.manage``, audit) in a savepoint, so every refused set is reported
against its rows; all-or-nothing by default (``core.tabular.run_import``). A set's name is unique
within its unit: a new version is imported under a new name (e.g. 2027年…). The export is the
template: export a set, rename it, edit it, import it.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import services
from .models import Indicator, IndicatorSet

EXPORT, IMPORT = "evaluation.set.export", "evaluation.set.import"

PERIOD_ZH = {"quarter": "季度", "half": "半年", "year": "年度"}
TARGET_ZH = {"township": "乡镇（街道）", "village": "村（社区）", "party_org": "党支部"}
STAR_ZH = {"thresholds": "分数线", "quota": "分数线+五星比例"}
KIND_ZH = {"auto": "自动", "manual": "手工", "deduct": "扣分", "veto": "一票否决"}
RULE_ZH = {"linear": "线性", "rank": "排名"}
DIRECTION_ZH = {"higher": "越高越好", "lower": "越低越好"}


def _choice(zh: dict[str, str]):
    return tb.choice({**{v: k for k, v in zh.items()}, **{k: k for k in zh}}, shown=list(zh.values()))


def _num(v) -> str:
    return f"{Decimal(str(v)).normalize():f}"


SPEC = tb.Spec(
    columns=(
        tb.Column("unit", "区划代码", tb.text(20), required=True, aliases=("unit", "code")),
        tb.Column("unit_name", "考核单位", tb.text(120), optional_header=True, width=18),
        tb.Column("set", "指标集", tb.text(120), required=True, width=28, aliases=("set",)),
        tb.Column("period_kind", "周期", _choice(PERIOD_ZH), required=True),
        tb.Column("target_kind", "考核对象", _choice(TARGET_ZH), required=True),
        tb.Column("star_mode", "星级规则", _choice(STAR_ZH), optional_header=True),
        tb.Column("star_thresholds", "星级分数线", tb.text(40), optional_header=True, width=16),
        tb.Column("five_star_quota", "五星比例(%)", tb.integer(min_value=1, max_value=100), optional_header=True),
        tb.Column("notice_days", "公示天数", tb.integer(min_value=1, max_value=30), optional_header=True),
        tb.Column("seq", "序号", tb.integer(min_value=1, max_value=40), optional_header=True, width=8),
        tb.Column("name", "指标", tb.text(80), required=True, width=20, aliases=("indicator",)),
        tb.Column("kind", "类型", _choice(KIND_ZH), required=True, width=10),
        tb.Column("weight", "权重", tb.decimal(2), width=8),
        tb.Column("source", "数据来源", tb.text(60), width=24),
        tb.Column("rule", "计分规则", _choice(RULE_ZH), optional_header=True, width=10),
        tb.Column("direction", "方向", _choice(DIRECTION_ZH), optional_header=True, width=10),
        tb.Column("floor", "底线(0分)", tb.decimal(2), optional_header=True),
        tb.Column("target", "目标(满分)", tb.decimal(2), optional_header=True),
        tb.Column("assessor_unit", "评分单位代码", tb.text(20), optional_header=True),
        tb.Column("penalty", "每次扣分", tb.decimal(2), optional_header=True),
        tb.Column("max_penalty", "最多扣分", tb.decimal(2), optional_header=True),
        tb.Column("star_cap", "否决后最高星级", tb.integer(min_value=1, max_value=4), optional_header=True),
    ),
    unique=("unit", "set", "name"),
    sheet_title="指标集",
)
HEADER = {c.key: c.header for c in SPEC.columns}


def export_rows(user, unit: OrgUnit | None = None, set_id: int | None = None):
    """Every indicator of the sets the user may see (under ``unit``, or of one set)."""
    from .selectors import sets

    qs = IndicatorSet.objects.all() if user is None else sets(user)
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    if set_id is not None:
        qs = qs.filter(pk=set_id)
    inds = (Indicator.objects.filter(set__in=qs.values("pk")).select_related("set__unit", "assessor_unit")
            .order_by("set__unit__path", "set_id", "seq"))
    for i in inds.iterator(chunk_size=500):
        s = i.set
        yield {"unit": s.unit.code, "unit_name": s.unit.name, "set": s.name, "period_kind": PERIOD_ZH[s.period_kind],
               "target_kind": TARGET_ZH[s.target_kind], "star_mode": STAR_ZH[s.star_mode],
               "star_thresholds": ",".join(_num(t) for t in s.star_thresholds),
               "five_star_quota": s.five_star_quota, "notice_days": s.notice_days, "seq": i.seq, "name": i.name,
               "kind": KIND_ZH[i.kind], "weight": i.weight, "source": i.source,
               "rule": RULE_ZH.get(i.rule, i.rule) if i.kind == "auto" else "",
               "direction": DIRECTION_ZH[i.direction] if i.kind == "auto" else "",
               "floor": i.floor, "target": i.target,
               "assessor_unit": i.assessor_unit.code if i.assessor_unit else "", "penalty": i.penalty,
               "max_penalty": i.max_penalty, "star_cap": i.star_cap}


def export_set(out, user, s: IndicatorSet, *, now=None) -> int:
    """One set's indicators (the set page's download, also the template for a new version); audited
    like every export (``evaluation.set.export``)."""
    from bihuan.core import audit

    n = tb.write_table(out, "xlsx", SPEC.headers, tb.spec_rows(SPEC, export_rows(user, set_id=s.pk)),
                       sheet_title=SPEC.sheet_title, widths=[c.width for c in SPEC.columns])
    audit.record(EXPORT, s, extra={"kind": "evaluation_set", "format": "xlsx", "rows": n}, now=now)
    return n


def _header_of(field: str) -> str:
    """``indicators.3.floor`` → 底线(0分); set-level fields → their column; else 指标集."""
    key = field.rsplit(".", 1)[-1]
    return HEADER.get(key, HEADER["set"])


class SetImport(tb.ImportHandler):
    spec = SPEC

    def __init__(self, ctx):
        super().__init__(ctx)
        self.groups: dict[tuple[str, str], list[tb.Row]] = {}

    def feed(self, rows: list[tb.Row]) -> None:
        for r in rows:
            if r.ok:
                self.groups.setdefault((r.values["unit"].strip(), r.values["set"].strip()), []).append(r)

    def finish(self) -> None:
        user = self.ctx.user
        codes = {c for c, _s in self.groups} | {(r.values.get("assessor_unit") or "").strip()
                                               for rows in self.groups.values() for r in rows} - {""}
        units = {u.code: u for u in OrgUnit.objects.filter(code__in=codes, valid_to__isnull=True)}
        mine = set() if user is None else set(OrgUnit.objects.filter(units_q(user, IMPORT), code__in=codes)
                                               .values_list("code", flat=True))
        for (code, name), rows in self.groups.items():
            rows.sort(key=lambda r: (r.values.get("seq") or 10_000, r.number))
            unit = units.get(code)
            if unit is None or (user is not None and code not in mine):
                for r in rows:
                    self.ctx.error(r, HEADER["unit"], _("No current unit with code %(c)s in your scope.") % {"c": code})
                continue
            bad = False
            specs = []
            for r in rows:
                v = r.values
                a = (v.get("assessor_unit") or "").strip()
                if a and a not in units:
                    self.ctx.error(r, HEADER["assessor_unit"], _("No current unit with code %(c)s in your scope.")
                                   % {"c": a})
                    bad = True
                specs.append({"name": v["name"], "kind": v["kind"], "weight": v.get("weight") or 0,
                              "source": v.get("source") or "", "rule": v.get("rule") or "",
                              "direction": v.get("direction") or "", "floor": v.get("floor"),
                              "target": v.get("target"), "assessor_unit": units.get(a) if a else None,
                              "penalty": v.get("penalty"), "max_penalty": v.get("max_penalty"),
                              "star_cap": v.get("star_cap")})
            if bad:
                continue
            first = rows[0].values
            try:
                with transaction.atomic():
                    services.create_set(
                        user, unit=unit, name=name, period_kind=first["period_kind"],
                        target_kind=first["target_kind"], star_mode=first.get("star_mode") or "thresholds",
                        star_thresholds=first.get("star_thresholds") or None,
                        five_star_quota=first.get("five_star_quota") or 10,
                        notice_days=first.get("notice_days") or 5, indicators=specs, now=self.ctx.now)
            except ServiceError as exc:
                fields = list(exc.field_errors) or [""]
                for f in fields:
                    parts = f.split(".")
                    if len(parts) >= 2 and parts[0] == "indicators" and parts[1].isdigit() \
                            and 1 <= int(parts[1]) <= len(rows):
                        self.ctx.error(rows[int(parts[1]) - 1], _header_of(f), str(exc.message))
                    else:
                        self.ctx.error(rows[0], _header_of(f), str(exc.message))
                for r in rows[1:]:
                    if r.ok:
                        self.ctx.error(r, HEADER["set"], _("The set %(s)s was not imported.") % {"s": name})
                continue
            for r in rows:
                self.ctx.count(r, "created")


def _find_unit(user, code: str) -> OrgUnit:
    qs = OrgUnit.objects.filter(code=(code or "").strip(), valid_to__isnull=True)
    if user is not None:
        qs = qs.filter(units_q(user, EXPORT))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


SETS = tb.register(tb.Kind(
    name="evaluation_set", label=gettext_lazy("Indicator sets (evaluation)"), spec=SPEC, handler=SetImport,
    export_rows=export_rows, permission_prefix="evaluation.set", find_unit=_find_unit,
))
