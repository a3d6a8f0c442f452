"""Needs surveys and care plans as tables (``bihuan import care_plan FILE`` too, see below).

Needs surveys as a table (``bihuan import care_survey FILE``, ``bihuan export care_survey``).

Columns: 身份证号, 姓名, 摸排日期, 居住状况, 需要帮助事项, 救助类别, 需求, 风险等级, 紧急联系人,
关系, 联系人电话 — the sheet grid workers fill in. A row names the resident by ID number (the
person must be registered in the people register, in the importer's scope) and the name must
match. Each row is a new survey through ``care.services.record_survey`` (validation, encryption
and audit there); the import is all-or-nothing by default (``core.tabular.run_import``).
Exports show the ID number and the contact phone masked; health notes are never exported.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit
from bihuan.people.models import Person

from . import services
from .models import (
    CHECKLIST,
    NEEDS,
    CarePlan,
    CareService,
    Helper,
    Living,
    Risk,
    ServiceKind,
    Support,
    Survey,
)

LIVING_ZH = {Living.ALONE: "独居", Living.EMPTY_NEST: "空巢", Living.LEFT_BEHIND: "留守", Living.CHILDLESS: "孤寡",
             Living.FAMILY: "与家人同住"}
SUPPORT_ZH = {Support.NONE: "无", Support.DIBAO: "低保", Support.TEKUN: "特困"}
RISK_ZH = {Risk.LOW: "低", Risk.MEDIUM: "中", Risk.HIGH: "高"}
HELP_ZH = dict(zip([f for f, _l in CHECKLIST], ["进食", "穿衣", "洗澡", "如厕", "行走", "服药"], strict=True))
NEEDS_ZH = dict(zip([f for f, _l in NEEDS], ["助餐", "探访", "保洁", "送药", "维修"], strict=True))
SPLIT = re.compile(r"[、,，;；\s]+")
ID, NAME = "身份证号", "姓名"


def _items(table: dict[str, str]):
    reverse = {zh: f for f, zh in table.items()} | {f: f for f in table}

    def parse(value) -> list[str]:
        parts = [p for p in SPLIT.split(tb.text(200)(value)) if p]
        unknown = [p for p in parts if p not in reverse]
        if unknown:
            raise tb.CellError(_("Unknown items: %(u)s. Use: %(k)s (separated by 、).")
                               % {"u": "、".join(unknown), "k": "、".join(table.values())})
        return [reverse[p] for p in parts]

    return parse


def _fmt(table):
    return lambda s: "、".join(zh for f, zh in table.items() if getattr(s, f))


SPEC = tb.Spec(
    columns=(
        tb.Column("id_number", ID, tb.text(18, r"[0-9Xx*]{15,18}", gettext_lazy("An ID number has 15 or 18 characters.")),
                  required=True, get=lambda s: s.person.id_number_masked, width=20),
        tb.Column("name", NAME, tb.text(50), required=True, get=lambda s: s.person.name, width=10),
        tb.Column("surveyed_on", "摸排日期", tb.parse_date, required=True, get=lambda s: s.surveyed_on, width=12),
        tb.Column("living", "居住状况", tb.choice({**{v: k for k, v in LIVING_ZH.items()}, **{k: k for k in LIVING_ZH}},
                                                shown=LIVING_ZH.values()),
                  required=True, get=lambda s: LIVING_ZH.get(s.living), width=10),
        tb.Column("help", "需要帮助事项", _items(HELP_ZH), get=_fmt(HELP_ZH), width=20),
        tb.Column("income_support", "救助类别",
                  tb.choice({**{v: k for k, v in SUPPORT_ZH.items()}, **{k: k for k in SUPPORT_ZH}},
                            shown=SUPPORT_ZH.values()), get=lambda s: SUPPORT_ZH.get(s.income_support), width=8),
        tb.Column("needs", "需求", _items(NEEDS_ZH), get=_fmt(NEEDS_ZH), width=20),
        tb.Column("risk", "风险等级", tb.choice({**{v: k for k, v in RISK_ZH.items()}, **{k: k for k in RISK_ZH}},
                                              shown=RISK_ZH.values()), get=lambda s: RISK_ZH.get(s.risk), width=8),
        tb.Column("contact_name", "紧急联系人", tb.text(50), get=lambda s: s.contact_name, width=10),
        tb.Column("contact_relation", "关系", tb.text(20), get=lambda s: s.contact_relation, width=8),
        tb.Column("contact_phone", "联系人电话", tb.text(20), get=lambda s: s.contact_phone_masked, width=14),
    ),
    unique=("id_number", "surveyed_on"),
    sheet_title="摸排",
)
HEADER = {c.key: c.header for c in SPEC.columns}


def export_rows(user, unit: OrgUnit | None = None):
    qs = Survey.objects.all() if user is None else Survey.objects.restrict(user, "export")
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs.select_related("person").order_by("unit_id", "-surveyed_on", "id").iterator(chunk_size=500)


def find_unit(user, code: str) -> OrgUnit:
    qs = OrgUnit.objects.filter(valid_to__isnull=True, code=(code or "").strip())
    if user is not None:
        qs = qs.filter(units_q(user, "care.survey.export"))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


class SurveyImport(tb.ImportHandler):
    spec = SPEC

    def feed(self, rows: list[tb.Row]) -> None:
        from bihuan.people.services import id_number_bidx
        from bihuan.people.validators import InvalidValue, parse_id_number

        ctx = self.ctx
        for r in rows:
            if not r.ok:
                continue
            v = r.values
            try:
                number = parse_id_number(v["id_number"]).number
            except InvalidValue as exc:
                ctx.error(r, ID, str(exc))
                continue
            people = Person.objects.filter(id_number_bidx=id_number_bidx(number))
            if ctx.user is not None:
                people = people.filter(units_q(ctx.user, "care.survey.import", prefix="unit__"))
            person = people.first()
            if person is None:
                ctx.error(r, ID, _("No resident with this ID number in your scope (register them in People first)."))
                continue
            if person.name != v["name"]:
                ctx.error(r, NAME, _("The name does not match the resident with this ID number."))
                continue
            try:
                with transaction.atomic():
                    services.record_survey(ctx.user, person, surveyed_on=v["surveyed_on"], living=v["living"],
                                           help=v.get("help") or [], income_support=v.get("income_support") or "none",
                                           needs=v.get("needs") or [], risk=v.get("risk") or "low",
                                           contact_name=v.get("contact_name") or "",
                                           contact_relation=v.get("contact_relation") or "",
                                           contact_phone=v.get("contact_phone") or "", now=ctx.now)
            except ServiceError as exc:
                field = next(iter(exc.field_errors), "")
                ctx.error(r, HEADER.get(field, NAME), str(exc.message))
                continue
            ctx.count(r, "created")


SURVEYS = tb.register(tb.Kind(
    name="care_survey",
    label=gettext_lazy("Care needs surveys (摸排)"),
    spec=SPEC,
    handler=SurveyImport,
    export_rows=export_rows,
    permission_prefix="care.survey",
    find_unit=find_unit,
))


# --- the care-plan register: one row per service ------------------------------------------------
#
# Columns: 服务标识, 身份证号, 姓名, 计划开始日期, 计划结束日期, 服务项目, 名称, 重复规则, 开始时间, 结束时间,
# 帮扶人账号, 后备帮扶人账号, 计划备注. A row without 服务标识 is a new service: the resident is named
# by ID number (name checked); rows of one resident with the same plan start date go into one
# plan (the resident's plan starting that day, or a new one). A row with 服务标识 (as exported)
# is that service: unchanged rows are counted as such, a changed rule, window or helper goes
# through ``services.update_service`` (future visits made again); its plan's columns are ignored.
# Helpers are named by their login. Exports mask the ID number; all-or-nothing by default.

KIND_ZH = {ServiceKind.MEAL: "送餐", ServiceKind.VISIT: "探访", ServiceKind.CLEANING: "保洁",
           ServiceKind.HEALTH: "健康检查", ServiceKind.REPAIR: "维修"}
SERVICE_ID = "服务标识"


def _clock(value):
    from datetime import datetime, time

    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    s = tb.text(5)(value)
    try:
        return time.fromisoformat(s if len(s) == 5 else s.zfill(5))
    except ValueError:
        raise tb.CellError(_("Enter a time as HH:MM (e.g. 11:00)."))


def _login(value) -> str:
    return tb.text(150, r"[\w.@+-]+", gettext_lazy("A login name (letters, digits, . @ + - _)."))(value)


def _username(user) -> str:
    return user.username if user is not None else ""


PLAN_SPEC = tb.Spec(
    columns=(
        tb.Column("service_id", SERVICE_ID, tb.integer(1, 2**62), get=lambda s: s.pk, optional_header=True, width=10),
        tb.Column("id_number", ID, tb.text(18, r"[0-9Xx*]{15,18}",
                                           gettext_lazy("An ID number has 15 or 18 characters.")),
                  get=lambda s: s.plan.person.id_number_masked, width=20),
        tb.Column("name", NAME, tb.text(50), required=True, get=lambda s: s.plan.person.name, width=10),
        tb.Column("plan_starts_on", "计划开始日期", tb.parse_date, get=lambda s: s.plan.starts_on, width=12),
        tb.Column("plan_ends_on", "计划结束日期", tb.parse_date, get=lambda s: s.plan.ends_on, width=12),
        tb.Column("kind", "服务项目", tb.choice({**{v: k for k, v in KIND_ZH.items()}, **{k: k for k in KIND_ZH}},
                                              shown=KIND_ZH.values()),
                  required=True, get=lambda s: KIND_ZH.get(s.kind), width=10),
        tb.Column("label", "名称", tb.text(40), get=lambda s: s.label, width=10),
        tb.Column("rrule", "重复规则", tb.text(300), required=True, get=lambda s: s.rrule, width=22),
        tb.Column("window_start", "开始时间", _clock, required=True, get=lambda s: f"{s.window_start:%H:%M}", width=9),
        tb.Column("window_end", "结束时间", _clock, required=True, get=lambda s: f"{s.window_end:%H:%M}", width=9),
        tb.Column("helper", "帮扶人账号", _login, required=True, get=lambda s: _username(s.helper), width=16),
        tb.Column("backup", "后备帮扶人账号", _login, get=lambda s: _username(s.backup), width=16),
        tb.Column("note", "计划备注", tb.text(200), get=lambda s: s.plan.note, width=24, free_text=True),
    ),
    sheet_title="帮扶计划",
)
PLAN_HEADER = {c.key: c.header for c in PLAN_SPEC.columns}
PLAN_HEADER.update({"starts_on": "计划开始日期", "ends_on": "计划结束日期", "person": ID})


def export_plans(user, unit: OrgUnit | None = None, **_opts):
    qs = CareService.objects.all() if user is None else CareService.objects.restrict(user, "export")
    if unit is not None:
        qs = qs.filter(plan__unit__path__startswith=unit.path)
    return (qs.select_related("plan__person", "helper", "backup")
            .order_by("plan__unit_id", "plan_id", "window_start", "id").iterator(chunk_size=500))


def find_plan_unit(user, code: str) -> OrgUnit:
    qs = OrgUnit.objects.filter(valid_to__isnull=True, code=(code or "").strip())
    if user is not None:
        qs = qs.filter(units_q(user, "care.plan.export"))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


class PlanImport(tb.ImportHandler):
    spec = PLAN_SPEC

    def __init__(self, ctx):
        super().__init__(ctx)
        self.plans: dict[tuple[int, object], CarePlan] = {}

    def _helper_pk(self, r, key: str):
        name = r.values.get(key)
        if not name:
            return None
        h = Helper.objects.filter(user__username=name).values_list("pk", flat=True).first()
        if h is None:
            self.ctx.error(r, PLAN_HEADER[key], _("No helper with this login."))
            return False
        return h

    def _person(self, r):
        from bihuan.people.services import id_number_bidx
        from bihuan.people.validators import InvalidValue, parse_id_number

        v = r.values
        if not v.get("id_number"):
            self.ctx.error(r, ID, _("A new service names its resident by ID number."))
            return None
        try:
            number = parse_id_number(v["id_number"]).number
        except InvalidValue as exc:
            self.ctx.error(r, ID, str(exc))
            return None
        people = Person.objects.filter(id_number_bidx=id_number_bidx(number))
        if self.ctx.user is not None:
            people = people.filter(units_q(self.ctx.user, "care.plan.import", prefix="unit__"))
        person = people.first()
        if person is None:
            self.ctx.error(r, ID, _("No resident with this ID number in your scope (register them in People first)."))
            return None
        if person.name != v["name"]:
            self.ctx.error(r, NAME, _("The name does not match the resident with this ID number."))
            return None
        return person

    def _fail(self, r, exc: ServiceError) -> None:
        field = next(iter(exc.field_errors), "")
        field = field.rsplit(".", 1)[-1]
        self.ctx.error(r, PLAN_HEADER.get(field, NAME), str(exc.message))

    def _existing(self, r, helper, backup) -> None:
        v, ctx = r.values, self.ctx
        qs = CareService.objects.select_related("plan__person")
        if ctx.user is not None:
            qs = qs.restrict(ctx.user, "import")
        s = qs.filter(pk=v["service_id"]).first()
        if s is None:
            ctx.error(r, SERVICE_ID, _("No care service with this number in your scope."))
            return
        if s.plan.person.name != v["name"]:
            ctx.error(r, NAME, _("The name does not match the resident of this service."))
            return
        helper_user = Helper.objects.get(pk=helper).user_id
        backup_user = Helper.objects.get(pk=backup).user_id if backup else None
        from . import recurrence

        label = v.get("label") or ""
        same = (s.kind == v["kind"] and s.label == label and s.rrule == recurrence.normalise(v["rrule"])
                and s.window_start == v["window_start"] and s.window_end == v["window_end"]
                and s.helper_id == helper_user and s.backup_id == backup_user)
        if same:
            ctx.count(r, "unchanged")
            return
        try:
            with transaction.atomic():
                services.update_service(ctx.user, s, version=s.version, kind=v["kind"], label=label,
                                        rrule=v["rrule"], window_start=v["window_start"],
                                        window_end=v["window_end"], helper=helper, backup=backup, now=ctx.now)
        except ServiceError as exc:
            self._fail(r, exc)
            return
        ctx.count(r, "updated")

    def feed(self, rows: list[tb.Row]) -> None:
        ctx = self.ctx
        for r in rows:
            if not r.ok:
                continue
            v = r.values
            helper, backup = self._helper_pk(r, "helper"), self._helper_pk(r, "backup")
            if helper is False or backup is False:
                continue
            if v.get("service_id"):
                self._existing(r, helper, backup)
                continue
            person = self._person(r)
            if person is None:
                continue
            if not v.get("plan_starts_on"):
                ctx.error(r, PLAN_HEADER["plan_starts_on"], _("A new service needs its plan's start date."))
                continue
            spec = {"kind": v["kind"], "label": v.get("label") or "", "rrule": v["rrule"],
                    "window_start": v["window_start"], "window_end": v["window_end"], "helper": helper,
                    "backup": backup}
            try:
                with transaction.atomic():
                    key = (person.pk, v["plan_starts_on"])
                    plan = self.plans.get(key) or CarePlan.objects.filter(
                        person=person, starts_on=v["plan_starts_on"]).order_by("id").first()
                    if plan is None:
                        plan = services.create_plan(ctx.user, person, starts_on=v["plan_starts_on"],
                                                    ends_on=v.get("plan_ends_on"), note=v.get("note") or "",
                                                    now=ctx.now)
                    self.plans[key] = plan
                    services.add_service(ctx.user, plan, now=ctx.now, **spec)
            except ServiceError as exc:
                self._fail(r, exc)
                continue
            ctx.count(r, "created")


PLANS = tb.register(tb.Kind(
    name="care_plan",
    label=gettext_lazy("Care plans (帮扶计划), one row per service"),
    spec=PLAN_SPEC,
    handler=PlanImport,
    export_rows=export_plans,
    permission_prefix="care.plan",
    find_unit=find_plan_unit,
))
