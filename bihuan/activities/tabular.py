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


# --- party meetings and applicants (issue 15 items 5–6) -----------------------------------------
# A party organisation is named by its name and its unit's division code; members and applicants
# by name (members: the only member of that name in the organisation; applicants: the only person
# of that name at the unit given). An unknown organisation, member or person refuses the row.

KIND_ZH = {"members": "支部党员大会", "committee": "支委会", "group": "党小组会", "lecture": "党课",
           "theme_day": "主题党日"}
STAGE_ZH = {"applicant": "入党申请人", "activist": "入党积极分子", "target": "发展对象", "probationary": "预备党员",
            "formal": "正式党员"}
ORG, ORG_UNIT, KIND, DATE, ATTENDEES, ABSENTEES = "党组织", "党组织单位编码", "会议类型", "日期", "参会党员", "缺席党员"


def _names(value):
    if value in (None, ""):
        return []
    out = []
    for part in str(value).replace("，", "、").replace(",", "、").split("、"):
        part = part.strip()
        if part and part not in out:
            out.append(part[:50])
    return out


def _absentees(value):
    """``姓名（原因）`` separated by 、; a reason is required."""
    out = []
    for part in _names(value):
        part = part.replace("(", "（").replace(")", "）")
        if "（" not in part or not part.endswith("）"):
            raise tb.CellError(_("Write each absentee as 姓名（原因）."))
        name, reason = part[:-1].split("（", 1)
        if not name.strip() or not reason.strip():
            raise tb.CellError(_("Write each absentee as 姓名（原因）."))
        out.append((name.strip(), reason.strip()[:120]))
    return out


def _attendance_text(m, present: bool) -> str:
    rows = [a for a in m.attendance.all() if a.present == present]
    return "、".join(a.person.name if present else f"{a.person.name}（{a.reason}）" for a in rows)


MEETING_SPEC = tb.Spec(
    columns=(
        tb.Column("org", ORG, tb.text(120), required=True, get=lambda m: m.org.name, width=22),
        tb.Column("org_unit", ORG_UNIT, CODE, required=True, get=lambda m: m.org.unit.code, width=16),
        tb.Column("kind", KIND, tb.choice({**{v: k for k, v in KIND_ZH.items()}, **{k: k for k in KIND_ZH}},
                                          shown=list(KIND_ZH.values())),
                  required=True, get=lambda m: KIND_ZH.get(m.kind, m.kind), width=12),
        tb.Column("held_on", DATE, tb.parse_date, required=True, get=lambda m: m.held_on, width=12),
        tb.Column("topic", "主题", tb.text(120), required=True, get=lambda m: m.topic, width=28),
        tb.Column("attendees", ATTENDEES, _names, required=True, get=lambda m: _attendance_text(m, True), width=30),
        tb.Column("absentees", ABSENTEES, _absentees, get=lambda m: _attendance_text(m, False), width=24),
        tb.Column("minutes", "会议记录", tb.text(20000), get=lambda m: m.minutes, width=40, free_text=True),
    ),
    unique=("org", "org_unit", "kind", "held_on", "topic"),
    sheet_title="三会一课",
)


def meeting_rows(user, unit: OrgUnit | None = None):
    from .models import PartyMeeting

    qs = PartyMeeting.objects.all() if user is None else PartyMeeting.objects.restrict(user, "view")
    if unit is not None:
        qs = qs.filter(org__unit__path__startswith=unit.path)
    return (qs.select_related("org__unit").prefetch_related("attendance__person")
            .order_by("org__unit__path", "held_on", "id").iterator(chunk_size=500))


def _find_unit(perm):
    def find(user, code: str) -> OrgUnit:
        qs = OrgUnit.objects.filter(valid_to__isnull=True, code=(code or "").strip())
        if user is not None:
            qs = qs.filter(units_q(user, perm))
        unit = qs.first()
        if unit is None:
            raise NotFound()
        return unit

    return find


def _orgs(ctx, rows, perm):
    from bihuan.orgs.models import PartyOrg

    codes = {r.values["org_unit"] for r in rows if r.ok}
    qs = PartyOrg.objects.filter(unit__code__in=codes, unit__valid_to__isnull=True).select_related("unit")
    if ctx.user is not None:
        qs = qs.filter(units_q(ctx.user, perm, prefix="unit__"))
    return {(o.unit.code, o.name): o for o in qs}


class MeetingImport(tb.ImportHandler):
    spec = MEETING_SPEC

    def feed(self, rows: list[tb.Row]) -> None:
        from .models import PartyMeeting

        ctx = self.ctx
        orgs = _orgs(ctx, rows, "activities.meeting.import")
        for r in (r for r in rows if r.ok):
            v = r.values
            org = orgs.get((v["org_unit"], v["org"]))
            if org is None:
                ctx.error(r, ORG, _("No party organisation %(o)s at unit %(c)s in your scope.") % {
                    "o": v["org"], "c": v["org_unit"]})
                continue
            if PartyMeeting.objects.filter(org=org, kind=v["kind"], held_on=v["held_on"], topic=v["topic"]).exists():
                ctx.count(r, "unchanged")
                continue
            members: dict[str, list[int]] = {}
            for pk, name in services.org_members(org).values_list("pk", "name"):
                members.setdefault(name, []).append(pk)
            unknown = [n for n in [*v["attendees"], *(a for a, _r in v.get("absentees") or [])]
                       if len(members.get(n, [])) != 1]
            if unknown:
                ctx.error(r, ATTENDEES, _("Not (exactly one) member of %(o)s: %(n)s.") % {
                    "o": org.name, "n": "、".join(unknown[:5])})
                continue
            try:
                with transaction.atomic():
                    services.record_meeting(ctx.user, org=org, kind=v["kind"], held_on=v["held_on"], topic=v["topic"],
                                            minutes=v.get("minutes") or "",
                                            attendees=[members[n][0] for n in v["attendees"]],
                                            absentees=[(members[n][0], why) for n, why in v.get("absentees") or []],
                                            now=ctx.now)
            except ServiceError as exc:
                ctx.error(r, ATTENDEES, str(exc.message))
                continue
            ctx.count(r, "created")


MEETINGS = tb.register(tb.Kind(
    name="meetings",
    label=gettext_lazy("Party meetings"),
    spec=MEETING_SPEC,
    handler=MeetingImport,
    export_rows=meeting_rows,
    permission_prefix="activities.meeting",
    find_unit=_find_unit("activities.meeting.export"),
))


APPLICANT_SPEC = tb.Spec(
    columns=(
        tb.Column("name", NAME, tb.text(50), required=True, get=lambda a: a.person.name, width=10),
        tb.Column("person_unit", PERSON_UNIT, CODE, required=True, get=lambda a: a.person.unit.code, width=16),
        tb.Column("org", ORG, tb.text(120), required=True, get=lambda a: a.org.name, width=22),
        tb.Column("org_unit", ORG_UNIT, CODE, required=True, get=lambda a: a.org.unit.code, width=16),
        tb.Column("applied_on", "申请日期", tb.parse_date, required=True, get=lambda a: a.applied_on, width=12),
        # Shown on export; on import the application starts at 入党申请人 (steps are recorded one by one).
        tb.Column("stage", "阶段", tb.text(12), get=lambda a: STAGE_ZH.get(a.stage, a.stage), width=12,
                  optional_header=True),
        tb.Column("stage_since", "阶段起始日期", tb.text(20), get=lambda a: a.stage_since, width=12,
                  optional_header=True),
    ),
    unique=("name", "person_unit"),
    sheet_title="发展党员",
)


def applicant_rows(user, unit: OrgUnit | None = None):
    from .models import Applicant

    qs = Applicant.objects.all() if user is None else Applicant.objects.restrict(user, "view")
    if unit is not None:
        qs = qs.filter(org__unit__path__startswith=unit.path)
    return qs.select_related("person__unit", "org__unit").order_by("org__unit__path", "id").iterator(chunk_size=500)


class ApplicantImport(tb.ImportHandler):
    spec = APPLICANT_SPEC

    def feed(self, rows: list[tb.Row]) -> None:
        from bihuan.people.models import Person

        from .models import Applicant

        ctx = self.ctx
        orgs = _orgs(ctx, rows, "activities.applicant.import")
        ok = [r for r in rows if r.ok]
        units = OrgUnit.objects.filter(code__in={r.values["person_unit"] for r in ok}, valid_to__isnull=True)
        if ctx.user is not None:
            units = units.filter(units_q(ctx.user, "activities.applicant.import"))
        units = {u.code: u for u in units}
        for r in ok:
            v = r.values
            org = orgs.get((v["org_unit"], v["org"]))
            if org is None:
                ctx.error(r, ORG, _("No party organisation %(o)s at unit %(c)s in your scope.") % {
                    "o": v["org"], "c": v["org_unit"]})
                continue
            unit = units.get(v["person_unit"])
            if unit is None:
                ctx.error(r, PERSON_UNIT, _("No current unit with code %(c)s in your scope.") % {
                    "c": v["person_unit"]})
                continue
            found = list(Person.objects.filter(unit=unit, name=v["name"])[:2])
            if len(found) != 1:
                ctx.error(r, NAME, _("There must be exactly one registered person named %(n)s at %(u)s.") % {
                    "n": v["name"], "u": unit.name})
                continue
            if Applicant.objects.filter(person=found[0]).exists():
                ctx.count(r, "unchanged")
                continue
            try:
                with transaction.atomic():
                    services.register_applicant(ctx.user, person=found[0], org=org, applied_on=v["applied_on"],
                                                now=ctx.now)
            except ServiceError as exc:
                ctx.error(r, NAME, str(exc.message))
                continue
            ctx.count(r, "created")


APPLICANTS = tb.register(tb.Kind(
    name="applicants",
    label=gettext_lazy("Party applicants"),
    spec=APPLICANT_SPEC,
    handler=ApplicantImport,
    export_rows=applicant_rows,
    permission_prefix="activities.applicant",
    find_unit=_find_unit("activities.applicant.export"),
))
