"""Parsing rows: header check, then one ``Row`` per non-blank line with its cell errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from ..xlsx_reader import Limits
from .base import CellError, TabularError
from .readers import iter_source
from .source import Source
from .spec import Spec
from .values import _unneutralise


@dataclass(slots=True)
class RowError:
    row: int
    column: str  # the column's header, or "" for the whole row
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": str(self.message)}


@dataclass
class Row:
    number: int  # as the spreadsheet numbers it (header is 1)
    values: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)
    prepared: Any = None  # whatever the handler's ``prepare`` worked out for the row
    size: int = 0  # characters of its text cells: batches are cut by size too, so memory stays bounded

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, column_header: str, message) -> None:
        self.errors.append(RowError(self.number, column_header, str(message)))


def _blank_row(values) -> bool:
    for v in values:
        if v is not None and (v.__class__ is not str or v.strip()):
            return False
    return True


def max_import_rows() -> int:
    return int(getattr(settings, "BIHUAN_MAX_IMPORT_ROWS", 500_000))


def _too_many_rows(max_rows: int) -> TabularError:
    return TabularError(_("The file has more than %(n)d rows; split it.") % {"n": max_rows}, code="too_many_rows")


def check_source(source: Source, *, max_rows: int | None = None, limits: Limits | None = None) -> int:
    """Read the whole file once with every limit and return its data rows (non-blank, after the
    header); ``TabularError`` if it is refused. No database: ``run_import`` calls this before it
    opens its transaction, so a hostile or huge file never holds the write lock."""
    max_rows = max_rows or max_import_rows()
    count = -1  # the header
    for _number, values, _formulas in iter_source(source, limits):
        if not _blank_row(values):
            count += 1
            if count > max_rows:
                raise _too_many_rows(max_rows)
    return max(count, 0)


def parse_rows(spec: Spec, source: Source, *, max_rows: int | None = None,
               limits: Limits | None = None) -> Iterator[Row]:
    """Header check, then one ``Row`` per non-blank line, with cell-level errors filled in."""
    max_rows = max_rows or max_import_rows()
    it = iter_source(source, limits)
    mapping = None
    for _number, values, _formulas in it:
        if _blank_row(values):
            continue
        mapping = spec.match_headers(values)
        break
    if mapping is None:
        raise TabularError(_("The file is empty: there is no header row."), code="empty")
    # Everything that does not change from row to row is worked out once: this loop runs a
    # million times for a large file, so per-row lookups in the spec add up.
    plan = [(i, col.key, col.header, col.parse, col.required) for i, col in enumerate(mapping) if col is not None]
    template = dict.fromkeys(c.key for c in spec.columns)  # keys of columns not in the file stay None
    unique = tuple(spec.unique)
    unique_headers = {spec.column(k).header for k in unique}
    dup_header = spec.column(unique[0]).header if unique else ""
    formula_msg = required_msg = None
    seen_keys: dict[tuple, int] = {}
    count = 0
    for number, values, formulas in it:
        if _blank_row(values):
            continue
        count += 1
        if count > max_rows:
            raise _too_many_rows(max_rows)
        row = Row(number, dict(template))
        out = row.values
        width = len(values)
        size = 0
        for i, key, header, parse, required in plan:
            raw = values[i] if i < width else None
            if i in formulas or (isinstance(raw, str) and raw.lstrip().startswith("=")):
                raw = _FORMULA
            elif isinstance(raw, str):
                size += len(raw)
                if raw[:1] == "'":
                    raw = _unneutralise(raw)
                if not raw.strip():
                    raw = None
            if raw is _FORMULA:
                formula_msg = formula_msg or _("Formulas are not accepted; enter the value itself.")
                row.error(header, formula_msg)
                continue
            if raw is None:
                if required:
                    required_msg = required_msg or _("This column is required.")
                    row.error(header, required_msg)
                continue
            try:
                out[key] = parse(raw)
            except CellError as exc:
                row.error(header, str(exc))
        if unique and not (row.errors and any(e.column in unique_headers for e in row.errors)):
            key = tuple(out[k] for k in unique)
            # A row without the key (an empty ID number) duplicates nothing.
            first = seen_keys.setdefault(key, number) if any(v is not None for v in key) else number
            if first != number:
                row.error(dup_header, _("Duplicate of row %(n)d in this file.") % {"n": first})
        row.size = size
        yield row
    if count == 0:
        raise TabularError(_("The file has a header row but no data rows."), code="empty")


_FORMULA = object()  # marks a formula cell while a row is parsed
