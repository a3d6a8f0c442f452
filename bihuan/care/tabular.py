"""Needs surveys as a table (``bihuan import care_survey FILE``, ``bihuan export care_survey``).

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
from .models import CHECKLIST, NEEDS, Living, Risk, Support, Survey

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
