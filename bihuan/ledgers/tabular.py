"""A register as a table: one ``core.tabular`` ``Kind`` built per definition (``kind_for``).

Columns: 编号 (the entry's id, empty for a new one), 单位编码 (the filling unit's division code),
then one column per live field with its Chinese label. The template is the export of an empty
register. Cells are read as typed and checked by the one validator (``ledgers.fields``) through
``ledgers.services`` — the same refusals as the form and the API — each row in a savepoint so
that every bad row is reported; all-or-nothing by default (``core.tabular.run_import``).
An exported file re-imports as "unchanged" (the round trip); personal fields export masked and a
masked value imported back keeps the stored one. Text beginning with = + - @ is exported with a
leading ' (never run as a formula) and read back without it (``core.tabular``).

The kinds are not in the global registry (registers are data, added at run time); the pages, the
API and ``bihuan registers import/export`` pass the ``Kind`` to ``run_import`` / ``export``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from bihuan.core import tabular as tb
from bihuan.core.errors import ServiceError
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import fields as fl
from . import services
from .models import Entry, Register

ID, UNIT = "编号", "单位编码"


def _keep(value):
    return value


def _id(value):
    s = tb.as_text(value)
    if not s.isdigit() or len(s) > 12:
        raise tb.CellError(_("An id has digits only."))
    return int(s)


def spec_for(register: Register) -> tb.Spec:
    unit_codes: dict[int, str] = {}

    def code_of(unit_id):
        if unit_id not in unit_codes:
            unit_codes[unit_id] = OrgUnit.objects.filter(pk=unit_id).values_list("code", flat=True).first() or ""
        return unit_codes[unit_id]

    def getter(f):
        key, t = f["key"], f["type"]

        def get(e: Entry):
            v = e.data.get(key)
            if v is None:
                return None
            if t == "unit":
                return code_of(v)
            if t == "bool":
                return "是" if v else "否"
            if t == "multi":
                return "、".join(v)
            return v

        return get

    columns = [tb.Column("_id", ID, _id, get=lambda e: e.pk, width=10, optional_header=True),
               tb.Column("_unit", UNIT, tb.text(15, r"\d+", _("A division code has digits only.")), required=True,
                         get=lambda e: e.unit.code, width=16)]
    for f in register.live_fields():
        columns.append(tb.Column(f["key"], f["label"], _keep, required=False, get=getter(f),
                                 width=max(10, min(40, len(f["label"]) * 2 + 4))))
    return tb.Spec(columns=tuple(columns), sheet_title=register.name[:31])


def kind_for(register: Register) -> tb.Kind:
    spec = spec_for(register)
    headers = {c.key: c.header for c in spec.columns}

    def export_rows(user, unit=None):
        from . import selectors

        qs = selectors.entries(user, register, action="export", unit=unit)
        return qs.select_related("unit").order_by("unit__path", "id").iterator(chunk_size=1000)

    class EntryImport(tb.ImportHandler):
        def feed(self, rows: list[tb.Row]) -> None:
            ctx = self.ctx
            codes = {r.values["_unit"] for r in rows if r.ok}
            qs = OrgUnit.objects.filter(code__in=codes, valid_to__isnull=True)
            if ctx.user is not None:
                qs = qs.filter(units_q(ctx.user, "ledgers.entry.import"))
            units = {u.code: u for u in qs}
            new_rows, by_number = [], {}
            for r in rows:
                if not r.ok:
                    continue
                v = r.values
                unit = units.get(v["_unit"])
                if unit is None:
                    ctx.error(r, UNIT, _("No current unit with code %(c)s in your scope.") % {"c": v["_unit"]})
                    continue
                values = {k: val for k, val in v.items() if not k.startswith("_")}
                if not v.get("_id"):
                    new_rows.append((r.number, unit, values))  # written together below
                    by_number[r.number] = r
                    continue
                try:
                    with transaction.atomic():
                        outcome = self._row(unit, v.get("_id"), values)
                except ServiceError as exc:
                    self._refuse(r, exc.field_errors or {"": str(exc.message)})
                    continue
                ctx.count(r, outcome)
            if new_rows:
                refused = services.create_entries(ctx.user, register, new_rows, now=ctx.now)
                for number, _unit, _values in new_rows:
                    if number in refused:
                        self._refuse(by_number[number], refused[number])
                    else:
                        ctx.count(by_number[number], "created")

        def _refuse(self, r, fields: dict) -> None:
            for key, message in fields.items():
                self.ctx.error(r, headers.get(key, ""), message)

        def _row(self, unit, entry_id, values) -> str:
            user, now = self.ctx.user, self.ctx.now
            if entry_id:
                e = Entry.objects.filter(pk=entry_id, register=register).first()
                if e is None:
                    raise ServiceError(_("No entry %(id)s in this register.") % {"id": entry_id},
                                       {"_id": _("Unknown id.")})
                if e.unit_id != unit.pk:
                    raise ServiceError(_("An entry cannot move to another unit."), {"_unit": _("Another unit.")})
                clean = fl.validate(register, values, user=user, current=e)
                removed = {f["key"]: e.data[f["key"]] for f in register.fields
                           if f.get("removed") and f["key"] in e.data}
                if {**removed, **clean["data"]} == e.data:
                    services.get_entry(user, e, "change")
                    return "unchanged"
                services.update_entry(user, e, version=e.version, values=values, now=now)
                return "updated"
            services.create_entry(user, register, unit=unit, values=values, now=now)
            return "created"

    EntryImport.spec = spec
    return tb.Kind(name=f"ledger.{register.code}", label=register.name, spec=spec, handler=EntryImport,
                   export_rows=export_rows, permission_prefix="ledgers.entry")
