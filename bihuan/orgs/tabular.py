"""The organisation tree as a table: export in scope, import as one bulk service.

Columns: 编码, 名称, 层级, 上级编码, 生效日期, 失效日期. A row whose code matches a unit of
the tree updates its name and validity; any other row creates a unit under its parent,
which may be earlier or later in the same file or already in the tree. New units are
written level by level (bulk insert, then one UPDATE per level for the paths), so a
city-sized file costs a few dozen queries, not several per row. The whole import is one
audit entry (see bihuan.core.tabular.run_import).
"""

from __future__ import annotations

from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound
from bihuan.core.scope import scope_for

from .models import Level, OrgUnit
from .services import validate_code

LEVEL_ZH = {Level.CITY: "市", Level.COUNTY: "县区", Level.TOWNSHIP: "乡镇街道", Level.VILLAGE: "村社区",
            Level.GRID: "网格"}
# Accepted spellings of a level: the exported Chinese label, common short forms, English, digits.
LEVEL_INPUT = {
    **{zh: int(lv) for lv, zh in LEVEL_ZH.items()},
    "县": 2, "区": 2, "县级市": 2, "乡镇": 3, "乡": 3, "镇": 3, "街道": 3, "村": 4, "社区": 4,
    "city": 1, "county": 2, "township": 3, "village": 4, "grid": 5,
    **{str(int(lv)): int(lv) for lv in LEVEL_ZH},
}

CODE, NAME, LEVEL, PARENT, VALID_FROM, VALID_TO = "编码", "名称", "层级", "上级编码", "生效日期", "失效日期"

SPEC = tb.Spec(
    columns=(
        tb.Column("code", CODE, tb.text(15, r"\d+", gettext_lazy("A division code has digits only.")),
                  required=True, aliases=("code", "division code"), width=18),
        tb.Column("name", NAME, tb.text(100), required=True, aliases=("name",), width=24),
        tb.Column("level", LEVEL, tb.choice(LEVEL_INPUT, shown=LEVEL_ZH.values()), required=True,
                  aliases=("level",), get=lambda r: LEVEL_ZH.get(r["level"], r["level"]), width=10),
        tb.Column("parent_code", PARENT, tb.text(15, r"\d+", gettext_lazy("A division code has digits only.")),
                  aliases=("parent code", "parent_code", "parent"), get=lambda r: r["parent__code"], width=18),
        tb.Column("valid_from", VALID_FROM, tb.parse_date, aliases=("valid from", "valid_from"), width=12),
        tb.Column("valid_to", VALID_TO, tb.parse_date, aliases=("valid to", "valid_to"), width=12),
    ),
    # Codes are reused across years: one row per (code, end date); one current row per code.
    unique=("code", "valid_to"),
    sheet_title="组织架构",
)

FIELDS = ("id", "code", "name", "level", "parent_id", "parent__code", "valid_from", "valid_to")
CHUNK = 2000


# --- export ----------------------------------------------------------------------------

def export_queryset(user, unit: OrgUnit | None = None):
    """Units ``user`` may export (None = system, everything), optionally one subtree."""
    qs = OrgUnit.objects.all() if user is None else OrgUnit.objects.restrict(user, "export")
    if unit is not None:
        if user is not None and not qs.filter(pk=unit.pk).exists():
            raise NotFound()
        qs = qs.filter(path__startswith=unit.path)
    # By depth then code: every parent comes before its children, readable by level.
    return qs.order_by("depth", "code", "id")


def export_rows(user, unit: OrgUnit | None = None):
    return export_queryset(user, unit).values(*FIELDS).iterator(chunk_size=CHUNK)


def export_count(user, unit: OrgUnit | None = None) -> int:
    return export_queryset(user, unit).count()


def find_unit(user, code: str) -> OrgUnit:
    """The current unit with ``code`` that ``user`` may export (CLI ``--unit CODE``)."""
    qs = OrgUnit.objects.all() if user is None else OrgUnit.objects.restrict(user, "export")
    code = (code or "").strip()
    unit = (qs.filter(code=code, valid_to__isnull=True).first()
            or qs.filter(code=code).order_by("-valid_to").first())
    if unit is None:
        raise NotFound()
    return unit


# --- import ----------------------------------------------------------------------------

def _chunks(items: list, n: int = CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


class OrgTreeImport(tb.ImportHandler):
    spec = SPEC
    # What the import page says about this register's file (web/tabular/import.html).
    notes = (
        gettext_lazy("The first row holds these headers, as in an export. Export first, edit, and import the "
                     "same file back."),
        gettext_lazy("A row whose code already exists updates that unit's name and dates; any other row "
                     "creates a unit under its parent code."),
        gettext_lazy("By default any bad row means nothing is written; you can choose to import only the "
                     "valid rows."),
        gettext_lazy("Formulas are not accepted: enter values."),
    )

    def __init__(self, ctx: tb.ImportContext):
        super().__init__(ctx)
        self.rows: list[tb.Row] = []

    def feed(self, rows: list[tb.Row]) -> None:
        # The tree is written level by level whatever the file order, so collect first.
        self.rows.extend(rows)

    # -- helpers --
    def _prefetch(self) -> None:
        codes = sorted({c for r in self.rows for c in (r.values["code"], r.values["parent_code"]) if c})
        self.existing: dict[str, list[dict]] = {}
        ids: list[int] = []
        for chunk in _chunks(codes):
            for u in OrgUnit.objects.filter(code__in=chunk).values(*FIELDS):
                self.existing.setdefault(u["code"], []).append(u)
                ids.append(u["id"])
        user = self.ctx.user
        if user is None:
            self.in_scope = set(ids)
        else:
            self.in_scope = set()
            for chunk in _chunks(ids):
                self.in_scope.update(
                    OrgUnit.objects.restrict(user, "import").filter(id__in=chunk).values_list("id", flat=True))

    def _existing_parent(self, code: str) -> dict | None:
        """The unit a parent code names: the current one, else the most recently closed."""
        units = self.existing.get(code) or []
        current = [u for u in units if u["valid_to"] is None]
        if current:
            return current[0]
        return max(units, key=lambda u: u["valid_to"]) if units else None

    def _match(self) -> dict[int, dict]:
        """Row number → existing unit it updates. Same end date first, then the current unit."""
        matched: dict[int, dict] = {}
        taken: dict[int, int] = {}
        ok = [r for r in self.rows if r.ok]
        for exact in (True, False):
            for r in ok:
                if r.number in matched:
                    continue
                units = self.existing.get(r.values["code"]) or []
                if exact:
                    cands = [u for u in units if u["valid_to"] == r.values["valid_to"]]
                else:
                    cands = [u for u in units if u["valid_to"] is None] or (units if len(units) == 1 else [])
                for u in cands:
                    if u["id"] in taken:
                        if exact:
                            continue
                        self.ctx.error(r, CODE, _("Row %(n)d already updates the unit with this code.")
                                       % {"n": taken[u["id"]]})
                        break
                    matched[r.number] = u
                    taken[u["id"]] = r.number
                    break
        return matched

    @staticmethod
    def _check_dates(ctx, r: tb.Row) -> bool:
        vf, vt = r.values["valid_from"], r.values["valid_to"]
        if vf and vt and vt < vf:
            ctx.error(r, VALID_TO, _("The end date is before the start date."))
            return False
        return True

    # -- the work --
    def finish(self) -> None:
        ctx = self.ctx
        self._prefetch()
        matched = self._match()
        to_update: list[OrgUnit] = []
        new_rows: list[tb.Row] = []
        for r in self.rows:
            if not r.ok:
                continue
            u = matched.get(r.number)
            if u is None:
                new_rows.append(r)
                continue
            v = r.values
            if u["id"] not in self.in_scope:
                ctx.error(r, CODE, _("The unit %(code)s is outside your scope.") % {"code": v["code"]})
            elif u["level"] != v["level"]:
                ctx.error(r, LEVEL, _("Unit %(code)s is a %(level)s in the tree; an import cannot change "
                                      "a level.") % {"code": v["code"], "level": LEVEL_ZH.get(u["level"])})
            elif (u["parent__code"] or None) != v["parent_code"]:
                ctx.error(r, CODE, _("Division code %(code)s is already used by %(name)s under %(parent)s. "
                                     "To move a unit, use the tree.")
                          % {"code": v["code"], "name": u["name"], "parent": u["parent__code"] or "—"})
            elif self._check_dates(ctx, r):
                if v["valid_to"] is None and u["valid_to"] is not None and any(
                        o["valid_to"] is None and o["id"] != u["id"] for o in self.existing[v["code"]]):
                    ctx.error(r, VALID_TO, _("Another current unit already uses code %(code)s.")
                              % {"code": v["code"]})
                    continue
                if (u["name"], u["valid_from"], u["valid_to"]) == (v["name"], v["valid_from"], v["valid_to"]):
                    ctx.count(r, "unchanged")
                else:
                    to_update.append(OrgUnit(id=u["id"], name=v["name"], valid_from=v["valid_from"],
                                             valid_to=v["valid_to"]))
                    ctx.count(r, "updated")
        if to_update:
            OrgUnit.objects.bulk_update(to_update, ["name", "valid_from", "valid_to"], batch_size=500)
        self._create(new_rows)

    def _create(self, new_rows: list[tb.Row]) -> None:
        ctx, user = self.ctx, self.ctx.user
        # Codes of rows that were refused: their children are refused with a pointer to them.
        bad = {r.values["code"]: r.number for r in self.rows if not r.ok and r.values.get("code")}
        created: dict[str, dict] = {}  # code → {"id", "level"} of units made by this import
        root_allowed = scope_for(user, "orgs.unit.import").all
        for level in sorted(LEVEL_ZH):
            batch: list[tuple[tb.Row, OrgUnit]] = []
            for r in (r for r in new_rows if r.values["level"] == level):
                v = r.values
                parent = None
                pcode = v["parent_code"]
                if pcode:
                    parent = created.get(pcode) or self._existing_parent(pcode)
                    if parent is None:
                        if pcode in bad:
                            ctx.error(r, PARENT, _("The parent (row %(n)d) has errors.") % {"n": bad[pcode]})
                        else:
                            ctx.error(r, PARENT, _("No unit has code %(code)s, in the file or in the tree.")
                                      % {"code": pcode})
                        bad.setdefault(v["code"], r.number)
                        continue
                    if pcode not in created and parent["id"] not in self.in_scope:
                        ctx.error(r, PARENT, _("The parent unit %(code)s is outside your scope.")
                                  % {"code": pcode})
                        bad.setdefault(v["code"], r.number)
                        continue
                    if level != parent["level"] + 1:
                        ctx.error(r, LEVEL, _("A %(child)s cannot sit directly under a %(parent)s.")
                                  % {"child": LEVEL_ZH[level], "parent": LEVEL_ZH.get(parent["level"])})
                        bad.setdefault(v["code"], r.number)
                        continue
                elif level != Level.CITY:
                    ctx.error(r, PARENT, _("A parent code is required (only a city can be a root unit)."))
                    continue
                elif not root_allowed:
                    ctx.error(r, PARENT, _("Only a city-wide administrator can import a root unit."))
                    continue
                errors = validate_code(v["code"], level,
                                       OrgUnit(code=parent["code"], level=parent["level"]) if parent else None)
                if errors:
                    ctx.error(r, CODE, errors["code"])
                    bad.setdefault(v["code"], r.number)
                    continue
                if not self._check_dates(ctx, r):
                    bad.setdefault(v["code"], r.number)
                    continue
                batch.append((r, OrgUnit(parent_id=parent["id"] if parent else None, level=level, code=v["code"],
                                         name=v["name"], valid_from=v["valid_from"], valid_to=v["valid_to"],
                                         path="", depth=0)))
            if not batch:
                continue
            objs = OrgUnit.objects.bulk_create([o for _r, o in batch], batch_size=1000)
            for (r, _o), obj in zip(batch, objs, strict=True):
                # A current unit wins over a closed one of the same code as somebody's parent.
                if obj.valid_to is None or obj.code not in created:
                    created[obj.code] = {"id": obj.pk, "level": level, "code": obj.code}
                ctx.count(r, "created")
            self._assign_paths(level)

    @staticmethod
    def _assign_paths(level: int) -> None:
        """One UPDATE for the level: path = parent's path + own id, depth = parent's + 1."""
        fresh = OrgUnit.objects.filter(level=level, path="")
        if level == Level.CITY:
            fresh.update(path=Concat(Value("/"), Cast("id", CharField()), Value("/")), depth=0)
            return
        parent = OrgUnit.objects.filter(pk=OuterRef("parent_id"))
        fresh.update(
            path=Concat(Subquery(parent.values("path")[:1]), Cast("id", CharField()), Value("/"),
                        output_field=CharField()),
            depth=Subquery(parent.values("depth")[:1]) + 1,
        )

    def audit_unit(self):
        return None


def _export_rows(user, unit=None):
    return export_rows(user, unit)


ORGS = tb.register(tb.Kind(
    name="orgs",
    label=gettext_lazy("Organisation tree"),
    spec=SPEC,
    handler=OrgTreeImport,
    export_rows=_export_rows,
    export_count=export_count,
    find_unit=find_unit,
    permission_prefix="orgs.unit",
))
