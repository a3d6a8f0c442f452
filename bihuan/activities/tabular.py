"""Lecturers as a table (``bihuan import lecturers FILE``, ``bihuan export lecturers``).

Columns: 宣讲团, 宣讲团单位编码, 姓名, 所在单位编码, 宣讲主题, 受众, 市级优秀宣讲员. A lecturer is a
registered person (``people``): named by name and the division code of their village or grid,
who must be the only person of that name there. The team must exist (a row naming an unknown team
or unit is refused). Every row goes through ``activities.services.add_lecturer``; a lecturer
already in the team is "unchanged", so an exported file re-imports unchanged.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import services
from .models import Audience, Lecturer, LectureTeam

AUDIENCE_ZH = {"villagers": "村民", "members": "党员", "youth": "青少年", "workers": "企业职工", "elderly": "老年人",
               "cadres": "机关干部"}
AUDIENCE_IN = {**{zh: code for code, zh in AUDIENCE_ZH.items()}, **{a: a for a in Audience.values}}
YES_NO = {"是": True, "否": False, "yes": True, "no": False, "1": True, "0": False}
TEAM, TEAM_UNIT, NAME, PERSON_UNIT, TOPICS, AUDIENCES = "宣讲团", "宣讲团单位编码", "姓名", "所在单位编码", "宣讲主题", "受众"
CODE = tb.text(15, r"\d+", gettext_lazy("A division code has digits only."))


def _audiences(value):
    if value in (None, ""):
        return []
    out = []
    for part in str(value).replace("，", "、").replace(",", "、").split("、"):
        part = part.strip()
        if not part:
            continue
        if part not in AUDIENCE_IN:
            raise tb.CellError(_("Unknown audience %(a)s (one of %(v)s).") % {
                "a": part[:20], "v": "、".join(AUDIENCE_ZH.values())})
        out.append(AUDIENCE_IN[part])
    return out


SPEC = tb.Spec(
    columns=(
        tb.Column("team", TEAM, tb.text(80), required=True, get=lambda x: x.team.name, width=22),
        tb.Column("team_unit", TEAM_UNIT, CODE, required=True, get=lambda x: x.team.unit.code, width=14),
        tb.Column("name", NAME, tb.text(50), required=True, get=lambda x: x.person.name, width=10),
        tb.Column("person_unit", PERSON_UNIT, CODE, required=True, get=lambda x: x.person.unit.code, width=16),
        tb.Column("topics", TOPICS, tb.text(300), get=lambda x: x.topics, width=30),
        tb.Column("audiences", AUDIENCES, _audiences,
                  get=lambda x: "、".join(AUDIENCE_ZH.get(a, a) for a in x.audiences.split(",") if a), width=20),
        tb.Column("excellent", "市级优秀宣讲员", tb.choice(YES_NO, shown=["是", "否"]),
                  get=lambda x: "是" if x.excellent else "否", width=10),
    ),
    unique=("team", "team_unit", "name", "person_unit"),
    sheet_title="宣讲员",
)


def export_rows(user, unit: OrgUnit | None = None):
    qs = Lecturer.objects.all() if user is None else Lecturer.objects.restrict(user, "view")
    if unit is not None:
        qs = qs.filter(team__unit__path__startswith=unit.path)
    return qs.select_related("team__unit", "person__unit").order_by("team_id", "id").iterator(chunk_size=500)


def find_unit(user, code: str) -> OrgUnit:
    qs = OrgUnit.objects.filter(valid_to__isnull=True, code=(code or "").strip())
    if user is not None:
        qs = qs.filter(units_q(user, "activities.lecturer.export"))
    unit = qs.first()
    if unit is None:
        raise NotFound()
    return unit


class LecturerImport(tb.ImportHandler):
    spec = SPEC

    def feed(self, rows: list[tb.Row]) -> None:
        from bihuan.people.models import Person

        ctx = self.ctx
        ok = [r for r in rows if r.ok]
        codes = {r.values["team_unit"] for r in ok} | {r.values["person_unit"] for r in ok}
        units = OrgUnit.objects.filter(code__in=codes, valid_to__isnull=True)
        if ctx.user is not None:
            units = units.filter(units_q(ctx.user, "activities.lecturer.import"))
        units = {u.code: u for u in units}
        teams = {(t.unit.code, t.name): t for t in LectureTeam.objects.filter(
            unit__in=list(units.values())).select_related("unit")}
        people = Person.objects.filter(unit__in=list(units.values()),
                                       name__in={r.values["name"] for r in ok})
        counts = {(p["unit__code"], p["name"]): p["n"] for p in people.values("unit__code", "name")
                  .annotate(n=Count("id")).order_by()}
        for r in ok:
            v = r.values
            unit = units.get(v["team_unit"])
            if unit is None:
                ctx.error(r, TEAM_UNIT, _("No current unit with code %(c)s in your scope.") % {"c": v["team_unit"]})
                continue
            team = teams.get((v["team_unit"], v["team"]))
            if team is None:
                ctx.error(r, TEAM, _("%(u)s has no lecture team named %(t)s.") % {"u": unit.name, "t": v["team"]})
                continue
            if v["person_unit"] not in units:
                ctx.error(r, PERSON_UNIT, _("No current unit with code %(c)s in your scope.") % {
                    "c": v["person_unit"]})
                continue
            found = counts.get((v["person_unit"], v["name"]))
            if found != 1:
                ctx.error(r, NAME, _("There must be exactly one registered person named %(n)s at %(u)s.") % {
                    "n": v["name"], "u": units[v["person_unit"]].name})
                continue
            person = Person.objects.filter(unit=units[v["person_unit"]], name=v["name"]).first()
            if Lecturer.objects.filter(team=team, person=person).exists():
                ctx.count(r, "unchanged")
                continue
            try:
                with transaction.atomic():
                    services.add_lecturer(ctx.user, team, person=person, topics=v.get("topics") or "",
                                          audiences=v.get("audiences") or [], excellent=bool(v.get("excellent")),
                                          now=ctx.now)
            except ServiceError as exc:
                ctx.error(r, NAME, str(exc.message))
                continue
            ctx.count(r, "created")


LECTURERS = tb.register(tb.Kind(
    name="lecturers",
    label=gettext_lazy("Lecturers"),
    spec=SPEC,
    handler=LecturerImport,
    export_rows=export_rows,
    permission_prefix="activities.lecturer",
    find_unit=find_unit,
))
