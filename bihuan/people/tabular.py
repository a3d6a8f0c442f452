"""People, households and the reserve pool as importable/exportable registers (core.tabular).

``bihuan import people FILE``, ``bihuan export people --unit CODE``, the same for
``households``, and ``bihuan export reserve --unit CODE`` for the reserve-talent pool.

The importer works a batch (1,000 rows) at a time with set queries — units, duplicate ID
numbers against the database, households — never one query per row, and inserts with
``bulk_create``. Numbers are encrypted and blind-indexed in Python as the rows stream.

Export → edit → import works on the same file: the export adds a 记录标识 column (a signed,
opaque key of the person), and the export masks ID numbers and phones. On import, a row with a
记录标识 updates that person; a cell still holding the masked value leaves the number as it is
(a full number replaces it). A row without one registers a new person, who needs full numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from contextlib import contextmanager
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import BooleanField, Case, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import protect
from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound
from bihuan.core.scope import covers, units_q
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
_MASKED_ID = re.compile(r"[0-9]{6}\*+[0-9X]{4}")
_MASKED_PHONE = re.compile(r"\d{1,4}\*+\d{0,4}")


class Masked:
    """A cell that still holds the masked number of the export: "leave the number as it is".

    Compared by identity, so two masked cells never count as the same number in the file."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


# --- row keys: which registered person an exported row is ------------------------------------

ROW_KEY_SALT = "bihuan.people.person.row-key"
_ROW_KEY = re.compile(r"(\d{1,12})-([A-Za-z0-9_-]{12})")


@lru_cache(maxsize=4)
def _row_key_hmac(secret_key: str):
    # Keyed once; each key copies it (an export computes one per row).
    return hmac.new(hashlib.sha256((ROW_KEY_SALT + secret_key).encode()).digest(), digestmod=hashlib.sha256)


def _row_key_mac(pk: int) -> str:
    h = _row_key_hmac(settings.SECRET_KEY).copy()
    h.update(str(pk).encode())
    return base64.urlsafe_b64encode(h.digest()[:9]).decode()


def row_key(pk: int) -> str:
    """The 记录标识 of person ``pk`` in an export: the id with a MAC, so a key cannot be made up."""
    return f"{pk}-{_row_key_mac(pk)}"


def parse_row_key(value) -> int:
    m = _ROW_KEY.fullmatch(tb._as_text(value))
    if not m or not hmac.compare_digest(m[2], _row_key_mac(int(m[1]))):
        raise tb.CellError(_("Not a 记录标识 from an export: keep the exported value, or leave it empty "
                             "to register a new person."))
    return int(m[1])


def tb_notes_common() -> tuple:
    """The import page's closing notes, the same for every register."""
    return (gettext_lazy("By default any bad row means nothing is written; you can choose to import only the "
                         "valid rows."),
            gettext_lazy("Formulas are not accepted: enter values."))


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


def _id_number_or_masked(value):
    s = tb._as_text(value)
    return Masked(s) if _MASKED_ID.fullmatch(s) else _id_number(s)


def _phone_or_masked(value):
    s = tb._as_text(value)
    return Masked(s) if _MASKED_PHONE.fullmatch(s) else _phone(s)


def _yes_no(v: bool) -> str:
    return "是" if v else "否"


def _kept_if_masked(cell: str, stored: str) -> str:
    """A free-text cell exported masked and re-imported unchanged keeps the stored text: the
    masked form never overwrites the numbers it hides (the round trip of a masked export)."""
    if cell != stored and cell == protect.mask_text(stored):
        return stored
    return cell


def _col(key, header, parse=None, **kw) -> tb.Column:
    return tb.Column(key, header, parse or tb.text(200), **kw)


ROW_KEY_HEADER = "记录标识"

PERSON_SPEC = tb.Spec(
    columns=(
        _col("name", "姓名", tb.text(50), required=True, width=10),
        _col("gender", "性别", _enum(ZH_GENDER, Gender), optional_header=True, width=6),
        _col("birth_date", "出生日期", tb.parse_date, optional_header=True, width=12),
        # Required for a new person (checked by the importer); a registered one may have none.
        _col("id_number", "身份证号", _id_number_or_masked, aliases=("公民身份号码",), width=22),
        _col("phone", "联系电话", _phone_or_masked, aliases=("手机号", "电话"), optional_header=True, width=16),
        _col("address", "住址", tb.text(200), optional_header=True, width=30, free_text=True),
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
        _col("skills", "特长", tb.text(200), optional_header=True, width=16, free_text=True),
        _col("grid_role", "网格职务", _enum(ZH_GRID_ROLE, GridRole), optional_header=True, width=8),
        *(_col(f, ZH_FLAG[f], tb.boolean, optional_header=True, width=8) for f in FLAG_FIELDS),
        _col("row_key", ROW_KEY_HEADER, parse_row_key, optional_header=True, width=22),
    ),
    unique=("id_number",),
    sheet_title="人员",
)


class _Units:
    """Unit codes → (id, path, name), loaded a batch at a time, judged against the importer's scope."""

    def __init__(self, user, perm: str):
        self.in_scope = units_q(user, perm)  # core.scope: Q() when the scope is everything
        self.known: dict[str, tuple[int, str, str] | None] = {}
        self.common: str | None = None  # longest path prefix shared by every unit written

    def load(self, codes) -> None:
        missing = [c for c in codes if c and c not in self.known]
        if not missing:
            return
        current = OrgUnit.objects.filter(code__in=missing, valid_to__isnull=True)
        if self.in_scope:
            current = current.annotate(ok=Case(When(self.in_scope, then=Value(True)), default=Value(False),
                                               output_field=BooleanField()))
        else:
            current = current.annotate(ok=Value(True, output_field=BooleanField()))
        for code, pk, path, name, ok in current.values_list("code", "id", "path", "name", "ok"):
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


def _holder(user, unit_id: int, path: str, unit_name: str, name: str) -> str:
    """Who holds a duplicate number, told only when that unit is in the importer's view scope."""
    if covers(user, "people.person.view", OrgUnit(pk=unit_id, path=path)):
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

    def write(self, rows: list[tuple], *, references_locked: bool = False) -> None:
        """Write ``rows``. ``references_locked``: the caller has locked (``_lock_references``) every
        row these rows' foreign keys name, so the per-row deferred checks may be skipped."""
        if not rows:
            return
        if USE_COPY and connection.vendor == "postgresql":
            rest = self.defaults
            with self._copy(references_locked) as cp:
                for r in rows:
                    cp.write_row(r + rest)
        else:
            model, names, rest = self.model, self.names, self.defaults
            model.objects.bulk_create([model(**dict(zip(names, r + rest, strict=True))) for r in rows],
                                      batch_size=500)


    def write_lines(self, lines: list[str], *, references_locked: bool = False) -> None:
        """Write rows already in COPY's text format (``copy_line``), each ending in a newline."""
        if lines:
            with self._copy(references_locked) as cp:
                cp.write("".join(lines))

    @contextmanager
    def _copy(self, references_locked: bool):
        qn = connection.ops.quote_name
        sql = f"COPY {qn(self.model._meta.db_table)} ({', '.join(qn(n) for n in self.names)}) FROM STDIN"
        # wrap_database_errors: a unique violation surfaces as Django's IntegrityError, as with bulk_create.
        with connection.cursor() as cur, connection.wrap_database_errors:
            if references_locked:
                # No RI trigger fires for these rows (no deferred check per row and foreign key at
                # COMMIT); the unique constraints and indexes still apply. Back to normal right after.
                cur.execute("SET LOCAL session_replication_role = replica")
            with cur.cursor.copy(sql) as cp:
                yield cp
            if references_locked:
                cur.execute("SET LOCAL session_replication_role = origin")


_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_text(value) -> str:
    """One value in COPY's text format (what psycopg's ``write_row`` would send for it)."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPE)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):  # datetimes too: ISO 8601 with the offset
        return value.isoformat()
    raise TypeError(f"no COPY text for {type(value).__name__}")


# Set False to write imports through the ORM on PostgreSQL too (the tests compare both paths).
USE_COPY = True

_PERSON = _Table(Person, (
    "id", "unit_id", "household_id", "relation", "name", "name_initials", "gender", "birth_date",
    "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc", "phone_bidx", "phone_masked", "address",
    "party_status", "party_joined", "is_volunteer", "is_lecturer", "is_reserve", "education", "skills",
    "grid_role", "created_at", "updated_at"))
_HOUSEHOLD = _Table(Household, ("id", "code", "unit_id", "address", "head_id", "created_at", "updated_at"))
_VULNERABILITY = _Table(Vulnerability, ("person_id", *FLAG_FIELDS, "updated_at"))


def _may_skip_fk_triggers() -> bool:
    """PostgreSQL, COPY, and a role allowed to set ``session_replication_role`` (a superuser, or
    from PostgreSQL 15 one granted SET on it): otherwise the deferred checks run as usual."""
    if not USE_COPY or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('is_superuser') = 'on', current_setting('server_version_num')::int, "
                    "current_setting('session_replication_role')")
        superuser, version, role = cur.fetchone()
        if role != "origin":
            return False
        if superuser:
            return True
        if version >= 150000:
            cur.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
            return bool(cur.fetchone()[0])
    return False


def _lock_references(model, ids) -> None:
    """Lock the rows ``ids`` of ``model`` as a foreign-key check does (``FOR KEY SHARE``: nobody may
    delete them or change their key until this transaction ends), and make sure all exist."""
    ids = sorted(i for i in ids if i is not None)
    if not ids:
        return
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} "
                    "WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE) locked", [ids])
        if cur.fetchone()[0] != len(ids):
            # Removed since it was looked up: the import is refused ("the data changed").
            raise IntegrityError(f"{model._meta.db_table}: a referenced row is gone")


def _registered(bidx: list[str]) -> dict[str, tuple[int, int, str, str, str]]:
    """Blind index → (person id, unit id, unit path, unit name, person name) of numbers already registered."""
    if not bidx:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter: an IN list of 5,000 placeholders costs ≈150 ms to bind and plan.
        with connection.cursor() as cur:
            cur.execute("SELECT p.id_number_bidx, p.id, u.id, u.path, u.name, p.name FROM people_person p "
                        "JOIN orgs_orgunit u ON u.id = p.unit_id WHERE p.id_number_bidx = ANY(%s)", [bidx])
            rows = cur.fetchall()
    else:
        rows = Person.objects.filter(id_number_bidx__in=bidx).values_list(
            "id_number_bidx", "id", "unit_id", "unit__path", "unit__name", "name")
    return {b: rest for b, *rest in rows}


class PersonImport(tb.ImportHandler):
    """Persons, with the households first met in the file, and their vulnerability flags.

    Per batch: a few set queries (units, households, numbers already registered, the persons
    named by 记录标识), then every new row is checked and encoded (encryption, blind indexes,
    masks, pinyin) straight into tuples that ``_Table`` writes — no model instance per new row on
    PostgreSQL. Rows with a 记录标识 update their person (``bulk_update``), or count as unchanged.
    """

    spec = PERSON_SPEC
    # Bigger batches than the default: fewer round trips and COPY statements for big files.
    batch_rows = 5000
    # prepare needs nothing but the row: a big file's rows are encrypted in worker processes.
    parallel_prepare = True
    # What the import page says about this register's file (web/tabular/import.html).
    notes = (
        gettext_lazy("Export first, edit, and import the same file back. The 记录标识 column links a row to the "
          "registered person: keep it as exported. A row without it registers a new person."),
        gettext_lazy("ID numbers and phones are exported masked. A cell still holding the masked value leaves the "
          "number unchanged; type the full number to change it. A new person needs the full ID number."),
        gettext_lazy("An empty phone cell removes the phone; birth date and gender follow the ID number."),
        *tb_notes_common(),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self.units = _Units(ctx.user, "people.person.import")
        self.households: dict[str, int | None] = {}
        self.today = timezone.localdate(ctx.now) if ctx.now else timezone.localdate()
        self.stamp = timezone.now()  # created_at/updated_at of every row, as bulk_create would set them
        self.seen_keys: set[int] = set()
        self.skip_fk_checks: bool | None = None  # decided at the first batch (_may_skip_fk_triggers)
        # COPY text of the columns after the row's own (created_at, updated_at, the defaults).
        self.text_tail = None
        if USE_COPY and connection.vendor == "postgresql":
            self.text_tail = "".join("\t" + copy_text(x) for x in (self.stamp, self.stamp, *_PERSON.defaults)) + "\n"
        H = self.spec.column
        self.h_unit, self.h_id, self.h_phone = H("unit_code").header, H("id_number").header, H("phone").header
        self.h_household, self.h_key = H("household_code").header, H("row_key").header
        self.h_field = {"birth_date": H("birth_date").header, "gender": H("gender").header}

    def _load_households(self, codes) -> None:
        missing = [c for c in codes if c and c not in self.households]
        if not missing:
            return
        user = self.ctx.user
        mine = Household.objects.all() if user is None else Household.objects.restrict(user, "import")
        allowed = set(mine.filter(code__in=missing).values_list("id", flat=True))
        for code, pk in Household.objects.filter(code__in=missing).values_list("code", "id"):
            self.households[code] = pk if pk in allowed else None

    def prepare(self, rows):
        # In the reader thread (no database): everything per row that costs CPU — encryption,
        # blind indexes, masks, pinyin — while feed waits for the database on the batch before.
        # A masked cell ("keep the number") prepares nothing for that number.
        encrypt, bidx_of = protect.encrypt, protect.blind_index
        mask_id, mask_phone = protect.mask_id_number, protect.mask_phone
        text_tail = self.text_tail
        for r in rows:
            if not r.ok:
                continue
            v = r.values
            number, phone = v["id_number"], v["phone"]
            if isinstance(number, str):
                born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
                ident = (born, validators.sex_of(number), encrypt(number), bidx_of(number, "id_number"),
                         mask_id(number))
            else:
                ident = (None, None, None, None, None)
            if isinstance(phone, str):
                phones = (encrypt(phone), bidx_of(phone, "phone"), mask_phone(phone))
            else:
                phones = ("", None, "") if phone is None else (None, None, None)
            born, sex, *id_protected = ident
            name_initials = initials(v["name"])
            line = None
            if text_tail is not None and v["row_key"] is None and ident[2] is not None and phones[0] is not None:
                # A new person's row as COPY text, all but its id, unit and household (known in feed):
                # formatting it here, in parallel, spares the single writing process ≈30 µs a row.
                line = "\t".join([copy_text(x) for x in (
                    v["relation"] or "", v["name"], name_initials, sex, born, *id_protected, *phones,
                    v["address"] or "", v["party_status"] or "", v["party_joined"], bool(v["is_volunteer"]),
                    bool(v["is_lecturer"]), bool(v["is_reserve"]), v["education"] or "", v["skills"] or "",
                    v["grid_role"] or "")]) + text_tail
            r.prepared = (born, sex, name_initials, *id_protected, *phones, line)

    def _check_numbers(self, r, born, sex) -> bool:
        """The birth date and gender in the row agree with the ID number (people.validators)."""
        v = r.values
        if born is None:
            return True
        wrong = validators.disagreements(born, sex, birth_date=v["birth_date"], gender=v["gender"])
        for key, msg in wrong.items():
            self.ctx.error(r, self.h_field[key], msg)
        if not wrong and born > self.today:
            self.ctx.error(r, self.h_id, _("The birth date in the ID number is out of range."))
            return False
        return not wrong

    def _household(self, r, unit_id: int, new_households: dict) -> bool:
        """The row's household is usable (in scope, or first met here: created at the row's unit)."""
        v, households = r.values, self.households
        hcode = v["household_code"]
        if not hcode:
            return True
        if households.get(hcode, 0) is None:
            self.ctx.error(r, self.h_household, _("This household number is used outside your scope."))
            return False
        if hcode not in households and hcode not in new_households:
            # A household first met in this file is created at the person's unit
            # ([id, code, unit, address, head], the id and head filled in below).
            new_households[hcode] = [None, hcode, unit_id, v["address"] or "", None]
        return True

    def feed(self, rows):
        ok = [r for r in rows if r.ok]
        if not ok:
            return
        self.units.load({r.values["unit_code"] for r in ok})
        self._load_households({r.values["household_code"] for r in ok})
        known = [r for r in ok if r.values["row_key"] is not None]
        fresh = [r for r in ok if r.values["row_key"] is None]
        # Numbers given in full are checked against the register in one query for the batch.
        taken = _registered([r.prepared[4] for r in ok if r.prepared[4]])
        new_households: dict[str, list] = {}
        staged_new = self._check_new(fresh, taken, new_households)
        staged_known = self._check_known(known, taken, new_households)
        if not staged_new and not staged_known:
            return
        households = self.households
        for h, pk in zip(new_households.values(), bulk.take_ids(Household, len(new_households)), strict=True):
            h[0] = households[h[1]] = pk
        heads: list[Household] = []
        locked = self._references_locked(staged_new, new_households)
        created = self._write_new(staged_new, new_households, heads, locked)
        if locked:  # a head that is not a person created just now
            _lock_references(Person, {h[4] for h in new_households.values()} - created)
        _HOUSEHOLD.write([(*h, self.stamp, self.stamp) for h in new_households.values()], references_locked=locked)
        self._write_known(staged_known, new_households, heads)
        if heads:  # households that were already registered
            Household.objects.bulk_update(heads, ["head"], batch_size=1000)

    def _references_locked(self, staged_new, new_households) -> bool:
        """Lock what the new rows' foreign keys name, if the per-row checks may then be skipped.

        Every unit and household a new person or household names was looked up in this
        transaction; locking them ``FOR KEY SHARE`` here is what PostgreSQL's own check would do
        for each row at COMMIT (≈25 s for a million persons), in two queries per batch. The rows
        the import creates itself (persons, new households, flags) need no lock.
        """
        if self.skip_fk_checks is None:
            self.skip_fk_checks = _may_skip_fk_triggers()
        if not self.skip_fk_checks or not (staged_new or new_households):
            return False
        _lock_references(OrgUnit, {u for _r, u in staged_new} | {h[2] for h in new_households.values()})
        households = self.households
        new_ids = {h[0] for h in new_households.values()}
        _lock_references(Household, {households.get(r.values["household_code"]) for r, _u in staged_new} - new_ids)
        return True

    # --- new persons ---------------------------------------------------------------------------

    def _check_new(self, rows, taken, new_households) -> list:
        error, units_get, staged = self.ctx.error, self.units.get, []
        for r in rows:
            v = r.values
            if v["id_number"] is None:
                error(r, self.h_id, _("This column is required."))
                continue
            if isinstance(v["id_number"], Masked) or isinstance(v["phone"], Masked):
                header = self.h_id if isinstance(v["id_number"], Masked) else self.h_phone
                error(r, header, _("A masked number stays as it is only on a row with its 记录标识; "
                                   "a new person needs the full number."))
                continue
            unit = units_get(v["unit_code"])
            if unit is None:
                error(r, self.h_unit, _("No current unit with this code is in your scope."))
                continue
            born, sex, _initials, _enc, b, *_rest = r.prepared
            if not self._check_numbers(r, born, sex):
                continue
            if b in taken:
                error(r, self.h_id, _holder(self.ctx.user, *taken[b][1:]))
                continue
            if self._household(r, unit[0], new_households):
                staged.append((r, unit[0]))
        return staged

    def _write_new(self, staged, new_households, heads, locked: bool) -> set[int]:
        """Write the new persons and their flags; returns their ids."""
        if not staged:
            return set()
        # Ids are taken first, so a new household names its head and flags name their person before
        # anything is written.
        stamp, households, persons, flagged, lines, pks = self.stamp, self.households, [], [], [], []
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
            born, sex, name_initials, *protected, line = r.prepared  # enc, bidx, masked × (ID number, phone)
            if line is not None:
                lines.append(f"{pk}\t{unit_id}\t{NULL if household_id is None else household_id}\t{line}")
                pks.append(pk)
            else:
                persons.append((
                    pk, unit_id, household_id, relation, v["name"], name_initials, sex, born, *protected,
                    v["address"] or "", v["party_status"] or "", v["party_joined"], bool(v["is_volunteer"]),
                    bool(v["is_lecturer"]), bool(v["is_reserve"]), v["education"] or "", v["skills"] or "",
                    v["grid_role"] or "", stamp, stamp))
            if any(v[f] for f in FLAG_FIELDS):
                flagged.append((pk, *(bool(v[f]) for f in FLAG_FIELDS), stamp))
        _PERSON.write_lines(lines, references_locked=locked)
        _PERSON.write(persons, references_locked=locked)
        _VULNERABILITY.write(flagged, references_locked=locked)
        count = self.ctx.count
        for r, _unit_id in staged:
            count(r, "created")
        return {*pks, *(p[0] for p in persons)}

    # --- registered persons (rows with a 记录标识) ------------------------------------------------

    def _check_known(self, rows, taken, new_households) -> list:
        if not rows:
            return []
        user, error, units_get = self.ctx.user, self.ctx.error, self.units.get
        mine = Person.objects.all() if user is None else Person.objects.restrict(user, "import")
        found = {p.pk: p for p in mine.filter(pk__in=[r.values["row_key"] for r in rows])
                 .select_related("vulnerability")}
        staged = []
        for r in rows:
            v = r.values
            key = v["row_key"]
            if key in self.seen_keys:
                error(r, self.h_key, _("Another row of this file is the same person."))
                continue
            self.seen_keys.add(key)
            p = found.get(key)
            if p is None:
                error(r, self.h_key, _("No such person in your scope (removed, or moved out of your scope "
                                       "since the export)."))
                continue
            unit = units_get(v["unit_code"])
            if unit is None:
                error(r, self.h_unit, _("No current unit with this code is in your scope."))
                continue
            number, phone = v["id_number"], v["phone"]
            if isinstance(number, Masked) and number.text != p.id_number_masked:
                error(r, self.h_id, _("This masked number is not the registered one: leave the exported value, "
                                      "or type the full number."))
                continue
            if number is None and p.id_number_masked:
                error(r, self.h_id, _("An ID number cannot be removed by import."))
                continue
            if isinstance(phone, Masked) and phone.text != p.phone_masked:
                error(r, self.h_phone, _("This masked number is not the registered one: leave the exported "
                                         "value, or type the full number."))
                continue
            born, sex, _initials, _enc, b, *_rest = r.prepared
            if born is None and p.id_number_masked:
                born, sex = p.birth_date, p.gender  # kept number: they came from it
            if not self._check_numbers(r, born, sex):
                continue
            if b is not None and b != p.id_number_bidx and b in taken:
                error(r, self.h_id, _holder(user, *taken[b][1:]))
                continue
            if self._household(r, unit[0], new_households):
                staged.append((r, p, unit[0]))
        return staged

    def _write_known(self, staged, new_households, heads) -> None:
        if not staged:
            return
        stamp, households, count = self.stamp, self.households, self.ctx.count
        changed: list[Person] = []
        fields: set[str] = set()
        vul_changed, vul_new = [], []
        for r, p, unit_id in staged:
            v = r.values
            born, sex, name_initials, id_enc, id_bidx, id_masked, ph_enc, ph_bidx, ph_masked, _line = r.prepared
            hcode = v["household_code"]
            want = {
                "unit_id": unit_id, "household_id": households.get(hcode) if hcode else None,
                "relation": v["relation"] or "", "name": v["name"], "name_initials": name_initials,
                "address": _kept_if_masked(v["address"] or "", p.address), "party_status": v["party_status"] or "",
                "party_joined": v["party_joined"], "is_volunteer": bool(v["is_volunteer"]),
                "is_lecturer": bool(v["is_lecturer"]), "is_reserve": bool(v["is_reserve"]),
                "education": v["education"] or "", "skills": _kept_if_masked(v["skills"] or "", p.skills),
                "grid_role": v["grid_role"] or "",
            }
            if id_bidx is not None:  # a full number: it decides birth date and gender
                want.update(birth_date=born, gender=sex)
                if id_bidx != p.id_number_bidx:
                    want.update(id_number_enc=id_enc, id_number_bidx=id_bidx, id_number_masked=id_masked)
            elif not p.id_number_masked:  # no number at all: as entered
                want.update(birth_date=v["birth_date"], gender=v["gender"] or "")
            # (a masked number is kept, and with it the birth date and gender it gave)
            if ph_masked is not None and ph_bidx != p.phone_bidx:  # a new number, or "" to remove it
                want.update(phone_enc=ph_enc, phone_bidx=ph_bidx, phone_masked=ph_masked)
            diff = {k: val for k, val in want.items() if getattr(p, k) != val}
            if want["relation"] == Relation.HEAD and want["household_id"]:
                new = new_households.get(hcode)
                if new is not None:
                    new[4] = p.pk
                elif diff.keys() & {"relation", "household_id"}:
                    heads.append(Household(pk=want["household_id"], head_id=p.pk))
            flags = {f: bool(v[f]) for f in FLAG_FIELDS}
            vul = _vulnerability(p)
            flags_differ = (any(flags.values()) if vul is None
                            else any(getattr(vul, f) != flags[f] for f in FLAG_FIELDS))
            if not diff and not flags_differ:
                count(r, "unchanged")
                continue
            for k, val in diff.items():
                setattr(p, k, val)
            if diff:
                p.version += 1  # as an edit on the page would: a form opened before now is stale
                p.updated_at = stamp
                fields.update(diff, ("version", "updated_at"))
                changed.append(p)
            if flags_differ:
                if vul is None:
                    vul_new.append(Vulnerability(person_id=p.pk, **flags))
                else:
                    for f, val in flags.items():
                        setattr(vul, f, val)
                    vul_changed.append(vul)
            count(r, "updated")
        if changed:
            Person.objects.bulk_update(changed, sorted(fields), batch_size=1000)
        if vul_changed:
            Vulnerability.objects.bulk_update(vul_changed, list(FLAG_FIELDS), batch_size=1000)
        if vul_new:
            Vulnerability.objects.bulk_create(vul_new, batch_size=1000)

    def audit_unit(self):
        return self.units.audit_unit()


def _vulnerability(p: Person) -> Vulnerability | None:
    """The person's flags row, or None (loaded by select_related: no query)."""
    try:
        return p.vulnerability
    except Vulnerability.DoesNotExist:
        return None


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
    row["row_key"] = row_key(p.pk)
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
        _col("address", "住址", tb.text(200), required=True, width=30, free_text=True),
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
    notes = (
        gettext_lazy("The first row holds these headers. Each row registers a new household: a household "
                     "number already registered is refused, so an export is not a file to import back."),
        gettext_lazy("户主身份证号 and 联户党员身份证号 need the full ID numbers of persons registered in your "
                     "scope (the export shows them masked)."),
        *tb_notes_common(),
    )

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
    notes = (
        gettext_lazy("The first row holds these headers. Each row marks a person registered in your scope as "
                     "reserve talent, found by full ID number and name; 学历 and 特长 are updated when given."),
        gettext_lazy("The export shows ID numbers masked: fill in the full numbers before importing it back."),
        *tb_notes_common(),
    )

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
