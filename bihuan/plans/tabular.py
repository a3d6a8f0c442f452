"""Plans as a table (``bihuan import plan FILE``, ``bihuan export plan``): one row per task.

Columns: 计划, 发布单位编码, 计划开始, 计划结束, 体系, 重点行动, 任务, 牵头层级, 牵头范围编码,
牵头单位编码, 配合单位编码, 责任岗位, 任务开始, 任务截止, 目标值, 基线值, 计量单位, 方向, 调度频次,
宽限工作日, 佐证材料, 必须上传佐证, 节点 — the sheet an organisation department circulates.

Rows of one (计划, 发布单位编码) form one plan: a new draft, or an existing plan the rows add to
(systems, key actions and tasks are matched by name; a task already there is left unchanged, so
an exported file re-imports as "unchanged" — the round trip). Every row goes through
``plans.services`` (validation and audit there), each in a savepoint so that every bad row is
reported; the import is all-or-nothing by default (``core.tabular.run_import``).
Units are named by division code (several separated by 、 , ; or spaces).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import Level, OrgUnit

from . import services
from .models import Cadence, Direction, KeyAction, Plan, System, Task

LEVEL_ZH = {Level.COUNTY: "县区", Level.TOWNSHIP: "乡镇街道", Level.VILLAGE: "村社区", Level.GRID: "网格"}
LEVEL_IN = {**{zh: int(lv) for lv, zh in LEVEL_ZH.items()}, "县": 2, "乡镇": 3, "街道": 3, "村": 4, "社区": 4,
            "county": 2, "township": 3, "village": 4, "grid": 5}
DIRECTION_ZH = {Direction.HIGHER: "越高越好", Direction.LOWER: "越低越好"}
DIRECTION_IN = {**{zh: d for d, zh in DIRECTION_ZH.items()}, "higher": "higher", "lower": "lower",
                "高": "higher", "低": "lower"}
CADENCE_ZH = {Cadence.WEEKLY: "每周", Cadence.FORTNIGHTLY: "每两周", Cadence.MONTHLY: "每月",
              Cadence.QUARTERLY: "每季度"}
CADENCE_IN = {**{zh: c for c, zh in CADENCE_ZH.items()}, **{c.value: c.value for c in Cadence},
              "周": "weekly", "半月": "fortnightly", "月": "monthly", "季度": "quarterly"}
YES_NO = {"是": True, "否": False, "yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}

PLAN, PLAN_UNIT, PLAN_START, PLAN_END = "计划", "发布单位编码", "计划开始", "计划结束"
SYSTEM, ACTION, TASK = "体系", "重点行动", "任务"
LEAD_LEVEL, LEAD_WITHIN, LEAD_UNITS, ASSIST_UNITS = "牵头层级", "牵头范围编码", "牵头单位编码", "配合单位编码"
MILESTONES = "节点"
SPLIT = re.compile(r"[、,，;；\s]+")
MILESTONE = re.compile(r"^\s*(?P<name>[^@]+?)\s*@\s*(?P<date>\d{4}-\d{2}-\d{2})\s*(?:=\s*(?P<value>-?[\d.]+))?\s*$")


def _codes(value) -> list[str]:
    text = tb.text(2000)(value)
    codes = [c for c in SPLIT.split(text) if c]
    if any(not c.isdigit() or len(c) > 15 for c in codes):
        raise tb.CellError(_("Division codes have digits only (several separated by 、)."))
    return codes


def _milestones(value) -> list[tuple[str, str, str | None]]:
    out = []
    for part in [p for p in re.split(r"[;；\n]+", tb.text(2000)(value)) if p.strip()]:
        m = MILESTONE.match(part)
        if m is None:
            raise tb.CellError(_("Write milestones as 名称@YYYY-MM-DD=值; separated by ；"))
        out.append((m["name"], m["date"], m["value"]))
    return out


def _fmt_milestones(task) -> str:
    return "；".join(f"{m.name}@{m.due_on.isoformat()}" + (f"={m.value.normalize():f}" if m.value is not None else "")
                    for m in task.milestones.all())


def _named(task, role) -> str:
    return "、".join(tu.unit.code for tu in task.named_units.all() if tu.role == role)


def _num(v):
    return None if v is None else float(v) if v != v.to_integral_value() else int(v)


SPEC = tb.Spec(
    columns=(
        tb.Column("plan", PLAN, tb.text(120), required=True, get=lambda t: t.plan.title, width=28),
        tb.Column("plan_unit", PLAN_UNIT, tb.text(15, r"\d+", gettext_lazy("A division code has digits only.")),
                  required=True, get=lambda t: t.plan.unit.code, width=14),
        tb.Column("plan_start", PLAN_START, tb.parse_date, required=True, get=lambda t: t.plan.starts_on, width=12),
        tb.Column("plan_end", PLAN_END, tb.parse_date, required=True, get=lambda t: t.plan.ends_on, width=12),
        tb.Column("system", SYSTEM, tb.text(120), required=True, get=lambda t: t.action.system.name, width=16),
        tb.Column("action", ACTION, tb.text(120), required=True, get=lambda t: t.action.name, width=22),
        tb.Column("title", TASK, tb.text(120), required=True, get=lambda t: t.title, width=24),
        tb.Column("lead_level", LEAD_LEVEL, tb.choice(LEVEL_IN, shown=LEVEL_ZH.values()),
                  get=lambda t: LEVEL_ZH.get(t.lead_level, ""), width=10),
        tb.Column("lead_within", LEAD_WITHIN, tb.text(15, r"\d+", gettext_lazy("A division code has digits only.")),
                  get=lambda t: t.lead_within.code if t.lead_within_id else "", width=14),
        tb.Column("lead_units", LEAD_UNITS, _codes, get=lambda t: _named(t, "lead"), width=20),
        tb.Column("assist_units", ASSIST_UNITS, _codes, get=lambda t: _named(t, "assist"), width=16),
        tb.Column("responsible_role", "责任岗位", tb.text(60), get=lambda t: t.responsible_role, width=12),
        tb.Column("starts_on", "任务开始", tb.parse_date, get=lambda t: t.starts_on, width=12),
        tb.Column("due_on", "任务截止", tb.parse_date, get=lambda t: t.due_on, width=12),
        tb.Column("target_value", "目标值", tb.decimal(2), get=lambda t: _num(t.target_value), width=10),
        tb.Column("baseline_value", "基线值", tb.decimal(2), get=lambda t: _num(t.baseline_value), width=10),
        tb.Column("target_unit", "计量单位", tb.text(20), get=lambda t: t.target_unit, width=10),
        tb.Column("direction", "方向", tb.choice(DIRECTION_IN, shown=DIRECTION_ZH.values()),
                  get=lambda t: DIRECTION_ZH.get(t.direction), width=10),
        tb.Column("cadence", "调度频次", tb.choice(CADENCE_IN, shown=CADENCE_ZH.values()),
                  get=lambda t: CADENCE_ZH.get(t.cadence), width=10),
        tb.Column("grace_days", "宽限工作日", tb.integer(0, 20), get=lambda t: t.grace_days, width=10),
        tb.Column("evidence", "佐证材料", tb.text(200), get=lambda t: t.evidence, width=20),
        tb.Column("evidence_mandatory", "必须上传佐证", tb.choice(YES_NO, shown=["是", "否"]),
                  get=lambda t: "是" if t.evidence_mandatory else "否", width=10),
        tb.Column("milestones", MILESTONES, _milestones, get=_fmt_milestones, width=30),
    ),
    unique=("plan", "plan_unit", "action", "title"),
    sheet_title="任务推进图",
)
HEADER = {c.key: c.header for c in SPEC.columns}


def _tasks(qs):
    return (Task.objects.filter(plan__in=qs).select_related("plan__unit", "action__system", "lead_within")
            .prefetch_related("milestones", "named_units__unit")
            .order_by("plan_id", "action__system__seq", "action__seq", "seq", "id"))


def export_rows(user, unit: OrgUnit | None = None):
    """Tasks of the plans ``user`` may export (issued by a unit in scope; ``unit``: issued there)."""
    qs = Plan.objects.all() if user is None else Plan.objects.restrict(user, "export")
    if unit is not None:
        qs = qs.filter(unit=unit)
    return _tasks(qs).iterator(chunk_size=500)


def plan_rows(plan: Plan):
    return _tasks(Plan.objects.filter(pk=plan.pk))


def find_unit(user, code: str) -> OrgUnit:
    from bihuan.core.errors import NotFound

    qs = OrgUnit.objects.filter(valid_to__isnull=True, code=(code or "").strip())
    if user is not None:
        qs = qs.filter(units_q(user, "plans.plan.export"))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


class PlanImport(tb.ImportHandler):
    spec = SPEC

    def __init__(self, ctx: tb.ImportContext):
        super().__init__(ctx)
        self.rows: list[tb.Row] = []

    def feed(self, rows: list[tb.Row]) -> None:
        self.rows.extend(rows)  # plans are built in finish, grouped

    def _units(self) -> dict[str, OrgUnit]:
        codes = set()
        for r in self.rows:
            if r.ok:
                v = r.values
                codes.update([v["plan_unit"], v.get("lead_within") or "", *(v.get("lead_units") or []),
                              *(v.get("assist_units") or [])])
        qs = OrgUnit.objects.filter(code__in=[c for c in codes if c], valid_to__isnull=True)
        if self.ctx.user is not None:
            qs = qs.filter(units_q(self.ctx.user, "plans.plan.import"))
        return {u.code: u for u in qs}

    def finish(self) -> None:
        ctx = self.ctx
        units = self._units()
        plans: dict[tuple[str, str], Plan] = {}
        for r in self.rows:
            if not r.ok:
                continue
            v = r.values
            missing = [(h, c) for h, cs in ((PLAN_UNIT, [v["plan_unit"]]), (LEAD_WITHIN, [v.get("lead_within")]),
                                            (LEAD_UNITS, v.get("lead_units") or []),
                                            (ASSIST_UNITS, v.get("assist_units") or []))
                       for c in cs if c and c not in units]
            if missing:
                for header, code in missing:
                    ctx.error(r, header, _("No current unit with code %(c)s in your scope.") % {"c": code})
                continue
            try:
                with transaction.atomic():
                    outcome = self._row(r, v, units, plans)
            except ServiceError as exc:
                field = next(iter(exc.field_errors), "")
                header = HEADER.get(field.split(".")[0], TASK)
                ctx.error(r, header, str(exc.message))
                continue
            ctx.count(r, outcome)

    def _row(self, r, v, units, plans) -> str:
        user = self.ctx.user
        now = self.ctx.now
        key = (v["plan"], v["plan_unit"])
        plan = plans.get(key)
        if plan is None:
            plan = Plan.objects.filter(title=v["plan"], unit=units[v["plan_unit"]]).first()
            if plan is None:
                plan = services.create_plan(user, unit=units[v["plan_unit"]], title=v["plan"],
                                            starts_on=v["plan_start"], ends_on=v["plan_end"], now=now)
            plans[key] = plan
        system = System.objects.filter(plan=plan, name=v["system"]).first() or services.add_system(
            user, plan, name=v["system"], now=now)
        action = KeyAction.objects.filter(plan=plan, name=v["action"]).first() or services.add_action(
            user, plan, system=system, name=v["action"], now=now)
        if action.system_id != system.pk:
            raise ServiceError(_("The key action %(a)s belongs to another system.") % {"a": action.name},
                               {"action": _("Another system.")})
        if Task.objects.filter(action=action, title=v["title"]).exists():
            return "unchanged"
        services.add_task(
            user, plan, action=action, title=v["title"], lead_level=v.get("lead_level"),
            lead_within=units.get(v.get("lead_within") or ""),
            lead_units=[units[c] for c in v.get("lead_units") or []],
            assist_units=[units[c] for c in v.get("assist_units") or []],
            responsible_role=v.get("responsible_role") or "", starts_on=v.get("starts_on"), due_on=v.get("due_on"),
            target_value=v.get("target_value"), baseline_value=v.get("baseline_value"),
            target_unit=v.get("target_unit") or "", direction=v.get("direction") or Direction.HIGHER,
            cadence=v.get("cadence") or Cadence.MONTHLY,
            grace_days=3 if v.get("grace_days") is None else v["grace_days"],
            evidence=v.get("evidence") or "", evidence_mandatory=bool(v.get("evidence_mandatory")),
            milestones=v.get("milestones") or [], now=now)
        return "created"


PLANS = tb.register(tb.Kind(
    name="plan",
    label=gettext_lazy("Plans and tasks"),
    spec=SPEC,
    handler=PlanImport,
    export_rows=export_rows,
    permission_prefix="plans.plan",
    find_unit=find_unit,
))


# --- key projects (重点项目) and key enterprises (重点企业) --------------------------------------------
# One row per project: year and name identify it (re-importing the export is "unchanged"); the
# monthly plan and actual are columns 1月计划 … 12月实际 (万元). One row per enterprise, identified
# by its unified social credit code.

PROJECT_LEVEL_ZH = {"provincial": "省级", "city": "市级", "county": "县级"}
PROJECT_LEVEL_IN = {**{zh: k for k, zh in PROJECT_LEVEL_ZH.items()}, **{k: k for k in PROJECT_LEVEL_ZH},
                    "省": "provincial", "市": "city", "县": "county"}
CODE = tb.text(15, r"\d+", gettext_lazy("A division code has digits only."))
DATES = (("start", "开工"), ("production", "投产"), ("completion", "竣工"))


def _month_value(project, month: int, field: str):
    for r in project.months.all():
        if r.month.month == month:
            return _num(getattr(r, field))
    return None


PROJECT_SPEC = tb.Spec(
    columns=(
        tb.Column("year", "年度", tb.integer(2000, 2100), required=True, get=lambda p: p.year, width=8),
        tb.Column("name", "项目名称", tb.text(120), required=True, get=lambda p: p.name, width=30),
        tb.Column("level", "项目级别", tb.choice(PROJECT_LEVEL_IN, shown=PROJECT_LEVEL_ZH.values()),
                  required=True, get=lambda p: PROJECT_LEVEL_ZH[p.level], width=10),
        tb.Column("unit", "牵头单位编码", CODE, required=True, get=lambda p: p.unit.code, width=14),
        tb.Column("official", "责任领导", tb.text(60), get=lambda p: p.official, width=16),
        tb.Column("total_investment", "总投资（万元）", tb.decimal(2), get=lambda p: _num(p.total_investment), width=12),
        *[tb.Column(f"{k}_{w}", f"{'计划' if w == 'planned' else '实际'}{zh}", tb.parse_date,
                    get=(lambda p, a=f"{k}_{w}": getattr(p, a)), width=12)
          for k, zh in DATES for w in ("planned", "actual")],
        *[tb.Column(f"plan_{m}", f"{m}月计划", tb.decimal(2), get=(lambda p, m=m: _month_value(p, m, "planned")),
                    width=9) for m in range(1, 13)],
        *[tb.Column(f"actual_{m}", f"{m}月实际", tb.decimal(2), get=(lambda p, m=m: _month_value(p, m, "actual")),
                    width=9) for m in range(1, 13)],
    ),
    unique=("year", "name"),
    sheet_title="重点项目",
)
PROJECT_HEADER = {c.key: c.header for c in PROJECT_SPEC.columns}


def _units_in(user, codes, perm: str) -> dict[str, OrgUnit]:
    qs = OrgUnit.objects.filter(code__in=[c for c in codes if c], valid_to__isnull=True)
    if user is not None:
        qs = qs.filter(units_q(user, perm))
    return {u.code: u for u in qs}


class _RowsHandler(tb.ImportHandler):
    perm = ""
    header: dict = {}

    def feed(self, rows: list[tb.Row]) -> None:
        units = _units_in(self.ctx.user, {r.values.get("unit") for r in rows if r.ok}, self.perm)
        for r in rows:
            if not r.ok:
                continue
            unit = units.get(r.values["unit"])
            if unit is None:
                self.ctx.error(r, self.header["unit"], _("No current unit with code %(c)s in your scope.")
                               % {"c": r.values["unit"]})
                continue
            try:
                with transaction.atomic():
                    outcome = self.write(r.values, unit)
            except ServiceError as exc:
                field = next(iter(exc.field_errors), "")
                self.ctx.error(r, self.header.get(field.split(".")[0], self.header["name"]), str(exc.message))
                continue
            self.ctx.count(r, outcome)


class ProjectImport(_RowsHandler):
    spec = PROJECT_SPEC
    perm = "plans.project.import"
    header = PROJECT_HEADER

    def write(self, v, unit) -> str:
        _p, outcome = services.registers.save_project(
            self.ctx.user, unit=unit, year=v["year"], name=v["name"], level=v["level"],
            official=v.get("official") or "", total_investment=v.get("total_investment"),
            **{f"{k}_{w}": v.get(f"{k}_{w}") for k, _zh in DATES for w in ("planned", "actual")},
            plan={m: v[f"plan_{m}"] for m in range(1, 13) if v.get(f"plan_{m}") is not None},
            actual={m: v[f"actual_{m}"] for m in range(1, 13) if v.get(f"actual_{m}") is not None},
            now=self.ctx.now)
        return outcome


def _find(perm):
    def find(user, code: str) -> OrgUnit:
        from bihuan.core.errors import NotFound

        unit = _units_in(user, [(code or "").strip()], perm).get((code or "").strip())
        if unit is None:
            raise NotFound()
        return unit
    return find


def project_rows(user, unit: OrgUnit | None = None):
    from django.db.models import Q

    from .models import KeyProject

    qs = KeyProject.objects.all() if user is None else KeyProject.objects.restrict(user, "export")
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    return qs.select_related("unit").prefetch_related("months").order_by("year", "unit__path", "name").iterator(
        chunk_size=500)


KEY_PROJECTS = tb.register(tb.Kind(
    name="key_project", label=gettext_lazy("Key projects"), spec=PROJECT_SPEC, handler=ProjectImport,
    export_rows=project_rows, permission_prefix="plans.project", find_unit=_find("plans.project.export")))


ENTERPRISE_SPEC = tb.Spec(
    columns=(
        tb.Column("group", "名单", tb.text(40), required=True, get=lambda e: e.group.name, width=14),
        tb.Column("name", "企业名称", tb.text(120), required=True, get=lambda e: e.name, width=30),
        tb.Column("credit_code", "统一社会信用代码", tb.text(18), required=True, get=lambda e: e.credit_code,
                  width=22),
        tb.Column("industry", "所属行业", tb.text(60), get=lambda e: e.industry, width=16),
        tb.Column("unit", "包保单位编码", CODE, required=True, get=lambda e: e.unit.code, width=14),
        tb.Column("officials", "包保干部", tb.text(200), get=lambda e: e.officials, width=24),
    ),
    unique=("credit_code",),
    sheet_title="重点企业",
)
ENTERPRISE_HEADER = {c.key: c.header for c in ENTERPRISE_SPEC.columns}


class EnterpriseImport(_RowsHandler):
    spec = ENTERPRISE_SPEC
    perm = "plans.enterprise.import"
    header = ENTERPRISE_HEADER

    def write(self, v, unit) -> str:
        _e, outcome = services.registers.save_enterprise(
            self.ctx.user, unit=unit, group=v["group"], name=v["name"], credit_code=v["credit_code"],
            industry=v.get("industry") or "", officials=v.get("officials") or "", now=self.ctx.now)
        return outcome


def enterprise_rows(user, unit: OrgUnit | None = None):
    from django.db.models import Q

    from .models import KeyEnterprise

    qs = KeyEnterprise.objects.all() if user is None else KeyEnterprise.objects.restrict(user, "export")
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    return qs.select_related("unit", "group").order_by("group__seq", "unit__path", "name").iterator(chunk_size=500)


KEY_ENTERPRISES = tb.register(tb.Kind(
    name="key_enterprise", label=gettext_lazy("Key enterprises"), spec=ENTERPRISE_SPEC, handler=EnterpriseImport,
    export_rows=enterprise_rows, permission_prefix="plans.enterprise", find_unit=_find("plans.enterprise.export")))
