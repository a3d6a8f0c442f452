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
    it = iter_source(source, limits)
    parser = RowParser(spec, next_header(spec, it))
    check_unique = parser.check_unique
    for number, values, formulas in data_rows(it, max_rows):
        row = parser.parse(number, values, formulas)
        check_unique(row)
        yield row


def next_header(spec: Spec, it) -> list:
    """The column mapping of the file's first non-blank row (its header)."""
    for _number, values, _formulas in it:
        if not _blank_row(values):
            return spec.match_headers(values)
    raise TabularError(_("The file is empty: there is no header row."), code="empty")


def data_rows(it, max_rows: int | None = None) -> Iterator[tuple[int, list, set[int]]]:
    """The non-blank rows after the header, at most ``max_rows`` of them (else ``TabularError``)."""
    max_rows = max_rows or max_import_rows()
    count = 0
    for item in it:
        if _blank_row(item[1]):
            continue
        count += 1
        if count > max_rows:
            raise _too_many_rows(max_rows)
        yield item
    if count == 0:
        raise TabularError(_("The file has a header row but no data rows."), code="empty")


class RowParser:
    """Turns one line of values into a ``Row`` (cells parsed, cell errors filled in).

    ``parse`` needs nothing but the spec, so it may run in a worker process; ``check_unique``
    (duplicates within the file) must see every row in file order, so the caller runs it.
    """

    def __init__(self, spec: Spec, mapping: list):
        # Everything that does not change from row to row is worked out once: this loop runs a
        # million times for a large file, so per-row lookups in the spec add up.
        self.plan = [(i, col.key, col.header, col.parse, col.required)
                     for i, col in enumerate(mapping) if col is not None]
        self.template = dict.fromkeys(c.key for c in spec.columns)  # keys of columns not in the file stay None
        self.unique = tuple(spec.unique)
        self.unique_headers = {spec.column(k).header for k in self.unique}
        self.dup_header = spec.column(self.unique[0]).header if self.unique else ""
        self.seen_keys: dict[tuple, int] = {}
        self.formula_msg = self.required_msg = None

    def parse(self, number: int, values: list, formulas: set[int]) -> Row:
        row = Row(number, dict(self.template))
        out = row.values
        width = len(values)
        size = 0
        for i, key, header, parse, required in self.plan:
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
                self.formula_msg = self.formula_msg or _("Formulas are not accepted; enter the value itself.")
                row.error(header, self.formula_msg)
                continue
            if raw is None:
                if required:
                    self.required_msg = self.required_msg or _("This column is required.")
                    row.error(header, self.required_msg)
                continue
            try:
                out[key] = parse(raw)
            except CellError as exc:
                row.error(header, str(exc))
        row.size = size
        return row

    def check_unique(self, row: Row) -> None:
        """Refuse ``row`` if an earlier row had the same unique key (call in file order)."""
        unique = self.unique
        if unique and not (row.errors and any(e.column in self.unique_headers for e in row.errors)):
            if len(unique) == 1:  # the usual case, without a tuple and a generator per row
                key = row.values[unique[0]]
                present = key is not None
            else:
                key = tuple(row.values[k] for k in unique)
                present = any(v is not None for v in key)
            # A row without the key (an empty ID number) duplicates nothing.
            first = self.seen_keys.setdefault(key, row.number) if present else row.number
            if first != row.number:
                row.error(self.dup_header, _("Duplicate of row %(n)d in this file.") % {"n": first})


_FORMULA = object()  # marks a formula cell while a row is parsed
