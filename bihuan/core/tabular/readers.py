"""Readers: (row number, values, indexes of formula cells) from an XLSX's first sheet or a CSV.

Both readers are bounded by ``limits.read_limits()`` (rows, blank rows, columns, characters per
cell and per row, time; for XLSX also the archive and its XML): a hostile file is refused with
a ``TabularError`` within seconds, never read without end (docs/import-export.md).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from ..xlsx_reader import BadXml, LimitExceeded, Limits, XlsxError, _Clock
from .base import TabularError
from .limits import bad_xml_message, limit_message, read_limits
from .source import Source

Rows = Iterator[tuple[int, list, set[int]]]


def iter_xlsx(path: Path, limits: Limits | None = None) -> Rows:
    """(row number, values, indexes of formula cells) from the first sheet, streaming.

    ``core.xlsx_reader`` gives what openpyxl's read-only reader gives (formulas as their
    ``"=…"`` text, never a computed value), 3–4× faster; blank rows may be left out."""
    from ..xlsx_reader import iter_rows

    if not zipfile.is_zipfile(path):
        raise TabularError(_("This is not an XLSX workbook (perhaps a renamed or damaged file). "
                             "Save it from your spreadsheet as .xlsx or .csv."), code="bad_format")
    rows = iter_rows(path, limits or read_limits())
    try:
        yield from rows
    except LimitExceeded as exc:
        raise TabularError(limit_message(exc), code="too_big")
    except BadXml as exc:
        raise TabularError(bad_xml_message(exc), code="bad_format")
    except XlsxError as exc:
        if str(exc) == "no sheet":
            raise TabularError(_("The workbook has no sheet."), code="empty")
        raise TabularError(_("The XLSX workbook cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def _csv_encoding(path: Path) -> str:
    """utf-8(-sig) as we export it; GB18030 for CSVs saved by Excel in a Chinese locale.

    A NUL byte or a UTF-16 byte-order mark means the file is not a text CSV in either: refused
    here, because PostgreSQL refuses NUL in text and UTF-16 read as GB18030 is garbage."""
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with open(path, "rb") as fh:
        first = True
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if first and chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise TabularError(_("The CSV file is UTF-16 text (Excel's \"Unicode text\"); save it as "
                                     "\"CSV UTF-8\"."), code="bad_format")
            first = False
            if b"\x00" in chunk:
                raise TabularError(_("The CSV file contains NUL bytes: it is not a text file."),
                                   code="bad_format")
            if utf8:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return "utf-8-sig" if utf8 else "gb18030"


class _Lines:
    """The file's physical lines, each at most ``max_chars``; counts what each record used."""

    def __init__(self, fh, max_chars: int):
        self.fh, self.max_chars, self.used = fh, max_chars, 0

    def __iter__(self):
        readline, limit = self.fh.readline, self.max_chars + 1
        while line := readline(limit):
            if len(line) > self.max_chars:
                raise _TooLong
            self.used += len(line)
            yield line


class _TooLong(Exception):
    pass


def iter_csv(path: Path, limits: Limits | None = None) -> Rows:
    limits = limits or read_limits()
    encoding = _csv_encoding(path)
    clock = _Clock(limits)
    max_row, max_cell = limits.max_row_chars, limits.max_cell_chars
    blank = 0
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as fh:
            lines = _Lines(fh, max_row)
            for number, values in enumerate(csv.reader(lines), start=1):
                if number > limits.max_rows:
                    raise LimitExceeded("max_rows", limits.max_rows)
                if len(values) > limits.max_columns:
                    raise LimitExceeded("max_columns", limits.max_columns)
                used, lines.used = lines.used, 0
                if used > max_row:  # a record of several lines (quoted newlines)
                    raise LimitExceeded("max_row_chars", max_row, f"row {number}")
                if used > max_cell and max(map(len, values), default=0) > max_cell:
                    raise LimitExceeded("max_cell_chars", max_cell, f"row {number}")
                if not any(values):
                    blank += 1
                    if blank > limits.max_blank_rows:
                        raise LimitExceeded("max_blank_rows", limits.max_blank_rows)
                if number & 0xFFF == 0:
                    clock.check()
                yield number, values, set()
    except LimitExceeded as exc:
        raise TabularError(limit_message(exc), code="too_big")
    except _TooLong:
        raise TabularError(limit_message(LimitExceeded("max_row_chars", max_row)), code="too_big")
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv's own bound (131,072 characters)
            raise TabularError(limit_message(LimitExceeded("max_cell_chars", max_cell)), code="too_big")
        raise TabularError(_("The CSV file cannot be read (%(err)s).") % {"err": exc}, code="bad_format")
    except UnicodeDecodeError as exc:
        raise TabularError(_("The CSV file cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def iter_source(source: Source, limits: Limits | None = None) -> Rows:
    return iter_xlsx(source.path, limits) if source.fmt == "xlsx" else iter_csv(source.path, limits)
