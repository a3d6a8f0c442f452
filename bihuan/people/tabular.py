"""People, households and the reserve pool as importable/exportable registers (core.tabular).

``bihuan import people FILE``, ``bihuan export people --unit CODE``, the same for
``households``, and ``bihuan export reserve --unit CODE`` for the reserve-talent pool.

The importer works a batch (1,000 rows) at a time with set queries — units, duplicate ID
numbers against the database, households — never one query per row, and inserts with
``bulk_create``. Numbers are encrypted and blind-indexed in Python as the rows stream.
"""

from __future__ import annotations

import os
import re
from datetime import date

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import protect
from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound
from bihuan.orgs.models import OrgUnit

from . import bulk, selectors, services, validators
from .choices import (
    AGE_BANDS,
    ZH_EDUCATION,
    ZH_FLAG,
    ZH_GENDER,
    ZH_GRID_ROLE,
    ZH_PARTY,
    ZH_RELATION,
    AgeBand,
    Education,
    Gender,
    GridRole,
    PartyStatus,
    Relation,
    zh_label,
)
from .models import FLAG_FIELDS, Household, Person, Vulnerability
from .pinyin import initials

UNIT_CODE = r"\d{12}|\d{15}"
# A masked number from our own export: "keep as is", never a new value.
_MASKED = re.compile(r"[0-9]{6}\*+[0-9X]{4}|\d{3}\*+\d{4}")


def _enum(zh: dict, enum) -> callable:
    mapping = dict(zh)
    mapping.update({v: v for v in enum.values if v})
    mapping.update({str(v.label): v for v in enum if v})
    return tb.choice(mapping)


def _id_number(value) -> str:
    try:
        return validators.parse_id_number(tb._as_text(value)).number
    except validators.InvalidValue as exc:
        raise tb.CellError(str(exc))


def _phone(value) -> str:
    try:
        return validators.normalise_phone(tb._as_text(value))
    except validators.InvalidValue as exc:
        raise tb.CellError(str(exc))


def _yes_no(v: bool) -> str:
    return "是" if v else "否"


def _col(key, header, parse=None, **kw) -> tb.Column:
    return tb.Column(key, header, parse or tb.text(200), **kw)


PERSON_SPEC = tb.Spec(
    columns=(
        _col("name", "姓名", tb.text(50), required=True, width=10),
        _col("gender", "性别", _enum(ZH_GENDER, Gender), optional_header=True, width=6),
        _col("birth_date", "出生日期", tb.parse_date, optional_header=True, width=12),
        _col("id_number", "身份证号", _id_number, required=True, aliases=("公民身份号码",), width=22),
        _col("phone", "联系电话", _phone, aliases=("手机号", "电话"), optional_header=True, width=16),
        _col("address", "住址", tb.text(200), optional_header=True, width=30),
        _col("unit_code", "所属单位代码", tb.text(15, UNIT_CODE, "12 or 15 digits"), required=True, width=18),
        _col("unit_name", "所属单位", tb.text(100), optional_header=True, width=16),
        _col("household_code", "户编号", tb.text(32), optional_header=True, width=20),
        _col("relation", "与户主关系", _enum(ZH_RELATION, Relation), optional_header=True, width=10),
        _col("party_status", "政治面貌", _enum(ZH_PARTY, PartyStatus), optional_header=True, width=10),
        _col("party_joined", "入党日期", tb.parse_date, optional_header=True, width=12),
        _col("is_volunteer", "志愿者", tb.boolean, optional_header=True, width=6),
        _col("is_lecturer", "宣讲员", tb.boolean, optional_header=True, width=6),
        _col("is_reserve", "后备人才", tb.boolean, optional_header=True, width=8),
        _col("education", "学历", _enum(ZH_EDUCATION, Education), optional_header=True, width=10),
        _col("skills", "特长", tb.text(200), optional_header=True, width=16),
        _col("grid_role", "网格职务", _enum(ZH_GRID_ROLE, GridRole), optional_header=True, width=8),
        *(_col(f, ZH_FLAG[f], tb.boolean, optional_header=True, width=8) for f in FLAG_FIELDS),
    ),
    unique=("id_number",),
    sheet_title="人员",
)


class _Units:
    """Unit codes → (id, path, name), loaded a batch at a time, judged against the importer's scope."""

    def __init__(self, user, perm: str):
        self.scope = None if user is None else user.get_scope(perm)
        self.known: dict[str, tuple[int, str, str] | None] = {}
        self.common: str | None = None  # longest path prefix shared by every unit written

    def load(self, codes) -> None:
        missing = [c for c in codes if c and c not in self.known]
        if not missing:
            return
        for code, pk, path, name in OrgUnit.objects.filter(code__in=missing, valid_to__isnull=True).values_list(
                "code", "id", "path", "name"):
            ok = self.scope is None or self.scope.covers_path(path) or pk in self.scope.unit_ids
            self.known[code] = (pk, path, name) if ok else None
        for c in missing:
            self.known.setdefault(c, None)

    def get(self, code):
        hit = self.known.get(code)
        if hit is not None:
            path = hit[1]
            if self.common is None:
                self.common = path
            elif not path.startswith(self.common):
                n = len(os.path.commonprefix([self.common, path]))
                self.common = self.common[: self.common.rfind("/", 0, n) + 1]
        return hit

    def audit_unit(self):
        if not self.common or self.common == "/":
            return None
        return OrgUnit.objects.filter(path=self.common).first()


def _holder(user, path: str, unit_name: str, name: str) -> str:
    """Who holds a duplicate number, told only when that unit is in the importer's view scope."""
    scope = None if user is None else user.get_scope("people.person.view")
    if scope is None or scope.covers_path(path):
        return _("Already registered: %(name)s at %(unit)s.") % {"name": name, "unit": unit_name}
    return _("Already registered at a unit outside your scope.")


class _Table:
    """A model's rows as plain tuples in a fixed column order, written by ``COPY`` on PostgreSQL.

    A million-row import cannot afford a model instance per row (≈20 µs each). The importer
    builds tuples of the ``given`` columns; every other concrete column takes its field
    default, so a field added to the model later is still filled. Elsewhere (SQLite, or
    ``USE_COPY = False``) the same tuples become model instances and go through
    ``bulk_create``: one code path to validate and encode, two ways to write.
    """

    def __init__(self, model, given: tuple[str, ...]):
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = set(given) - set(fields)
        assert not unknown, unknown
        rest = [a for a in fields if a not in given]
        self.model, self.names = model, (*given, *rest)
        self.defaults = tuple(fields[a].get_default() for a in rest)

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if USE_COPY and connection.vendor == "postgresql":
            qn = connection.ops.quote_name
            sql = f"COPY {qn(self.model._meta.db_table)} ({', '.join(qn(n) for n in self.names)}) FROM STDIN"
            rest = self.defaults
            # wrap_database_errors: a unique violation surfaces as Django's IntegrityError, as with bulk_create.
            with connection.cursor() as cur, connection.wrap_database_errors, cur.cursor.copy(sql) as cp:
                for r in rows:
                    cp.write_row(r + rest)
        else:
            model, names, rest = self.model, self.names, self.defaults
            model.objects.bulk_create([model(**dict(zip(names, r + rest, strict=True))) for r in rows],
                                      batch_size=500)


# Set False to write imports through the ORM on PostgreSQL too (the tests compare both paths).
USE_COPY = True

_PERSON = _Table(Person, (
    "id", "unit_id", "household_id", "relation", "name", "name_initials", "gender", "birth_date",
    "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc", "phone_bidx", "phone_masked", "address",
    "party_status", "party_joined", "is_volunteer", "is_lecturer", "is_reserve", "education", "skills",
    "grid_role", "created_at", "updated_at"))
_HOUSEHOLD = _Table(Household, ("id", "code", "unit_id", "address", "head_id", "created_at", "updated_at"))
_VULNERABILITY = _Table(Vulnerability, ("person_id", *FLAG_FIELDS, "updated_at"))


def _registered(bidx: list[str]) -> dict[str, tuple[str, str, str]]:
    """Blind index → (unit path, unit name, person name) of the numbers already registered."""
    if connection.vendor == "postgresql":
        # One array parameter: an IN list of 5,000 placeholders costs ≈150 ms to bind and plan.
        with connection.cursor() as cur:
            cur.execute("SELECT p.id_number_bidx, u.path, u.name, p.name FROM people_person p "
                        "JOIN orgs_orgunit u ON u.id = p.unit_id WHERE p.id_number_bidx = ANY(%s)", [bidx])
            rows = cur.fetchall()
    else:
        rows = Person.objects.filter(id_number_bidx__in=bidx).values_list(
            "id_number_bidx", "unit__path", "unit__name", "name")
    return {b: (path, uname, name) for b, path, uname, name in rows}


class PersonImport(tb.ImportHandler):
    """Persons, with the households first met in the file, and their vulnerability flags.

    Per batch: a few set queries (units, households, numbers already registered), then every
    row is checked and encoded (encryption, blind indexes, masks, pinyin) straight into tuples
    that ``_Table`` writes — no model instance per row on PostgreSQL.
    """

    spec = PERSON_SPEC
    # Bigger batches than the default: fewer round trips and COPY statements for big files.
    batch_rows = 5000

    def __init__(self, ctx):
        super().__init__(ctx)
        self.units = _Units(ctx.user, "people.person.import")
        self.households: dict[str, int | None] = {}
        self.hh_scope = None if ctx.user is None else ctx.user.get_scope("people.household.import")
        self.today = timezone.localdate(ctx.now) if ctx.now else timezone.localdate()
        self.stamp = timezone.now()  # created_at/updated_at of every row, as bulk_create would set them
        H = self.spec.column
        self.h_unit, self.h_birth, self.h_gender = H("unit_code").header, H("birth_date").header, H("gender").header
        self.h_id, self.h_household = H("id_number").header, H("household_code").header

    def _load_households(self, codes) -> None:
        missing = [c for c in codes if c and c not in self.households]
        for code, pk, path in Household.objects.filter(code__in=missing).values_list("code", "id", "unit__path"):
            s = self.hh_scope
            self.households[code] = pk if s is None or s.covers_path(path) else None

    def prepare(self, rows):
        # In the reader thread (no database): everything per row that costs CPU — encryption,
        # blind indexes, masks, pinyin — while feed waits for the database on the batch before.
        encrypt, bidx_of = protect.encrypt, protect.blind_index
        mask_id, mask_phone = protect.mask_id_number, protect.mask_phone
        for r in rows:
            if not r.ok:
                continue
            v = r.values
            number, phone = v["id_number"], v["phone"]
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            r.prepared = (
                born, Gender.MALE if int(number[16]) % 2 else Gender.FEMALE, initials(v["name"]),
                encrypt(number), bidx_of(number, "id_number"), mask_id(number),
                *((encrypt(phone), bidx_of(phone, "phone"), mask_phone(phone)) if phone else ("", None, "")))

    def feed(self, rows):
        ok = [r for r in rows if r.ok]
        if not ok:
            return
        self.units.load({r.values["unit_code"] for r in ok})
        self._load_households({r.values["household_code"] for r in ok})
        taken = _registered([r.prepared[4] for r in ok])
        error, units_get, today, households = self.ctx.error, self.units.get, self.today, self.households
        new_households: dict[str, list] = {}
        staged = []
        for r in ok:
            v = r.values
            unit = units_get(v["unit_code"])
            if unit is None:
                error(r, self.h_unit, _("No current unit with this code is in your scope."))
                continue
            born, gender, _initials, _enc, b, *_rest = r.prepared
            if v["birth_date"] and v["birth_date"] != born:
                error(r, self.h_birth, _("The ID number says the birth date is %(d)s.") % {"d": born.isoformat()})
                continue
            if v["gender"] and v["gender"] != gender:
                error(r, self.h_gender,
                      _("The ID number says the gender is %(g)s.") % {"g": zh_label(ZH_GENDER, gender)})
                continue
            if born > today:
                error(r, self.h_id, _("The birth date in the ID number is out of range."))
                continue
            if taken and b in taken:
                error(r, self.h_id, _holder(self.ctx.user, *taken[b]))
                continue
            hcode = v["household_code"]
            if hcode and households.get(hcode, 0) is None:
                error(r, self.h_household, _("This household number is used outside your scope."))
                continue
            if hcode and hcode not in households and hcode not in new_households:
                # A household first met in this file is created at the person's unit
                # ([id, code, unit, address, head], the id and head filled in below).
                new_households[hcode] = [None, hcode, unit[0], v["address"] or "", None]
            staged.append((r, unit[0]))
        if not staged:
            return
        for h, pk in zip(new_households.values(), bulk.take_ids(Household, len(new_households)), strict=True):
            h[0] = households[h[1]] = pk
        # Ids are taken first, so a new household names its head and flags name their person before
        # anything is written.
        stamp, persons, flagged, heads = self.stamp, [], [], []
        for (r, unit_id), pk in zip(staged, bulk.take_ids(Person, len(staged)), strict=True):
            v = r.values
            hcode = v["household_code"]
            household_id = households.get(hcode) if hcode else None
            relation = v["relation"] or ""
            if relation == Relation.HEAD and household_id:
                new = new_households.get(hcode)
                if new is not None:
                    new[4] = pk
                else:
                    heads.append(Household(pk=household_id, head_id=pk))
            born, gender, name_initials, *protected = r.prepared  # enc, bidx, masked × (ID number, phone)
            persons.append((
                pk, unit_id, household_id, relation, v["name"], name_initials, gender, born, *protected,
                v["address"] or "", v["party_status"] or "", v["party_joined"], bool(v["is_volunteer"]),
                bool(v["is_lecturer"]), bool(v["is_reserve"]), v["education"] or "", v["skills"] or "",
                v["grid_role"] or "", stamp, stamp))
            if any(v[f] for f in FLAG_FIELDS):
                flagged.append((pk, *(bool(v[f]) for f in FLAG_FIELDS), stamp))
        _HOUSEHOLD.write([(*h, stamp, stamp) for h in new_households.values()])
        _PERSON.write(persons)
        _VULNERABILITY.write(flagged)
        if heads:  # households that were already registered
            Household.objects.bulk_update(heads, ["head"], batch_size=1000)
        count = self.ctx.count
        for r, _unit_id in staged:
            count(r, "created")

    def audit_unit(self):
        return self.units.audit_unit()


def _person_row(p: Person, *, unmasked: bool) -> dict:
    vul = getattr(p, "vulnerability", None)
    row = {
        "name": p.name, "gender": zh_label(ZH_GENDER, p.gender), "birth_date": p.birth_date,
        "id_number": protect.decrypt(p.id_number_enc) if unmasked and p.id_number_enc else p.id_number_masked,
        "phone": protect.decrypt(p.phone_enc) if unmasked and p.phone_enc else p.phone_masked,
        "address": p.address, "unit_code": p.unit.code, "unit_name": p.unit.name,
        "household_code": p.household.code if p.household_id else "",
        "relation": zh_label(ZH_RELATION, p.relation), "party_status": zh_label(ZH_PARTY, p.party_status) or "群众",
        "party_joined": p.party_joined, "is_volunteer": _yes_no(p.is_volunteer),
        "is_lecturer": _yes_no(p.is_lecturer), "is_reserve": _yes_no(p.is_reserve),
        "education": zh_label(ZH_EDUCATION, p.education), "skills": p.skills,
        "grid_role": zh_label(ZH_GRID_ROLE, p.grid_role),
    }
    for f in FLAG_FIELDS:
        row[f] = _yes_no(bool(vul and getattr(vul, f)))
    return row


def _export_qs(user, unit, model=Person, perm="export"):
    qs = model.objects.restrict(user, perm) if user is not None else model.objects.all()
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs


def export_people(user, unit=None, unmasked: bool = False, **_opts):
    if unmasked and not services.can_export_unmasked(user):
        from bihuan.core.errors import PermissionDenied

        raise PermissionDenied(_("Unmasked export needs its own permission."))
    qs = _export_qs(user, unit).select_related("unit", "household", "vulnerability").order_by("id")
    return (_person_row(p, unmasked=unmasked) for p in qs.iterator(chunk_size=2000))


def _finder(resource: str):
    def find_unit(user, code):
        unit = selectors.unit_in_scope(user, code, resource, "export")
        if unit is None:
            raise NotFound()
        return unit

    return find_unit


tb.register(tb.Kind(
    name="people", label=_("persons"), spec=PERSON_SPEC, handler=PersonImport, export_rows=export_people,
    permission_prefix="people.person", export_count=lambda user, unit=None, **kw: _export_qs(user, unit).count(),
    find_unit=_finder("people.person")))


# --- households ------------------------------------------------------------------------------

def _id_or_masked(value):
    s = tb._as_text(value)
    if _MASKED.fullmatch(s):
        return None  # exported masked: not a new value
    return _id_number(s)


HOUSEHOLD_SPEC = tb.Spec(
    columns=(
        _col("code", "户编号", tb.text(32), required=True, width=20),
        _col("unit_code", "所属单位代码", tb.text(15, UNIT_CODE, "12 or 15 digits"), required=True, width=18),
        _col("unit_name", "所属单位", tb.text(100), optional_header=True, width=16),
        _col("address", "住址", tb.text(200), required=True, width=30),
        _col("head_name", "户主", tb.text(50), optional_header=True, width=10),
        _col("head_id_number", "户主身份证号", _id_or_masked, optional_header=True, width=22),
        _col("carer_name", "联户党员", tb.text(50), optional_header=True, width=10),
        _col("carer_id_number", "联户党员身份证号", _id_or_masked, optional_header=True, width=22),
        _col("members", "人数", tb.integer(0), optional_header=True, width=6),
    ),
    unique=("code",),
    sheet_title="户",
)


class HouseholdImport(tb.ImportHandler):
    spec = HOUSEHOLD_SPEC

    def __init__(self, ctx):
        super().__init__(ctx)
        self.units = _Units(ctx.user, "people.household.import")

    def feed(self, rows):
        ok = [r for r in rows if r.ok]
        self.units.load({r.values["unit_code"] for r in ok})
        taken = set(Household.objects.filter(code__in=[r.values["code"] for r in ok]).values_list("code", flat=True))
        numbers = {n for r in ok for n in (r.values["head_id_number"], r.values["carer_id_number"]) if n}
        people_scope = Person.objects.restrict(self.ctx.user, "view") if self.ctx.user else Person.objects.all()
        found = {b: (pk, status) for b, pk, status in people_scope.filter(
            id_number_bidx__in=[services.id_number_bidx(n) for n in numbers]).values_list(
            "id_number_bidx", "id", "party_status")}
        H = self.spec.column
        new = []
        for r in ok:
            v = r.values
            unit = self.units.get(v["unit_code"])
            if unit is None:
                self.ctx.error(r, H("unit_code").header, _("No current unit with this code is in your scope."))
                continue
            if v["code"] in taken:
                self.ctx.error(r, H("code").header, _("This household number is already used."))
                continue
            head = carer = None
            if v["head_id_number"]:
                head = found.get(services.id_number_bidx(v["head_id_number"]))
                if head is None:
                    self.ctx.error(r, H("head_id_number").header, _("No such person in your scope."))
                    continue
            if v["carer_id_number"]:
                carer = found.get(services.id_number_bidx(v["carer_id_number"]))
                if carer is None:
                    self.ctx.error(r, H("carer_id_number").header, _("No such person in your scope."))
                    continue
                if carer[1] not in (PartyStatus.PROBATIONARY, PartyStatus.FORMAL):
                    self.ctx.error(r, H("carer_id_number").header, _("The linked person must be a party member."))
                    continue
            new.append((r, Household(code=v["code"], unit_id=unit[0], address=v["address"],
                                     head_id=head[0] if head else None, carer_id=carer[0] if carer else None)))
        if not new:
            return
        Household.objects.bulk_create([h for _r, h in new], batch_size=1000)
        heads = [Person(pk=h.head_id, household_id=h.pk, relation=Relation.HEAD) for _r, h in new if h.head_id]
        if heads:
            Person.objects.bulk_update(heads, ["household", "relation"], batch_size=1000)
        for r, _h in new:
            self.ctx.count(r, "created")

    def audit_unit(self):
        return self.units.audit_unit()


def export_households(user, unit=None, **_opts):
    from django.db.models import Count

    qs = (_export_qs(user, unit, Household).select_related("unit", "head", "carer")
          .annotate(n=Count("members")).order_by("id"))
    for h in qs.iterator(chunk_size=2000):
        yield {"code": h.code, "unit_code": h.unit.code, "unit_name": h.unit.name, "address": h.address,
               "head_name": h.head.name if h.head_id else "",
               "head_id_number": h.head.id_number_masked if h.head_id else "",
               "carer_name": h.carer.name if h.carer_id else "",
               "carer_id_number": h.carer.id_number_masked if h.carer_id else "", "members": h.n}


tb.register(tb.Kind(
    name="households", label=_("households"), spec=HOUSEHOLD_SPEC, handler=HouseholdImport,
    export_rows=export_households, permission_prefix="people.household",
    export_count=lambda user, unit=None, **kw: _export_qs(user, unit, Household).count(),
    find_unit=_finder("people.household")))


# --- reserve-talent pool ------------------------------------------------------------------------

def _band_label(band: str) -> str:
    return {AgeBand.UNDER_30: "30岁以下", AgeBand.FROM_30: "30-34岁", AgeBand.FROM_35: "35-39岁",
            AgeBand.FROM_40: "40-44岁", AgeBand.FROM_45: "45岁及以上"}.get(band, "")


RESERVE_SPEC = tb.Spec(
    columns=(
        _col("id_number", "身份证号", _id_number, required=True, width=22),
        _col("name", "姓名", tb.text(50), required=True, width=10),
        _col("gender", "性别", tb.text(2), optional_header=True, width=6),
        _col("birth_date", "出生日期", tb.parse_date, optional_header=True, width=12),
        _col("age_band", "年龄段", tb.text(10), optional_header=True, width=10),
        _col("education", "学历", _enum(ZH_EDUCATION, Education), optional_header=True, width=10),
        _col("skills", "特长", tb.text(200), optional_header=True, width=20),
        _col("party_status", "政治面貌", tb.text(10), optional_header=True, width=10),
        _col("unit_code", "所属单位代码", tb.text(15), optional_header=True, width=18),
        _col("unit_name", "所属单位", tb.text(100), optional_header=True, width=16),
    ),
    unique=("id_number",),
    sheet_title="后备人才",
)


class ReserveImport(tb.ImportHandler):
    """Marks registered persons (by ID number, in scope) as reserve talents, with education and skills."""

    spec = RESERVE_SPEC

    def feed(self, rows):
        ok = [r for r in rows if r.ok]
        qs = Person.objects.restrict(self.ctx.user, "change") if self.ctx.user else Person.objects.all()
        by_bidx = {p.id_number_bidx: p for p in qs.filter(
            id_number_bidx__in=[services.id_number_bidx(r.values["id_number"]) for r in ok]).select_related("unit")}
        changed = []
        for r in ok:
            p = by_bidx.get(services.id_number_bidx(r.values["id_number"]))
            if p is None:
                self.ctx.error(r, self.spec.column("id_number").header, _("No such person in your scope."))
                continue
            if p.name != r.values["name"]:
                self.ctx.error(r, self.spec.column("name").header,
                               _("The name does not match the registered person."))
                continue
            new = (True, r.values["education"] or p.education, r.values["skills"] or p.skills)
            if (p.is_reserve, p.education, p.skills) == new:
                self.ctx.count(r, "unchanged")
                continue
            p.is_reserve, p.education, p.skills = new
            changed.append(p)
            self.ctx.count(r, "updated")
        if changed:
            Person.objects.bulk_update(changed, ["is_reserve", "education", "skills"], batch_size=1000)


def _age_band(born: date | None, today: date) -> str:
    if born is None:
        return ""
    for code, lo, hi in AGE_BANDS:
        if born <= selectors.years_ago(today, lo) and (hi is None or born > selectors.years_ago(today, hi)):
            return _band_label(code)
    return ""


def export_reserve(user, unit=None, now=None, **_opts):
    today = timezone.localdate(now) if now else timezone.localdate()
    qs = _export_qs(user, unit).filter(Q(is_reserve=True)).select_related("unit").order_by("id")
    for p in qs.iterator(chunk_size=2000):
        yield {"id_number": p.id_number_masked, "name": p.name, "gender": zh_label(ZH_GENDER, p.gender),
               "birth_date": p.birth_date, "age_band": _age_band(p.birth_date, today),
               "education": zh_label(ZH_EDUCATION, p.education), "skills": p.skills,
               "party_status": zh_label(ZH_PARTY, p.party_status) or "群众", "unit_code": p.unit.code,
               "unit_name": p.unit.name}


tb.register(tb.Kind(
    name="reserve", label=_("reserve talents"), spec=RESERVE_SPEC, handler=ReserveImport,
    export_rows=export_reserve, permission_prefix="people.person",
    export_count=lambda user, unit=None, **kw: _export_qs(user, unit).filter(is_reserve=True).count(),
    find_unit=_finder("people.person")))
